# Clock constraint for gemv_int at 300 MHz (generated from clocks.xdc.j2).
create_clock -name clk -period 3.333 [get_ports clk]
# Out of context there is no clock buffer in the design; HD.CLK_SRC tells the placer where
# the clock would enter, so clock-skew estimates resemble an in-context build.
set_property HD.CLK_SRC BUFGCE_X0Y0 [get_ports clk]
