// The overlay accelerator core: instruction-driven controller, scratchpad, matrix-vector
// engine (MV_N rows x MV_K reduction lanes, W4/W8 x A8, per-group scales, N:M decode),
// SFU (SFU_LANES elements/cycle: norm, softmax, LUT, gate, RoPE, residual add) and five
// AXI4 read streams (wqkv, wo, wffn, kv, act) plus the KV write channel.
// The arithmetic of every instruction is docs/overlay.md; overlay/isa.py is its executor.
// Every storage array is a RAM with one write and one synchronous read port (ov_bankram):
//  - scratchpad: 18-bit words in NB banks (NB = SFU_LANES rounded up to a power of two, at
//    least 2), replicated 3 + SFU_LANES times, all copies written together: copies A, B, C
//    read the element-wise operand streams, copy T_j is SFU lane j's table (LUT / EXP /
//    RoPE cos) lookup port;
//  - x buffer: before an MV the int8 operand vector is copied (NB words a cycle) into one
//    RAM per multiplier, so each of the MV_N*MV_K products reads its own column (N:M
//    gather, KV-row lanes) one cycle after the weights arrive;
//  - stream buffers: circular byte RAMs (ov_rdstream).
// Element-wise ops run a 3-stage pipeline: issue addresses, operands (+ table address),
// tables + result into the write register. Matrix tiles run issue, multiply-accumulate.
// mut != 0 breaks one operator on purpose (mutation tests, simulation only): 1 RoPE sign, 2 group scale
// dropped, 3 norm beta dropped, 4 softmax max not subtracted, 5 requant floors (no rounding),
// 6 batched MV: every token of the chunk reads the first token's x, 7 separate MM engine:
// its group scales dropped (the MV engine's kept).
// Batched MV with MT token lanes: each chunk of a tile serves MT slots a cycle (ov_mm_lanes).
// SEP = 1 (unified_engine: false): MVs flagged F_MM (the batched prefill's linear maps) run
// on a separate MM_N x MM_K engine with the MT lanes and TT slots (ov_mm_engine) reading
// its own MM-tiled weight copy; the MV engine then has one slot and one lane.
module overlay_core #(
    parameter MV_K = 8,
    parameter MV_N = 8,
    parameter WBITS = 8,
    parameter SFU_LANES = 4,
    parameter BEAT = 16,
    parameter LOGBEAT = 4,
    parameter CAP = 512,
    parameter SPAD = 4096,
    parameter IMEM = 256,
    parameter OVERLAP = 1,
    parameter BURST = 256,
    parameter IDXB = 4,      // N:M index bits the stream decoder supports (0: dense only)
    parameter XBUF = 1024,   // x-buffer words: the longest reduction of an MV (x TT)
    parameter TT = 1,        // prefill token slots: a weight tile serves TT tokens (F_BATCH)
    parameter MT = 1,        // token lanes (mm_t, a power of two dividing TT): the slots a
                             // tile serves in one cycle (ov_mm_lanes holds lanes 1..MT-1)
    parameter SEP = 0,       // 1: a separate MM engine (ov_mm_engine) of MM_N x MM_K
    parameter MM_K = 8,
    parameter MM_N = 8,
    parameter CAP_MM = 0     // stream-buffer bytes the MM engine's tiles need (if above CAP)
) (
    input  wire                 clk,
    input  wire                 rst,
    input  wire [3:0]           mut,     // 0 in hardware; see header
    input  wire                 start,
    input  wire [15:0]          start_pc,
    input  wire [15:0]          pos_in,
    input  wire [15:0]          tok_in,
    output reg                  done,
    output reg  [15:0]          out_token,
    input  wire                 imem_we,
    input  wire [15:0]          imem_addr,
    input  wire [255:0]         imem_wdata,
    input  wire [15:0]          dbg_addr,   // read while idle; dbg_data one cycle later
    output wire [31:0]          dbg_data,
    // five read masters, packed: port p at [p*W +: W]
    output wire [5*32-1:0]      araddr,
    output wire [5*8-1:0]       arlen,
    output wire [5*3-1:0]       arsize,
    output wire [5*2-1:0]       arburst,
    output wire [4:0]           arvalid,
    input  wire [4:0]           arready,
    input  wire [5*8*BEAT-1:0]  rdata,
    input  wire [4:0]           rvalid,
    input  wire [4:0]           rlast,
    output wire [4:0]           rready,
    // KV write channel (single-byte writes)
    output reg  [31:0]          awaddr,
    output wire [7:0]           awlen,
    output wire [2:0]           awsize,
    output wire [1:0]           awburst,
    output reg                  awvalid,
    input  wire                 awready,
    output reg  [8*BEAT-1:0]    wdata,
    output reg  [BEAT-1:0]      wstrb,
    output wire                 wlast,
    output reg                  wvalid,
    input  wire                 wready,
    input  wire                 bvalid,
    output wire                 bready
);
    localparam L = MV_K * MV_N;  // KV rows: the engine's multipliers as one dot product
    localparam SAW = $clog2(SPAD);
    localparam IAW = $clog2(IMEM);
    // the MV engine's token slots and lanes: the MM engine has them when separate (SEP)
    localparam TTV = (SEP != 0) ? 1 : TT;
    localparam MTV = (SEP != 0) ? 1 : MT;
    // x-buffer words of one token lane (slots banked by lane); a separate MM engine leaves
    // the MV engine one token's reduction: XBUF / 2^floor(log2 TT) >= XBUF / TT words
    localparam XBL = (SEP != 0) ? XBUF >> ($clog2(TT + 1) - 1) : XBUF / MT;
    localparam XAW = $clog2(XBL);
    localparam [15:0] MT16 = MT[15:0];
    localparam LNB = (SFU_LANES <= 2) ? 1 : $clog2(SFU_LANES);
    localparam NB = 1 << LNB;
    localparam DW = 18;
    localparam FW = WBITS + IDXB;                       // widest weight field
    localparam TILEB = 2 * MV_N + (L * FW + 7) / 8;     // scales + one tile
    localparam LM = MM_K * MM_N;
    localparam TILEBM = (SEP != 0) ? 2 * MM_N + (LM * FW + 7) / 8 : 0;  // the MM engine's tile
    localparam WIN1 = (TILEB > L) ? TILEB : L;
    localparam WIN0 = (WIN1 > TILEBM) ? WIN1 : TILEBM;
    localparam WIN = (WIN0 > 2 * SFU_LANES) ? WIN0 : 2 * SFU_LANES;
    localparam LNBK = $clog2((WIN > BEAT) ? WIN : BEAT);
    localparam NBK = 1 << LNBK;
    localparam CAPX = (CAP_MM > CAP) ? CAP_MM : CAP;
    localparam CAW0 = $clog2(CAPX);
    localparam CAW = (CAW0 > LNBK) ? CAW0 : LNBK;
    localparam [15:0] MVK16 = MV_K[15:0];
    localparam [15:0] MVN16 = MV_N[15:0];
    localparam [15:0] L16 = L[15:0];
    localparam [15:0] MMK16 = MM_K[15:0];
    localparam [15:0] MMN16 = MM_N[15:0];
    localparam [15:0] LM16 = LM[15:0];
    localparam MPACK = (WBITS == 4 && IDXB == 0 && MM_N % 2 == 0) ? 1 : 0;
    localparam [15:0] LANES16 = SFU_LANES[15:0];
    localparam [15:0] NB16 = NB[15:0];
    // DSP packing (W4, dense, even MV_N): rows 2i and 2i+1 read the same x[col], so one
    // multiplier computes x * (w_hi * 2^12 + w_lo) and the two products are split from it;
    // KV rows (int8 x int8, every lane its own x) then use the even rows' multipliers only.
    localparam PACK = (WBITS == 4 && IDXB == 0 && MV_N % 2 == 0) ? 1 : 0;
    localparam KL = PACK ? L / 2 : L;  // KV-row lanes
    localparam [15:0] L8 = KL[15:0];
    assign awlen = 8'd0;
    assign awsize = 3'd0;
    assign awburst = 2'b01;
    assign wlast = 1'b1;
    assign bready = 1'b1;

    reg [255:0] imem [0:IMEM-1];

    // ---------------------------------------------------------------- instruction fields
    reg [255:0] ir;
    wire [7:0]  op     = ir[7:0];
    wire [7:0]  flags  = ir[15:8];
    wire [3:0]  port   = ir[19:16];
    wire [3:0]  elem   = ir[23:20];
    wire [15:0] f_dst  = ir[47:32];
    wire [15:0] f_src  = ir[63:48];
    wire [15:0] f_src2 = ir[79:64];
    wire [15:0] f_n    = ir[95:80];
    wire [15:0] f_k    = ir[111:96];
    wire [15:0] f_grp  = ir[127:112];
    wire [31:0] f_addr = ir[159:128];
    wire [31:0] f_aux  = ir[191:160];
    wire [23:0] f_strd = ir[215:192];
    wire [7:0]  f_sh   = ir[223:216];
    wire [15:0] f_m    = ir[239:224];
    wire [15:0] f_aux2 = ir[255:240];
    localparam OP_END = 0, OP_LOAD = 1, OP_LOADX = 2, OP_STORE = 3, OP_MV = 4, OP_ADD = 5,
               OP_NORM = 6, OP_SOFTMAX = 7, OP_LUT = 8, OP_MULQ = 9, OP_ROPE = 10,
               OP_SETPOS = 11;
    localparam F_DYN_N = 1, F_DYN_K = 2, F_ROWS = 4, F_ARGMAX = 8, F_SPARSE = 16, F_BATCH = 32,
               F_MM = 64;
    // the instruction runs on the separate MM engine (constant 0 without one)
    wire mmi = (SEP != 0) && flags[6];
    wire [15:0] ek16 = mmi ? MMK16 : MVK16;  // the engine's reduction lanes and rows
    wire [15:0] en16 = mmi ? MMN16 : MVN16;

    // ---------------------------------------------------------------- arithmetic helpers
    function signed [7:0] sat8;
        input signed [63:0] v;
        begin
            if (v > 64'sd127) sat8 = 8'sd127;
            else if (v < -64'sd128) sat8 = -8'sd128;
            else sat8 = v[7:0];
        end
    endfunction
    // sat8((a * M + 2^(sh-1)) >> sh) for a 48-bit accumulator (M < 2^15: 63-bit product);
    // rqp is the product and rounding term, the part the requant pipeline registers
    function signed [63:0] rqp;
        input signed [47:0] a;
        input [15:0] m;
        input [7:0] sh;
        begin
            rqp = a * $signed({48'd0, m}) + ((mut == 5) ? 64'sd0 : (64'sd1 <<< (sh - 8'd1)));
        end
    endfunction
    function signed [7:0] rq;
        input signed [47:0] a;
        input [15:0] m;
        input [7:0] sh;
        begin
            rq = sat8(rqp(a, m, sh) >>> sh);
        end
    endfunction
    function [DW-1:0] w18;  // an int8 result as a scratchpad word
        input signed [7:0] v;
        begin
            w18 = {{(DW-8){v[7]}}, v};
        end
    endfunction
    function [SAW-1:0] sa;
        input [31:0] a;
        begin
            sa = a[SAW-1:0];
        end
    endfunction

    // ---------------------------------------------------------------- read streams
    reg  [4:0] s_req;
    reg  [31:0] s_addr;
    reg  [23:0] s_len;
    reg  [15:0] s_rows;
    reg  [23:0] s_stride;
    reg  [15:0] s_need;  // driven combinationally below
    wire [15:0] s_pop;
    wire [8*WIN-1:0] s_data [0:4];
    wire [15:0] s_cnt [0:4];
    genvar gp;
    generate
        for (gp = 0; gp < 5; gp = gp + 1) begin : g_port
            ov_rdstream #(
                .BEAT(BEAT), .LOGBEAT(LOGBEAT), .CAP(CAPX), .OVERLAP(OVERLAP), .BURST(BURST),
                .WIN(WIN), .NBK(NBK), .LNBK(LNBK), .CAW(CAW)
            ) u_rd (
                .clk(clk), .rst(rst), .req(s_req[gp]), .req_addr(s_addr), .req_len(s_len),
                .req_rows(s_rows), .req_stride(s_stride),
                .need(port == gp ? s_need : 16'd0), .pop(port == gp ? s_pop : 16'd0),
                .data(s_data[gp]), .cnt(s_cnt[gp]),
                .araddr(araddr[gp*32 +: 32]), .arlen(arlen[gp*8 +: 8]),
                .arsize(arsize[gp*3 +: 3]), .arburst(arburst[gp*2 +: 2]),
                .arvalid(arvalid[gp]), .arready(arready[gp]),
                .rdata(rdata[gp*8*BEAT +: 8*BEAT]), .rvalid(rvalid[gp]), .rlast(rlast[gp]),
                .rready(rready[gp]));
        end
    endgenerate
    wire [8*WIN-1:0] sd = s_data[port[2:0] > 3'd4 ? 3'd4 : port[2:0]];
    wire [15:0] scnt = s_cnt[port[2:0] > 3'd4 ? 3'd4 : port[2:0]];

    // ---------------------------------------------------------------- controller state
    localparam ST_IDLE = 0, ST_FETCH = 1, ST_EXEC = 2;
    reg [1:0] state;
    reg [4:0] ph;
    reg [15:0] pc, pos, tok;
    reg [15:0] pos0;              // POS at start: SETPOS n sets POS = pos0 + n
    // batched MV (F_BATCH, prefill): the popped weight tile stays at the stream head for
    // bT tokens, one a cycle (token bt reads its x at xoff = bt*K in the x buffers and
    // accumulates in its own row accumulators); the tile leaves the stream with the last
    reg [15:0] bt, bT, xoff, yoff, kfill;
    reg [15:0] ii, row, nrow, kk, kdim, nt, rb, wj;
    reg [31:0] stoff;
    reg [15:0] ks, gsz, gpos, j0, g0;
    reg [4:0] r0, nn;
    reg [2:0] lmm, ib;
    reg idone, rp;
    reg [31:0] base;              // LOAD / STORE: addr + POS*stride (or TOK)
    reg signed [47:0] best;
    reg signed [23:0] ssum;       // norm: S
    reg signed [31:0] sq;         // norm: Q; softmax: sum of e
    reg signed [9:0] mx;          // softmax: max
    reg [47:0] v_rem, v_res;      // isqrt
    reg [31:0] d_num, d_rem, d_q; // divider
    reg [31:0] d_den;
    reg [5:0] it;
    reg [15:0] outstanding;
    reg aw_busy, w_busy;

    // ---------------------------------------------------------------- scratchpad
    reg wr_v;
    reg [SAW-1:0] wr_a;
    reg [LNB:0] wr_n;
    reg [NB*DW-1:0] wr_d;
    reg [SAW-1:0] ra_a, ra_b, ra_c;
    reg [SFU_LANES*SAW-1:0] ra_t;
    wire [NB*DW-1:0] q_a, q_b, q_c;
    wire [SFU_LANES*NB*DW-1:0] q_t;
    ov_bankram #(.NB(NB), .LNB(LNB), .DEPTH(SPAD), .AW(SAW), .DW(DW)) u_spad_a (
        .clk(clk), .we(wr_v), .wa(wr_a), .wn(wr_n), .wd(wr_d), .ra(ra_a), .rq(q_a));
    ov_bankram #(.NB(NB), .LNB(LNB), .DEPTH(SPAD), .AW(SAW), .DW(DW)) u_spad_b (
        .clk(clk), .we(wr_v), .wa(wr_a), .wn(wr_n), .wd(wr_d), .ra(ra_b), .rq(q_b));
    ov_bankram #(.NB(NB), .LNB(LNB), .DEPTH(SPAD), .AW(SAW), .DW(DW)) u_spad_c (
        .clk(clk), .we(wr_v), .wa(wr_a), .wn(wr_n), .wd(wr_d), .ra(ra_c), .rq(q_c));
    genvar gt;
    generate
        for (gt = 0; gt < SFU_LANES; gt = gt + 1) begin : g_tab
            ov_bankram #(.NB(NB), .LNB(LNB), .DEPTH(SPAD), .AW(SAW), .DW(DW)) u_spad_t (
                .clk(clk), .we(wr_v), .wa(wr_a), .wn(wr_n), .wd(wr_d),
                .ra(ra_t[gt*SAW +: SAW]), .rq(q_t[gt*NB*DW +: NB*DW]));
        end
    endgenerate
    assign dbg_data = {{(32-DW){q_a[DW-1]}}, q_a[DW-1:0]};

    // ---------------------------------------------------------------- x buffer (per product)
    // filled from copy A's operand block at stage D (written on that cycle's edge)
    reg d_v;
    reg [15:0] d_ii;
    // the fill copies one token slot at a time: slot t goes to lane t % MT at (t / MT) * K
    // (xf_o: offset in the slot, xf_t: the slot, xf_b: its row in the lane; d_x*: stage D)
    reg [15:0] xf_o, xf_t, xf_b, d_xa;
    reg [LNB:0] d_xn;
    reg [7:0] d_xl;
    wire [15:0] xf_s = (kdim - xf_o < NB16) ? kdim - xf_o : NB16;  // words this cycle
    reg [L*XAW-1:0] xr_a;
    wire [L*NB*8-1:0] xq;
    wire xw_v = state == ST_EXEC && op == OP_MV && d_v;
    wire [XAW-1:0] xw_a = d_xa[XAW-1:0];
    reg [NB*8-1:0] xw_d;
    integer xl;
    always @(*)
        for (xl = 0; xl < NB; xl = xl + 1) xw_d[8*xl +: 8] = q_a[xl*DW +: 8];
    genvar gx;
    generate
        for (gx = 0; gx < L; gx = gx + 1) begin : g_xbuf
            ov_bankram #(.NB(NB), .LNB(LNB), .DEPTH(XBL), .AW(XAW), .DW(8)) u_x (
                .clk(clk), .we(xw_v && d_xl == 0 && !mmi), .wa(xw_a), .wn(d_xn), .wd(xw_d),
                .ra(xr_a[gx*XAW +: XAW]), .rq(xq[gx*NB*8 +: NB*8]));
        end
    endgenerate

    // ---------------------------------------------------------------- element-wise pipeline
    // issue (I) -> operands (D) -> tables and result (E); d_*/e_* carry the lane group.
    reg e_v, h_v;
    // stage E's op, a register: decoded from the instruction register (the imem read) in
    // the same cycle it put the op decode in front of MULQ's two chained multiplies
    // (the released top's slowest path, 24.4 MHz); op is stable from the fetch on, and
    // stage E holds a lane group no earlier than three cycles after it
    reg [7:0] e_op;
    reg [15:0] d_n, e_n, e_ii, d_rb, e_rb;
    reg [NB*DW-1:0] a_e, b_e, c_e, h_d;
    reg [SAW-1:0] h_a;
    reg [15:0] lanes_left;
    reg iss;
    always @(*) begin
        lanes_left = (nrow - ii < LANES16) ? nrow - ii : LANES16;
    end

    // ---------------------------------------------------------------- MV tile datapath
    wire gstart = (gpos == 0);
    wire [15:0] sc_bytes = gstart ? en16 * 16'd2 : 16'd0;
    wire [15:0] fb = WBITS[15:0] + {13'd0, ib};
    wire [15:0] tbytes = ((mmi ? LM16 : L16) * fb) >> 3;
    wire [15:0] take = (kdim - kk < L8) ? kdim - kk : L8;
    reg [L*8-1:0] w_iss;          // weights (or KV bytes) of the issued chunk, int8
    reg [L-1:0] live_iss;
    reg [15:0] g0_nx;
    reg [4:0] r0_nx;
    integer ap, mi, tj, rj, wl, wr, ws, r, j, bc, br;
    // a weight tile's fields, N:M columns and x addresses (ov_tile_dec)
    wire [L*8-1:0] t_w;
    wire [L-1:0] t_live;
    wire [L*XAW-1:0] t_xa;
    wire [15:0] t_g0_nx;
    wire [4:0] t_r0_nx;
    ov_tile_dec #(
        .K(MV_K), .N(MV_N), .WBITS(WBITS), .IDXB(IDXB), .FW(FW), .WIN(WIN), .XAW(XAW)
    ) u_dec (
        .sd(sd), .gstart(gstart), .ib(ib), .lmm(lmm), .nn(nn), .g0(g0), .r0(r0), .j0(j0),
        .ks(ks), .kdim(kdim), .xoff(xoff), .w(t_w), .live(t_live), .xr_a(t_xa),
        .g0_nx(t_g0_nx), .r0_nx(t_r0_nx));
    always @(*) begin
        ap = 0;
        mi = 0;
        w_iss = t_w;
        live_iss = t_live;
        xr_a = t_xa;
        g0_nx = t_g0_nx;
        r0_nx = t_r0_nx;
        if (ph == 3) begin  // KV rows: lane ap multiplies KV byte ap by x[kk + ap]
            w_iss = 0;
            live_iss = 0;
            xr_a = 0;
            g0_nx = g0;
            r0_nx = r0;
            for (ap = 0; ap < KL; ap = ap + 1) begin  // mi: the lane's multiplier
                mi = PACK ? (ap / MV_K) * 2 * MV_K + ap % MV_K : ap;  // packed: even rows
                w_iss[8*mi +: 8] = sd[8*ap +: 8];
                live_iss[mi] = (ap < take);
                xr_a[mi*XAW +: XAW] = kk[XAW-1:0] + ap[XAW-1:0];
            end
        end
    end

    // stage s1: the products of the issued chunk with the x values read for them, into
    // registers; stage s2: their sums (a balanced tree per row; for KV rows the rows'
    // sums added again) and the accumulate. A multiplier, a 32-product adder chain, the
    // row accumulator and the requant in one cycle ran the released top at 8.4 MHz.
    reg s1_v, s1_kv, s1_gst, s1_gend, s1_rowend, s1_last;
    reg [15:0] s1_t, s2_t;        // token slot of the chunk in s1 / s2
    reg s2_v, s2_kv, s2_gst, s2_gend, s2_rowend;
    reg [L*8-1:0] w_s1;
    reg [L-1:0] live_s1;
    reg [MV_N*16-1:0] scale_s1, scale_s2, scl;
    reg [15:0] row_s1, row_s2;
    reg signed [TTV*MV_N*48-1:0] acc;  // per token slot, MV_N rows
    reg signed [TTV*MV_N*32-1:0] part;
    reg signed [31:0] acc0;
    reg signed [23:0] dot [0:MV_N-1];
    reg signed [31:0] rdot;
    reg [L*16-1:0] pr_s1, pr_s2;  // products, 0 where the lane is not live
    reg signed [23:0] tr [0:MV_K-1];
    reg signed [31:0] trr [0:MV_N-1];
    integer tw, ti;
    wire signed [31:0] kv_sum = acc0 + rdot;
    generate
        if (PACK) begin : g_pack
            // one signed 17 x 8 product per row pair and column: lo = x*w_lo in the low 12
            // bits (|x*w| <= 1024), hi = x*w_hi above them, plus 1 when lo is negative (the
            // low product's sign borrowed from the high part); KV rows: a plain int8 product
            integer pc, pb0, pb1;
            reg signed [16:0] pa;
            reg signed [24:0] pp;
            always @(*) begin
                pr_s1 = 0;
                for (pc = 0; pc < L / 2; pc = pc + 1) begin
                    pb0 = (pc / MV_K) * 2 * MV_K + pc % MV_K;
                    pb1 = pb0 + MV_K;
                    pa = s1_kv ? $signed({{9{w_s1[8*pb0 + 7]}}, w_s1[8*pb0 +: 8]})
                               : $signed({w_s1[8*pb1 + 3], w_s1[8*pb1 +: 4], 12'd0})
                                 + $signed({{13{w_s1[8*pb0 + 3]}}, w_s1[8*pb0 +: 4]});
                    pp = pa * $signed(xq[pb0*NB*8 +: 8]);
                    if (live_s1[pb0]) begin
                        if (s1_kv) begin
                            pr_s1[16*pb0 +: 16] = pp[15:0];
                        end else begin
                            pr_s1[16*pb0 +: 16] = {{4{pp[11]}}, pp[11:0]};
                            pr_s1[16*pb1 +: 16] = {{3{pp[24]}}, pp[24:12]} + {15'd0, pp[11]};
                        end
                    end
                end
            end
        end else begin : g_nopack
            always @(*)
                for (bc = 0; bc < L; bc = bc + 1)
                    pr_s1[16*bc +: 16] = live_s1[bc]
                        ? $signed(w_s1[8*bc +: 8]) * $signed(xq[bc*NB*8 +: 8]) : 16'sd0;
        end
    endgenerate
    always @(*) begin
        for (br = 0; br < MV_N; br = br + 1) begin
            for (bc = 0; bc < MV_K; bc = bc + 1)
                tr[bc] = {{8{pr_s2[16*(br*MV_K + bc) + 15]}}, pr_s2[16*(br*MV_K + bc) +: 16]};
            for (tw = MV_K; tw > 1; tw = (tw + 1) / 2) begin  // pairwise: log2(MV_K) adds deep
                for (ti = 0; ti < tw / 2; ti = ti + 1) tr[ti] = tr[2*ti] + tr[2*ti + 1];
                if (tw % 2 == 1) tr[tw / 2] = tr[tw - 1];
            end
            dot[br] = tr[0];
            trr[br] = {{8{tr[0][23]}}, tr[0]};
        end
        for (tw = MV_N; tw > 1; tw = (tw + 1) / 2) begin
            for (ti = 0; ti < tw / 2; ti = ti + 1) trr[ti] = trr[2*ti] + trr[2*ti + 1];
            if (tw % 2 == 1) trr[tw / 2] = trr[tw - 1];
        end
        rdot = trr[0];
    end

    // token lanes 1..MT-1 of the batched MV: the same chunk, the next slots' x
    wire signed [(MTV > 1 ? MTV - 1 : 1)*MV_N*24-1:0] ldot;
    integer lu, ms;
    generate
        if (MTV > 1) begin : g_mm
            wire [MTV-1:0] xw_lane;
            wire [L*8-1:0] x0;
            genvar gl;
            for (gl = 0; gl < MTV; gl = gl + 1) begin : g_we
                assign xw_lane[gl] = xw_v && d_xl == gl;
            end
            for (gl = 0; gl < L; gl = gl + 1) begin : g_x0
                assign x0[8*gl +: 8] = xq[gl*NB*8 +: 8];
            end
            ov_mm_lanes #(
                .MV_K(MV_K), .MV_N(MV_N), .NL(MTV - 1), .NB(NB), .LNB(LNB), .XBL(XBL),
                .XAW(XAW), .PACK(PACK)
            ) u_mm (
                .clk(clk), .xw_v(xw_lane[MTV-1:1]), .xw_a(xw_a), .xw_n(d_xn), .xw_d(xw_d),
                .xr_a(xr_a), .w_s1(w_s1), .live_s1(live_s1), .same_x(mut == 6), .x0(x0),
                .dot(ldot));
        end else begin : g_mm1
            assign ldot = 0;
        end
    endgenerate

    // Stream consumption is combinational: the bytes an instruction uses this cycle leave
    // the buffer this cycle, so a tile per cycle streams at full rate.
    reg consuming;
    always @(*) begin
        consuming = 1'b0;
        s_need = 16'd0;
        if (state == ST_EXEC && ph != 0) begin
            if ((op == OP_LOAD || op == OP_LOADX) && ph == 1) begin
                consuming = 1'b1;
                s_need = (elem == 0) ? lanes_left : lanes_left << 1;  // 1 or 2 bytes
            end else if (op == OP_MV && ph == 2) begin
                consuming = 1'b1;
                s_need = sc_bytes + tbytes;
            end else if (op == OP_MV && ph == 3) begin
                consuming = 1'b1;
                s_need = take;
            end
        end
    end
    wire fire = consuming && scnt >= s_need;
    // a batched MV keeps the tile at the head until its last token has read it
    wire hold = op == OP_MV && ph == 2 && bt + MT16 < bT;
    assign s_pop = (fire && !hold) ? s_need : 16'd0;

    // the separate MM engine (SEP): decodes, multiplies and accumulates F_MM instructions
    wire [15:0] m_g0_nx;
    wire [4:0] m_r0_nx;
    wire [NB*48-1:0] m_wb_d;
    wire [15:0] m_wb_n;
    generate
        if (SEP != 0) begin : g_sep
            localparam XBM = XBUF / MT;
            ov_mm_engine #(
                .MM_K(MM_K), .MM_N(MM_N), .MT(MT), .TT(TT), .WBITS(WBITS), .IDXB(IDXB),
                .FW(FW), .WIN(WIN), .NB(NB), .LNB(LNB), .XBL(XBM), .XAW($clog2(XBM)),
                .PACK(MPACK)
            ) u_mme (
                .clk(clk), .mut(mut), .sd(sd), .gstart(gstart), .ib(ib), .lmm(lmm), .nn(nn),
                .g0(g0), .r0(r0), .j0(j0), .ks(ks), .kdim(kdim), .xoff(xoff),
                .issue(mmi && state == ST_EXEC && op == OP_MV && ph == 2 && fire),
                .g0_nx(m_g0_nx), .r0_nx(m_r0_nx),
                .xw_v(xw_v && mmi), .xw_l(d_xl), .xw_a(d_xa[$clog2(XBM)-1:0]), .xw_n(d_xn),
                .xw_d(xw_d), .s2_v(s2_v && mmi), .s2_gst(s2_gst), .s2_gend(s2_gend),
                .s2_t(s2_t), .bT(bT),
                .clr(state == ST_EXEC && op == OP_MV && (ph == 0 || (ph == 4 && wj + NB16 >= en16
                                                        && bt + 16'd1 >= bT))),
                .wj(wj), .bt(bt), .rb(rb), .nrow(nrow), .wb_d(m_wb_d), .wb_n(m_wb_n));
        end else begin : g_nosep
            assign m_g0_nx = 0;
            assign m_r0_nx = 0;
            assign m_wb_d = 0;
            assign m_wb_n = 0;
        end
    endgenerate

    // ---------------------------------------------------------------- read addresses
    wire st_inc = aw_busy && w_busy && (!awvalid || awready) && (!wvalid || wready);
    wire sfu_op = op == OP_ADD || op == OP_LUT || op == OP_MULQ || op == OP_NORM
                  || op == OP_SOFTMAX || op == OP_ROPE;
    reg [7:0] tb;
    always @(*) begin
        tb = 0;
        ra_a = sa({16'd0, f_src} + {16'd0, ii});
        ra_b = sa({16'd0, f_src2} + {16'd0, ii});
        ra_c = sa({16'd0, f_aux2} + {16'd0, ii});
        if (state == ST_IDLE) ra_a = dbg_addr[SAW-1:0];
        else if (op == OP_STORE && ph == 0) ra_a = f_src[SAW-1:0];
        else if (op == OP_STORE) ra_a = sa({16'd0, f_src} + {16'd0, ii} + (st_inc ? 32'd1 : 32'd0));
        else if (op == OP_SOFTMAX && ph == 5) ra_a = sa({16'd0, f_dst} + {16'd0, ii});
        else if (op == OP_ROPE) begin
            ra_a = sa({16'd0, f_src} + {16'd0, rb} + {16'd0, ii});
            ra_b = sa({16'd0, f_src} + {16'd0, rb} + {17'd0, f_k[15:1]} + {16'd0, ii});
        end
        // table lookups at stage D: LUT / EXP by the operand byte, RoPE cos by position
        ra_t = 0;
        for (tj = 0; tj < SFU_LANES; tj = tj + 1) begin
            tb = (op == OP_SOFTMAX) ? mx[7:0] - q_a[tj*DW +: 8] : q_a[tj*DW +: 8];
            if (op == OP_ROPE) ra_t[tj*SAW +: SAW] = sa(f_aux + {16'd0, d_ii} + tj);
            else ra_t[tj*SAW +: SAW] = sa(f_aux + {24'd0, tb});
        end
    end

    // ---------------------------------------------------------------- SFU multipliers
    // Four multipliers per SFU lane, time-shared by the element-wise ops (one runs at a
    // time): M0 (26 x 33) stage E's MULQ a*b, EXP e*R, RoPE a*cos and the norm's c*inv;
    // M1 (40 x 18) the norm's t*g*M (n2) and RoPE b*sin; M2 (32 x 18) the norm's t*g (n1)
    // and RoPE b*cos; M3 (17 x 18) stage D's x*x and d*x, RoPE a*sin and MULQ's a*b*M.
    // Lane 0's M0 and M1 also form the variance d*Q - S^2. Each feeds a norm pipeline
    // register every cycle, so each is live in every state: Yosys's ``share`` finds no
    // exclusive products to merge, and a lane's DSPs are its four products' blocks.
    wire [SFU_LANES*59-1:0] m0_p;
    wire [SFU_LANES*58-1:0] m1_p;
    wire [SFU_LANES*50-1:0] m2_p;
    wire [SFU_LANES*35-1:0] m3_p;

    // ---------------------------------------------------------------- stage E results
    reg [NB*DW-1:0] res, res2;
    reg signed [17:0] tv;
    reg signed [31:0] esum;
    reg signed [47:0] pe;
    reg signed [63:0] mq;
    reg signed [26:0] rot;
    always @(*) begin
        res = 0;
        res2 = 0;
        esum = sq;
        tv = 0;
        pe = 0;
        mq = 0;
        rot = 0;
        for (rj = 0; rj < SFU_LANES; rj = rj + 1) begin
            tv = q_t[rj*NB*DW +: DW];
            if ({16'd0, rj[15:0]} < {16'd0, e_n}) begin
                case (e_op)
                OP_ADD: res[rj*DW +: DW] = w18(sat8($signed({{56{a_e[rj*DW + 7]}}, a_e[rj*DW +: 8]})
                                                    + $signed({{56{b_e[rj*DW + 7]}}, b_e[rj*DW +: 8]})));
                OP_MULQ: begin  // (a*b*M + 2^(sh-1)) >> sh, saturated: M0 then M3
                    mq = $signed({{29{m3_p[35*rj + 34]}}, m3_p[35*rj +: 35]})
                         + ((mut == 5) ? 64'sd0 : (64'sd1 <<< (f_sh - 8'd1)));
                    res[rj*DW +: DW] = w18(sat8(mq >>> f_sh));
                end
                OP_LUT: res[rj*DW +: DW] = tv;
                OP_SOFTMAX: begin
                    if (ph == 2) begin
                        res[rj*DW +: DW] = tv;
                        esum = esum + {{14{tv[17]}}, tv};
                    end else begin
                        pe = $signed(m0_p[59*rj +: 48]) + 48'sd8388608;  // e*R (M0)
                        res[rj*DW +: DW] = (pe >>> 24) > 48'sd127 ? 18'd127 : pe[41:24];
                    end
                end
                OP_ROPE: begin  // a*cos - b*sin and b*cos + a*sin (M0 - M1, M2 + M3)
                    rot = $signed(m0_p[59*rj +: 27]) - $signed(m1_p[58*rj +: 27]) + 27'sd8192;
                    res[rj*DW +: DW] = w18(sat8($signed({{37{rot[26]}}, rot}) >>> 14));
                    rot = $signed(m2_p[50*rj +: 27]) + $signed(m3_p[35*rj +: 27]) + 27'sd8192;
                    res2[rj*DW +: DW] = w18(sat8($signed({{37{rot[26]}}, rot}) >>> 14));
                end
                default: ;
                endcase
            end
        end
    end

    // ---------------------------------------------------------------- MV write-back lanes
    reg [NB*48-1:0] wb_d;  // the lanes' accumulators, into the requant pipeline
    reg [15:0] wb_n, wb_row;
    reg signed [47:0] wb_acc, wb_best;
    reg [15:0] wb_tok;
    always @(*) begin
        wb_d = 0;
        wb_best = best;
        wb_tok = out_token;
        wb_n = 0;
        wb_acc = 0;
        wb_row = 0;
        for (wl = 0; wl < NB; wl = wl + 1) begin
            wb_acc = 0;
            for (ws = 0; ws < TTV; ws = ws + 1)  // slot by compare: no index product
                for (wr = 0; wr < MV_N; wr = wr + 1)
                    if (bt == ws[15:0] && {16'd0, wj} + wl == wr) wb_acc = acc[48*(MV_N*ws + wr) +: 48];
            wb_row = rb + wj + wl[15:0];
            if ({16'd0, wj} + wl < MV_N && wb_row < nrow) begin
                wb_n = wl[15:0] + 16'd1;
                wb_d[wl*48 +: 48] = wb_acc;
                if (wb_row == 0 || wb_acc > wb_best) begin
                    wb_best = wb_acc;
                    wb_tok = wb_row;
                end
            end
        end
    end

    // ---------------------------------------------------------------- requant pipeline
    // MV write-back lanes and KV-row sums: q1 holds the 48-bit values, q2 a*M + 2^(sh-1),
    // then shift and saturate into the scratchpad write register (two cycles of latency
    // instead of a 48x15 multiply and a 64-bit shifter behind the accumulator).
    reg q1_v, q2_v;
    reg [SAW-1:0] q1_a, q2_a;
    reg [LNB:0] q1_n, q2_n;
    reg [NB*48-1:0] q1_acc;
    reg [NB*64-1:0] q2_p;
    reg [NB*DW-1:0] q2_d;
    integer ql;
    always @(*)
        for (ql = 0; ql < NB; ql = ql + 1)
            q2_d[ql*DW +: DW] = w18(sat8($signed(q2_p[64*ql +: 64]) >>> f_sh));

    // ---------------------------------------------------------------- norm pipeline
    // y = sat8(((t*g*M + r) >> sh) + beta), t = (c*inv + 2^17) >> 18: c at stage D, t at
    // stage E, then t*g (n1), *M + r (n2), shift, beta and saturate (n3) into the write
    // register; one multiply per cycle instead of four chained.
    reg [SFU_LANES*26-1:0] cn_e;
    reg n1_v, n2_v, n3_v;
    reg [SAW-1:0] n1_a, n2_a, n3_a;
    reg [LNB:0] n1_n, n2_n, n3_n;
    reg [SFU_LANES*32-1:0] n1_t;
    reg [SFU_LANES*40-1:0] n2_t;
    reg [SFU_LANES*57-1:0] n3_y;
    reg [SFU_LANES*8-1:0] n1_g, n1_b, n2_b, n3_b;
    reg [SFU_LANES*32-1:0] e_t;
    reg [NB*DW-1:0] n3_d;
    reg signed [57:0] nct;
    reg signed [56:0] ny;
    reg signed [7:0] nbe;
    integer nl;
    always @(*) begin
        e_t = 0;
        n3_d = 0;
        nct = 0;
        ny = 0;
        nbe = 0;
        for (nl = 0; nl < SFU_LANES; nl = nl + 1) begin
            nct = $signed(m0_p[59*nl +: 58]) + 58'sd131072;  // c*inv (M0)
            e_t[32*nl +: 32] = nct[49:18];
            ny = $signed(n3_y[57*nl +: 57]) >>> f_sh;
            nbe = n3_b[8*nl +: 8];
            if (mut != 3) ny = ny + $signed({{49{nbe[7]}}, nbe});
            n3_d[nl*DW +: DW] = w18(sat8({{7{ny[56]}}, ny}));
        end
    end

    // the SFU multipliers' operands (see "SFU multipliers" above), each sign-extended to
    // its multiplier's width before the select
    genvar gm;
    generate
        for (gm = 0; gm < SFU_LANES; gm = gm + 1) begin : g_smul
            wire [7:0] ea = a_e[gm*DW +: 8], eb = b_e[gm*DW +: 8], dx = q_a[gm*DW +: 8];
            wire [17:0] cs = q_t[gm*NB*DW +: 18];
            wire [17:0] sn = (mut == 1) ? -c_e[gm*DW +: 18] : c_e[gm*DW +: 18];
            // selected by the registered op (e_op, = op from an instruction's second cycle,
            // before any element reaches stage D), not by the instruction register's
            // decode: that path ran into MULQ's chained multiplies once (docs/overlay.md)
            wire nrm = e_op == OP_NORM, rope = e_op == OP_ROPE, smx = e_op == OP_SOFTMAX;
            wire var0 = nrm && ph == 2 && gm == 0;  // lane 0: d*Q (M1) and S^2 (M0)
            wire [25:0] a0 = var0 ? {{2{ssum[23]}}, ssum} : nrm ? cn_e[26*gm +: 26]
                           : smx ? {9'd0, a_e[gm*DW +: 17]} : {{18{ea[7]}}, ea};
            wire [32:0] b0 = var0 ? {{9{ssum[23]}}, ssum} : (nrm || smx) ? {1'b0, d_q}
                           : rope ? {{15{cs[17]}}, cs} : {{25{eb[7]}}, eb};
            wire signed [58:0] p0 = $signed(a0) * $signed(b0);
            wire [39:0] a1 = var0 ? {{8{sq[31]}}, sq} : nrm ? n2_t[40*gm +: 40]
                           : {{32{eb[7]}}, eb};
            wire [17:0] b1 = var0 ? {2'b0, nrow} : nrm ? {2'b0, f_m} : sn;
            wire [31:0] a2 = nrm ? n1_t[32*gm +: 32] : {{24{eb[7]}}, eb};
            wire [17:0] b2 = nrm ? {{10{n1_g[8*gm + 7]}}, n1_g[8*gm +: 8]} : cs;
            // MULQ's a*b*M: M0's 16-bit a*b into M3, one block as a 16 x 17 product was
            wire [16:0] a3 = rope ? {{9{ea[7]}}, ea} : !nrm ? {p0[15], p0[15:0]}
                           : (ph == 1) ? {{9{dx[7]}}, dx} : {1'b0, nrow};
            wire [17:0] b3 = rope ? sn : !nrm ? {2'b0, f_m} : {{10{dx[7]}}, dx};
            assign m0_p[59*gm +: 59] = p0;
            assign m1_p[58*gm +: 58] = $signed(a1) * $signed(b1);
            assign m2_p[50*gm +: 50] = $signed(a2) * $signed(b2);
            assign m3_p[35*gm +: 35] = $signed(a3) * $signed(b3);
        end
    endgenerate

    // ---------------------------------------------------------------- main FSM
    wire [15:0] nrow_dyn = (flags & F_DYN_N) != 0 ? pos + 16'd1 : f_n;
    wire [15:0] kdim_dyn = (flags & F_DYN_K) != 0 ? pos + 16'd1 : f_k;
    wire last_chunk = j0 + ek16 >= ks;
    wire [15:0] g_pos_nx = gpos + ek16;
    wire gend = g_pos_nx >= gsz || last_chunk;
    wire ex = state == ST_EXEC;
    wire sfu_pass = ex && (((op == OP_ADD || op == OP_LUT || op == OP_MULQ) && ph == 1)
                           || (op == OP_NORM && (ph == 1 || ph == 5))
                           || (op == OP_SOFTMAX && (ph == 1 || ph == 2 || ph == 5)));
    wire pass_done = sfu_pass && idone && !d_v;  // the last group is in stage E
    wire dividing = ex && (op == OP_NORM || op == OP_SOFTMAX) && ph == 4;
    wire [15:0] nn16 = {11'd0, nn};
    // the controller's one stride product: LOAD's and STORE's row address (position or
    // token times stride), MV's contiguous-rows length (rows times stride)
    wire [31:0] strd_x = {8'd0, f_strd}
                         * {16'd0, op == OP_MV ? nrow_dyn : op == OP_LOADX ? tok : pos};
    wire [31:0] ks_w = ({16'd0, f_k} * {16'd0, nn16}) >> lmm;   // M a power of two
    wire [31:0] gs_w = ({16'd0, f_grp} * {16'd0, nn16}) >> lmm;
    always @(posedge clk) begin
        s_req <= 0;
        wr_v <= 0;
        if (imem_we) imem[imem_addr[IAW-1:0]] <= imem_wdata;
        if (bvalid) outstanding <= outstanding - 1;
        // element-wise pipeline registers
        d_v <= iss;
        d_n <= lanes_left;
        d_ii <= ii;
        d_xa <= xf_b + xf_o;
        d_xl <= xf_t[7:0] & (MT16[7:0] - 8'd1);
        d_xn <= xf_s[LNB:0];
        d_rb <= rb;
        e_v <= d_v;
        e_op <= op;
        e_n <= d_n;
        e_ii <= d_ii;
        e_rb <= d_rb;
        a_e <= q_a;
        b_e <= q_b;
        c_e <= q_c;
        h_v <= 0;
        // stage E: results into the scratchpad write register
        if (state == ST_EXEC && e_v && sfu_op && !(op == OP_SOFTMAX && ph == 1)
            && op != OP_NORM) begin
            wr_v <= 1;
            wr_n <= e_n[LNB:0];
            wr_d <= res;
            if (op == OP_ROPE) begin
                wr_a <= sa({16'd0, f_dst} + {16'd0, e_rb} + {16'd0, e_ii});
                h_v <= 1;
                h_d <= res2;
                h_a <= sa({16'd0, f_dst} + {16'd0, e_rb} + {17'd0, f_k[15:1]} + {16'd0, e_ii});
            end else begin
                wr_a <= sa({16'd0, f_dst} + {16'd0, e_ii});
            end
            if (op == OP_SOFTMAX && ph == 2) sq <= esum;
        end
        if (h_v) begin  // RoPE: the second half of the pair, one cycle later
            wr_v <= 1;
            wr_a <= h_a;
            wr_d <= h_d;
        end
        // norm pipeline (ph 5 of NORM): c at stage D, then E, n1, n2, n3 -> write register
        for (j = 0; j < SFU_LANES; j = j + 1)  // c = d*x - S (M3)
            cn_e[26*j +: 26] <= m3_p[35*j +: 26] - {{2{ssum[23]}}, ssum};
        n1_v <= state == ST_EXEC && e_v && op == OP_NORM && ph == 5;
        n1_a <= sa({16'd0, f_dst} + {16'd0, e_ii});
        n1_n <= e_n[LNB:0];
        n1_t <= e_t;
        n2_v <= n1_v;
        n2_a <= n1_a;
        n2_n <= n1_n;
        n2_b <= n1_b;
        n3_v <= n2_v;
        n3_a <= n2_a;
        n3_n <= n2_n;
        n3_b <= n2_b;
        for (j = 0; j < SFU_LANES; j = j + 1) begin  // t*g (M2), then *M + r (M1)
            n1_g[8*j +: 8] <= b_e[j*DW +: 8];
            n1_b[8*j +: 8] <= c_e[j*DW +: 8];
            n2_t[40*j +: 40] <= m2_p[50*j +: 40];
            n3_y[57*j +: 57] <= m1_p[58*j +: 57] + (57'd1 << (f_sh - 8'd1));
        end
        if (n3_v) begin
            wr_v <= 1;
            wr_a <= n3_a;
            wr_n <= n3_n;
            wr_d <= n3_d;
        end
        // requant pipeline
        q1_v <= 0;
        q2_v <= q1_v;
        q2_a <= q1_a;
        q2_n <= q1_n;
        for (ql = 0; ql < NB; ql = ql + 1)
            q2_p[64*ql +: 64] <= rqp($signed(q1_acc[48*ql +: 48]), f_m, f_sh);
        if (q2_v) begin
            wr_v <= 1;
            wr_a <= q2_a;
            wr_n <= q2_n;
            wr_d <= q2_d;
        end
        // MV product stage s1 -> s2
        s2_v <= s1_v;
        s2_t <= s1_t;
        s2_kv <= s1_kv;
        s2_gst <= s1_gst;
        s2_gend <= s1_gend;
        s2_rowend <= s1_rowend;
        row_s2 <= row_s1;
        scale_s2 <= scale_s1;
        pr_s2 <= pr_s1;
        // MV stage s2: sum the chunk's products and accumulate (KV rows: into the requant)
        if (s2_v) begin
            if (s2_kv) begin
                if (s2_rowend) begin
                    q1_v <= 1;
                    q1_a <= sa({16'd0, f_dst} + {16'd0, row_s2});
                    q1_n <= 1;
                    q1_acc <= {{((NB-1)*48){1'b0}}, {{16{kv_sum[31]}}, kv_sum}};
                    acc0 <= 0;
                end else begin
                    acc0 <= acc0 + rdot;
                end
            end else if (!mmi) begin
                // lane lu accumulates slot s2_t + lu (lanes past the chunk's last slot idle)
                for (lu = 0; lu < MTV; lu = lu + 1)
                for (r = 0; r < MV_N; r = r + 1) begin : mac
                    reg signed [31:0] t32, pv;
                    reg signed [47:0] av;
                    reg signed [23:0] dv;
                    reg [15:0] sc, sl;
                    sl = s2_t + lu[15:0];
                    dv = (lu == 0) ? dot[r] : ldot[24*((lu == 0 ? 0 : lu - 1)*MV_N + r) +: 24];
                    // the slot's partial sum and accumulator, selected by compare (a
                    // TT-way mux) rather than indexed by a run-time product
                    pv = 0;
                    av = 0;
                    for (ms = 0; ms < TTV; ms = ms + 1)
                        if (sl == ms[15:0]) begin
                            pv = part[32*(MV_N*ms + r) +: 32];
                            av = acc[48*(MV_N*ms + r) +: 48];
                        end
                    t32 = (s2_gst ? 32'sd0 : pv) + {{8{dv[23]}}, dv};
                    sc = (mut == 2) ? 16'd1 : scale_s2[16*r +: 16];
                    av = av + $signed({{16{t32[31]}}, t32}) * $signed({32'd0, sc});
                    for (ms = 0; ms < TTV; ms = ms + 1)
                        if (sl == ms[15:0] && (lu == 0 || sl < bT)) begin
                            if (s2_gend) begin
                                acc[48*(MV_N*ms + r) +: 48] <= av;
                                part[32*(MV_N*ms + r) +: 32] <= 0;
                            end else begin
                                part[32*(MV_N*ms + r) +: 32] <= t32;
                            end
                        end
                end
            end
        end
        s1_v <= 0;
        // an element-wise pass issues a lane group a cycle until its last one
        if (sfu_pass && !idone) begin
            ii <= ii + lanes_left;
            if (ii + lanes_left >= nrow) begin
                idone <= 1;
                iss <= 0;
            end
        end
        // restoring division, one quotient bit a cycle (norm: 2^30 / sqrt, softmax: 2^31 / sum)
        if (dividing && it != 0) begin
            if ({d_rem[30:0], d_num[it-1]} >= d_den) begin
                d_rem <= {d_rem[30:0], d_num[it-1]} - d_den;
                d_q[it-1] <= 1'b1;
            end else begin
                d_rem <= {d_rem[30:0], d_num[it-1]};
            end
            it <= it - 1;
        end
        if (rst) begin
            state <= ST_IDLE;
            done <= 1;
            awvalid <= 0;
            wvalid <= 0;
            outstanding <= 0;
            out_token <= 0;
            d_v <= 0;
            e_v <= 0;
            iss <= 0;
            acc0 <= 0;
        end else if (state == ST_IDLE) begin
            if (start) begin
                pc <= start_pc;
                pos <= pos_in;
                pos0 <= pos_in;
                tok <= tok_in;
                done <= 0;
                state <= ST_FETCH;
            end
        end else if (state == ST_FETCH) begin
            ir <= imem[pc[IAW-1:0]];
            ph <= 0;
            state <= ST_EXEC;
        end else begin
            case (op)
            OP_END: begin
                done <= 1;
                state <= ST_IDLE;
            end
            // ------------------------------------------------------------ LOAD / LOADX
            OP_LOAD, OP_LOADX: begin
                if (ph == 0) begin
                    s_req[port[2:0]] <= 1;
                    s_addr <= f_addr + strd_x;
                    s_len <= (elem == 0) ? {8'd0, f_n} : {7'd0, f_n, 1'b0};  // 1 or 2 bytes
                    s_rows <= 1;
                    s_stride <= 0;
                    ii <= 0;
                    nrow <= f_n;
                    ph <= 1;
                end else if (fire) begin
                    wr_v <= 1;
                    wr_a <= sa({16'd0, f_dst} + {16'd0, ii});
                    wr_n <= lanes_left[LNB:0];
                    for (j = 0; j < SFU_LANES; j = j + 1)
                        wr_d[j*DW +: DW] <= (elem == 0) ? {{(DW-8){sd[8*j+7]}}, sd[8*j +: 8]}
                            : (elem == 1) ? {{(DW-16){sd[16*j+15]}}, sd[16*j +: 16]}
                            : {{(DW-16){1'b0}}, sd[16*j +: 16]};
                    if (ii + lanes_left == nrow) begin
                        pc <= pc + 1;
                        state <= ST_FETCH;
                    end
                    ii <= ii + lanes_left;
                end
            end
            // ------------------------------------------------------------ STORE (KV)
            OP_STORE: begin
                if (ph == 0) begin
                    ii <= 0;
                    stoff <= 0;
                    base <= f_addr + strd_x;
                    aw_busy <= 0;
                    w_busy <= 0;
                    ph <= 1;
                end else begin
                    if (awvalid && awready) awvalid <= 0;
                    if (wvalid && wready) wvalid <= 0;
                    if (!aw_busy && !w_busy && ii < f_n) begin
                        awaddr <= base + stoff;
                        wdata <= {BEAT{q_a[7:0]}};
                        wstrb <= 1 << ((base[LOGBEAT-1:0] + stoff[LOGBEAT-1:0]));
                        awvalid <= 1;
                        wvalid <= 1;
                        aw_busy <= 1;
                        w_busy <= 1;
                    end else if (aw_busy && w_busy) begin
                        if (st_inc) begin
                            aw_busy <= 0;
                            w_busy <= 0;
                            ii <= ii + 1;
                            stoff <= stoff + {16'd0, f_k};
                            outstanding <= outstanding + 1 - (bvalid ? 1 : 0);
                        end
                    end else if (ii == f_n && outstanding == 0) begin
                        pc <= pc + 1;
                        state <= ST_FETCH;
                    end
                end
            end
            // ------------------------------------------------------------ MV
            OP_MV: begin
                if (ph == 0) begin
                    nrow <= nrow_dyn;
                    kdim <= kdim_dyn;
                    s_req[port[2:0]] <= 1;
                    s_addr <= f_addr;
                    row <= 0;
                    kk <= 0;
                    nt <= 0;
                    rb <= 0;
                    wj <= 0;
                    ii <= 0;
                    j0 <= 0;
                    g0 <= 0;
                    r0 <= 0;
                    gpos <= 0;
                    best <= 0;
                    acc <= 0;
                    part <= 0;
                    acc0 <= 0;
                    bt <= 0;
                    bT <= (flags & F_BATCH) != 0 ? f_aux[15:0] : 16'd1;
                    xoff <= 0;
                    yoff <= 0;
                    nn <= (flags & F_SPARSE) != 0 ? f_aux2[12:8] : 5'd1;
                    lmm <= (flags & F_SPARSE) == 0 ? 3'd0 : f_aux2[7:0] <= 2 ? 3'd1
                           : f_aux2[7:0] <= 4 ? 3'd2 : f_aux2[7:0] <= 8 ? 3'd3 : 3'd4;
                    ib <= (flags & F_SPARSE) == 0 ? 3'd0 : f_aux2[7:0] <= 2 ? 3'd1
                          : f_aux2[7:0] <= 4 ? 3'd2 : f_aux2[7:0] <= 8 ? 3'd3 : 3'd4;
                    if ((flags & F_ROWS) != 0) begin
                        // rows that follow each other in memory are one region (K cache)
                        if (f_strd == {8'd0, f_k} && (flags & F_DYN_K) == 0) begin
                            s_len <= strd_x[23:0];
                            s_rows <= 1;
                        end else begin
                            s_len <= {8'd0, kdim_dyn};
                            s_rows <= nrow_dyn;
                        end
                        s_stride <= f_strd;
                    end else begin
                        s_len <= f_strd;
                        s_rows <= 1;
                        s_stride <= 0;
                    end
                    ph <= 1;
                end else if (ph == 1) begin  // derived sizes; start the x-buffer fill
                    ks <= ks_w[15:0];
                    gsz <= (f_grp != 0) ? gs_w[15:0] : ks_w[15:0];
                    kfill <= kdim * bT;  // every token's x, one after another
                    xf_o <= 0;
                    xf_t <= 0;
                    xf_b <= 0;
                    iss <= 1;
                    ph <= 6;
                end else if (ph == 6) begin  // x-buffer fill, up to NB words of a slot a cycle
                    ii <= ii + xf_s;
                    if (xf_o + xf_s >= kdim) begin  // the slot's last block: the next slot
                        xf_o <= 0;
                        xf_t <= xf_t + 1;
                        if ((xf_t & (MT16 - 16'd1)) == MT16 - 16'd1) xf_b <= xf_b + kdim;
                    end else begin
                        xf_o <= xf_o + xf_s;
                    end
                    if (ii + xf_s >= kfill) begin
                        iss <= 0;
                        ph <= 9;
                    end
                end else if (ph == 9) begin  // the last fill block is written this cycle
                    ph <= ((flags & F_ROWS) != 0) ? 5'd3 : 5'd2;
                end else if (ph == 2) begin  // chunks of one row block
                    if (fire) begin
                        s1_v <= 1;
                        s1_kv <= 0;
                        w_s1 <= w_iss;
                        live_s1 <= live_iss;
                        s1_gst <= gstart;
                        s1_gend <= gend;
                        for (r = 0; r < MV_N; r = r + 1) begin
                            scale_s1[16*r +: 16] <= gstart ? sd[16*r +: 16] : scl[16*r +: 16];
                            if (gstart) scl[16*r +: 16] <= sd[16*r +: 16];
                        end
                        s1_t <= bt;
                        if (hold) begin  // the same tile, the next MT tokens
                            bt <= bt + MT16;
                            xoff <= (mut == 6) ? 16'd0 : xoff + kdim;
                        end else begin
                            bt <= 0;
                            xoff <= 0;
                            j0 <= j0 + ek16;
                            g0 <= mmi ? m_g0_nx : g0_nx;
                            r0 <= mmi ? m_r0_nx : r0_nx;
                            gpos <= gend ? 16'd0 : g_pos_nx;
                            if (last_chunk) ph <= 7;
                        end
                    end
                end else if (ph == 7) begin  // the tile's last chunk: products (s1)
                    wj <= 0;
                    ph <= 12;
                end else if (ph == 12) begin  // ... and their sum accumulates (s2)
                    ph <= 4;
                end else if (ph == 4) begin  // write back NB rows of the block a cycle
                    if ((flags & F_ARGMAX) == 0 && (mmi ? m_wb_n : wb_n) != 0) begin
                        q1_v <= 1;
                        q1_a <= sa({16'd0, f_dst} + {16'd0, yoff} + {16'd0, rb} + {16'd0, wj});
                        q1_n <= mmi ? m_wb_n[LNB:0] : wb_n[LNB:0];
                        q1_acc <= mmi ? m_wb_d : wb_d;
                    end
                    if ((flags & F_ARGMAX) != 0) begin
                        best <= wb_best;
                        out_token <= wb_tok;
                    end
                    wj <= wj + NB16;
                    if (wj + NB16 >= en16 && bt + 16'd1 < bT) begin  // next token's rows
                        wj <= 0;
                        bt <= bt + 1;
                        yoff <= yoff + nrow;
                    end else if (wj + NB16 >= en16) begin
                        bt <= 0;
                        yoff <= 0;
                        acc <= 0;
                        j0 <= 0;
                        g0 <= 0;
                        r0 <= 0;
                        gpos <= 0;
                        nt <= nt + 1;
                        rb <= rb + en16;
                        if (rb + en16 >= nrow) ph <= 13;
                        else ph <= 2;
                    end
                end else if (ph == 3) begin  // KV rows
                    if (fire) begin
                        s1_v <= 1;
                        s1_kv <= 1;
                        w_s1 <= w_iss;
                        live_s1 <= live_iss;
                        s1_rowend <= kk + take == kdim;
                        row_s1 <= row;
                        if (kk + take == kdim) begin
                            kk <= 0;
                            row <= row + 1;
                            if (row + 1 == nrow) ph <= 8;
                        end else begin
                            kk <= kk + take;
                        end
                    end
                end else if (ph == 8 || ph == 13) begin
                    // drain: the last row's products, sum (KV), then the requant; q2
                    // writes on the edge the next fetch starts, as the one-cycle path did
                    if (!s1_v && !s2_v && !q1_v) begin
                        pc <= pc + 1;
                        state <= ST_FETCH;
                    end
                end
            end
            // ------------------------------------------------------------ element-wise
            OP_ADD, OP_LUT, OP_MULQ: begin
                if (ph == 0) begin
                    ii <= 0;
                    nrow <= f_n;
                    idone <= 0;
                    iss <= 1;
                    ph <= 1;
                end else begin
                    if (pass_done) begin
                        pc <= pc + 1;
                        state <= ST_FETCH;
                    end
                end
            end
            // ------------------------------------------------------------ NORM
            OP_NORM: begin
                case (ph)
                0: begin
                    ii <= 0;
                    nrow <= f_n;
                    ssum <= 0;
                    sq <= 0;
                    idone <= 0;
                    iss <= 1;
                    ph <= 1;
                end
                1: begin  // S and Q (stage D)
                    if (d_v) begin : sums
                        reg signed [23:0] ts;
                        reg signed [31:0] tq;
                        reg signed [7:0] xa;
                        ts = ssum;
                        tq = sq;
                        for (j = 0; j < SFU_LANES; j = j + 1)
                            if ({16'd0, j[15:0]} < {16'd0, d_n}) begin
                                xa = q_a[j*DW +: 8];
                                ts = ts + {{16{xa[7]}}, xa};
                                tq = tq + {16'd0, m3_p[35*j +: 16]};  // x*x (M3)
                            end
                        ssum <= (flags & 1) != 0 ? ts : 24'sd0;
                        sq <= tq;
                    end
                    if (pass_done) begin
                        ph <= 2;
                    end
                end
                2: begin  // v = d*Q - S^2 + 1, start the square root
                    // lane 0's M1 and M0
                    v_rem <= m1_p[47:0] - m0_p[47:0] + 48'd1;
                    v_res <= 0;
                    it <= 32;
                    ph <= 3;
                end
                3: begin  // bit-serial isqrt, 32 steps (bit 4^(it-1); none above 2^47)
                    if (it == 0) begin
                        d_num <= 32'd1 << 30;
                        d_den <= (v_res == 0) ? 32'd1 : v_res[31:0];
                        d_rem <= 0;
                        d_q <= 0;
                        it <= 32;
                        ph <= 4;
                    end else begin : sqstep
                        reg [47:0] vb;
                        vb = (it <= 24) ? (48'd1 << (2 * (it - 6'd1))) : 48'd0;
                        if (v_rem >= v_res + vb) begin
                            v_rem <= v_rem - (v_res + vb);
                            v_res <= (v_res >> 1) + vb;
                        end else begin
                            v_res <= v_res >> 1;
                        end
                        it <= it - 1;
                    end
                end
                4: begin  // inv = 2^30 / sqrt: restoring division, 32 steps
                    if (it == 0) begin
                        ii <= 0;
                        idone <= 0;
                        iss <= 1;
                        ph <= 5;
                    end
                end
                5: begin  // y = sat8(((t*g*M + r) >> sh) + beta) (norm pipeline)
                    if (pass_done) ph <= 6;
                end
                6: begin  // drain: n3 writes on the edge the next fetch starts
                    if (!n1_v && !n2_v) begin
                        pc <= pc + 1;
                        state <= ST_FETCH;
                    end
                end
                default: ph <= 0;
                endcase
            end
            // ------------------------------------------------------------ SOFTMAX
            OP_SOFTMAX: begin
                case (ph)
                0: begin
                    ii <= 0;
                    nrow <= pos + 1;
                    mx <= -10'sd128;
                    idone <= 0;
                    iss <= 1;
                    ph <= 1;
                end
                1: begin  // max (stage D)
                    if (d_v) begin : maxs
                        reg signed [9:0] tm;
                        reg signed [7:0] xa;
                        tm = mx;
                        for (j = 0; j < SFU_LANES; j = j + 1)
                            if ({16'd0, j[15:0]} < {16'd0, d_n}) begin
                                xa = q_a[j*DW +: 8];
                                if ($signed({{2{xa[7]}}, xa}) > tm) tm = $signed({{2{xa[7]}}, xa});
                            end
                        mx <= tm;
                    end
                    if (pass_done) begin
                        if (mut == 4) mx <= 0;
                        ii <= 0;
                        sq <= 0;
                        idone <= 0;
                        iss <= 1;
                        ph <= 2;
                    end
                end
                2: begin  // e = EXP[max - x] to dst, sum (stage E)
                    if (pass_done) begin
                        ph <= 3;
                    end
                end
                3: begin
                    d_num <= 32'h8000_0000;
                    d_den <= (sq == 0) ? 32'd1 : sq;
                    d_rem <= 0;
                    d_q <= 0;
                    it <= 32;
                    ph <= 4;
                end
                4: begin  // R = 2^31 / sum
                    if (it == 0) begin
                        ii <= 0;
                        idone <= 0;
                        iss <= 1;
                        ph <= 5;
                    end
                end
                5: begin  // p = min(127, (e*R + 2^23) >> 24) (stage E)
                    if (pass_done) begin
                        pc <= pc + 1;
                        state <= ST_FETCH;
                    end
                end
                default: ph <= 0;
                endcase
            end
            // ------------------------------------------------------------ ROPE
            OP_ROPE: begin
                // one lane group every other cycle: each writes two blocks (a', b')
                if (ph == 0) begin
                    ii <= 0;
                    row <= 0;
                    rb <= 0;
                    nrow <= f_k >> 1;
                    idone <= 0;
                    rp <= 0;
                    iss <= 1;
                    ph <= 1;
                end else begin
                    if (!idone) begin
                        rp <= ~rp;
                        iss <= rp;
                        if (!rp) begin
                            if (ii + lanes_left == nrow) begin
                                ii <= 0;
                                row <= row + 1;
                                rb <= rb + f_k;
                                if (row + 1 == f_n) begin
                                    idone <= 1;
                                    iss <= 0;
                                end
                            end else begin
                                ii <= ii + lanes_left;
                            end
                        end
                    end else if (!d_v && !e_v) begin
                        pc <= pc + 1;
                        state <= ST_FETCH;
                    end
                end
            end
            OP_SETPOS: begin
                pos <= pos0 + f_n;
                pc <= pc + 1;
                state <= ST_FETCH;
            end
            default: begin
                pc <= pc + 1;
                state <= ST_FETCH;
            end
            endcase
        end
    end
endmodule
