// Building blocks of the spatial (dataflow) RTL: the valid/ready FIFO that joins kernels,
// read-only memories initialised from the memory image (spatial/rtl.py writes the .hex
// files), the requantiser of docs/overlay.md and the bit-serial divider / square root the
// norm and softmax kernels share. A stream handshake happens on a clock edge where
// valid && ready; data is two's complement.

// FIFO of DEPTH words (any DEPTH >= 2), first word visible one cycle after it is written.
module sp_fifo #(
    parameter W = 8,
    parameter DEPTH = 8
) (
    input  wire         clk,
    input  wire         rst,
    input  wire         in_v,
    input  wire [W-1:0] in_d,
    output wire         in_r,
    output wire         out_v,
    output wire [W-1:0] out_d,
    input  wire         out_r
);
    localparam AW = DEPTH <= 2 ? 1 : $clog2(DEPTH);
    reg [W-1:0] mem[0:DEPTH-1];
    reg [AW-1:0] wp, rp;
    reg [AW:0] cnt;
    wire push = in_v && in_r;
    wire pop = out_v && out_r;
    assign in_r = cnt != DEPTH;
    assign out_v = cnt != 0;
    assign out_d = mem[rp];
    always @(posedge clk) begin
        if (rst) begin
            wp <= 0;
            rp <= 0;
            cnt <= 0;
        end else begin
            if (push) begin
                mem[wp] <= in_d;
                wp <= (wp == DEPTH - 1) ? 0 : wp + 1'b1;
            end
            if (pop) rp <= (rp == DEPTH - 1) ? 0 : rp + 1'b1;
            cnt <= cnt + {{AW{1'b0}}, push} - {{AW{1'b0}}, pop};
        end
    end
endmodule

// ROM with a synchronous read (block RAM): q is mem[a] one cycle after a.
module sp_rom #(
    parameter W = 8,
    parameter N = 2,
    parameter FILE = ""
) (
    input  wire         clk,
    input  wire [31:0]  a,
    output reg  [W-1:0] q
);
    localparam AW = N <= 2 ? 1 : $clog2(N);
    reg [W-1:0] mem[0:N-1];
    initial $readmemh(FILE, mem);
    always @(posedge clk) q <= mem[a[AW-1:0]];
endmodule

// Small table with an asynchronous read (LUT ROM): scales, gains, requant pairs, LUTs.
module sp_tab #(
    parameter W = 8,
    parameter N = 2,
    parameter FILE = ""
) (
    input  wire [31:0]  a,
    output wire [W-1:0] q
);
    localparam AW = N <= 2 ? 1 : $clog2(N);
    reg [W-1:0] mem[0:N-1];
    initial $readmemh(FILE, mem);
    assign q = mem[a[AW-1:0]];
endmodule

// sat8((a * M + 2^(sh-1)) >> sh); rq = {M[15:0], sh[7:0]} (round half up, floor shift).
// AW: a's width as its driver declares it (a product's operand left wider than its driver
// is narrowed by Yosys only where wreduce happens to visit them in order: docs/spatial.md).
module sp_requant #(
    parameter AW = 64
) (
    input  wire signed [AW-1:0] a,
    input  wire        [31:0] rq,
    output wire signed [7:0]  y
);
    wire [7:0] sh = rq[7:0];
    wire signed [95:0] p = (a * $signed({1'b0, rq[23:8]}) + (96'sd1 <<< (sh - 8'd1))) >>> sh;
    assign y = p > 96'sd127 ? 8'sd127 : (p < -96'sd128 ? -8'sd128 : p[7:0]);
endmodule

// floor(num / den), one quotient bit a cycle (restoring): NW cycles from go to done.
module sp_div #(
    parameter NW = 32
) (
    input  wire          clk,
    input  wire          go,
    input  wire [NW-1:0] num,
    input  wire [NW-1:0] den,
    output reg           done,
    output reg  [NW-1:0] q
);
    reg [NW-1:0] n, d;
    reg [NW:0] rem;
    reg [$clog2(NW+1)-1:0] i;
    reg busy = 1'b0;
    wire [NW:0] sh = {rem[NW-1:0], n[NW-1]};
    always @(posedge clk) begin
        done <= 1'b0;
        if (go) begin
            n <= num;
            d <= den;
            rem <= 0;
            q <= 0;
            i <= 0;
            busy <= 1'b1;
        end else if (busy) begin
            n <= n << 1;
            if (sh >= {1'b0, d}) begin
                rem <= sh - {1'b0, d};
                q <= {q[NW-2:0], 1'b1};
            end else begin
                rem <= sh;
                q <= {q[NW-2:0], 1'b0};
            end
            i <= i + 1'b1;
            if (i == NW - 1) begin
                busy <= 1'b0;
                done <= 1'b1;
            end
        end
    end
endmodule

// floor(sqrt(v)), two bits a cycle (restoring): VB/2 cycles from go to done.
module sp_isqrt #(
    parameter VB = 48
) (
    input  wire          clk,
    input  wire          go,
    input  wire [VB-1:0] v,
    output reg           done,
    output reg  [VB-1:0] r
);
    reg [VB-1:0] rv, bit_;
    reg busy = 1'b0;
    always @(posedge clk) begin
        done <= 1'b0;
        if (go) begin
            rv <= v;
            r <= 0;
            bit_ <= {2'b01, {(VB - 2) {1'b0}}};
            busy <= 1'b1;
        end else if (busy) begin
            if (rv >= r + bit_) begin
                rv <= rv - (r + bit_);
                r <= (r >> 1) + bit_;
            end else begin
                r <= r >> 1;
            end
            bit_ <= bit_ >> 2;
            if (bit_[1:0] != 2'b00) begin
                busy <= 1'b0;
                done <= 1'b1;
            end
        end
    end
endmodule
