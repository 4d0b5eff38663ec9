// The batched MV's extra token lanes (mm_t = NL + 1 lanes in all; lane 0 is the core's own
// MV datapath). A weight tile issued once (w_s1, live_s1: the chunk in the product stage)
// is applied in the same cycle to NL more tokens: every lane has its own x buffers (one
// RAM per multiplier, token slots banked by lane: lane u holds slots u, u + MT, ... at
// (slot / MT) * K, so every lane reads at the core's address xr_a), its own multipliers
// (W4 DSP packing as the core's: one 17 x 8 product per row pair) and its own registered
// products, summed per row into `dot` in the core's accumulate stage (s2).
module ov_mm_lanes #(
    parameter MV_K = 8,
    parameter MV_N = 8,
    parameter NL = 1,       // lanes here (mm_t - 1)
    parameter NB = 4,       // x-buffer banks (the scratchpad's)
    parameter LNB = 2,
    parameter XBL = 256,    // x-buffer words of a lane
    parameter XAW = 8,
    parameter PACK = 0      // W4 dense, even MV_N: two rows share one multiplier
) (
    input  wire                       clk,
    input  wire [NL-1:0]              xw_v,     // fill: the lane whose slot this block is
    input  wire [XAW-1:0]             xw_a,
    input  wire [LNB:0]               xw_n,
    input  wire [NB*8-1:0]            xw_d,
    input  wire [MV_K*MV_N*XAW-1:0]   xr_a,     // per multiplier, as lane 0 reads
    input  wire [MV_K*MV_N*8-1:0]     w_s1,     // the chunk's weights (int8) in stage s1
    input  wire [MV_K*MV_N-1:0]       live_s1,
    input  wire                       same_x,   // mutation 6: every lane takes lane 0's x
    input  wire [MV_K*MV_N*8-1:0]     x0,       // lane 0's x operands (stage s1)
    output wire [NL*MV_N*24-1:0]      dot       // per lane and row: the chunk's sum (s2)
);
    localparam L = MV_K * MV_N;
    genvar gu, gm;
    generate
        for (gu = 0; gu < NL; gu = gu + 1) begin : g_lane
            wire [L*NB*8-1:0] xq;
            wire [L*8-1:0] xl;
            reg [L*16-1:0] p, pq;  // products (s1), registered (s2); 0 where not live
            for (gm = 0; gm < L; gm = gm + 1) begin : g_x
                ov_bankram #(.NB(NB), .LNB(LNB), .DEPTH(XBL), .AW(XAW), .DW(8)) u_x (
                    .clk(clk), .we(xw_v[gu]), .wa(xw_a), .wn(xw_n), .wd(xw_d),
                    .ra(xr_a[gm*XAW +: XAW]), .rq(xq[gm*NB*8 +: NB*8]));
                assign xl[8*gm +: 8] = same_x ? x0[8*gm +: 8] : xq[gm*NB*8 +: 8];
            end
            if (PACK) begin : g_pk
                // rows 2i, 2i+1 of a column: x * (w_hi * 2^12 + w_lo); lo is the low 12 bits
                // (|x*w| <= 1024), hi the bits above plus the borrow of a negative lo
                integer c, m0, m1;
                reg signed [16:0] wp;
                reg signed [24:0] y;
                always @(*) begin
                    p = 0;
                    for (c = 0; c < L / 2; c = c + 1) begin
                        m0 = (c / MV_K) * 2 * MV_K + c % MV_K;
                        m1 = m0 + MV_K;
                        wp = $signed({w_s1[8*m1 + 3], w_s1[8*m1 +: 4], 12'd0})
                             + $signed({{13{w_s1[8*m0 + 3]}}, w_s1[8*m0 +: 4]});
                        y = wp * $signed(xl[8*m0 +: 8]);
                        if (live_s1[m0]) begin
                            p[16*m0 +: 16] = {{4{y[11]}}, y[11:0]};
                            p[16*m1 +: 16] = {{3{y[24]}}, y[24:12]} + {15'd0, y[11]};
                        end
                    end
                end
            end else begin : g_full
                integer c;
                always @(*)
                    for (c = 0; c < L; c = c + 1)
                        p[16*c +: 16] = live_s1[c]
                            ? $signed(w_s1[8*c +: 8]) * $signed(xl[8*c +: 8]) : 16'sd0;
            end
            always @(posedge clk) pq <= p;
            // per row: a balanced adder tree over the row's MV_K registered products
            integer r, c2, w, i;
            reg signed [23:0] s [0:MV_K-1];
            reg [MV_N*24-1:0] d;
            assign dot[gu*MV_N*24 +: MV_N*24] = d;
            always @(*)
                for (r = 0; r < MV_N; r = r + 1) begin
                    for (c2 = 0; c2 < MV_K; c2 = c2 + 1)
                        s[c2] = {{8{pq[16*(r*MV_K + c2) + 15]}}, pq[16*(r*MV_K + c2) +: 16]};
                    for (w = MV_K; w > 1; w = (w + 1) / 2) begin
                        for (i = 0; i < w / 2; i = i + 1) s[i] = s[2*i] + s[2*i + 1];
                        if (w % 2 == 1) s[w / 2] = s[w - 1];
                    end
                    d[24*r +: 24] = s[0];
                end
        end
    endgenerate
endmodule
