# Clock constraint for llm_top at 250 MHz (generated from clocks.xdc.j2).
create_clock -name clk -period 4.000 [get_ports clk]
