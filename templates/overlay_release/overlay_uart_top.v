// Released overlay accelerator for a board without external memory: program and weight
// image in on-chip memory initialised in the bitstream, a UART host interface.
//
// Protocol (8N1, CPB clocks per bit; little-endian):
//   host -> board: 0xA5, n_prompt (1..255), n_gen (1..255), n_prompt x uint16 token ids
//   board -> host: 0x5A, status (0 ok, 1 refused: n_prompt + n_gen - 1 > MAX_POS or a 0,
//                  2 refused: memory error, below), then when ok n_gen x uint16 generated
//                  token ids, as each is decoded, then uint32 cycles spent in the step
//                  program (prefill + decode).
//   Memory error: a port memory was addressed past the words it holds (ov_memslave's err,
//   sticky until power-on reset; the tokens are no longer the model's). A request running
//   when it happens ends after the step with uint16 0xFFFF (no token id: vocab < 65536)
//   and the status byte 2; every later request is answered with status 2.
// Every request runs the init program, then the prompt and greedy decode, exactly as the
// core's simulation harness does. Prefill is serial (TT = 1: each prompt token through
// the step program) or batched (TT > 1 token slots: per chunk of up to TT tokens each slot's
// embedding entry started with its token, then the chunk's body, which fetches every weight
// tile once for the chunk; after the last chunk the LM head of its last slot gives the first
// token). F_PF holds the batched entry points, one a line: embed[0..TT-1], body[0..TT-1]
// (per chunk size), head[0..TT-1].
module overlay_uart_top #(
    parameter MV_K = 8,
    parameter MV_N = 8,
    parameter WBITS = 8,
    parameter SFU_LANES = 4,
    parameter BEAT = 16,
    parameter LOGBEAT = 4,
    parameter CAP = 512,
    parameter SPAD = 4096,
    parameter IMEM = 256,
    parameter OVERLAP = 1,
    parameter BURST = 256,
    parameter IDXB = 4,                // N:M index bits of the weight decoder
    parameter XBUF = 1024,             // x-buffer words (longest MV reduction)
    parameter CPB = 217,               // clock / baud (25 MHz / 115200)
    parameter AW_WQKV = 10,            // log2(words of BEAT bytes) of each port's memory
    parameter AW_WO = 10,
    parameter AW_WFFN = 10,
    parameter AW_KV = 10,
    parameter AW_ACT = 10,
    parameter N_WQKV = 0,              // words of each port's memory (0: 2^AW_*)
    parameter N_WO = 0,
    parameter N_WFFN = 0,
    parameter N_KV = 0,
    parameter N_ACT = 0,
    parameter PROG_LEN = 64,
    parameter INIT_PC = 0,
    parameter STEP_PC = 1,
    parameter MAX_POS = 32,
    parameter TT = 1,                  // prefill token slots (1: serial prefill)
    parameter MT = 1,                  // token lanes of the batched MV (mm_t, divides TT)
    parameter F_WQKV = "wqkv.hex",
    parameter F_WO = "wo.hex",
    parameter F_WFFN = "wffn.hex",
    parameter F_KV = "kv.hex",
    parameter F_ACT = "act.hex",
    parameter F_PROG = "prog.hex",
    parameter F_PF = "pf.hex"
) (
    input  wire clk,
    input  wire uart_rx,
    output wire uart_tx
);
    // power-on reset: flops start at their initial values (ECP5 and Verilator both honour them)
    reg [7:0] por = 8'd0;
    wire rst = ~&por;
    always @(posedge clk) if (rst) por <= por + 8'd1;

    // ------------------------------------------------------------------ core and memories
    localparam W = 8 * BEAT;
    wire [5*32-1:0] araddr;
    wire [5*8-1:0] arlen;
    wire [4:0] arvalid, arready, rvalid, rlast, rready;
    wire [5*W-1:0] rdata;
    wire [31:0] awaddr;
    wire awvalid, wvalid, bready, wlast;
    wire [W-1:0] wdata;
    wire [BEAT-1:0] wstrb;
    wire kv_awready, kv_wready, kv_bvalid;
    wire core_done;
    wire [15:0] out_token;
    reg core_start;
    reg [15:0] core_pc, core_pos, core_tok;
    reg imem_we;
    reg [15:0] imem_addr;
    reg [255:0] imem_wdata;
    wire [31:0] dbg_data;
    wire [5*3-1:0] arsize_unused;
    wire [5*2-1:0] arburst_unused;
    wire [7:0] awlen_unused;
    wire [2:0] awsize_unused;
    wire [1:0] awburst_unused;
    wire [4:0] mem_errs;
    wire mem_err = |mem_errs;

    overlay_core #(
        .MV_K(MV_K), .MV_N(MV_N), .WBITS(WBITS), .SFU_LANES(SFU_LANES), .BEAT(BEAT),
        .LOGBEAT(LOGBEAT), .CAP(CAP), .SPAD(SPAD), .IMEM(IMEM), .OVERLAP(OVERLAP),
        .BURST(BURST), .IDXB(IDXB), .XBUF(XBUF), .TT(TT), .MT(MT)
    ) u_core (
        .clk(clk), .rst(rst), .mut(4'd0), .start(core_start), .start_pc(core_pc),
        .pos_in(core_pos), .tok_in(core_tok), .done(core_done), .out_token(out_token),
        .imem_we(imem_we), .imem_addr(imem_addr), .imem_wdata(imem_wdata),
        .dbg_addr(16'd0), .dbg_data(dbg_data),
        .araddr(araddr), .arlen(arlen), .arsize(arsize_unused), .arburst(arburst_unused),
        .arvalid(arvalid), .arready(arready), .rdata(rdata), .rvalid(rvalid), .rlast(rlast),
        .rready(rready),
        .awaddr(awaddr), .awlen(awlen_unused), .awsize(awsize_unused),
        .awburst(awburst_unused), .awvalid(awvalid), .awready(kv_awready), .wdata(wdata),
        .wstrb(wstrb), .wlast(wlast), .wvalid(wvalid), .wready(kv_wready),
        .bvalid(kv_bvalid), .bready(bready)
    );

    // port order of the core: 0 wqkv, 1 wo, 2 wffn, 3 kv (read + write), 4 act
    ov_memslave #(.BEAT(BEAT), .LOGBEAT(LOGBEAT), .AW(AW_WQKV), .WORDS(N_WQKV), .INIT(F_WQKV), .WRITABLE(0)) u_mem0 (
        .clk(clk), .rst(rst), .araddr(araddr[0*32 +: 32]), .arlen(arlen[0*8 +: 8]),
        .arvalid(arvalid[0]), .arready(arready[0]), .rdata(rdata[0*W +: W]),
        .rvalid(rvalid[0]), .rlast(rlast[0]), .rready(rready[0]), .awaddr(32'd0),
        .awvalid(1'b0), .awready(), .wdata({W{1'b0}}), .wstrb({BEAT{1'b0}}),
        .wvalid(1'b0), .wready(), .bvalid(), .err(mem_errs[0])
    );
    ov_memslave #(.BEAT(BEAT), .LOGBEAT(LOGBEAT), .AW(AW_WO), .WORDS(N_WO), .INIT(F_WO), .WRITABLE(0)) u_mem1 (
        .clk(clk), .rst(rst), .araddr(araddr[1*32 +: 32]), .arlen(arlen[1*8 +: 8]),
        .arvalid(arvalid[1]), .arready(arready[1]), .rdata(rdata[1*W +: W]),
        .rvalid(rvalid[1]), .rlast(rlast[1]), .rready(rready[1]), .awaddr(32'd0),
        .awvalid(1'b0), .awready(), .wdata({W{1'b0}}), .wstrb({BEAT{1'b0}}),
        .wvalid(1'b0), .wready(), .bvalid(), .err(mem_errs[1])
    );
    ov_memslave #(.BEAT(BEAT), .LOGBEAT(LOGBEAT), .AW(AW_WFFN), .WORDS(N_WFFN), .INIT(F_WFFN), .WRITABLE(0)) u_mem2 (
        .clk(clk), .rst(rst), .araddr(araddr[2*32 +: 32]), .arlen(arlen[2*8 +: 8]),
        .arvalid(arvalid[2]), .arready(arready[2]), .rdata(rdata[2*W +: W]),
        .rvalid(rvalid[2]), .rlast(rlast[2]), .rready(rready[2]), .awaddr(32'd0),
        .awvalid(1'b0), .awready(), .wdata({W{1'b0}}), .wstrb({BEAT{1'b0}}),
        .wvalid(1'b0), .wready(), .bvalid(), .err(mem_errs[2])
    );
    ov_memslave #(.BEAT(BEAT), .LOGBEAT(LOGBEAT), .AW(AW_ACT), .WORDS(N_ACT), .INIT(F_ACT), .WRITABLE(0)) u_mem4 (
        .clk(clk), .rst(rst), .araddr(araddr[4*32 +: 32]), .arlen(arlen[4*8 +: 8]),
        .arvalid(arvalid[4]), .arready(arready[4]), .rdata(rdata[4*W +: W]),
        .rvalid(rvalid[4]), .rlast(rlast[4]), .rready(rready[4]), .awaddr(32'd0),
        .awvalid(1'b0), .awready(), .wdata({W{1'b0}}), .wstrb({BEAT{1'b0}}),
        .wvalid(1'b0), .wready(), .bvalid(), .err(mem_errs[4])
    );
    ov_memslave #(.BEAT(BEAT), .LOGBEAT(LOGBEAT), .AW(AW_KV), .WORDS(N_KV), .INIT(F_KV), .WRITABLE(1)) u_mem3 (
        .clk(clk), .rst(rst), .araddr(araddr[3*32 +: 32]), .arlen(arlen[3*8 +: 8]),
        .arvalid(arvalid[3]), .arready(arready[3]), .rdata(rdata[3*W +: W]),
        .rvalid(rvalid[3]), .rlast(rlast[3]), .rready(rready[3]), .awaddr(awaddr),
        .awvalid(awvalid), .awready(kv_awready), .wdata(wdata), .wstrb(wstrb),
        .wvalid(wvalid), .wready(kv_wready), .bvalid(kv_bvalid), .err(mem_errs[3])
    );

    // ------------------------------------------------------------------ UART
    wire rx_valid, tx_busy;
    wire [7:0] rx_data;
    reg tx_start;
    reg [7:0] tx_data;
    ov_uart_rx #(.CPB(CPB)) u_rx (.clk(clk), .rst(rst), .rx(uart_rx), .valid(rx_valid), .data(rx_data));
    ov_uart_tx #(.CPB(CPB)) u_tx (.clk(clk), .rst(rst), .start(tx_start), .data(tx_data), .busy(tx_busy), .tx(uart_tx));

    // ------------------------------------------------------------------ program ROM
    localparam PAW = (PROG_LEN <= 2) ? 1 : $clog2(PROG_LEN);
    reg [255:0] prog [0:(1<<PAW)-1];
    initial $readmemh(F_PROG, prog);
    reg [255:0] prog_q;
    reg [15:0] pf_pc [0:31];  // batched prefill entries (F_PF: 3*TT lines, TT <= 8)
    initial $readmemh(F_PF, pf_pc);

    // ------------------------------------------------------------------ host sequencer
    localparam S_BOOT_RD = 5'd0, S_BOOT_WR = 5'd1, S_MAGIC = 5'd2, S_NP = 5'd3, S_NG = 5'd4,
               S_LO = 5'd5, S_HI = 5'd6, S_CHECK = 5'd7, S_INIT = 5'd8, S_WAIT1 = 5'd9,
               S_WAIT2 = 5'd10, S_STEP = 5'd11, S_AFTER = 5'd12, S_SEND = 5'd13,
               S_SEND1 = 5'd14, S_SEND2 = 5'd15, S_CYC = 5'd16, S_PF = 5'd17;
    reg [4:0] st, ret, sret;
    reg [15:0] ld;
    reg [7:0] np, ng, lo;
    reg [8:0] idx, i;
    reg [15:0] prompt [0:255];
    reg [31:0] sbuf, cyc;
    reg [2:0] scount;
    reg counting;
    wire [8:0] steps = {1'b0, np} + {1'b0, ng} - 9'd1;
    // batched prefill: i is the chunk's first position, pf_n its tokens, pt the next slot,
    // pph 0 embedding entries, 1 body, 2 LM head (after the last chunk)
    reg [3:0] pt;
    reg [1:0] pph;
    localparam [8:0] TT9 = TT[8:0];
    wire [8:0] pf_left = {1'b0, np} - i;
    wire [8:0] pf_n = (pf_left < TT9) ? pf_left : TT9;
    wire [4:0] pf_body = TT9[4:0] + pf_n[4:0] - 5'd1;           // body of pf_n tokens
    wire [4:0] pf_head = TT9[4:0] + TT9[4:0] + pf_n[4:0] - 5'd1;  // head of slot pf_n-1

    always @(posedge clk) begin
        imem_we <= 0;
        tx_start <= 0;
        if (rst) begin
            st <= S_BOOT_RD;
            ld <= 0;
            core_start <= 0;
        end else case (st)
            S_BOOT_RD: begin
                prog_q <= prog[ld[PAW-1:0]];
                st <= S_BOOT_WR;
            end
            S_BOOT_WR: begin
                imem_we <= 1;
                imem_addr <= ld;
                imem_wdata <= prog_q;
                ld <= ld + 16'd1;
                st <= (ld + 16'd1 == PROG_LEN[15:0]) ? S_MAGIC : S_BOOT_RD;
            end
            S_MAGIC: if (rx_valid && rx_data == 8'hA5) st <= S_NP;
            S_NP: if (rx_valid) begin np <= rx_data; st <= S_NG; end
            S_NG: if (rx_valid) begin
                ng <= rx_data;
                idx <= 0;
                st <= (np == 0) ? S_CHECK : S_LO;
            end
            S_LO: if (rx_valid) begin lo <= rx_data; st <= S_HI; end
            S_HI: if (rx_valid) begin
                prompt[idx[7:0]] <= {rx_data, lo};
                idx <= idx + 9'd1;
                if (idx + 9'd1 == {1'b0, np}) st <= S_CHECK;
                else st <= S_LO;
            end
            S_CHECK: begin
                if (mem_err) begin
                    sbuf <= 32'h025A;
                    sret <= S_MAGIC;
                end else if (np != 0 && ng != 0 && steps <= MAX_POS[8:0]) begin
                    sbuf <= 32'h005A;
                    sret <= S_INIT;
                end else begin
                    sbuf <= 32'h015A;
                    sret <= S_MAGIC;
                end
                scount <= 3'd2;
                st <= S_SEND;
            end
            S_INIT: begin
                core_pc <= INIT_PC[15:0];
                core_pos <= 0;
                core_tok <= 0;
                core_start <= 1;
                counting <= 0;
                i <= 0;
                cyc <= 0;
                pt <= 0;
                pph <= 0;
                ret <= (TT > 1) ? S_PF : S_STEP;
                st <= S_WAIT1;
            end
            S_PF: begin  // the next call of the batched prefill (TT > 1 only)
                core_start <= 1;
                counting <= 1;
                ret <= S_PF;
                st <= S_WAIT1;
                if (pph == 2'd0) begin
                    core_pc <= pf_pc[{1'b0, pt}];
                    core_pos <= {7'd0, i} + {12'd0, pt};
                    core_tok <= prompt[i[7:0] + {4'd0, pt}];
                    pt <= pt + 4'd1;
                    if ({5'd0, pt} + 9'd1 == pf_n) pph <= 2'd1;
                end else if (pph == 2'd1) begin
                    core_pc <= pf_pc[pf_body];
                    core_pos <= {7'd0, i};
                    pt <= 0;
                    if (i + pf_n >= {1'b0, np}) pph <= 2'd2;
                    else begin
                        pph <= 2'd0;
                        i <= i + pf_n;
                    end
                end else begin  // S_AFTER sends its token and decode goes on at np
                    core_pc <= pf_pc[pf_head];
                    core_pos <= {7'd0, i} + {7'd0, pf_n} - 16'd1;
                    i <= {1'b0, np} - 9'd1;
                    ret <= S_AFTER;
                end
            end
            S_WAIT1: begin  // the core takes start this cycle; done falls after it
                core_start <= 0;
                if (counting) cyc <= cyc + 32'd1;
                st <= S_WAIT2;
            end
            S_WAIT2: begin
                if (counting) cyc <= cyc + 32'd1;
                if (core_done) st <= ret;
            end
            S_STEP: begin
                if (i == steps) begin
                    sbuf <= cyc;
                    scount <= 3'd4;
                    sret <= S_MAGIC;
                    st <= S_SEND;
                end else begin
                    core_pc <= STEP_PC[15:0];
                    core_pos <= {7'd0, i};
                    core_tok <= (i < {1'b0, np}) ? prompt[i[7:0]] : out_token;
                    core_start <= 1;
                    counting <= 1;
                    ret <= S_AFTER;
                    st <= S_WAIT1;
                end
            end
            S_AFTER: begin
                i <= i + 9'd1;
                if (mem_err) begin  // the step read or wrote past a memory: say so, stop
                    sbuf <= 32'h0002FFFF;
                    scount <= 3'd3;
                    sret <= S_MAGIC;
                    st <= S_SEND;
                end else if (i + 9'd1 >= {1'b0, np}) begin  // this step's argmax is a generated token
                    sbuf <= {16'd0, out_token};
                    scount <= 3'd2;
                    sret <= S_STEP;
                    st <= S_SEND;
                end else st <= S_STEP;
            end
            S_SEND: begin
                if (scount == 0) st <= sret;
                else if (!tx_busy) begin
                    tx_data <= sbuf[7:0];
                    tx_start <= 1;
                    sbuf <= sbuf >> 8;
                    scount <= scount - 3'd1;
                    st <= S_SEND1;
                end
            end
            S_SEND1: st <= S_SEND2;          // the transmitter takes start this cycle
            S_SEND2: if (!tx_busy) st <= S_SEND;
            default: st <= S_MAGIC;
        endcase
    end
endmodule
