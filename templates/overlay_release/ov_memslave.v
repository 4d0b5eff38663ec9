// On-chip memory behind one AXI4 port of the overlay: a beat-wide RAM initialised from a
// hex file in the bitstream ($readmemh; Yosys maps it into block RAM with its init), one
// read burst at a time (one beat per cycle after a one-cycle read), and, when WRITABLE,
// single-beat writes with byte strobes (the KV cache). Replaces external memory in a
// release whose weights fit on chip.
module ov_memslave #(
    parameter BEAT = 16,
    parameter LOGBEAT = 4,
    parameter AW = 10,          // address bits (log2 of words, rounded up)
    parameter WORDS = 0,        // words held (0: 2^AW); the image's size rounded to whole
                                // block RAMs, so a 21.9k-word image is not 32k words
    parameter INIT = "",
    parameter WRITABLE = 0
) (
    input  wire                clk,
    input  wire                rst,
    input  wire [31:0]         araddr,
    input  wire [7:0]          arlen,
    input  wire                arvalid,
    output wire                arready,
    output reg  [8*BEAT-1:0]   rdata,
    output reg                 rvalid,
    output reg                 rlast,
    input  wire                rready,
    input  wire [31:0]         awaddr,
    input  wire                awvalid,
    output wire                awready,
    input  wire [8*BEAT-1:0]   wdata,
    input  wire [BEAT-1:0]     wstrb,
    input  wire                wvalid,
    output wire                wready,
    output reg                 bvalid,
    output reg                 err      // sticky until reset: a burst or a write went past
                                        // the words held (an AXI DECERR, on chip)
);
    reg [8*BEAT-1:0] mem [0:((WORDS != 0) ? WORDS : (1 << AW))-1];
    initial begin
        if (INIT != "") $readmemh(INIT, mem);
    end

    reg busy;
    reg [AW-1:0] ptr;
    reg [7:0] left;
    assign arready = !busy;
    wire adv = busy && (!rvalid || rready);
    always @(posedge clk) begin
        if (adv) rdata <= mem[ptr];
    end
    always @(posedge clk) begin
        if (rst) begin
            busy <= 0;
            rvalid <= 0;
            rlast <= 0;
        end else begin
            if (rvalid && rready) rvalid <= 0;
            if (!busy && arvalid) begin
                busy <= 1;
                ptr <= araddr[AW+LOGBEAT-1:LOGBEAT];
                left <= arlen;
            end else if (adv) begin
                rvalid <= 1;
                rlast <= left == 8'd0;
                ptr <= ptr + 1'b1;
                left <= left - 8'd1;
                if (left == 8'd0) busy <= 0;
            end
        end
    end

    // Writes: address and data accepted together, the response one cycle later.
    wire wr = (WRITABLE != 0) && awvalid && wvalid;
    assign awready = wr;
    assign wready = wr;
    wire [AW-1:0] wptr = awaddr[AW+LOGBEAT-1:LOGBEAT];
    integer b;
    always @(posedge clk) begin
        if (wr)
            for (b = 0; b < BEAT; b = b + 1)
                if (wstrb[b]) mem[wptr][8*b +: 8] <= wdata[8*b +: 8];
    end
    always @(posedge clk) bvalid <= !rst && wr;

    localparam [32:0] HELD = (WORDS != 0) ? WORDS : (1 << AW);
    wire [32:0] rd_end = ({1'b0, araddr} >> LOGBEAT) + {25'd0, arlen};  // last word read
    wire [32:0] wr_word = {1'b0, awaddr} >> LOGBEAT;
    always @(posedge clk)
        if (rst) err <= 1'b0;
        else if ((!busy && arvalid && rd_end >= HELD) || (wr && wr_word >= HELD)) err <= 1'b1;
endmodule
