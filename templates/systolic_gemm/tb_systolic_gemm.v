// Testbench for systolic_gemm: replays stim.hex (one beat per line: {valid, last, a, b})
// and writes each C tile to out.txt as one line of MT*NT signed decimals, row-major.
`timescale 1ns / 1ps
module tb;
    parameter MT      = 4;
    parameter NT      = 4;
    parameter ACCBITS = 32;
    parameter NBEATS  = 1;
    parameter DRAIN   = 32;
    localparam SW = 2 + 8 * (MT + NT);

    reg [SW-1:0] stim [0:NBEATS-1];
    reg clk = 1'b0, rst = 1'b1;
    reg in_valid = 1'b0, in_last = 1'b0;
    reg [MT*8-1:0] in_a = 0;
    reg [NT*8-1:0] in_b = 0;
    wire out_valid;
    wire [MT*NT*ACCBITS-1:0] out_c;
    integer n, k, fd;

    systolic_gemm #(.MT(MT), .NT(NT), .ACCBITS(ACCBITS)) dut (
        .clk(clk), .rst(rst), .in_valid(in_valid), .in_last(in_last), .in_a(in_a),
        .in_b(in_b), .out_valid(out_valid), .out_c(out_c)
    );

    always #5 clk = ~clk;

    always @(posedge clk) begin
        if (out_valid) begin
            for (k = 0; k < MT * NT; k = k + 1)
                $fwrite(fd, "%0d ", $signed(out_c[k*ACCBITS +: ACCBITS]));
            $fwrite(fd, "\n");
        end
    end

    initial begin
        $readmemh("stim.hex", stim);
        fd = $fopen("out.txt", "w");
        repeat (3) @(negedge clk);
        rst = 1'b0;
        for (n = 0; n < NBEATS; n = n + 1) begin
            {in_valid, in_last, in_a, in_b} = stim[n];
            @(negedge clk);
        end
        in_valid = 1'b0;
        in_last = 1'b0;
        repeat (DRAIN) @(negedge clk);
        $fclose(fd);
        $finish;
    end
endmodule
