// AXI4 read master that turns a 2-D byte region (rows x len bytes at addr + r*stride) into
// an in-order byte stream. The consumer sees the oldest CAP bytes in `data` / `cnt` and
// pops any number of them per cycle.
// OVERLAP=1: bursts are issued while the buffer has room (prefetch, double buffering).
// OVERLAP=0: a fetch starts only when nothing is in flight and fewer than `need` bytes
// are buffered, and asks only for the missing bytes: transfers and compute alternate.
module ov_rdstream #(
    parameter BEAT = 16,     // bytes per beat (axi_port_bits / 8)
    parameter LOGBEAT = 4,
    parameter CAP = 512,     // buffer bytes
    parameter OVERLAP = 1,
    parameter BURST = 256    // bytes per burst at most
) (
    input  wire                clk,
    input  wire                rst,
    input  wire                req,
    input  wire [31:0]         req_addr,
    input  wire [23:0]         req_len,
    input  wire [15:0]         req_rows,
    input  wire [23:0]         req_stride,
    input  wire [15:0]         need,
    input  wire [15:0]         pop,
    output wire [8*CAP-1:0]    data,
    output reg  [15:0]         cnt,
    output reg  [31:0]         araddr,
    output reg  [7:0]          arlen,
    output wire [2:0]          arsize,
    output wire [1:0]          arburst,
    output reg                 arvalid,
    input  wire                arready,
    input  wire [8*BEAT-1:0]   rdata,
    input  wire                rvalid,
    input  wire                rlast,
    output wire                rready
);
    localparam MAXB = (BURST <= BEAT) ? 1 : BURST / BEAT;
    reg [8*CAP-1:0] buffer;
    reg [31:0] cur, row_base;
    reg [23:0] row_left, len_r, stride_r;
    reg [15:0] rows_left;
    reg [23:0] inflight;
    // outstanding bursts: first-beat skip and bytes wanted
    reg [LOGBEAT:0] q_skip [0:7];
    reg [15:0] q_n [0:7];
    reg [2:0] q_head, q_tail;
    reg [3:0] q_count;
    assign data = buffer;
    assign arsize = LOGBEAT[2:0];
    assign arburst = 2'b01;
    assign rready = 1'b1;

    // next burst: up to MAXB beats, not across a 4 KiB boundary, not past the row
    wire [LOGBEAT-1:0] skip = cur[LOGBEAT-1:0];
    localparam [23:0] CAP24 = CAP[23:0];
    wire [31:0] skip32 = {{(32-LOGBEAT){1'b0}}, skip};
    wire [31:0] span = {8'd0, row_left} + skip32;
    wire [31:0] beats_row = (span + BEAT - 1) >> LOGBEAT;
    wire [31:0] beats_4k = (32'd4096 - {20'd0, cur[11:0]}) >> LOGBEAT;
    wire [31:0] want = (OVERLAP != 0) ? beats_row
                       : ((({16'd0, need} - {16'd0, cnt} + skip32) + BEAT - 1) >> LOGBEAT);
    wire [31:0] b1 = (beats_row < MAXB) ? beats_row : MAXB;
    wire [31:0] b2 = (beats_4k < b1) ? beats_4k : b1;
    wire [31:0] beats = (want < b2) ? want : b2;
    wire [31:0] cap_bytes = (beats << LOGBEAT) - skip32;
    wire [23:0] bb = ({8'd0, row_left} < cap_bytes) ? row_left : cap_bytes[23:0];
    wire room = (OVERLAP != 0)
              ? ({8'd0, cnt} + inflight + bb <= CAP24)
              : (inflight == 0 && cnt < need && {8'd0, cnt} + bb <= CAP24);
    wire can_issue = !arvalid && row_left != 0 && q_count < 8 && room && beats != 0;

    // R beat: bytes it carries for the stream
    wire [LOGBEAT:0] h_skip = q_skip[q_head];
    wire [15:0] h_n = q_n[q_head];
    wire [15:0] avail_b = BEAT[15:0] - {{(15-LOGBEAT){1'b0}}, h_skip};
    wire [15:0] take = (rvalid && q_count != 0) ? ((h_n < avail_b) ? h_n : avail_b) : 16'd0;
    wire [8*BEAT-1:0] shifted = rdata >> (8 * h_skip);
    wire [15:0] kept = cnt - pop;
    reg [8*CAP-1:0] incoming;
    integer i;
    always @(*) begin
        incoming = 0;
        for (i = 0; i < BEAT; i = i + 1)
            if (i < take) incoming[8*i +: 8] = shifted[8*i +: 8];
    end

    always @(posedge clk) begin
        if (rst || req) begin
            cnt <= 0;
            buffer <= 0;
            inflight <= 0;
            q_head <= 0;
            q_tail <= 0;
            q_count <= 0;
            arvalid <= 0;
            cur <= req_addr;
            row_base <= req_addr;
            row_left <= rst ? 24'd0 : req_len;
            len_r <= req_len;
            stride_r <= req_stride;
            rows_left <= rst ? 16'd0 : req_rows;
        end else begin
            // pop then append
            buffer <= (buffer >> (8 * pop)) | (incoming << (8 * kept));
            cnt <= kept + take;
            if (take != 0) begin
                if (take == h_n || rlast) begin
                    q_head <= q_head + 1;
                end else begin
                    q_n[q_head] <= h_n - take;
                    q_skip[q_head] <= 0;
                end
            end
            if (arvalid && arready) arvalid <= 0;
            if (can_issue) begin
                araddr <= {cur[31:LOGBEAT], {LOGBEAT{1'b0}}};
                arlen <= beats[7:0] - 8'd1;
                arvalid <= 1;
                q_skip[q_tail] <= {1'b0, skip};
                q_n[q_tail] <= bb[15:0];
                q_tail <= q_tail + 1;
                if (bb == row_left && rows_left > 1) begin
                    rows_left <= rows_left - 1;
                    row_base <= row_base + {8'd0, stride_r};
                    cur <= row_base + {8'd0, stride_r};
                    row_left <= len_r;
                end else begin
                    cur <= cur + {8'd0, bb};
                    row_left <= row_left - bb;
                end
            end
            inflight <= inflight + (can_issue ? bb : 24'd0) - {8'd0, take};
            q_count <= q_count + (can_issue ? 4'd1 : 4'd0)
                       - ((take != 0 && (take == h_n || rlast)) ? 4'd1 : 4'd0);
        end
    end
endmodule
