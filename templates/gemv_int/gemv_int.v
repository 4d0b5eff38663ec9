// gemv_int: integer matrix-vector engine, y = W * x, LANES output rows per pass.
//
// Streaming interface (no back-pressure; the engine accepts one beat per cycle):
//   one beat = one column j: the activation x[j] (int8, broadcast to all lanes) and the
//   LANES weights W[lane][j] (signed WBITS each, lane 0 in the low bits of in_w).
//   in_last marks the final column of a pass. Three cycles after that beat, out_valid pulses
//   for one cycle with y[lane] = sum_j W[lane][j] * x[j] (lane 0 in the low bits of out_y)
//   and the accumulators restart at zero, so passes may follow back to back. Sums wrap
//   modulo 2^ACCBITS (two's complement), exactly like numpy int64 arithmetic masked to
//   ACCBITS bits.
//
// DSP packing: lanes 2i and 2i+1 share one multiplier, because both multiply the same
// activation x. The two weights are packed into one signed operand
//   P = w_hi * 2^S + w_lo      (S = 12 for int4, 18 for int8)
// and multiplied by x once:  P * x = (w_hi * x) * 2^S + (w_lo * x).
// A weight*int8 product needs PW = WBITS + 8 signed bits (int4: [-1016, 1024]; int8:
// [-16256, 16384]), which fits the S-bit field, so the low PW bits of P*x read as a signed
// number are exactly lo = w_lo * x. When lo is negative it has borrowed 2^S from the upper
// part, hence the correction:  w_hi * x = (P*x >>> S) + bit(S-1) of P*x.
// P is 17 bits (int4) or 27 bits (int8) and x is 8 bits, so each pair fits one DSP48E2
// (27 x 18): two MACs per DSP at either precision (AMD WP486 describes the int8 case).
// An odd last lane uses a plain multiply.
`timescale 1ns / 1ps
module gemv_int #(
    parameter LANES   = 8,   // MAC lanes (output rows per pass)
    parameter WBITS   = 8,   // signed weight width: 4 or 8 (both DSP-packed)
    parameter ACCBITS = 32   // accumulator / result width
) (
    input  wire                     clk,
    input  wire                     rst,       // synchronous, active high
    input  wire                     in_valid,
    input  wire                     in_last,
    input  wire signed [7:0]        in_x,
    input  wire [LANES*WBITS-1:0]   in_w,
    output reg                      out_valid,
    output wire [LANES*ACCBITS-1:0] out_y
);
    localparam PW    = WBITS + 8;                      // exact product width
    localparam SH    = (WBITS == 4) ? 12 : 18;         // field offset of the high weight
    localparam PK    = WBITS + SH + 1;                 // packed operand width (17 or 27)
    localparam PAIRS = LANES / 2;                      // packed lane pairs

    // Stage 1: register the beat (keeps the multiplier inputs on DSP A/B registers).
    reg                   v1, l1;
    reg signed [7:0]      x1;
    reg [LANES*WBITS-1:0] w1;
    // Stage 2: registered products (DSP M register).
    reg                   v2, l2;
    reg [LANES*PW-1:0]    p2;
    wire [LANES*PW-1:0]   prod;

    always @(posedge clk) begin
        if (rst) begin
            v1 <= 1'b0; l1 <= 1'b0; v2 <= 1'b0; l2 <= 1'b0; out_valid <= 1'b0;
        end else begin
            v1 <= in_valid; l1 <= in_last & in_valid;
            v2 <= v1;       l2 <= l1;
            out_valid <= v2 & l2;
        end
        x1 <= in_x;
        w1 <= in_w;
        p2 <= prod;
    end

    genvar i;
    generate
        for (i = 0; i < PAIRS; i = i + 1) begin : pair
            wire [WBITS-1:0] w_lo = w1[(2*i)*WBITS +: WBITS];
            wire [WBITS-1:0] w_hi = w1[(2*i+1)*WBITS +: WBITS];
            // P = w_hi * 2^SH + w_lo, both sign-extended to PK bits first.
            wire signed [PK-1:0] packed_w = {w_hi[WBITS-1], w_hi, {SH{1'b0}}}
                                          + {{(PK-WBITS){w_lo[WBITS-1]}}, w_lo};
            wire signed [PK+7:0] pp = packed_w * x1;
            wire [PK+7-SH:0] hi = pp[PK+7:SH] + {{(PK+7-SH){1'b0}}, pp[SH-1]};  // borrow fix
            assign prod[(2*i)*PW +: PW]   = pp[PW-1:0];
            assign prod[(2*i+1)*PW +: PW] = hi[PW-1:0];
        end
        for (i = 2 * PAIRS; i < LANES; i = i + 1) begin : plain
            wire signed [WBITS-1:0] w = w1[i*WBITS +: WBITS];
            wire signed [PW-1:0] pp = w * x1;
            assign prod[i*PW +: PW] = pp;
        end
        for (i = 0; i < LANES; i = i + 1) begin : lane
            // Stage 3: accumulate; on the last beat emit acc + p and restart from zero.
            wire [PW-1:0]      p = p2[i*PW +: PW];
            reg  [ACCBITS-1:0] acc;
            reg  [ACCBITS-1:0]        y;
            wire [ACCBITS-1:0] sum = acc + {{(ACCBITS-PW){p[PW-1]}}, p};
            always @(posedge clk) begin
                if (rst) acc <= 0;
                else if (v2) acc <= l2 ? 0 : sum;
                if (v2 & l2) y <= sum;
            end
            assign out_y[i*ACCBITS +: ACCBITS] = y;
        end
    endgenerate
endmodule
