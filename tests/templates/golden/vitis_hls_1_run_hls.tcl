# Vitis HLS synthesis of hls_attention for xcu280-fsvh2892-2L-e at 250 MHz.
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
set_top hls_attention
add_files hls_attention.cpp -cflags -std=c++14
add_files -tb tb_hls_attention.cpp -cflags -std=c++14
open_solution -reset sol1 -flow_target vivado
set_part xcu280-fsvh2892-2L-e
create_clock -period 4.000 -name default
set_clock_uncertainty 12%
csim_design -argv in.txt\ out.txt
csynth_design
cosim_design -argv in.txt\ out.txt
export_design -format ip_catalog
exit
