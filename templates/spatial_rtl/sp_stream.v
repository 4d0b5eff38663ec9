// Element-wise kernels of the spatial RTL: RoPE (a head buffered, then rotated), the FFN
// activation (GELU table, or SwiGLU requant(SiLU(gate) * up)) and the saturating residual
// add; the last two take one word a cycle through an output register.

// Rotate-half RoPE with Q1.14 cos/sin tables (MAXPOS rows of HD/2): per head read HD
// words, then send HD rotated ones (overlay/arith.rope).
module sp_rope #(
    parameter NH = 4,
    parameter HD = 16,
    parameter MAXPOS = 16,
    parameter CFILE = "",
    parameter SFILE = ""
) (
    input  wire        clk,
    input  wire        rst,
    input  wire        start,
    input  wire [15:0] pos0,
    input  wire        in_v,
    input  wire [7:0]  in_d,
    output wire        in_r,
    output reg         out_v,
    output reg  [7:0]  out_d,
    input  wire        out_r
);
    localparam H = HD / 2;
    reg rd;  // 1: reading a head, 0: sending it
    reg [31:0] i, h, t;
    reg signed [7:0] x[0:HD-1];
    wire [31:0] j = i < H ? i : i - H;
    wire [15:0] cw, sw;
    sp_tab #(16, MAXPOS * H, CFILE) ctab (({16'b0, pos0} + t) * H + j, cw);
    sp_tab #(16, MAXPOS * H, SFILE) stab (({16'b0, pos0} + t) * H + j, sw);
    wire signed [31:0] a = x[j], b = x[j+H];
    wire signed [31:0] rot = i < H ? a * $signed(cw) - b * $signed(sw) : b * $signed(cw) + a * $signed(sw);
    wire signed [31:0] y = (rot + 32'sd8192) >>> 14;
    assign in_r = rd;
    always @(posedge clk) begin
        if (rst || start) begin
            rd <= 1'b1;
            {i, h, t} <= 0;
            if (rst) out_v <= 1'b0;
        end else begin
            if (out_v && out_r) out_v <= 1'b0;
            if (rd) begin
                if (in_v) begin
                    x[i] <= in_d;
                    i <= i == HD - 1 ? 0 : i + 1;
                    if (i == HD - 1) rd <= 1'b0;
                end
            end else if (!out_v || out_r) begin
                out_v <= 1'b1;
                out_d <= y > 127 ? 8'sd127 : (y < -128 ? -8'sd128 : y[7:0]);
                i <= i == HD - 1 ? 0 : i + 1;
                if (i == HD - 1) begin
                    rd <= 1'b1;
                    h <= h == NH - 1 ? 0 : h + 1;
                    if (h == NH - 1) t <= t + 1;
                end
            end
        end
    end
endmodule

// FFN activation: GELU (GLU = 0): LUT[up]; SwiGLU: requant(LUT[gate] * up, rq_mid).
module sp_act #(
    parameter GLU = 0,
    parameter PASSES = 1,
    parameter LFILE = "",
    parameter RFILE = ""
) (
    input  wire       clk,
    input  wire       rst,
    input  wire [7:0] pass,
    input  wire       up_v,
    input  wire [7:0] up_d,
    output wire       up_r,
    input  wire       gate_v,
    input  wire [7:0] gate_d,
    output wire       gate_r,
    output reg        out_v,
    output reg  [7:0] out_d,
    input  wire       out_r
);
    wire [7:0] lq;
    wire [31:0] rq;
    sp_tab #(8, PASSES * 256, LFILE) ltab ({24'b0, pass} * 256 + (GLU ? gate_d : up_d), lq);
    generate
        if (GLU) begin : g_rq
            sp_tab #(32, PASSES, RFILE) rtab ({24'b0, pass}, rq);
        end else begin : g_norq
            assign rq = 0;
        end
    endgenerate
    wire signed [7:0] mid;
    wire signed [15:0] prod = $signed(lq) * $signed(up_d);
    sp_requant #(16) mul (prod, rq, mid);
    wire go = up_v && (!GLU || gate_v) && (!out_v || out_r);
    assign up_r = go;
    assign gate_r = GLU && go;
    always @(posedge clk) begin
        if (rst) out_v <= 1'b0;
        else if (go) begin
            out_v <= 1'b1;
            out_d <= GLU ? mid : lq;
        end else if (out_r) out_v <= 1'b0;
    end
endmodule

// Residual add: sat8(a + b).
module sp_add (
    input  wire       clk,
    input  wire       rst,
    input  wire       a_v,
    input  wire [7:0] a_d,
    output wire       a_r,
    input  wire       b_v,
    input  wire [7:0] b_d,
    output wire       b_r,
    output reg        out_v,
    output reg  [7:0] out_d,
    input  wire       out_r
);
    wire signed [8:0] s = $signed(a_d) + $signed(b_d);
    wire go = a_v && b_v && (!out_v || out_r);
    assign a_r = go;
    assign b_r = go;
    always @(posedge clk) begin
        if (rst) out_v <= 1'b0;
        else if (go) begin
            out_v <= 1'b1;
            out_d <= s > 127 ? 8'sd127 : (s < -128 ? -8'sd128 : s[7:0]);
        end else if (out_r) out_v <= 1'b0;
    end
endmodule
