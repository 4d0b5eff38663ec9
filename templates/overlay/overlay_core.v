// The overlay accelerator core: instruction-driven controller, scratchpad, matrix-vector
// engine (MV_N rows x MV_K reduction lanes, W4/W8 x A8, per-group scales, N:M decode),
// SFU (SFU_LANES elements/cycle: norm, softmax, LUT, gate, RoPE, residual add) and five
// AXI4 read streams (wqkv, wo, wffn, kv, act) plus the KV write channel.
// The arithmetic of every instruction is docs/overlay.md; overlay/isa.py is its executor.
// mut != 0 breaks one operator on purpose (mutation tests, simulation only): 1 RoPE sign, 2 group scale
// dropped, 3 norm beta dropped, 4 softmax max not subtracted, 5 requant floors (no rounding).
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
    parameter BURST = 256
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
    input  wire [15:0]          dbg_addr,
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
    localparam [15:0] MVK16 = MV_K[15:0];
    localparam [15:0] MVN16 = MV_N[15:0];
    localparam [15:0] L16 = L[15:0];
    localparam [15:0] LANES16 = SFU_LANES[15:0];
    assign awlen = 8'd0;
    assign awsize = 3'd0;
    assign awburst = 2'b01;
    assign wlast = 1'b1;
    assign bready = 1'b1;

    reg [255:0] imem [0:IMEM-1];
    reg signed [31:0] spad [0:SPAD-1];
    assign dbg_data = spad[dbg_addr[SAW-1:0]];

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
    wire [31:0] a_dst = {16'd0, f_dst};
    wire [31:0] a_src = {16'd0, f_src};
    wire [31:0] a_src2 = {16'd0, f_src2};
    wire [31:0] a_aux2 = {16'd0, f_aux2};
    wire [31:0] w_k = {16'd0, f_k};
    localparam OP_END = 0, OP_LOAD = 1, OP_LOADX = 2, OP_STORE = 3, OP_MV = 4, OP_ADD = 5,
               OP_NORM = 6, OP_SOFTMAX = 7, OP_LUT = 8, OP_MULQ = 9, OP_ROPE = 10;
    localparam F_DYN_N = 1, F_DYN_K = 2, F_ROWS = 4, F_ARGMAX = 8, F_SPARSE = 16;

    // ---------------------------------------------------------------- arithmetic helpers
    function signed [31:0] sat8;
        input signed [63:0] v;
        begin
            if (v > 64'sd127) sat8 = 32'sd127;
            else if (v < -64'sd128) sat8 = -32'sd128;
            else sat8 = v[31:0];
        end
    endfunction
    function [SAW-1:0] sa;
        input [31:0] a;
        begin
            sa = a[SAW-1:0];
        end
    endfunction
    // scratchpad reads, sign-extended
    function signed [63:0] rd;
        input [31:0] a;
        begin
            rd = {{32{spad[a[SAW-1:0]][31]}}, spad[a[SAW-1:0]]};
        end
    endfunction
    // sat8((a * M + 2^(sh-1)) >> sh)
    function signed [31:0] rq;
        input signed [63:0] a;
        input [15:0] m;
        input [7:0] sh;
        reg signed [95:0] p;
        begin
            p = ($signed({{32{a[63]}}, a}) * $signed({80'd0, m}))
                + ((mut == 5) ? 96'sd0 : (96'sd1 <<< (sh - 1)));
            p = p >>> sh;
            if (p > 96'sd127) rq = 32'sd127;
            else if (p < -96'sd128) rq = -32'sd128;
            else rq = p[31:0];
        end
    endfunction
    // (a * M + 2^(sh-1)) >> sh, not saturated
    function signed [63:0] rqn;
        input signed [63:0] a;
        input [15:0] m;
        input [7:0] sh;
        reg signed [95:0] p;
        begin
            p = ($signed({{32{a[63]}}, a}) * $signed({80'd0, m})) + (96'sd1 <<< (sh - 1));
            p = p >>> sh;
            rqn = p[63:0];
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
    wire [8*CAP-1:0] s_data [0:4];
    wire [15:0] s_cnt [0:4];
    genvar gp;
    generate
        for (gp = 0; gp < 5; gp = gp + 1) begin : g_port
            ov_rdstream #(
                .BEAT(BEAT), .LOGBEAT(LOGBEAT), .CAP(CAP), .OVERLAP(OVERLAP), .BURST(BURST)
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
    wire [8*CAP-1:0] sd = s_data[port[2:0] > 3'd4 ? 3'd4 : port[2:0]];
    wire [15:0] scnt = s_cnt[port[2:0] > 3'd4 ? 3'd4 : port[2:0]];

    // ---------------------------------------------------------------- controller state
    localparam ST_IDLE = 0, ST_FETCH = 1, ST_EXEC = 2;
    reg [1:0] state;
    reg [4:0] ph;
    reg [15:0] pc, pos, tok;
    reg [15:0] ii, row, nrow, kk, kdim, kc, gc, nt;
    reg [15:0] ks, nch, gck, ntile, nn, mm;
    wire [31:0] w_ii = {16'd0, ii};
    wire [31:0] w_kk = {16'd0, kk};
    wire [31:0] w_row = {16'd0, row};
    wire [31:0] w_nt = {16'd0, nt};
    reg [3:0] fb, ib;
    reg signed [63:0] acc [0:MV_N-1];
    reg signed [63:0] part [0:MV_N-1];
    reg [15:0] scl [0:MV_N-1];
    reg signed [63:0] best;
    reg signed [63:0] ssum, sq;        // norm: S and Q; softmax: max, sum
    reg [63:0] v_rem, v_res, v_bit;    // isqrt
    reg [31:0] d_num, d_rem, d_q;      // divider
    reg [31:0] d_den;
    reg [5:0] it;
    reg [15:0] outstanding;
    reg aw_busy, w_busy;

    // ---------------------------------------------------------------- MV tile datapath
    wire gstart = (gc == 0);
    wire [15:0] sc_bytes = gstart ? MVN16 * 16'd2 : 16'd0;
    reg signed [63:0] dot [0:MV_N-1];
    reg [15:0] tscale [0:MV_N-1];
    integer r, c;
    reg [31:0] off;
    reg [15:0] fld, idx, jcol, col;
    reg signed [31:0] wv, xv;
    always @(*) begin
        for (r = 0; r < MV_N; r = r + 1) begin
            dot[r] = 0;
            tscale[r] = gstart ? sd[16*r +: 16] : scl[r];
            if (mut == 2) tscale[r] = 16'd1;
            for (c = 0; c < MV_K; c = c + 1) begin
                off = {16'd0, sc_bytes} * 32'd8 + (r * MV_K + c) * {28'd0, fb};
                fld = sd[off +: 16] & ((16'd1 << fb) - 16'd1);
                wv = $signed({{(32-WBITS){fld[WBITS-1]}}, fld[WBITS-1:0]});
                idx = fld >> WBITS;
                jcol = kc * MVK16 + c[15:0];
                col = (ib != 0) ? (jcol / nn) * mm + idx : jcol;
                xv = (jcol < ks && col < kdim) ? spad[sa(a_src + {16'd0, col})] : 32'sd0;
                dot[r] = dot[r] + wv * xv;
            end
        end
    end

    // KV-row dot product (L lanes) and element-wise SFU lanes
    reg signed [63:0] rdot;
    reg [15:0] take;
    integer e;
    always @(*) begin
        rdot = 0;
        take = (kdim - kk < L16) ? kdim - kk : L16;
        for (e = 0; e < L; e = e + 1)
            if (e < take)
                rdot = rdot + $signed(sd[8*e +: 8]) * rd(a_src + w_kk + e);
    end
    wire [15:0] lanes_left = (nrow - ii < LANES16) ? nrow - ii : LANES16;
    wire [15:0] esz = (elem == 0) ? 16'd1 : 16'd2;
    wire [15:0] tbytes = (MVN16 * MVK16 * {12'd0, fb}) / 16'd8;

    // Stream consumption is combinational: the bytes an instruction uses this cycle leave
    // the buffer this cycle, so a tile per cycle streams at full rate.
    reg consuming;
    always @(*) begin
        consuming = 1'b0;
        s_need = 16'd0;
        if (state == ST_EXEC && ph != 0) begin
            if (op == OP_LOAD || op == OP_LOADX) begin
                consuming = 1'b1;
                s_need = lanes_left * esz;
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
    assign s_pop = fire ? s_need : 16'd0;

    // ---------------------------------------------------------------- main FSM
    integer j;
    reg signed [63:0] t64, y64, a64, b64;
    reg signed [31:0] ra, rb;
    reg [63:0] vsum;
    always @(posedge clk) begin
        s_req <= 0;
        if (imem_we) imem[imem_addr[IAW-1:0]] <= imem_wdata;
        if (bvalid) outstanding <= outstanding - 1;
        if (rst) begin
            state <= ST_IDLE;
            done <= 1;
            awvalid <= 0;
            wvalid <= 0;
            outstanding <= 0;
            out_token <= 0;
        end else if (state == ST_IDLE) begin
            if (start) begin
                pc <= start_pc;
                pos <= pos_in;
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
                    s_addr <= f_addr + (op == OP_LOAD ? {16'd0, pos} : {16'd0, tok}) * f_strd;
                    s_len <= {8'd0, f_n} * (elem == 0 ? 24'd1 : 24'd2);
                    s_rows <= 1;
                    s_stride <= 0;
                    ii <= 0;
                    nrow <= f_n;
                    ph <= 1;
                end else begin
                    if (fire) begin
                        for (j = 0; j < SFU_LANES; j = j + 1)
                            if (j < lanes_left)
                                spad[sa(a_dst + w_ii + j)] <= (elem == 0) ? $signed({{24{sd[8*j+7]}}, sd[8*j +: 8]})
                                    : (elem == 1) ? $signed({{16{sd[16*j+15]}}, sd[16*j +: 16]})
                                    : $signed({16'd0, sd[16*j +: 16]});
                        if (ii + lanes_left == nrow) begin
                            pc <= pc + 1;
                            state <= ST_FETCH;
                        end
                        ii <= ii + lanes_left;
                    end
                end
            end
            // ------------------------------------------------------------ STORE (KV)
            OP_STORE: begin
                if (ph == 0) begin
                    ii <= 0;
                    aw_busy <= 0;
                    w_busy <= 0;
                    ph <= 1;
                end else begin
                    if (awvalid && awready) awvalid <= 0;
                    if (wvalid && wready) wvalid <= 0;
                    if (!aw_busy && !w_busy && ii < f_n) begin
                        awaddr <= f_addr + {16'd0, pos} * f_strd + {16'd0, ii} * {16'd0, f_k};
                        wdata <= {BEAT{spad[sa(a_src + w_ii)][7:0]}};
                        wstrb <= 1 << ((f_addr + {16'd0, pos} * f_strd + {16'd0, ii} * {16'd0, f_k}) % BEAT);
                        awvalid <= 1;
                        wvalid <= 1;
                        aw_busy <= 1;
                        w_busy <= 1;
                    end else if (aw_busy && w_busy) begin
                        if ((!awvalid || awready) && (!wvalid || wready)) begin
                            aw_busy <= 0;
                            w_busy <= 0;
                            ii <= ii + 1;
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
                    nrow <= (flags & F_DYN_N) != 0 ? pos + 1 : f_n;
                    kdim <= (flags & F_DYN_K) != 0 ? pos + 1 : f_k;
                    s_req[port[2:0]] <= 1;
                    s_addr <= f_addr;
                    row <= 0;
                    kk <= 0;
                    kc <= 0;
                    gc <= 0;
                    nt <= 0;
                    best <= 0;
                    for (j = 0; j < MV_N; j = j + 1) begin
                        acc[j] <= 0;
                        part[j] <= 0;
                    end
                    if ((flags & F_ROWS) != 0) begin
                        // rows that follow each other in memory are one region (K cache)
                        if (f_strd == {8'd0, f_k} && (flags & F_DYN_K) == 0) begin
                            s_len <= f_strd * {8'd0, (flags & F_DYN_N) != 0 ? pos + 16'd1 : f_n};
                            s_rows <= 1;
                        end else begin
                            s_len <= {8'd0, (flags & F_DYN_K) != 0 ? pos + 16'd1 : f_k};
                            s_rows <= (flags & F_DYN_N) != 0 ? pos + 16'd1 : f_n;
                        end
                        s_stride <= f_strd;
                        ph <= 3;
                    end else begin
                        s_len <= f_strd;
                        s_rows <= 1;
                        s_stride <= 0;
                        nn <= (flags & F_SPARSE) != 0 ? {8'd0, f_aux2[15:8]} : 16'd1;
                        mm <= (flags & F_SPARSE) != 0 ? {8'd0, f_aux2[7:0]} : 16'd1;
                        ib <= (flags & F_SPARSE) == 0 ? 4'd0 : f_aux2[7:0] <= 2 ? 4'd1
                              : f_aux2[7:0] <= 4 ? 4'd2 : f_aux2[7:0] <= 8 ? 4'd3 : 4'd4;
                        ph <= 1;
                    end
                end else if (ph == 1) begin  // derived sizes
                    fb <= WBITS[3:0] + ib;
                    ks <= f_k * nn / mm;
                    nch <= (f_k * nn / mm + MVK16 - 16'd1) / MVK16;
                    gck <= (f_grp != 0) ? (f_grp * nn / mm) / MVK16
                                          : (f_k * nn / mm + MVK16 - 16'd1) / MVK16;
                    ntile <= (f_n + MVN16 - 16'd1) / MVN16;
                    ph <= 2;
                end else if (ph == 2) begin  // tiles of one row block
                    if (fire) begin
                        for (j = 0; j < MV_N; j = j + 1) begin
                            t64 = (gstart ? 64'sd0 : part[j]) + dot[j];
                            if (gstart) scl[j] <= tscale[j];
                            if (gc + 1 == gck || kc + 1 == nch) begin
                                acc[j] <= acc[j] + $signed({48'd0, tscale[j]}) * t64;
                                part[j] <= 0;
                            end else begin
                                part[j] <= t64;
                            end
                        end
                        gc <= (gc + 1 == gck) ? 16'd0 : gc + 1;
                        if (kc + 1 == nch) begin
                            kc <= 0;
                            gc <= 0;
                            ph <= 4;
                        end else begin
                            kc <= kc + 1;
                        end
                    end
                end else if (ph == 4) begin  // write back one row block
                    for (j = 0; j < MV_N; j = j + 1) begin
                        if ({16'd0, nt * MVN16} + j < {16'd0, nrow}) begin
                            if ((flags & F_ARGMAX) == 0)
                                spad[sa(a_dst + w_nt * MV_N + j)] <= rq(acc[j], f_m, f_sh);
                        end
                        acc[j] <= 0;
                    end
                    begin : argmax
                        t64 = best;
                        y64 = {48'd0, out_token};
                        for (j = 0; j < MV_N; j = j + 1)
                            if ({16'd0, nt * MVN16} + j < {16'd0, nrow}
                                && ((nt == 0 && j == 0) || acc[j] > t64)) begin
                                t64 = acc[j];
                                y64 = {48'd0, nt * MVN16 + j[15:0]};
                            end
                        if ((flags & F_ARGMAX) != 0) begin
                            best <= t64;
                            out_token <= y64[15:0];
                        end
                    end
                    nt <= nt + 1;
                    if (nt + 1 == ntile) begin
                        pc <= pc + 1;
                        state <= ST_FETCH;
                    end else begin
                        ph <= 2;
                    end
                end else if (ph == 3) begin  // KV rows
                    if (fire) begin
                        if (kk + take == kdim) begin
                            spad[sa(a_dst + w_row)] <= rq(acc[0] + rdot, f_m, f_sh);
                            acc[0] <= 0;
                            kk <= 0;
                            row <= row + 1;
                            if (row + 1 == nrow) begin
                                pc <= pc + 1;
                                state <= ST_FETCH;
                            end
                        end else begin
                            acc[0] <= acc[0] + rdot;
                            kk <= kk + take;
                        end
                    end
                end
            end
            // ------------------------------------------------------------ element-wise
            OP_ADD, OP_LUT, OP_MULQ: begin
                if (ph == 0) begin
                    ii <= 0;
                    nrow <= f_n;
                    ph <= 1;
                end else begin
                    for (j = 0; j < SFU_LANES; j = j + 1)
                        if (j < lanes_left) begin
                            a64 = rd(a_src + w_ii + j);
                            b64 = rd(a_src2 + w_ii + j);
                            t64 = a64 + b64;
                            if (op == OP_ADD)
                                spad[sa(a_dst + w_ii + j)] <= sat8(t64);
                            else if (op == OP_LUT)
                                spad[sa(a_dst + w_ii + j)] <= spad[sa(f_aux + {24'd0, a64[7:0]})];
                            else
                                spad[sa(a_dst + w_ii + j)] <= rq(a64 * b64, f_m, f_sh);
                        end
                    ii <= ii + lanes_left;
                    if (ii + lanes_left == nrow) begin
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
                    ph <= 1;
                end
                1: begin  // S and Q
                    t64 = ssum;
                    y64 = sq;
                    for (j = 0; j < SFU_LANES; j = j + 1)
                        if (j < lanes_left) begin
                            t64 = t64 + rd(a_src + w_ii + j);
                            y64 = y64 + rd(a_src + w_ii + j) * rd(a_src + w_ii + j);
                        end
                    ssum <= (flags & 1) != 0 ? t64 : 64'sd0;
                    sq <= y64;
                    ii <= ii + lanes_left;
                    if (ii + lanes_left == nrow) ph <= 2;
                end
                2: begin  // v = d*Q - S^2 + 1, start the square root
                    v_rem <= $signed({48'd0, nrow}) * sq - ssum * ssum + 1;
                    v_res <= 0;
                    v_bit <= 64'd1 << 62;
                    ph <= 3;
                end
                3: begin  // bit-serial isqrt, 32 steps
                    if (v_bit == 0) begin
                        d_num <= 32'd1 << 30;
                        d_den <= (v_res == 0) ? 32'd1 : v_res[31:0];
                        d_rem <= 0;
                        d_q <= 0;
                        it <= 32;
                        ph <= 4;
                    end else begin
                        if (v_rem >= v_res + v_bit) begin
                            v_rem <= v_rem - (v_res + v_bit);
                            v_res <= (v_res >> 1) + v_bit;
                        end else begin
                            v_res <= v_res >> 1;
                        end
                        v_bit <= v_bit >> 2;
                    end
                end
                4: begin  // inv = 2^30 / sqrt: restoring division, 32 steps
                    if (it == 0) begin
                        ii <= 0;
                        ph <= 5;
                    end else begin
                        if ({d_rem[30:0], d_num[it-1]} >= d_den) begin
                            d_rem <= {d_rem[30:0], d_num[it-1]} - d_den;
                            d_q[it-1] <= 1'b1;
                        end else begin
                            d_rem <= {d_rem[30:0], d_num[it-1]};
                        end
                        it <= it - 1;
                    end
                end
                5: begin  // y = sat8(((t*g*M + r) >> sh) + beta)
                    for (j = 0; j < SFU_LANES; j = j + 1)
                        if (j < lanes_left) begin
                            a64 = $signed({48'd0, nrow}) * rd(a_src + w_ii + j) - ssum;
                            t64 = (a64 * $signed({32'd0, d_q}) + (64'sd1 <<< 17)) >>> 18;
                            y64 = rqn(t64 * rd(a_src2 + w_ii + j), f_m, f_sh);
                            if (mut != 3) y64 = y64 + rd(a_aux2 + w_ii + j);
                            spad[sa(a_dst + w_ii + j)] <= sat8(y64);
                        end
                    ii <= ii + lanes_left;
                    if (ii + lanes_left == nrow) begin
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
                    ssum <= -64'sd1000;
                    ph <= 1;
                end
                1: begin  // max
                    t64 = ssum;
                    for (j = 0; j < SFU_LANES; j = j + 1)
                        if (j < lanes_left && rd(a_src + w_ii + j) > t64) t64 = rd(a_src + w_ii + j);
                    ssum <= (mut == 4) ? 64'sd0 : t64;
                    ii <= ii + lanes_left;
                    if (ii + lanes_left == nrow) begin
                        ii <= 0;
                        sq <= 0;
                        ph <= 2;
                    end
                end
                2: begin  // e = EXP[max - x], sum
                    y64 = sq;
                    for (j = 0; j < SFU_LANES; j = j + 1)
                        if (j < lanes_left) begin
                            t64 = ssum - rd(a_src + w_ii + j);
                            a64 = rd(f_aux + {24'd0, t64[7:0]});
                            spad[sa(a_dst + w_ii + j)] <= a64[31:0];
                            y64 = y64 + a64;
                        end
                    sq <= y64;
                    ii <= ii + lanes_left;
                    if (ii + lanes_left == nrow) ph <= 3;
                end
                3: begin
                    d_num <= 32'h8000_0000;
                    d_den <= (sq == 0) ? 32'd1 : sq[31:0];
                    d_rem <= 0;
                    d_q <= 0;
                    it <= 32;
                    ph <= 4;
                end
                4: begin  // R = 2^31 / sum
                    if (it == 0) begin
                        ii <= 0;
                        ph <= 5;
                    end else begin
                        if ({d_rem[30:0], d_num[it-1]} >= d_den) begin
                            d_rem <= {d_rem[30:0], d_num[it-1]} - d_den;
                            d_q[it-1] <= 1'b1;
                        end else begin
                            d_rem <= {d_rem[30:0], d_num[it-1]};
                        end
                        it <= it - 1;
                    end
                end
                5: begin  // p = min(127, (e*R + 2^23) >> 24)
                    for (j = 0; j < SFU_LANES; j = j + 1)
                        if (j < lanes_left) begin
                            t64 = (rd(a_dst + w_ii + j) * $signed({32'd0, d_q}) + (64'sd1 <<< 23)) >>> 24;
                            spad[sa(a_dst + w_ii + j)] <= (t64 > 127) ? 32'sd127 : t64[31:0];
                        end
                    ii <= ii + lanes_left;
                    if (ii + lanes_left == nrow) begin
                        pc <= pc + 1;
                        state <= ST_FETCH;
                    end
                end
                default: ph <= 0;
                endcase
            end
            // ------------------------------------------------------------ ROPE
            OP_ROPE: begin
                if (ph == 0) begin
                    ii <= 0;
                    row <= 0;
                    nrow <= f_k >> 1;
                    ph <= 1;
                end else begin
                    for (j = 0; j < SFU_LANES; j = j + 1)
                        if (j < lanes_left) begin
                            a64 = rd(a_src + w_row * w_k + w_ii + j);
                            b64 = rd(a_src + w_row * w_k + (w_k >> 1) + w_ii + j);
                            t64 = rd(f_aux + w_ii + j);
                            y64 = rd(a_aux2 + w_ii + j);
                            if (mut == 1) y64 = -y64;
                            ra = sat8((a64 * t64 - b64 * y64 + 64'sd8192) >>> 14);
                            rb = sat8((b64 * t64 + a64 * y64 + 64'sd8192) >>> 14);
                            spad[sa(a_dst + w_row * w_k + w_ii + j)] <= ra;
                            spad[sa(a_dst + w_row * w_k + (w_k >> 1) + w_ii + j)] <= rb;
                        end
                    if (ii + lanes_left == nrow) begin
                        ii <= 0;
                        row <= row + 1;
                        if (row + 1 == f_n) begin
                            pc <= pc + 1;
                            state <= ST_FETCH;
                        end
                    end else begin
                        ii <= ii + lanes_left;
                    end
                end
            end
            default: begin
                pc <= pc + 1;
                state <= ST_FETCH;
            end
            endcase
        end
    end
endmodule
