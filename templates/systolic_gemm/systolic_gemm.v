// systolic_gemm: output-stationary MT x NT systolic array computing C = A * B (int8 -> int).
//
// Stream interface (no back-pressure): beat k carries column k of A (in_a: A[i][k], row i
// in bits [8i +: 8]) and row k of B (in_b: B[k][j], column j in bits [8j +: 8]); in_last
// marks k = K-1. Invalid beats (bubbles) may be inserted anywhere.
// PE(i, j) keeps C[i][j] in its own accumulator. Row i of A enters the array i cycles late
// and column j of B j cycles late, so A[i][k] and B[k][j] meet in PE(i, j) in the same cycle
// while travelling right and down one PE per cycle. The valid/last flags travel with A.
// Readout: when the last beat reaches PE(MT-1, NT-1) (MT + NT - 1 cycles after in_last),
// out_valid pulses for one cycle and out_c holds all of C (C[i][j] at index i*NT + j),
// wrapped to ACCBITS bits.
// Each PE copies its sum into a result register on its last beat, so the next GEMM can start
// at once; the only rule is that two in_last beats are at least MT + NT - 1 cycles apart
// (pad short streams with bubbles), or PE(0, 0) would overwrite C before it is read out.
`timescale 1ns / 1ps
module systolic_gemm #(
    parameter MT      = 4,   // PE rows (rows of the C tile)
    parameter NT      = 4,   // PE columns (columns of the C tile)
    parameter ACCBITS = 32   // accumulator width
) (
    input  wire                        clk,
    input  wire                        rst,   // synchronous, active high
    input  wire                        in_valid,
    input  wire                        in_last,
    input  wire [MT*8-1:0]             in_a,
    input  wire [NT*8-1:0]             in_b,
    output reg                         out_valid,
    output wire [MT*NT*ACCBITS-1:0]    out_c
);
    // Horizontal buses: 10 bits per hop {valid, last, a}; vertical buses: 8 bits per hop.
    wire [10*MT*(NT+1)-1:0] h;
    wire [8*(MT+1)*NT-1:0]  v;

    genvar i, j;
    generate
        for (i = 0; i < MT; i = i + 1) begin : row_skew
            // i+1 stages: row i arrives i cycles after row 0.
            reg [9:0] sr [0:i];
            integer k;
            always @(posedge clk) begin
                for (k = i; k > 0; k = k - 1) sr[k] <= rst ? 10'd0 : sr[k-1];
                sr[0] <= rst ? 10'd0 : {in_valid, in_valid & in_last, in_a[8*i +: 8]};
            end
            assign h[10*(i*(NT+1)) +: 10] = sr[i];
        end
        for (j = 0; j < NT; j = j + 1) begin : col_skew
            reg [7:0] sr [0:j];
            integer k;
            always @(posedge clk) begin
                for (k = j; k > 0; k = k - 1) sr[k] <= sr[k-1];
                sr[0] <= in_b[8*j +: 8];
            end
            assign v[8*j +: 8] = sr[j];
        end
        for (i = 0; i < MT; i = i + 1) begin : pe_row
            for (j = 0; j < NT; j = j + 1) begin : pe
                wire [9:0] west = h[10*(i*(NT+1)+j) +: 10];
                wire signed [7:0] a = west[7:0];
                wire signed [7:0] b = v[8*(i*NT+j) +: 8];
                wire vin = west[9];
                wire lin = west[8];
                reg  [9:0] east;
                reg  [7:0] south;
                reg  signed [ACCBITS-1:0] acc;
                reg  [ACCBITS-1:0] res;
                wire signed [ACCBITS-1:0] sum = acc + a * b;
                always @(posedge clk) begin
                    east  <= rst ? 10'd0 : west;
                    south <= b;
                    if (rst) acc <= 0;
                    else if (vin) acc <= lin ? 0 : sum;
                    if (vin & lin) res <= sum;
                end
                assign h[10*(i*(NT+1)+j+1) +: 10] = east;
                assign v[8*((i+1)*NT+j) +: 8] = south;
                assign out_c[ACCBITS*(i*NT+j) +: ACCBITS] = res;
            end
        end
    endgenerate

    // The bottom-right PE sees the last beat last; its copy of C is final one edge later.
    wire [9:0] corner = h[10*((MT-1)*(NT+1)+NT-1) +: 10];
    always @(posedge clk) out_valid <= ~rst & corner[9] & corner[8];
endmodule
