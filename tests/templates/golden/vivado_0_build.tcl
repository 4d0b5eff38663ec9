# Vivado non-project build of gemv_int for xcu280-fsvh2892-2L-e at 300 MHz.
# Generated from templates/vivado/build.tcl.j2; run: vivado -mode batch -source build.tcl
#
# Tool notes:
# - Non-project mode keeps everything in memory and writes only what is asked for, so every
#   report below is explicit. In batch mode any TCL error ends Vivado with a nonzero status.
# - Out of context (OOC = 1) skips I/O buffer insertion: a kernel with hundreds of
#   data ports does not fit a package's pins and would fail placement (IO placement is
#   infeasible). OOC designs cannot get a bitstream.
# - write_bitstream also refuses designs whose ports have no pin/IOSTANDARD (DRC NSTD-1,
#   UCIO-1), so in-context builds need a pin XDC in xdc.
# - general.maxThreads is capped at 32 by Vivado; more threads only help place and route.
set_param general.maxThreads 8
set report_dir reports
file mkdir $report_dir

# --- sources -------------------------------------------------------------------------------
read_verilog gemv_int.v
# -mode out_of_context marks the clock XDC as used only for OOC runs (USED_IN property).
read_xdc -mode out_of_context clocks.xdc


# --- synthesis -----------------------------------------------------------------------------
synth_design -top gemv_int -part xcu280-fsvh2892-2L-e -mode out_of_context -generic LANES=16 -generic WBITS=4
report_utilization -file $report_dir/post_synth_util.rpt
write_checkpoint -force $report_dir/post_synth.dcp
report_utilization -hierarchical -file reports/util_hier.rpt

# --- implementation ------------------------------------------------------------------------
opt_design

place_design

route_design
write_checkpoint -force $report_dir/post_route.dcp


# --- reports (parsed by runners.reports) ---------------------------------------------------
report_utilization -file $report_dir/utilization.rpt
# -report_unconstrained lists unclocked paths too, so a missing clock shows up in the report.
report_timing_summary -max_paths 10 -report_unconstrained -file $report_dir/timing_summary.rpt

