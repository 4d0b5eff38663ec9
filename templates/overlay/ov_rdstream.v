// AXI4 read master that turns a 2-D byte region (rows x len bytes at addr + r*stride) into
// an in-order byte stream. The consumer sees the oldest WIN bytes in `data` and `cnt` bytes
// buffered, and pops up to WIN of them per cycle. The buffer is a circular RAM of
// 2^CAW >= CAP bytes interleaved over NBK byte banks (ov_bankram): one beat written and
// WIN bytes read per cycle. Its read is synchronous, so `data` shows the bytes at the head
// after this cycle's pop one cycle later, and `cnt` counts only bytes written before that.
// OVERLAP=1: bursts are issued while the buffer has room (prefetch, double buffering).
// OVERLAP=0: a fetch starts only when nothing is in flight and fewer than `need` bytes
// are buffered, and asks only for the missing bytes: transfers and compute alternate.
module ov_rdstream #(
    parameter BEAT = 16,     // bytes per beat (axi_port_bits / 8)
    parameter LOGBEAT = 4,
    parameter CAP = 512,     // buffer bytes
    parameter OVERLAP = 1,
    parameter BURST = 256,   // bytes per burst at most
    parameter WIN = 16,      // bytes the consumer sees (its largest pop)
    parameter NBK = 16,      // byte banks: a power of two >= WIN and >= BEAT
    parameter LNBK = 4,
    parameter CAW = 9        // log2 of the buffer RAM's bytes (>= CAP)
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
    output wire [8*WIN-1:0]    data,
    output wire [15:0]         cnt,
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
    reg [15:0] cnt_w;           // bytes written (the flow-control count)
    reg [15:0] take_d;          // bytes written on the last edge: not readable yet
    reg [CAW-1:0] head, tail;
    reg [31:0] cur, row_base;
    reg [23:0] row_left, len_r, stride_r;
    reg [15:0] rows_left;
    reg [23:0] inflight;
    // outstanding bursts: first-beat skip and bytes wanted
    reg [LOGBEAT:0] q_skip [0:7];
    reg [15:0] q_n [0:7];
    reg [2:0] q_head, q_tail;
    reg [3:0] q_count;
    assign cnt = cnt_w - take_d;
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
                       : ((({16'd0, need} - {16'd0, cnt_w} + skip32) + BEAT - 1) >> LOGBEAT);
    wire [31:0] b1 = (beats_row < MAXB) ? beats_row : MAXB;
    wire [31:0] b2 = (beats_4k < b1) ? beats_4k : b1;
    wire [31:0] beats = (want < b2) ? want : b2;
    wire [31:0] cap_bytes = (beats << LOGBEAT) - skip32;
    wire [23:0] bb = ({8'd0, row_left} < cap_bytes) ? row_left : cap_bytes[23:0];
    wire room = (OVERLAP != 0)
              ? ({8'd0, cnt_w} + inflight + bb <= CAP24)
              : (inflight == 0 && cnt_w < need && {8'd0, cnt_w} + bb <= CAP24);
    wire can_issue = !arvalid && row_left != 0 && q_count < 8 && room && beats != 0;

    // R beat: bytes it carries for the stream
    wire [LOGBEAT:0] h_skip = q_skip[q_head];
    wire [15:0] h_n = q_n[q_head];
    wire [15:0] avail_b = BEAT[15:0] - {{(15-LOGBEAT){1'b0}}, h_skip};
    wire [15:0] take = (rvalid && q_count != 0) ? ((h_n < avail_b) ? h_n : avail_b) : 16'd0;
    wire [8*BEAT-1:0] shifted = rdata >> (8 * h_skip);
    wire [8*NBK-1:0] wide;
    wire [CAW-1:0] head_nx = head + pop[CAW-1:0];
    ov_bankram #(.NB(NBK), .LNB(LNBK), .DEPTH(1 << CAW), .AW(CAW), .DW(8)) u_buf (
        .clk(clk), .we(take != 0), .wa(tail), .wn(take[LNBK:0]),
        .wd({{(8*(NBK-BEAT)){1'b0}}, shifted}), .ra((rst || req) ? {CAW{1'b0}} : head_nx),
        .rq(wide));
    assign data = wide[8*WIN-1:0];

    always @(posedge clk) begin
        if (rst || req) begin
            cnt_w <= 0;
            take_d <= 0;
            head <= 0;
            tail <= 0;
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
            head <= head_nx;
            tail <= tail + take[CAW-1:0];
            cnt_w <= cnt_w - pop + take;
            take_d <= take;
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
