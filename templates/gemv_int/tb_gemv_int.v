// Testbench for gemv_int: replays stim.hex (one beat per line: {valid, last, x, w}) and
// writes one line per result vector to out.txt (signed decimal, lane 0 first).
// Parameters are set from Python with iverilog -Ptb.NAME=value.
`timescale 1ns / 1ps
module tb;
    parameter LANES   = 8;
    parameter WBITS   = 8;
    parameter ACCBITS = 32;
    parameter NBEATS  = 1;
    parameter DRAIN   = 8;   // idle cycles after the last beat so results can emerge
    localparam SW = 2 + 8 + LANES * WBITS;

    reg [SW-1:0] stim [0:NBEATS-1];
    reg clk = 1'b0, rst = 1'b1;
    reg in_valid = 1'b0, in_last = 1'b0;
    reg [7:0] in_x = 8'd0;
    reg [LANES*WBITS-1:0] in_w = 0;
    wire out_valid;
    wire [LANES*ACCBITS-1:0] out_y;
    integer n, k, fd;

    gemv_int #(.LANES(LANES), .WBITS(WBITS), .ACCBITS(ACCBITS)) dut (
        .clk(clk), .rst(rst), .in_valid(in_valid), .in_last(in_last), .in_x(in_x),
        .in_w(in_w), .out_valid(out_valid), .out_y(out_y)
    );

    always #5 clk = ~clk;

    always @(posedge clk) begin
        if (out_valid) begin
            for (k = 0; k < LANES; k = k + 1)
                $fwrite(fd, "%0d ", $signed(out_y[k*ACCBITS +: ACCBITS]));
            $fwrite(fd, "\n");
        end
    end

    initial begin
        $readmemh("stim.hex", stim);
        fd = $fopen("out.txt", "w");
        repeat (3) @(negedge clk);
        rst = 1'b0;
        for (n = 0; n < NBEATS; n = n + 1) begin
            {in_valid, in_last, in_x, in_w} = stim[n];
            @(negedge clk);
        end
        in_valid = 1'b0;
        in_last = 1'b0;
        repeat (DRAIN) @(negedge clk);
        $fclose(fd);
        $finish;
    end
endmodule
