// llm_top: one design point's set of compute units behind a narrow, muxed I/O port.
//
// Units (each present when its HAS_* parameter is 1): gemv_int (unit 0), systolic_gemm
// (unit 1), gemv_nm_sparse (unit 2) and softmax_fx (unit 3, Q8.8 scores). The narrow port
// keeps the pin count small and every unit input/output reachable, so synthesis cannot
// optimise any unit away, and a testbench can drive all of them.
//
// Input: in_shift shifts in_data into the staging register from the right (send a beat's
// payload most significant word first). in_fire presents the staging register to unit
// in_unit as one beat (with in_last); each unit takes the low bits it needs, laid out exactly
// like the unit's own ports concatenated: gemv {x, w}, systolic {a, b}, sparse {x, w, idx},
// softmax {x}. A fire is accepted when in_ready is high (only softmax ever stalls).
// Output: rd_data is the 32-bit word rd_addr (registered one cycle) of the result space:
// gemv y, then systolic C, then sparse y, then the last softmax vector (element i of an
// L-element vector at slot L-1-i), each padded to whole words and absent when not present.
`timescale 1ns / 1ps
module llm_top #(
    parameter HAS_GEMV     = 1,
    parameter GEMV_LANES   = 4,
    parameter GEMV_WBITS   = 8,
    parameter HAS_SYSTOLIC = 1,
    parameter SYS_MT       = 2,
    parameter SYS_NT       = 2,
    parameter HAS_SPARSE   = 1,
    parameter SP_LANES     = 2,
    parameter SP_N         = 2,
    parameter SP_M         = 4,
    parameter HAS_SOFTMAX  = 1,
    parameter SM_MAXLEN    = 8,
    parameter ACCBITS      = 32
) (
    input  wire        clk,
    input  wire        rst,
    input  wire [31:0] in_data,
    input  wire        in_shift,
    input  wire        in_fire,
    input  wire        in_last,
    input  wire [1:0]  in_unit,
    output wire        in_ready,
    input  wire [15:0] rd_addr,
    output reg  [31:0] rd_data
);
    localparam SP_IW = $clog2(SP_M);
    // Input widths and result widths of every unit.
    localparam G_IN  = 8 + GEMV_LANES * GEMV_WBITS,  G_OUT = GEMV_LANES * ACCBITS;
    localparam S_IN  = 8 * (SYS_MT + SYS_NT),        S_OUT = SYS_MT * SYS_NT * ACCBITS;
    localparam P_IN  = 8 * SP_M + SP_LANES * SP_N * (8 + SP_IW), P_OUT = SP_LANES * ACCBITS;
    localparam X_IN  = 16,                           X_OUT = SM_MAXLEN * 16;
    localparam MAX_IN = (G_IN > S_IN ? G_IN : S_IN) > (P_IN > X_IN ? P_IN : X_IN)
                      ? (G_IN > S_IN ? G_IN : S_IN) : (P_IN > X_IN ? P_IN : X_IN);
    localparam STAGE = MAX_IN > 64 ? 32 * ((MAX_IN + 31) / 32) : 64;   // >= 2 words
    // Result space: word counts (0 when absent) and bases.
    localparam G_WORDS = (HAS_GEMV != 0)     ? (G_OUT + 31) / 32 : 0;
    localparam S_WORDS = (HAS_SYSTOLIC != 0) ? (S_OUT + 31) / 32 : 0;
    localparam P_WORDS = (HAS_SPARSE != 0)   ? (P_OUT + 31) / 32 : 0;
    localparam X_WORDS = (HAS_SOFTMAX != 0)  ? (X_OUT + 31) / 32 : 0;
    localparam S_BASE = G_WORDS, P_BASE = S_BASE + S_WORDS, X_BASE = P_BASE + P_WORDS;
    localparam END = X_BASE + X_WORDS;

    reg [STAGE-1:0] stage;
    always @(posedge clk) if (in_shift) stage <= {stage[STAGE-33:0], in_data};

    wire [3:0] fire = in_fire ? (4'd1 << in_unit) : 4'd0;
    wire       sm_ready;
    assign in_ready = (in_unit != 2'd3) | sm_ready;

    // Each unit's results, zero-padded to whole words (one dummy word when absent).
    wire [32*(G_WORDS > 0 ? G_WORDS : 1)-1:0] g_res;
    wire [32*(S_WORDS > 0 ? S_WORDS : 1)-1:0] s_res;
    wire [32*(P_WORDS > 0 ? P_WORDS : 1)-1:0] p_res;
    wire [32*(X_WORDS > 0 ? X_WORDS : 1)-1:0] x_res;

    generate
        if (HAS_GEMV != 0) begin : gemv
            wire [G_OUT-1:0] y;
            gemv_int #(.LANES(GEMV_LANES), .WBITS(GEMV_WBITS), .ACCBITS(ACCBITS)) u (
                .clk(clk), .rst(rst), .in_valid(fire[0]), .in_last(in_last),
                .in_x(stage[G_IN-1 -: 8]), .in_w(stage[G_IN-9:0]), .out_valid(), .out_y(y)
            );
            assign g_res = y;   // zero-extended to whole words
        end else begin : no_gemv
            assign g_res = 0;
        end
        if (HAS_SYSTOLIC != 0) begin : systolic
            wire [S_OUT-1:0] c;
            systolic_gemm #(.MT(SYS_MT), .NT(SYS_NT), .ACCBITS(ACCBITS)) u (
                .clk(clk), .rst(rst), .in_valid(fire[1]), .in_last(in_last),
                .in_a(stage[S_IN-1 -: 8*SYS_MT]), .in_b(stage[8*SYS_NT-1:0]),
                .out_valid(), .out_c(c)
            );
            assign s_res = c;
        end else begin : no_systolic
            assign s_res = 0;
        end
        if (HAS_SPARSE != 0) begin : sparse
            localparam IDXB = SP_LANES * SP_N * SP_IW;
            wire [P_OUT-1:0] y;
            gemv_nm_sparse #(.LANES(SP_LANES), .N(SP_N), .M(SP_M), .ACCBITS(ACCBITS)) u (
                .clk(clk), .rst(rst), .in_valid(fire[2]), .in_last(in_last),
                .in_x(stage[P_IN-1 -: 8*SP_M]), .in_w(stage[IDXB +: 8*SP_LANES*SP_N]),
                .in_idx(stage[IDXB-1:0]), .out_valid(), .out_y(y)
            );
            assign p_res = y;
        end else begin : no_sparse
            assign p_res = 0;
        end
        if (HAS_SOFTMAX != 0) begin : softmax
            wire        valid, last;
            wire [15:0] y;
            reg  [X_OUT-1:0] captured;
            softmax_fx #(.XBITS(16), .XFRAC(8), .MAXLEN(SM_MAXLEN)) u (
                .clk(clk), .rst(rst), .in_valid(fire[3]), .in_ready(sm_ready),
                .in_last(in_last), .in_x(stage[15:0]), .out_valid(valid), .out_last(last),
                .out_y(y)
            );
            always @(posedge clk) if (valid) captured <= {captured[X_OUT-17:0], y};
            assign x_res = captured;
        end else begin : no_softmax
            assign sm_ready = 1'b1;
            assign x_res = 0;
        end
    endgenerate

    wire [31:0] addr = {16'd0, rd_addr};
    // A missing unit leaves an empty region (e.g. S_BASE = 0), so a compare can be constant.
    /* verilator lint_off UNSIGNED */
    always @(posedge clk) begin
        if (addr < S_BASE)      rd_data <= g_res[32*addr +: 32];
        else if (addr < P_BASE) rd_data <= s_res[32*(addr - S_BASE) +: 32];
        else if (addr < X_BASE) rd_data <= p_res[32*(addr - P_BASE) +: 32];
        else if (addr < END)    rd_data <= x_res[32*(addr - X_BASE) +: 32];
        else                    rd_data <= 32'd0;
    end
    /* verilator lint_on UNSIGNED */
endmodule
