// Attention kernel, token by token (position pos0 + t): read q (NH*HD words), then
// this position's k and v into the KV buffers of the layer served in this pass; per head:
// scores of positions 0..pos at U MACs a cycle (requantised, running max), exp from the
// table and their sum one a cycle, R = 2^31 / sum one bit a cycle, probabilities
// min(127, (e*R + 2^23) >> 24) one a cycle, then HD context values at U MACs a cycle, each
// requantised and sent (overlay/arith.softmax; GQA: head h reads KV head h / (NH/NKV)).
// CAUSAL = 0 (a BERT-style encoder): the q, k, v of all n_tok tokens are read first (q into
// a buffer of the call), then every token attends to positions 0..pos0 + n_tok - 1.
module sp_attn #(
    parameter CAUSAL = 1,
    parameter NH = 4,
    parameter NKV = 4,
    parameter HD = 16,
    parameter MAXPOS = 16,
    parameter U = 8,
    parameter PASSES = 1,
    parameter SFILE = "",   // {M, sh} of the score requant, per pass
    parameter CFILE = "",   // {M, sh} of the context requant, per pass
    parameter EFILE = ""    // exp table, 256 per pass
) (
    input  wire        clk,
    input  wire        rst,
    input  wire        start,
    input  wire [15:0] pos0,
    input  wire [15:0] n_tok,
    input  wire [7:0]  pass,
    input  wire        q_v,
    input  wire [7:0]  q_d,
    output wire        q_r,
    input  wire        k_v,
    input  wire [7:0]  k_d,
    output wire        k_r,
    input  wire        v_v,
    input  wire [7:0]  v_d,
    output wire        v_r,
    output reg         out_v,
    output reg  [7:0]  out_d,
    input  wire        out_r
);
    localparam DQ = NH * HD, DKV = NKV * HD, GRP = NH / NKV;
    localparam QN = CAUSAL ? DQ : MAXPOS * DQ;  // q of one token, or of the whole call
    localparam SC_CH = (HD + U - 1) / U;
    localparam S_Q = 3'd0, S_K = 3'd1, S_V = 3'd2, S_SCORE = 3'd3, S_EXP = 3'd4, S_DIV = 3'd5,
               S_PROB = 3'd6, S_CTX = 3'd7;
    reg [2:0] st;
    reg [31:0] t, h, i, j, c, d;
    reg signed [7:0] qb[0:QN-1];
    reg signed [7:0] kb[0:PASSES*MAXPOS*DKV-1];
    reg signed [7:0] vb[0:PASSES*MAXPOS*DKV-1];
    reg signed [7:0] sc[0:MAXPOS-1];
    reg [17:0] e[0:MAXPOS-1];
    reg [7:0] p[0:MAXPOS-1];
    reg signed [7:0] mx;
    reg [31:0] sum, rcp;
    reg signed [63:0] acc;
    reg go_div;
    wire dv_done;
    wire [31:0] quo;
    sp_div #(32) u_div (clk, go_div, 32'h80000000, sum > 1 ? sum : 32'd1, dv_done, quo);

    wire [31:0] pos = {16'b0, pos0} + t;
    // the last position attended to: this token's (causal) or the call's last (encoder)
    wire [31:0] last = CAUSAL ? pos : {16'b0, pos0} + {16'b0, n_tok} - 1;
    wire [31:0] qoff = CAUSAL ? 0 : t * DQ;
    wire [31:0] base = {24'b0, pass} * (MAXPOS * DKV);
    wire [31:0] g = (h / GRP) * HD;
    wire [31:0] rq_s, rq_c;
    wire [17:0] ex;
    sp_tab #(32, PASSES, SFILE) stab ({24'b0, pass}, rq_s);
    sp_tab #(32, PASSES, CFILE) ctab ({24'b0, pass}, rq_c);
    wire signed [8:0] mdiff = mx - sc[j];
    sp_tab #(18, PASSES * 256, EFILE) etab ({24'b0, pass} * 256 + {24'b0, mdiff[7:0]}, ex);

    // one chunk of U products: score (q . k_j, lanes over d) or context (p . v, lanes over j)
    reg signed [31:0] psum;
    integer l;
    reg [31:0] dd, jj;
    always @* begin
        psum = 0;
        for (l = 0; l < U; l = l + 1) begin
            dd = c * U + l;
            jj = c * U + l;
            if (st == S_SCORE && dd < HD)
                psum = psum + kb[base+j*DKV+g+dd] * qb[qoff+h*HD+dd];
            else if (st == S_CTX && jj <= last)
                psum = psum + $signed({1'b0, p[jj]}) * vb[base+jj*DKV+g+d];
        end
    end
    wire signed [63:0] acc_n = (c == 0 ? 64'sd0 : acc) + psum;
    wire signed [7:0] s8, c8;
    sp_requant rqs (acc_n, rq_s, s8);
    sp_requant rqc (acc_n, rq_c, c8);
    wire [63:0] pr = ({46'b0, e[j]} * rcp + 64'd8388608) >> 24;
    wire [31:0] ctx_ch = last / U + 1;  // chunks of positions 0..last

    assign q_r = st == S_Q;
    assign k_r = st == S_K;
    assign v_r = st == S_V;

    always @(posedge clk) begin
        go_div <= 1'b0;
        if (rst || start) begin
            st <= S_Q;
            {t, h, i, j, c, d} <= 0;
            if (rst) out_v <= 1'b0;
        end else begin
            if (out_v && out_r) out_v <= 1'b0;
            case (st)
                S_Q:
                if (q_v) begin
                    qb[qoff+i] <= q_d;
                    i <= i == DQ - 1 ? 0 : i + 1;
                    if (i == DQ - 1) st <= S_K;
                end
                S_K:
                if (k_v) begin
                    kb[base+pos*DKV+i] <= k_d;
                    i <= i == DKV - 1 ? 0 : i + 1;
                    if (i == DKV - 1) st <= S_V;
                end
                S_V:
                if (v_v) begin
                    vb[base+pos*DKV+i] <= v_d;
                    i <= i == DKV - 1 ? 0 : i + 1;
                    if (i == DKV - 1) begin
                        {h, j, c} <= 0;
                        mx <= -8'sd128;
                        if (CAUSAL || t == {16'b0, n_tok} - 1) begin
                            st <= S_SCORE;
                            if (!CAUSAL) t <= 0;  // every token read: attend, from the first
                        end else begin
                            t <= t + 1;
                            st <= S_Q;
                        end
                    end
                end
                S_SCORE: begin
                    acc <= acc_n;
                    if (c == SC_CH - 1) begin
                        sc[j] <= s8;
                        if (s8 > mx) mx <= s8;
                        c <= 0;
                        if (j == last) begin
                            j <= 0;
                            sum <= 0;
                            st <= S_EXP;
                        end else j <= j + 1;
                    end else c <= c + 1;
                end
                S_EXP: begin
                    e[j] <= ex;
                    sum <= sum + {14'b0, ex};
                    if (j == last) begin
                        st <= S_DIV;
                        go_div <= 1'b1;
                    end else j <= j + 1;
                end
                S_DIV:
                if (dv_done) begin
                    rcp <= quo;
                    j <= 0;
                    st <= S_PROB;
                end
                S_PROB: begin
                    p[j] <= pr > 127 ? 8'd127 : pr[7:0];
                    if (j == last) begin
                        {c, d} <= 0;
                        st <= S_CTX;
                    end else j <= j + 1;
                end
                S_CTX:
                if (c != ctx_ch - 1 || !out_v || out_r) begin
                    acc <= acc_n;
                    if (c == ctx_ch - 1) begin
                        out_v <= 1'b1;
                        out_d <= c8;
                        c <= 0;
                        if (d == HD - 1) begin
                            d <= 0;
                            j <= 0;
                            mx <= -8'sd128;
                            if (h == NH - 1) begin
                                h <= 0;
                                t <= t + 1;
                                // an encoder's next token is already read
                                st <= CAUSAL || t == {16'b0, n_tok} - 1 ? S_Q : S_SCORE;
                            end else begin
                                h <= h + 1;
                                st <= S_SCORE;
                            end
                        end else d <= d + 1;
                    end else c <= c + 1;
                end
            endcase
        end
    end
endmodule
