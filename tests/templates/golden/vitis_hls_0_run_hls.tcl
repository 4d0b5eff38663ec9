# Vitis HLS synthesis of hls_gemv for xcu280-fsvh2892-2L-e at 300 MHz.
# Generated from templates/vitis_hls/run_hls.tcl.j2; run: vitis_hls -f run_hls.tcl
#
# Tool notes:
# - open_project -reset discards earlier solutions so results always match this script.
# - -flow_target vitis (2020.2+) sets the defaults a v++ kernel needs (m_axi + s_axilite
#   control, 64-bit addresses); export_design -format xo only works with it.
# - set_part and create_clock apply to the open solution, so they come after open_solution.
# - The default clock uncertainty is 27% of the period for the vitis flow and 12.5%
#   otherwise; it is set explicitly so estimates do not depend on the flow target.
# - __SYNTHESIS__ is defined only during csynth_design, which is how dse_types.h picks
#   ap_int for synthesis and its own integer class for csim.
open_project -reset hls_prj
set_top hls_gemv
add_files hls_gemv.cpp -cflags -std=c++14\ -I.
open_solution -reset sol1 -flow_target vitis
set_part xcu280-fsvh2892-2L-e
create_clock -period 3.333 -name default
set_clock_uncertainty 27%
csynth_design
export_design -format xo -output hls_gemv.xo
exit
