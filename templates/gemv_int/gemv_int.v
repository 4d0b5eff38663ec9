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
// WBITS = 4 uses DSP packing: lanes 2i and 2i+1 share one multiplier. The two weights are
// packed into one 17-bit signed operand  P = w_hi * 2^12 + w_lo  and multiplied by x once:
//   P * x = (w_hi * x) * 2^12 + (w_lo * x).
// An int4 * int8 product lies in [-1016, 1024], which fits a 12-bit signed field, so the low
// 12 bits of P*x read as a signed number are exactly lo = w_lo * x. When lo is negative it
// has borrowed 2^12 from the upper part, hence the correction:
//   w_hi * x = (P*x >>> 12) + bit11(P*x).
// The 17 x 8 multiply fits one DSP48E2 (27 x 18), so two int4 MACs cost one DSP. An odd last
// lane (LANES = 1) uses a plain multiply.
`timescale 1ns / 1ps
module gemv_int #(
    parameter LANES   = 8,   // MAC lanes (output rows per pass)
    parameter WBITS   = 8,   // signed weight width: 8, or 4 with DSP packing
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
    localparam PAIRS = (WBITS == 4) ? LANES / 2 : 0;   // packed lane pairs

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
            wire [3:0] w_lo = w1[(2*i)*4 +: 4];
            wire [3:0] w_hi = w1[(2*i+1)*4 +: 4];
            // P = w_hi * 2^12 + w_lo, both sign-extended to 17 bits first.
            wire signed [16:0] packed_w = {w_hi[3], w_hi, 12'd0} + {{13{w_lo[3]}}, w_lo};
            wire signed [24:0] pp = packed_w * x1;
            wire [12:0] hi = pp[24:12] + {12'd0, pp[11]};   // borrow correction
            assign prod[(2*i)*PW +: PW]   = pp[11:0];
            assign prod[(2*i+1)*PW +: PW] = hi[11:0];
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
