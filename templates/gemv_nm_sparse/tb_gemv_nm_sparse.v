// Testbench for gemv_nm_sparse: replays stim.hex (one group per line:
// {valid, last, x, w, idx}) and writes each result vector to out.txt (lane 0 first).
`timescale 1ns / 1ps
module tb;
    parameter LANES   = 4;
    parameter N       = 2;
    parameter M       = 4;
    parameter ACCBITS = 32;
    parameter NBEATS  = 1;
    parameter DRAIN   = 8;
    localparam IW = $clog2(M);
    localparam SW = 2 + 8 * M + LANES * N * (8 + IW);

    reg [SW-1:0] stim [0:NBEATS-1];
    reg clk = 1'b0, rst = 1'b1;
    reg in_valid = 1'b0, in_last = 1'b0;
    reg [M*8-1:0] in_x = 0;
    reg [LANES*N*8-1:0] in_w = 0;
    reg [LANES*N*IW-1:0] in_idx = 0;
    wire out_valid;
    wire [LANES*ACCBITS-1:0] out_y;
    integer n, k, fd;

    gemv_nm_sparse #(.LANES(LANES), .N(N), .M(M), .ACCBITS(ACCBITS)) dut (
        .clk(clk), .rst(rst), .in_valid(in_valid), .in_last(in_last), .in_x(in_x),
        .in_w(in_w), .in_idx(in_idx), .out_valid(out_valid), .out_y(out_y)
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
            {in_valid, in_last, in_x, in_w, in_idx} = stim[n];
            @(negedge clk);
        end
        in_valid = 1'b0;
        in_last = 1'b0;
        repeat (DRAIN) @(negedge clk);
        $fclose(fd);
        $finish;
    end
endmodule
