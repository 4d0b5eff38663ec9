// The separate matrix-matrix engine (unified_engine: false): an MM_N x MM_K array with MT
// token lanes beside the core's MV engine. The batched prefill's linear maps (MV with
// F_MM) run here on the second, MM-tiled copy of each matrix the compiler writes into the
// image (per tile of MM_N rows, per chunk of MM_K stored columns: MM_N group scales when
// the chunk starts a group, then the MM_N x MM_K fields); decode stays on the MV engine.
// Its own: the tile decoder (W4/W8 fields, N:M positions), x buffers, multipliers and
// products (ov_mm_lanes, all MT lanes), group scales, TT x MM_N accumulators and
// write-back lanes. Shared with the MV engine (one instruction runs at a time): the
// controller's chunk / block / token loops, the read streams and the requant pipeline.
// Timing is the core's: issue (the chunk pops from the stream into s1), products (s1,
// registered), row sums and accumulate (s2).
module ov_mm_engine #(
    parameter MM_K = 8,
    parameter MM_N = 8,
    parameter MT = 1,       // token lanes
    parameter TT = 1,       // token slots (accumulators)
    parameter WBITS = 8,
    parameter IDXB = 0,
    parameter FW = 8,       // widest weight field (WBITS + IDXB)
    parameter WIN = 80,     // stream window bytes (>= 2*MM_N scales + a tile)
    parameter NB = 2,       // x-buffer banks and write-back rows a cycle
    parameter LNB = 1,
    parameter XBL = 256,    // x-buffer words of a lane
    parameter XAW = 8,
    parameter PACK = 0      // W4 dense, even MM_N: two rows share one multiplier
) (
    input  wire                 clk,
    input  wire [3:0]           mut,
    // issue: the stream window and where the chunk sits in the matrix
    input  wire [8*WIN-1:0]     sd,
    input  wire                 gstart,   // the chunk starts a scale group (scales first)
    input  wire [2:0]           ib,       // N:M index bits of the fields
    input  wire [2:0]           lmm,      // log2 M
    input  wire [4:0]           nn,       // N
    input  wire [15:0]          g0,       // M-group of the chunk's first stored column
    input  wire [4:0]           r0,       // its position among the group's N
    input  wire [15:0]          j0,       // stored column of the chunk's first field
    input  wire [15:0]          ks,       // stored columns
    input  wire [15:0]          kdim,
    input  wire [15:0]          xoff,     // x-buffer offset of the first lane's slot
    input  wire                 issue,    // the chunk pops this cycle (into s1)
    output wire [15:0]          g0_nx,
    output wire [4:0]           r0_nx,
    // x-buffer fill (slot by slot: lane xw_l)
    input  wire                 xw_v,
    input  wire [7:0]           xw_l,
    input  wire [XAW-1:0]       xw_a,
    input  wire [LNB:0]         xw_n,
    input  wire [NB*8-1:0]      xw_d,
    // accumulate (the core's stage s2 flags) and clear
    input  wire                 s2_v,
    input  wire                 s2_gst,
    input  wire                 s2_gend,
    input  wire [15:0]          s2_t,
    input  wire [15:0]          bT,
    input  wire                 clr,
    // write-back: NB rows a cycle of token bt's row block rb, from row wj of the block
    input  wire [15:0]          wj,
    input  wire [15:0]          bt,
    input  wire [15:0]          rb,
    input  wire [15:0]          nrow,
    output reg  [NB*48-1:0]     wb_d,
    output reg  [15:0]          wb_n
);
    localparam L = MM_K * MM_N;
    // ------------------------------------------------------------ tile decode (issue)
    wire [L*8-1:0] w_iss;
    wire [L-1:0] live_iss;
    wire [L*XAW-1:0] xr_a;
    ov_tile_dec #(
        .K(MM_K), .N(MM_N), .WBITS(WBITS), .IDXB(IDXB), .FW(FW), .WIN(WIN), .XAW(XAW)
    ) u_dec (
        .sd(sd), .gstart(gstart), .ib(ib), .lmm(lmm), .nn(nn), .g0(g0), .r0(r0), .j0(j0),
        .ks(ks), .kdim(kdim), .xoff(xoff), .w(w_iss), .live(live_iss), .xr_a(xr_a),
        .g0_nx(g0_nx), .r0_nx(r0_nx));

    // ------------------------------------------------------------ s1: weights and scales
    reg [L*8-1:0] w_s1;
    reg [L-1:0] live_s1;
    reg [MM_N*16-1:0] scl, scale_s1, scale_s2;
    integer r;
    always @(posedge clk) begin
        scale_s2 <= scale_s1;
        if (issue) begin
            w_s1 <= w_iss;
            live_s1 <= live_iss;
            for (r = 0; r < MM_N; r = r + 1) begin
                scale_s1[16*r +: 16] <= gstart ? sd[16*r +: 16] : scl[16*r +: 16];
                if (gstart) scl[16*r +: 16] <= sd[16*r +: 16];
            end
        end
    end

    // ------------------------------------------------------------ lanes: x, products, sums
    wire [MT*MM_N*24-1:0] dot;
    wire [MT-1:0] xw_lane;
    genvar gl;
    generate
        for (gl = 0; gl < MT; gl = gl + 1) begin : g_we
            assign xw_lane[gl] = xw_v && xw_l == gl;
        end
    endgenerate
    ov_mm_lanes #(
        .MV_K(MM_K), .MV_N(MM_N), .NL(MT), .NB(NB), .LNB(LNB), .XBL(XBL), .XAW(XAW),
        .PACK(PACK)
    ) u_lanes (
        .clk(clk), .xw_v(xw_lane), .xw_a(xw_a), .xw_n(xw_n), .xw_d(xw_d), .xr_a(xr_a),
        .w_s1(w_s1), .live_s1(live_s1), .same_x(1'b0), .x0({(L*8){1'b0}}), .dot(dot));

    // ------------------------------------------------------------ s2: accumulate
    reg signed [TT*MM_N*48-1:0] acc;  // per token slot, MM_N rows
    reg signed [TT*MM_N*32-1:0] part;
    integer lu, ms;
    always @(posedge clk) begin
        if (clr) begin
            acc <= 0;
            part <= 0;
        end else if (s2_v) begin
            // lane lu accumulates slot s2_t + lu (lanes past the chunk's last slot idle)
            for (lu = 0; lu < MT; lu = lu + 1)
            for (r = 0; r < MM_N; r = r + 1) begin : mac
                reg signed [31:0] t32, pv;
                reg signed [47:0] av;
                reg signed [23:0] dv;
                reg [15:0] sc, sl;
                sl = s2_t + lu[15:0];
                dv = dot[24*(lu*MM_N + r) +: 24];
                sc = (mut == 2 || mut == 7) ? 16'd1 : scale_s2[16*r +: 16];
                // the slot's partial sum and accumulator by compare (a TT-way mux), not
                // by a run-time index product
                pv = 0;
                av = 0;
                for (ms = 0; ms < TT; ms = ms + 1)
                    if (sl == ms[15:0]) begin
                        pv = part[32*(MM_N*ms + r) +: 32];
                        av = acc[48*(MM_N*ms + r) +: 48];
                    end
                t32 = (s2_gst ? 32'sd0 : pv) + {{8{dv[23]}}, dv};
                av = av + $signed({{16{t32[31]}}, t32}) * $signed({32'd0, sc});
                for (ms = 0; ms < TT; ms = ms + 1)
                    if (sl == ms[15:0] && sl < bT) begin
                        if (s2_gend) begin
                            acc[48*(MM_N*ms + r) +: 48] <= av;
                            part[32*(MM_N*ms + r) +: 32] <= 0;
                        end else begin
                            part[32*(MM_N*ms + r) +: 32] <= t32;
                        end
                    end
            end
        end
    end

    // ------------------------------------------------------------ write-back lanes
    integer wl, wr, ws;
    reg signed [47:0] wb_acc;
    reg [15:0] wb_row;
    always @(*) begin
        wb_d = 0;
        wb_n = 0;
        wb_acc = 0;
        wb_row = 0;
        for (wl = 0; wl < NB; wl = wl + 1) begin
            wb_acc = 0;
            for (ws = 0; ws < TT; ws = ws + 1)  // slot by compare: no index product
                for (wr = 0; wr < MM_N; wr = wr + 1)
                    if (bt == ws[15:0] && {16'd0, wj} + wl == wr)
                        wb_acc = acc[48*(MM_N*ws + wr) +: 48];
            wb_row = rb + wj + wl[15:0];
            if ({16'd0, wj} + wl < MM_N && wb_row < nrow) begin
                wb_n = wl[15:0] + 16'd1;
                wb_d[wl*48 +: 48] = wb_acc;
            end
        end
    end
endmodule
