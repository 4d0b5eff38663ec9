// A weight tile's decoder (combinational), shared by the MV engine and the separate MM
// engine: the chunk at the stream head (the N group scales first when it starts a scale
// group) holds N x K fields, row by row, of WBITS-bit values with their N:M position above
// them (ib bits); it gives each multiplier its int8 weight, whether it is live (a stored
// column of the matrix whose x column exists) and the x-buffer address of its column
// (N:M gather: col = (j div nn) * M + idx; j div nn by a chain over the chunk's columns).
module ov_tile_dec #(
    parameter K = 8,        // reduction lanes (columns of a chunk)
    parameter N = 8,        // rows
    parameter WBITS = 8,
    parameter IDXB = 0,
    parameter FW = 8,       // widest field (WBITS + IDXB)
    parameter WIN = 80,     // stream window bytes (>= 2*N scales + a tile)
    parameter XAW = 8
) (
    input  wire [8*WIN-1:0]     sd,
    input  wire                 gstart,   // the chunk starts a scale group (scales first)
    input  wire [2:0]           ib,       // N:M index bits of the fields
    input  wire [2:0]           lmm,      // log2 M
    input  wire [4:0]           nn,       // N of N:M (1: dense)
    input  wire [15:0]          g0,       // M-group of the chunk's first stored column
    input  wire [4:0]           r0,       // its position among the group's nn
    input  wire [15:0]          j0,       // stored column of the chunk's first field
    input  wire [15:0]          ks,       // stored columns
    input  wire [15:0]          kdim,
    input  wire [15:0]          xoff,     // x-buffer offset of the token slot
    output reg  [K*N*8-1:0]     w,
    output reg  [K*N-1:0]       live,
    output reg  [K*N*XAW-1:0]   xr_a,
    output reg  [15:0]          g0_nx,    // the next chunk's g0, r0
    output reg  [4:0]           r0_nx
);
    wire [8*WIN+FW-1:0] sdw = {{FW{1'b0}}, sd};
    reg [FW-1:0] fld, idxf;
    reg [15:0] gq, col, jc;
    reg [4:0] rr;
    reg [6:0] qq;
    integer ac, ar, aq;
    always @(*) begin
        w = 0;
        live = 0;
        xr_a = 0;
        fld = 0;
        idxf = 0;
        gq = 0;
        col = 0;
        jc = 0;
        rr = r0;
        qq = 0;
        for (ac = 0; ac < K; ac = ac + 1) begin
            gq = g0 + {9'd0, qq};
            jc = j0 + ac[15:0];
            if (rr + 5'd1 == nn) begin
                rr = 0;
                qq = qq + 7'd1;
            end else begin
                rr = rr + 5'd1;
            end
            for (ar = 0; ar < N; ar = ar + 1) begin
                fld = 0;
                for (aq = 0; aq <= IDXB; aq = aq + 1)
                    if ({29'd0, ib} == aq)
                        fld = (gstart ? sdw[16*N + (ar*K + ac)*(WBITS + aq) +: FW]
                                      : sdw[(ar*K + ac)*(WBITS + aq) +: FW])
                              & ((1 << (WBITS + aq)) - 1);
                w[8*(ar*K + ac) +: 8] = {{(8-WBITS){fld[WBITS-1]}}, fld[WBITS-1:0]};
                idxf = fld >> WBITS;
                col = (gq << lmm) + {{(16-FW){1'b0}}, idxf};
                live[ar*K + ac] = (jc < ks) && (col < kdim);
                xr_a[(ar*K + ac)*XAW +: XAW] = col[XAW-1:0] + xoff[XAW-1:0];
            end
        end
        g0_nx = g0 + {9'd0, qq};
        r0_nx = rr;
    end
endmodule
