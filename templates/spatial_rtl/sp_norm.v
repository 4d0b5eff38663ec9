// Norm kernel (LayerNorm if LN, else RMSNorm), token by token: read D words (each also
// forwarded to the residual stream `sk` when SKIP) while summing x and x^2; v = D*Q - S^2
// (RMS: D*Q, S = 0); r = isqrt(v + 1) two bits a cycle; inv = 2^30 / r one bit a cycle;
// then D outputs y = sat8(((((D*x - S)*inv + 2^17) >> 18) * g * M + 2^(sh-1)) >> sh) + b)
// (docs/overlay.md, overlay/arith.norm). Gains, biases and {M, sh} per pass from tables.
// Every product is declared as wide as its operands' ranges need (DB = clog2 D): Yosys
// narrows a product whose operands were declared wider only when wreduce happens to visit
// it after their drivers, an order that changes with the design around the kernel (the
// released top mapped 6 MULT18X18D fewer a LayerNorm than sp_top alone), so the widths
// here make the multipliers the same in every design that instantiates the kernel.
module sp_norm #(
    parameter D = 64,
    parameter LN = 1,
    parameter SKIP = 1,
    parameter PASSES = 1,
    parameter GFILE = "",
    parameter BFILE = "",
    parameter RFILE = ""
) (
    input  wire       clk,
    input  wire       rst,
    input  wire       start,
    input  wire [7:0] pass,
    input  wire       in_v,
    input  wire [7:0] in_d,
    output wire       in_r,
    output wire       sk_v,
    output wire [7:0] sk_d,
    input  wire       sk_r,
    output reg        out_v,
    output reg  [7:0] out_d,
    input  wire       out_r
);
    localparam S_READ = 2'd0, S_SQRT = 2'd1, S_DIV = 2'd2, S_OUT = 2'd3;
    localparam DB = D > 1 ? $clog2(D) : 1;
    localparam SW = DB + 8;    // S = sum x: |S| <= 128 D
    localparam QW = DB + 16;   // Q = sum x^2 <= 2^14 D, and a sign bit
    localparam CW = DB + 8 + LN;  // c = D x - S: |c| <= 255 D (RMS: D x, |c| <= 128 D)
    localparam TW = DB + 21;   // t = (c inv + 2^17) >> 18, inv <= 2^30: |t| < 255 D 2^12
    reg [1:0] st;
    reg [31:0] i;
    reg signed [7:0] x[0:D-1];
    reg signed [SW-1:0] s;
    reg signed [QW-1:0] q;
    reg [30:0] inv;
    reg go_sqrt, go_div;
    wire sq_done, dv_done;
    wire [47:0] root;
    wire [31:0] quo;
    wire signed [2*SW-1:0] ss = s * s;
    wire signed [47:0] v = D * q - (LN ? ss : 48'sd0) + 48'sd1;
    sp_isqrt #(48) u_sqrt (clk, go_sqrt, v, sq_done, root);
    sp_div #(32) u_div (clk, go_div, 32'd1 << 30, root == 0 ? 32'd1 : root[31:0], dv_done, quo);

    wire [7:0] gq, bq;
    wire [31:0] rq;
    sp_tab #(8, PASSES * D, GFILE) gtab ({24'b0, pass} * D + i, gq);
    sp_tab #(8, PASSES * D, BFILE) btab ({24'b0, pass} * D + i, bq);
    sp_tab #(32, PASSES, RFILE) rtab ({24'b0, pass}, rq);

    wire signed [7:0] xin = in_d;
    assign in_r = st == S_READ && (!SKIP || sk_r);
    assign sk_v = SKIP && st == S_READ && in_v;
    assign sk_d = in_d;
    // the output element i
    wire signed [7:0] sh = rq[7:0];
    wire signed [CW-1:0] c = D * x[i] - (LN ? s : $signed({SW{1'b0}}));
    wire signed [CW+31:0] ci = c * $signed({1'b0, inv});
    wire signed [TW-1:0] t = (ci + 32'sd131072) >>> 18;
    wire signed [TW+7:0] tg = t * $signed(gq);
    wire signed [TW+24:0] tgm = tg * $signed({1'b0, rq[23:8]});
    wire signed [95:0] z = (tgm + (96'sd1 <<< (sh - 8'sd1))) >>> sh;
    wire signed [95:0] zb = z + $signed(bq);
    wire [7:0] y = zb > 96'sd127 ? 8'sd127 : (zb < -96'sd128 ? -8'sd128 : zb[7:0]);

    always @(posedge clk) begin
        go_sqrt <= 1'b0;
        go_div <= 1'b0;
        if (rst || start) begin
            st <= S_READ;
            i <= 0;
            s <= 0;
            q <= 0;
            if (rst) out_v <= 1'b0;
        end else begin
            if (out_v && out_r) out_v <= 1'b0;
            case (st)
                S_READ:
                if (in_v && in_r) begin
                    x[i] <= xin;
                    s <= s + xin;
                    q <= q + xin * xin;
                    if (i == D - 1) begin
                        st <= S_SQRT;
                        go_sqrt <= 1'b1;
                    end else i <= i + 1;
                end
                S_SQRT:
                if (sq_done) begin
                    st <= S_DIV;
                    go_div <= 1'b1;
                end
                S_DIV:
                if (dv_done) begin
                    inv <= quo[30:0];  // 2^30 / r, r >= 1
                    st <= S_OUT;
                    i <= 0;
                end
                S_OUT:
                if (!out_v || out_r) begin
                    out_v <= 1'b1;
                    out_d <= y;
                    if (i == D - 1) begin
                        st <= S_READ;
                        i <= 0;
                        s <= 0;
                        q <= 0;
                    end else i <= i + 1;
                end
            endcase
        end
    end
endmodule
