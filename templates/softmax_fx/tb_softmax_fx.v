// Testbench for softmax_fx: replays stim.hex (one element per line: {valid, last, x}),
// honouring in_ready, and writes each output vector to out.txt as one line of Q1.15 ints.
`timescale 1ns / 1ps
module tb;
    parameter XBITS  = 16;
    parameter XFRAC  = 8;
    parameter MAXLEN = 16;
    parameter NBEATS = 1;
    parameter DRAIN  = 200;
    localparam SW = 2 + XBITS;

    reg [SW-1:0] stim [0:NBEATS-1];
    reg clk = 1'b0, rst = 1'b1;
    reg in_valid = 1'b0, in_last = 1'b0, ready;
    reg [XBITS-1:0] in_x = 0;
    wire in_ready, out_valid, out_last;
    wire [15:0] out_y;
    integer n, fd;

    softmax_fx #(.XBITS(XBITS), .XFRAC(XFRAC), .MAXLEN(MAXLEN)) dut (
        .clk(clk), .rst(rst), .in_valid(in_valid), .in_ready(in_ready), .in_last(in_last),
        .in_x(in_x), .out_valid(out_valid), .out_last(out_last), .out_y(out_y)
    );

    always #5 clk = ~clk;

    always @(posedge clk) begin
        if (out_valid) begin
            $fwrite(fd, "%0d ", out_y);
            if (out_last) $fwrite(fd, "\n");
        end
    end

    initial begin
        $readmemh("stim.hex", stim);
        fd = $fopen("out.txt", "w");
        repeat (3) @(negedge clk);
        rst = 1'b0;
        n = 0;
        while (n < NBEATS) begin
            {in_valid, in_last, in_x} = stim[n];
            ready = in_ready;   // state only changes at posedge, so this is the edge's value
            @(posedge clk);
            if (!in_valid || ready) n = n + 1;
            @(negedge clk);
        end
        in_valid = 1'b0;
        in_last = 1'b0;
        repeat (DRAIN + 3 * MAXLEN) @(negedge clk);
        $fclose(fd);
        $finish;
    end
endmodule
