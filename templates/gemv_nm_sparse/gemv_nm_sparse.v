// gemv_nm_sparse: N:M structured-sparse GEMV, y = W * x with at most N nonzero weights in
// every group of M consecutive columns of each row of W.
//
// Stream interface (no back-pressure): one beat = one group g of M activations
// (in_x: x[g*M + m] in bits [8m +: 8], int8) and, for every lane, the group's N stored
// weights (in_w: slot n of lane l in bits [8*(l*N + n) +: 8], int8) with their column
// positions inside the group (in_idx: clog2(M) bits per slot, same order). A slot's weight
// multiplies the activation its index selects, so only N multipliers per lane are needed
// instead of M; a row with fewer than N nonzeros pads with zero weights. in_last marks the
// final group of a pass; three cycles later out_valid pulses with y[lane] (lane 0 in the low
// bits of out_y), wrapped to ACCBITS bits, and the accumulators restart at zero.
`timescale 1ns / 1ps
module gemv_nm_sparse #(
    parameter LANES   = 4,    // output rows per pass
    parameter N       = 2,    // stored weights per group of M (N < M)
    parameter M       = 4,    // group size (power of two)
    parameter ACCBITS = 32    // accumulator / result width
) (
    input  wire                           clk,
    input  wire                           rst,   // synchronous, active high
    input  wire                           in_valid,
    input  wire                           in_last,
    input  wire [M*8-1:0]                 in_x,
    input  wire [LANES*N*8-1:0]           in_w,
    input  wire [LANES*N*$clog2(M)-1:0]   in_idx,
    output reg                            out_valid,
    output wire [LANES*ACCBITS-1:0]       out_y
);
    localparam IW = $clog2(M);
    localparam SW = 20;   // a lane's group sum: N <= 8 products of 16 bits need 19 bits

    // Stage 1: register the beat.
    reg                  v1, l1;
    reg [M*8-1:0]        x1;
    reg [LANES*N*8-1:0]  w1;
    reg [LANES*N*IW-1:0] i1;
    reg                  v2, l2;

    always @(posedge clk) begin
        if (rst) begin
            v1 <= 1'b0; l1 <= 1'b0; v2 <= 1'b0; l2 <= 1'b0; out_valid <= 1'b0;
        end else begin
            v1 <= in_valid; l1 <= in_valid & in_last;
            v2 <= v1;       l2 <= l1;
            out_valid <= v2 & l2;
        end
        x1 <= in_x;
        w1 <= in_w;
        i1 <= in_idx;
    end

    genvar l, n;
    generate
        for (l = 0; l < LANES; l = l + 1) begin : lane
            // Stage 2: per slot, select the activation by index (an M:1 mux) and multiply;
            // then add the group's N products (sign-extended, so plain adds are exact).
            wire [16*N-1:0] prods;
            for (n = 0; n < N; n = n + 1) begin : slot
                wire [IW-1:0]      idx = i1[IW*(l*N+n) +: IW];
                wire signed [7:0]  w   = w1[8*(l*N+n) +: 8];
                wire signed [7:0]  x   = x1[8*idx +: 8];
                wire signed [15:0] p   = w * x;
                assign prods[16*n +: 16] = p;
            end
            reg [SW-1:0] gsum_c, gsum;
            integer k;
            always @* begin
                gsum_c = {SW{1'b0}};
                for (k = 0; k < N; k = k + 1)
                    gsum_c = gsum_c + {{(SW-16){prods[16*k+15]}}, prods[16*k +: 16]};
            end
            always @(posedge clk) gsum <= gsum_c;

            // Stage 3: accumulate; emit and restart on the last group.
            reg  [ACCBITS-1:0] acc;
            reg  [ACCBITS-1:0] y;
            wire [ACCBITS-1:0] sum = acc + {{(ACCBITS-SW){gsum[SW-1]}}, gsum};
            always @(posedge clk) begin
                if (rst) acc <= 0;
                else if (v2) acc <= l2 ? 0 : sum;
                if (v2 & l2) y <= sum;
            end
            assign out_y[l*ACCBITS +: ACCBITS] = y;
        end
    endgenerate
endmodule
