// softmax_fx: fixed-point softmax over a vector of up to MAXLEN scores.
//
// Input: signed XBITS-bit scores with XFRAC fractional bits (real value x / 2^XFRAC), one
// per beat with valid/ready; in_last marks the final element. Output: y_i = softmax(x)_i as
// unsigned Q1.15 (32768 = 1.0), one per cycle with out_valid (no back-pressure) and
// out_last on the final element. Vectors longer than MAXLEN are not supported.
//
// Arithmetic (all integer, mirrored bit-exactly by the Python model in the tests):
//   d   = max(x) - x_i                        >= 0, XFRAC fractional bits
//   t   = round(d * 23637 / 2^(XFRAC+2))      t ~ d * log2(e) in Q.12 (23637 = log2(e)*2^14)
//   exp(-d) = 2^-t = 2^-frac(t) >> int(t), where 2^-f for f in [0, 1) is a 33-entry LUT
//   (2^-k/32 in Q1.19) with linear interpolation on the 7 low fraction bits, and the shift
//   rounds to nearest. e_i is Q1.19 (the maximum gives exactly 2^19).
//   S   = sum e_i,  R = floor(2^46 / S)       (a 47-step restoring divider; S >= 2^19)
//   y_i = round(e_i * R / 2^31)               Q1.15
// Error bound versus numpy float64 softmax of x / 2^XFRAC, for a vector of L elements:
//   |y_i - softmax_i| <= 2^-12 + L * 2^-19     (2.7e-4 for L = 16)
// The interpolated 2^-f is within 6.2e-5 (relative) of the exact value; rounding t adds
// <= 2^-13 to t, the 14-bit log2(e) constant <= 8e-5 while e is above 2^-19; each e_i is
// rounded to 2^-20, which moves S by at most L * 2^-20; R and y add <= 2^-16 each.
// Measured on random vectors: about one output LSB (3e-5).
//
// Latency: L load cycles, L exp cycles, 47 divide cycles, then L output cycles;
// in_ready is low from the last input until the last output has left.
`timescale 1ns / 1ps
module softmax_fx #(
    parameter XBITS  = 16,   // input score width (signed)
    parameter XFRAC  = 8,    // fractional bits of the input scores
    parameter MAXLEN = 16    // vector buffer depth (power of two)
) (
    input  wire                    clk,
    input  wire                    rst,       // synchronous, active high
    input  wire                    in_valid,
    output wire                    in_ready,
    input  wire                    in_last,
    input  wire signed [XBITS-1:0] in_x,
    output reg                     out_valid,
    output reg                     out_last,
    output reg  [15:0]             out_y
);
    localparam AW = $clog2(MAXLEN);
    localparam S_LOAD = 2'd0, S_EXP = 2'd1, S_DIV = 2'd2, S_OUT = 2'd3;

    reg [1:0]              state;
    reg [AW:0]             cnt;      // elements loaded / length of the vector
    reg [AW:0]             idx;
    reg signed [XBITS-1:0] mx;
    reg signed [XBITS-1:0] xbuf [0:MAXLEN-1];
    reg [19:0]             ebuf [0:MAXLEN-1];
    reg [27:0]             sum;      // <= MAXLEN * 2^19
    reg [28:0]             rem;
    reg [27:0]             quo;      // R = floor(2^46 / S) <= 2^27
    reg [5:0]              bitpos;

    assign in_ready = (state == S_LOAD);

    // 2^(-k/32) in Q1.19, k = 0..32.
    function [19:0] lut;
        input [5:0] k;
        case (k)
            6'd0: lut = 20'd524288;  6'd1: lut = 20'd513054;  6'd2: lut = 20'd502060;
            6'd3: lut = 20'd491302;  6'd4: lut = 20'd480774;  6'd5: lut = 20'd470472;
            6'd6: lut = 20'd460391;  6'd7: lut = 20'd450526;  6'd8: lut = 20'd440872;
            6'd9: lut = 20'd431425;  6'd10: lut = 20'd422180; 6'd11: lut = 20'd413134;
            6'd12: lut = 20'd404281; 6'd13: lut = 20'd395618; 6'd14: lut = 20'd387141;
            6'd15: lut = 20'd378845; 6'd16: lut = 20'd370728; 6'd17: lut = 20'd362784;
            6'd18: lut = 20'd355010; 6'd19: lut = 20'd347403; 6'd20: lut = 20'd339959;
            6'd21: lut = 20'd332674; 6'd22: lut = 20'd325546; 6'd23: lut = 20'd318570;
            6'd24: lut = 20'd311744; 6'd25: lut = 20'd305063; 6'd26: lut = 20'd298527;
            6'd27: lut = 20'd292130; 6'd28: lut = 20'd285870; 6'd29: lut = 20'd279744;
            6'd30: lut = 20'd273750; 6'd31: lut = 20'd267884; default: lut = 20'd262144;
        endcase
    endfunction

    // exp(-d) for the element at idx (combinational; one element per cycle in S_EXP).
    wire [XBITS:0]  d    = mx - xbuf[idx[AW-1:0]];
    wire [33:0]     tlog = d * 16'd23637 + (34'd1 << (XFRAC + 1));
    wire [33:0]     t12  = tlog >> (XFRAC + 2);
    wire [21:0]     tint = t12[33:12];
    wire [4:0]      seg  = t12[11:7];
    wire [6:0]      frac = t12[6:0];
    wire [19:0]     lo   = lut({1'b0, seg});
    wire [19:0]     hi   = lut({1'b0, seg} + 6'd1);
    wire [20:0]     step = ((lo - hi) * frac + 21'd64) >> 7;
    wire [19:0]     ef   = lo - step[19:0];
    wire [20:0]     half = (tint == 0) ? 21'd0 : (21'd1 << (tint - 1));
    wire [20:0]     eround = (ef + half) >> tint;
    wire [19:0]     e    = (tint > 19) ? 20'd0 : eround[19:0];

    // Restoring division step and the output product.
    wire [28:0]     rem_sh = {rem[27:0], bitpos == 6'd46};
    wire            fits   = rem_sh >= {1'b0, sum};
    wire [47:0]     prod   = ebuf[idx[AW-1:0]] * quo + (48'd1 << 30);

    always @(posedge clk) begin
        out_valid <= 1'b0;
        out_last  <= 1'b0;
        if (rst) begin
            state <= S_LOAD;
            cnt   <= 0;
        end else begin
            case (state)
                S_LOAD: if (in_valid) begin
                    xbuf[cnt[AW-1:0]] <= in_x;
                    if (cnt == 0 || in_x > mx) mx <= in_x;
                    cnt <= cnt + 1'b1;
                    if (in_last) begin
                        state <= S_EXP;
                        idx   <= 0;
                        sum   <= 0;
                    end
                end
                S_EXP: begin
                    ebuf[idx[AW-1:0]] <= e;
                    sum <= sum + {8'd0, e};
                    idx <= idx + 1'b1;
                    if (idx + 1'b1 == cnt) begin
                        state  <= S_DIV;
                        rem    <= 0;
                        bitpos <= 6'd46;
                    end
                end
                S_DIV: begin
                    rem    <= fits ? rem_sh - {1'b0, sum} : rem_sh;
                    quo    <= {quo[26:0], fits};
                    bitpos <= bitpos - 1'b1;
                    if (bitpos == 0) begin
                        state <= S_OUT;
                        idx   <= 0;
                    end
                end
                default: begin   // S_OUT
                    out_valid <= 1'b1;
                    out_y     <= prod[46:31];
                    idx       <= idx + 1'b1;
                    if (idx + 1'b1 == cnt) begin
                        out_last <= 1'b1;
                        state    <= S_LOAD;
                        cnt      <= 0;
                    end
                end
            endcase
        end
    end
endmodule
