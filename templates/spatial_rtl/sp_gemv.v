// GEMV kernel: y = requant(W x) for the tokens of a call, TILE tokens at a time, U MACs a
// cycle. A tile's inputs are read first (one word a cycle) into the x buffer; then rows x
// tokens x groups x chunks of U stored weights are issued one chunk a cycle (the weight ROM
// holds the chunks in that order, padded with zero weights); each group's partial sum is
// scaled by its integer group scale; a row's sum is requantised (or, RAW, passed on as the
// LM head's 64-bit accumulator). A single token's rows leave as they are done; a tile of
// several leaves token-major after the last row. SPARSE: every stored weight comes with its
// absolute column (N:M values and offsets, resolved by spatial/rtl.py), gathered from x.
// The ROMs hold PASSES layers; `pass` picks the layer this instance serves now.
// Column mode (CH > 0, a call of one token): the input is consumed in blocks of CH words as
// it arrives; each block updates every row's partial sum, RPC rows x LPR of the block's
// CHS stored weights a cycle (a second ROM holds the weights in that order); a group's
// sums are scaled when its last block is done; the rows leave after the last block.
// STREAM: no weight ROMs; the rows come from a memory read port (wm_*), a burst of NG x NCH
// beats (one chunk of U weights, and if SPARSE their OB-bit offsets in their N:M blocks, a
// beat: what the cost model counts a stored weight as) per row, requested
// at BASE + pass * ROWS * row bytes + row * row bytes for every tile of the call. Two row
// buffers: row i + 1 arrives while row i is computed (a beat is taken only when its
// buffer is free), and rows are requested up to AHEAD beats ahead (an AXI master's 16
// outstanding bursts of 16 beats), which covers the read latency at a beat a cycle.
// PACK (row mode, dense, on chip): rows issue in pairs, a lane's ROM word holding both
// rows' weights at one column: one multiplier per lane forms both products from the
// operand w_a + w_b * 2^S (S = WB + 8 bits, wide enough for w_a * x; the DSP packing of
// AMD WP486: W4 in one MULT18X18D, W4 and W8 in one DSP48E2); the pair's second row goes
// through the scale and requant path a cycle after the first (NCH >= 2 keeps group ends
// two cycles apart, so the one scale multiplier and requantiser serve both).
// Column mode pairs banks 2i and 2i + 1 the same way where dense (they share a column).
module sp_gemv #(
    parameter ROWS = 64,
    parameter K = 64,
    parameter NG = 1,       // scale groups per row
    parameter GS = 64,      // stored weights per group
    parameter U = 16,       // MACs a cycle
    parameter NCH = 4,      // ceil(GS / U) chunks per group
    parameter PACK = 0,     // two rows a lane (dense, on chip, even ROWS, NCH >= 2)
    parameter SPARSE = 0,
    parameter WB = 8,       // weight bits
    parameter CB = 6,       // column bits (sparse)
    parameter TILE = 1,
    parameter PASSES = 1,
    parameter RAW = 0,
    parameter OW = 8,
    parameter CH = 0,       // column mode block (0: none)
    parameter CHS = 1,      // stored weights of a block
    parameter RPC = 1,      // column mode: rows a cycle
    parameter LPR = 1,      //   and weights of each row a cycle
    parameter NRC = 1,      //   ceil(ROWS / RPC)
    parameter NJC = 1,      //   ceil(CHS / LPR)
    parameter CCB = 1,      //   column-in-block bits (sparse)
    parameter WFILE = "",
    parameter IFILE = "",
    parameter CFILE = "",
    parameter CIFILE = "",
    parameter SFILE = "",
    parameter RFILE = "",
    parameter STREAM = 0,
    parameter BASE = 0,     // byte address of this kernel's weights (pass 0, row 0)
    parameter BB = 1,       // bytes of a beat
    parameter NN = 1,       // STREAM, SPARSE: N of N:M
    parameter MM = 1,       //   M
    parameter OB = 1,       //   bits of an offset in a block
    parameter DW = U * WB + SPARSE * U * OB,  // bits of a beat: weights, then offsets
    parameter AHEAD = 256
) (
    input  wire          clk,
    input  wire          rst,
    input  wire          start,
    input  wire [15:0]   n_tok,
    input  wire [7:0]    pass,
    input  wire          in_v,
    input  wire [7:0]    in_d,
    output wire          in_r,
    output wire          out_v,
    output wire [OW-1:0] out_d,
    input  wire          out_r,
    output wire          wm_ar_v,
    output wire [31:0]   wm_ar_a,
    input  wire          wm_ar_r,
    input  wire          wm_r_v,
    input  wire [DW-1:0] wm_r_d,
    output wire          wm_r_r
);
    localparam GROUP = K / NG;
    localparam IR = PACK ? ROWS / 2 : ROWS;  // rows issued (pairs when packed)
    localparam LWB = PACK ? 2 * WB : WB;  // a lane's ROM bits
    localparam PS = WB + 8;  // the second row's offset in a packed operand
    localparam PASSLEN = IR * NG * NCH;
    localparam S_IDLE = 3'd0, S_READ = 3'd1, S_COMP = 3'd2, S_WAIT = 3'd3, S_OUT = 3'd4,
               S_COLS = 3'd5, S_COLOUT = 3'd6;
    localparam NB = CH > 0 ? K / CH : 1;
    localparam CPASS = NB * NRC * NJC;

    reg [2:0] st;
    reg [15:0] done_tok, T;
    reg [31:0] rcnt, oidx, rows_done;
    reg signed [7:0] xb[0:TILE*K-1];
    reg [OW-1:0] yb[0:TILE*ROWS-1];
    // issue counters (row, token, group, chunk) and the issue stage's meta one cycle later
    reg [31:0] ir, it, ig, ic;
    reg bv;
    reg [31:0] br, bt, bg, bc;
    reg signed [47:0] part, part2;
    reg signed [63:0] acc, acc2;
    // PACK: the pair's second row a cycle behind (C stage): its group sum, group, row, token
    reg cv_q;
    wire cv = PACK && cv_q;  // folds away unpacked
    reg signed [47:0] hpart;
    reg [31:0] cg, crow, ct;

    wire [U*LWB-1:0] wq;
    wire [U*CB-1:0] iq;
    wire [U*OB-1:0] oq;  // STREAM, SPARSE: in-block offsets
    wire [31:0] waddr = {24'b0, pass} * PASSLEN + (ir * NG + ig) * NCH + ic;
    // STREAM: rows requested (rq_n: tile rq_tok's row rq_row), received (rx_n, beat bcnt)
    // and computed (cr); the issue stage waits for its row (w_ok).
    localparam RB = NG * NCH;  // beats of a row
    localparam OUTST = AHEAD / RB > 2 ? AHEAD / RB : 2;  // rows requested, not yet in
    reg [31:0] rq_n, rq_row, rq_tok, rx_n, bcnt, cr;
    wire w_ok = !STREAM || rx_n > cr;
    generate
        if (STREAM) begin : g_stream
            reg [DW-1:0] wbuf[0:2*RB-1];
            reg [DW-1:0] wcur;
            always @(posedge clk) wcur <= wbuf[{31'b0, cr[0]} * RB + ig * NCH + ic];
            assign wq = wcur[U*LWB-1:0];
            if (SPARSE) begin : g_six
                assign oq = wcur[DW-1-:U*OB];
            end else begin : g_sdense
                assign oq = 0;
            end
            assign iq = 0;
            always @(posedge clk) if (wm_r_v && wm_r_r) wbuf[{31'b0, rx_n[0]} * RB + bcnt] <= wm_r_d;
            assign wm_ar_v = st != S_IDLE && rq_tok < n_tok && rq_n - rx_n < OUTST;
            assign wm_ar_a = BASE + ({24'b0, pass} * ROWS + rq_row) * RB * BB;
            assign wm_r_r = st != S_IDLE && rx_n < cr + 2;
        end else begin : g_rom
            sp_rom #(U * LWB, PASSES * PASSLEN, WFILE) wrom (clk, waddr, wq);
            if (SPARSE) begin : g_ix
                sp_rom #(U * CB, PASSES * PASSLEN, IFILE) irom (clk, waddr, iq);
            end else begin : g_dense
                assign iq = 0;
            end
            assign oq = 0;
            assign wm_ar_v = 1'b0;
            assign wm_ar_a = 0;
            assign wm_r_r = 1'b0;
        end
    endgenerate
    wire [15:0] sq;
    wire [31:0] rqw;
    // the row and group the scale path serves this cycle (the C stage's, or the B stage's)
    wire [31:0] srow = cv ? crow : PACK ? {br[30:0], 1'b0} : br;
    wire [31:0] sgrp = cv ? cg : bg;
    sp_tab #(16, PASSES * ROWS * NG, SFILE) srom ({24'b0, pass} * ROWS * NG + srow * NG + sgrp, sq);
    sp_tab #(32, PASSES, RFILE) rrom ({24'b0, pass}, rqw);

    // U products of the chunk at the B stage (PACK: 2U, the second row's into psum2)
    reg signed [31:0] psum, psum2;
    reg [31:0] col;
    reg signed [PS+WB-1:0] pop;  // packed operand
    reg signed [PS+WB+7:0] pp;  // its product
    reg signed [PS-1:0] plo;
    reg signed [WB+7:0] phi;
    integer l;
    always @* begin
        psum = 0;
        psum2 = 0;
        pop = 0;
        pp = 0;
        plo = 0;
        phi = 0;
        for (l = 0; l < U; l = l + 1) begin
            col = SPARSE ? {{(32 - CB) {1'b0}}, iq[l*CB+:CB]} : bg * GROUP + bc * U + l;
            // streamed N:M: stored weight j of the group sits in block j / NN at its offset
            if (STREAM && SPARSE)
                col = bg * GROUP + (bc * U + l) / NN * MM + {{(32 - OB) {1'b0}}, oq[l*OB+:OB]};
            if (col >= K) col = 0;  // padding lanes carry weight 0
            if (PACK) begin
                // w_b * 2^S + w_a times x; the low S bits are w_a * x (signed), the rest
                // w_b * x less the borrow of a negative low half
                pop = $signed(wq[l*LWB+WB+:WB]) * (2 ** PS) + $signed(wq[l*LWB+:WB]);
                pp = pop * xb[bt*K+col];
                plo = pp[PS-1:0];
                phi = $signed(pp[PS+WB+7:PS]) + $signed({1'b0, pp[PS-1]});
                psum = psum + plo;
                psum2 = psum2 + phi;
            end else psum = psum + $signed(wq[l*WB+:WB]) * xb[bt*K+col];
        end
    end
    wire signed [47:0] part_n = (bc == 0 ? 48'sd0 : part) + psum;
    wire signed [47:0] part2_n = (bc == 0 ? 48'sd0 : part2) + psum2;
    // one scale product and requantiser: the B stage's group end, or a cycle later the C
    // stage's (the pair's second row)
    wire signed [47:0] spart = cv ? hpart : part_n;
    wire signed [63:0] sacc = sgrp == 0 ? 64'sd0 : cv ? acc2 : acc;
    wire signed [63:0] acc_n = sacc + spart * $signed({1'b0, sq});
    wire signed [7:0] y8;
    sp_requant rq (acc_n, rqw, y8);
    wire signed [63:0] yv = RAW ? acc_n : {{56{y8[7]}}, y8};
    // a result row is written at the B stage's last group end (PACK: its first row's),
    // or at the C stage's (the second row's): never in one cycle
    wire b_end = bv && bc == NCH - 1;
    wire y_we = (b_end && bg == NG - 1) || (cv && cg == NG - 1);
    wire [31:0] yrow = cv ? crow : PACK ? {br[30:0], 1'b0} : br;
    wire [31:0] ytok = cv ? ct : bt;

    wire last_issue = ir == IR - 1 && it == T - 1 && ig == NG - 1 && ic == NCH - 1;
    wire [15:0] rem = n_tok - done_tok;
    assign in_r = st == S_READ || (st == S_COLS && rcnt < K);
    wire oavail = st == S_OUT || st == S_COLOUT
                  || (T == 1 && (st == S_COMP || st == S_WAIT) && oidx < rows_done);
    assign out_v = oavail && oidx < T * ROWS;

    // ---- column mode: block, row-chunk, weight-chunk counters and the B stage ----
    // cgb/cgn: the block's place in its scale group and the group (CH divides GROUP), kept
    // as counters so that no divider is built; bgb/bgn are their B-stage copies.
    localparam BPG = CH > 0 ? GROUP / CH : 1;
    localparam CAW = NRC <= 2 ? 1 : $clog2(NRC);
    reg [31:0] cbk, crc, cjc, bb, brc, bjc, cgb, cgn, bgb, bgn, ocl, ocr;
    reg cbv, cissue;
    wire [RPC*LPR*WB-1:0] cq;
    wire [RPC*LPR*CCB-1:0] ciq;
    wire [31:0] caddr = {24'b0, pass} * CPASS + (cbk * NRC + crc) * NJC + cjc;
    generate
        if (CH > 0) begin : g_col
            sp_rom #(RPC * LPR * WB, PASSES * CPASS, CFILE) crom (clk, caddr, cq);
            if (SPARSE) begin : g_cix
                sp_rom #(RPC * LPR * CCB, PASSES * CPASS, CIFILE) cirom (clk, caddr, ciq);
            end else begin : g_cdense
                assign ciq = 0;
            end
        end else begin : g_nocol
            assign cq = 0;
            assign ciq = 0;
        end
    endgenerate
    reg [15:0] stab[0:PASSES*ROWS*NG-1];  // RPC scales a cycle
    initial if (CH > 0) $readmemh(SFILE, stab);
    wire c_arrived = (cbk + 1) * CH <= rcnt;
    wire c_last = cbk == NB - 1 && crc == NRC - 1 && cjc == NJC - 1;
    // Row r's group partial sum and accumulator live in bank r mod RPC at index r / RPC:
    // each bank has one write port (its lane) and one read address (the B stage's row
    // chunk, or the output row's while the rows leave). A sum starts from zero at a group's
    // first block (cpart) and at the first group (cacc) instead of clearing the banks.
    wire [CAW-1:0] cra = st == S_COLOUT ? ocr[CAW-1:0] : brc[CAW-1:0];
    wire [RPC*64-1:0] cacc_all;
    // the lanes' products, 16 bits each (bank gr, lane jj at (gr * LPR + jj) * 16); dense
    // banks 2i and 2i + 1 read one column, so one packed product serves both (CPK)
    localparam CPK = CH > 0 && !SPARSE;
    wire [RPC*LPR*16-1:0] cprod;
    genvar gr, gl;
    generate
        for (gr = 0; gr < (CH > 0 ? RPC : 0); gr = gr + 1) begin : g_cmul
            for (gl = 0; gl < LPR; gl = gl + 1) begin : g_lane
                wire [31:0] j_ = bjc * LPR + gl;
                wire [31:0] col_ = SPARSE ? {{(32 - CCB) {1'b0}}, ciq[(gr*LPR+gl)*CCB+:CCB]} : j_;
                wire signed [WB-1:0] w_ = cq[(gr*LPR+gl)*WB+:WB];
                if (CPK && gr % 2 == 0 && gr + 1 < RPC) begin : g_pk
                    wire signed [WB-1:0] w2 = cq[((gr+1)*LPR+gl)*WB+:WB];
                    wire signed [PS+WB-1:0] op = w2 * (2 ** PS) + w_;
                    wire signed [PS+WB+7:0] p_ = op * xb[bb*CH+col_];
                    wire signed [PS-1:0] lo = p_[PS-1:0];
                    wire signed [WB+7:0] hi = $signed(p_[PS+WB+7:PS]) + $signed({1'b0, p_[PS-1]});
                    wire signed [15:0] lx = lo, hx = hi;  // sign-extended
                    assign cprod[(gr*LPR+gl)*16+:16] = lx;
                    assign cprod[((gr+1)*LPR+gl)*16+:16] = hx;
                end else if (!(CPK && gr % 2 == 1)) begin : g_one
                    wire signed [15:0] p_ = w_ * xb[bb*CH+col_];
                    assign cprod[(gr*LPR+gl)*16+:16] = p_;
                end
            end
        end
        for (gr = 0; gr < (CH > 0 ? RPC : 0); gr = gr + 1) begin : g_bank
            reg signed [47:0] cpart[0:NRC-1];
            reg signed [63:0] cacc[0:NRC-1];
            wire signed [47:0] pr = cpart[cra];
            wire signed [63:0] ar = cacc[cra];
            wire [31:0] r_ = brc * RPC + gr;
            wire [15:0] sc = stab[{24'b0, pass}*ROWS*NG+r_*NG+bgn];
            reg signed [47:0] cs;
            integer jj;
            always @* begin
                cs = bjc == 0 && bgb == 0 ? 48'sd0 : pr;
                for (jj = 0; jj < LPR; jj = jj + 1)
                    if (bjc * LPR + jj < CHS) cs = cs + $signed(cprod[(gr*LPR+jj)*16+:16]);
            end
            wire signed [63:0] an = (bgn == 0 ? 64'sd0 : ar) + cs * $signed({1'b0, sc});
            always @(posedge clk)
                if (cbv && r_ < ROWS) begin
                    if (bjc == NJC - 1 && bgb == BPG - 1) cacc[brc[CAW-1:0]] <= an;
                    else cpart[brc[CAW-1:0]] <= cs;
                end
            assign cacc_all[gr*64+:64] = ar;
        end
        if (CH == 0) begin : g_nobank
            assign cacc_all = 0;
        end
    endgenerate
    wire signed [7:0] cy8;
    sp_requant rqc (cacc_all[ocl*64+:64], rqw, cy8);
    wire signed [63:0] cy = {{56{cy8[7]}}, cy8};
    assign out_d = st == S_COLOUT ? cy[OW-1:0] : yb[oidx];

    always @(posedge clk) begin
        if (rst) begin
            st <= S_IDLE;
            bv <= 1'b0;
            cv_q <= 1'b0;
        end else begin
            bv <= st == S_COMP && w_ok;
            br <= ir;
            bt <= it;
            bg <= ig;
            bc <= ic;
            if (bv) begin
                part <= part_n;
                part2 <= part2_n;
            end
            if (b_end) acc <= acc_n;
            if (cv) acc2 <= acc_n;
            if (y_we) begin
                yb[ytok*ROWS+yrow] <= yv[OW-1:0];
                if (ytok == T - 1) rows_done <= rows_done + 1;
            end
            cv_q <= PACK && b_end;
            hpart <= part2_n;
            cg <= bg;
            crow <= {br[30:0], 1'b1};
            ct <= bt;
            if (out_v && out_r) oidx <= oidx + 1;
            cbv <= st == S_COLS && cissue && c_arrived;
            bb <= cbk;
            brc <= crc;
            bjc <= cjc;
            bgb <= cgb;
            bgn <= cgn;
            if (st == S_COLOUT && out_v && out_r) begin
                ocl <= ocl == RPC - 1 ? 0 : ocl + 1;
                if (ocl == RPC - 1) ocr <= ocr + 1;
            end
            case (st)
                S_READ:
                if (in_v) begin
                    xb[rcnt] <= in_d;
                    rcnt <= rcnt + 1;
                    if (rcnt == T * K - 1) begin
                        st <= S_COMP;
                        {ir, it, ig, ic} <= 0;
                    end
                end
                S_COMP:
                if (w_ok) begin
                    if (STREAM && it == T - 1 && ig == NG - 1 && ic == NCH - 1) cr <= cr + 1;
                    if (last_issue) st <= S_WAIT;
                    else if (ic != NCH - 1) ic <= ic + 1;
                    else begin
                        ic <= 0;
                        if (ig != NG - 1) ig <= ig + 1;
                        else begin
                            ig <= 0;
                            if (it != T - 1) it <= it + 1;
                            else begin
                                it <= 0;
                                ir <= ir + 1;
                            end
                        end
                    end
                end
                S_WAIT:
                if (!bv && !cv) begin
                    if (T != 1) st <= S_OUT;
                    else if (oidx == ROWS) st <= S_OUT;  // all rows already left
                end
                S_COLS: begin
                    if (in_v && in_r) begin
                        xb[rcnt] <= in_d;
                        rcnt <= rcnt + 1;
                    end
                    if (cissue && c_arrived) begin
                        if (c_last) cissue <= 1'b0;
                        else if (cjc != NJC - 1) cjc <= cjc + 1;
                        else begin
                            cjc <= 0;
                            if (crc != NRC - 1) crc <= crc + 1;
                            else begin
                                crc <= 0;
                                cbk <= cbk + 1;
                                cgb <= cgb == BPG - 1 ? 0 : cgb + 1;
                                if (cgb == BPG - 1) cgn <= cgn + 1;
                            end
                        end
                    end
                    if (!cissue && !cbv) st <= S_COLOUT;
                end
                S_COLOUT, S_OUT:
                if (oidx == T * ROWS) begin
                    done_tok <= done_tok + T;
                    if (rem > T) begin
                        T <= rem - T < TILE ? rem - T : TILE;
                        st <= S_READ;
                        rcnt <= 0;
                        oidx <= 0;
                        rows_done <= 0;
                    end else st <= S_IDLE;
                end
                default: ;
            endcase
            if (STREAM) begin
                if (wm_ar_v && wm_ar_r) begin
                    rq_n <= rq_n + 1;
                    rq_row <= rq_row == ROWS - 1 ? 0 : rq_row + 1;
                    if (rq_row == ROWS - 1) rq_tok <= rq_tok + TILE;
                end
                if (wm_r_v && wm_r_r) begin
                    bcnt <= bcnt == RB - 1 ? 0 : bcnt + 1;
                    if (bcnt == RB - 1) rx_n <= rx_n + 1;
                end
            end
            if (start) begin
                {rq_n, rq_row, rq_tok, rx_n, bcnt, cr} <= 0;
                done_tok <= 0;
                T <= n_tok < TILE ? n_tok : TILE;
                rcnt <= 0;
                oidx <= 0;
                rows_done <= 0;
                st <= n_tok == 0 ? S_IDLE : (CH > 0 && n_tok == 1) ? S_COLS : S_READ;
                {cbk, crc, cjc, cgb, cgn, ocl, ocr} <= 0;
                cissue <= 1'b1;
            end
        end
    end
endmodule
