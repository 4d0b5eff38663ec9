# Vivado non-project build of llm_top for xcvu9p-flga2104-2L-e at 250 MHz.
# Generated from templates/vivado/build.tcl.j2; run: vivado -mode batch -source build.tcl
#
# Tool notes:
# - Non-project mode keeps everything in memory and writes only what is asked for, so every
#   report below is explicit. In batch mode any TCL error ends Vivado with a nonzero status.
# - Out of context (OOC = 0) skips I/O buffer insertion: a kernel with hundreds of
#   data ports does not fit a package's pins and would fail placement (IO placement is
#   infeasible). OOC designs cannot get a bitstream.
# - write_bitstream also refuses designs whose ports have no pin/IOSTANDARD (DRC NSTD-1,
#   UCIO-1), so in-context builds need a pin XDC in xdc.
# - general.maxThreads is capped at 32 by Vivado; more threads only help place and route.
set_param general.maxThreads 16
set report_dir reports
file mkdir $report_dir

# --- sources -------------------------------------------------------------------------------
read_verilog llm_top.v
read_verilog gemv_int.v
read_vhdl softmax_fx.vhd
read_verilog -sv pkg.sv
read_xdc clocks.xdc
read_xdc pins.xdc


# --- synthesis -----------------------------------------------------------------------------
synth_design -top llm_top -part xcvu9p-flga2104-2L-e
report_utilization -file $report_dir/post_synth_util.rpt
write_checkpoint -force $report_dir/post_synth.dcp


# --- implementation ------------------------------------------------------------------------
opt_design

place_design -directive Explore

route_design
write_checkpoint -force $report_dir/post_route.dcp


# --- reports (parsed by runners.reports) ---------------------------------------------------
report_utilization -file $report_dir/utilization.rpt
# -report_unconstrained lists unclocked paths too, so a missing clock shows up in the report.
report_timing_summary -max_paths 10 -report_unconstrained -file $report_dir/timing_summary.rpt
write_bitstream -force $report_dir/llm_top.bit

