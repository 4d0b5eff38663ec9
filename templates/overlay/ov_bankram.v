// A RAM of DEPTH words interleaved over NB banks (word a lives in bank a mod NB), so NB
// consecutive words starting at any address are written or read in one cycle. Each bank
// is a plain simple-dual-port memory (one write, one synchronous read), the shape Yosys and
// Vivado infer as block RAM or LUT RAM; the lane rotation sits outside the memories.
// Write: lanes 0..wn-1 of wd go to wa, wa+1, ... Read: rq lane l = word ra + l, one cycle
// after ra (read-first: a word written on the same edge reads its old value).
module ov_bankram #(
    parameter NB = 4,       // banks, a power of two >= 2
    parameter LNB = 2,      // log2(NB)
    parameter DEPTH = 1024, // words, a multiple of NB
    parameter AW = 10,      // log2(DEPTH)
    parameter DW = 18
) (
    input  wire               clk,
    input  wire               we,
    input  wire [AW-1:0]      wa,
    input  wire [LNB:0]       wn,
    input  wire [NB*DW-1:0]   wd,
    input  wire [AW-1:0]      ra,
    output wire [NB*DW-1:0]   rq
);
    localparam ROWS = DEPTH / NB;
    reg [LNB-1:0] ra_lo;
    always @(posedge clk) ra_lo <= ra[LNB-1:0];
    wire [NB*DW-1:0] q_bank;
    genvar b;
    generate
        for (b = 0; b < NB; b = b + 1) begin : g_bank
            localparam [LNB-1:0] BI = b[LNB-1:0];
            reg [DW-1:0] mem [0:ROWS-1];
            reg [DW-1:0] q;
            // the write lane that lands in this bank, and the row of the word it carries
            wire [LNB-1:0] wl = BI - wa[LNB-1:0];
            wire [AW-1:0] wad = wa + {{(AW-LNB){1'b0}}, wl};
            wire [LNB-1:0] rl = BI - ra[LNB-1:0];
            wire [AW-1:0] rad = ra + {{(AW-LNB){1'b0}}, rl};
            wire wen = we && ({1'b0, wl} < wn);
            always @(posedge clk) begin
                if (wen) mem[wad[AW-1:LNB]] <= wd[wl*DW +: DW];
                q <= mem[rad[AW-1:LNB]];
            end
            assign q_bank[b*DW +: DW] = q;
        end
        // lane l of the read is bank (ra + l) mod NB
        for (b = 0; b < NB; b = b + 1) begin : g_lane
            localparam [LNB-1:0] LI = b[LNB-1:0];
            wire [LNB-1:0] bk = ra_lo + LI;
            assign rq[b*DW +: DW] = q_bank[bk*DW +: DW];
        end
    endgenerate
endmodule
