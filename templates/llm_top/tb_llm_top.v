// Testbench for llm_top: replays stim.hex, one command per line {op[1:0], last, unit[1:0],
// data[31:0]}: op 0 = idle, 1 = shift data in, 2 = fire a beat to unit (waits for
// in_ready), 3 = read result word data[15:0]. Every read writes one unsigned decimal line.
`timescale 1ns / 1ps
module tb;
    parameter HAS_GEMV = 1, GEMV_LANES = 4, GEMV_WBITS = 8;
    parameter HAS_SYSTOLIC = 1, SYS_MT = 2, SYS_NT = 2;
    parameter HAS_SPARSE = 1, SP_LANES = 2, SP_N = 2, SP_M = 4;
    parameter HAS_SOFTMAX = 1, SM_MAXLEN = 8, ACCBITS = 32;
    parameter NBEATS = 1;

    reg [36:0] stim [0:NBEATS-1];
    reg clk = 1'b0, rst = 1'b1;
    reg [1:0] op = 2'd0, unit = 2'd0;
    reg last = 1'b0, ready;
    reg [31:0] data = 32'd0;
    wire in_ready;
    wire [31:0] rd_data;
    integer n, fd;

    llm_top #(
        .HAS_GEMV(HAS_GEMV), .GEMV_LANES(GEMV_LANES), .GEMV_WBITS(GEMV_WBITS),
        .HAS_SYSTOLIC(HAS_SYSTOLIC), .SYS_MT(SYS_MT), .SYS_NT(SYS_NT),
        .HAS_SPARSE(HAS_SPARSE), .SP_LANES(SP_LANES), .SP_N(SP_N), .SP_M(SP_M),
        .HAS_SOFTMAX(HAS_SOFTMAX), .SM_MAXLEN(SM_MAXLEN), .ACCBITS(ACCBITS)
    ) dut (
        .clk(clk), .rst(rst), .in_data(data), .in_shift(op == 2'd1), .in_fire(op == 2'd2),
        .in_last(last), .in_unit(unit), .in_ready(in_ready), .rd_addr(data[15:0]),
        .rd_data(rd_data)
    );

    always #5 clk = ~clk;

    initial begin
        $readmemh("stim.hex", stim);
        fd = $fopen("out.txt", "w");
        repeat (3) @(negedge clk);
        rst = 1'b0;
        n = 0;
        while (n < NBEATS) begin
            {op, last, unit, data} = stim[n];
            #1 ready = in_ready;   // after in_unit settles; state only changes at posedge
            @(posedge clk);
            if (op != 2'd2 || ready) n = n + 1;
            @(negedge clk);
            if (op == 2'd3) $fwrite(fd, "%0d\n", rd_data);   // registered at that posedge
        end
        $fclose(fd);
        $finish;
    end
endmodule
