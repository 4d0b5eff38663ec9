// The overlay as a Vitis RTL kernel (ap_ctrl_hs): what `v++ --link` connects to the card's
// HBM. It wraps overlay_top (templates/overlay) with
//   * s_axi_control, the AXI4-Lite register file XRT drives: 0x00 control (bit 0 ap_start,
//     1 ap_done - cleared when read, 2 ap_idle, 3 ap_ready), 0x04 GIE, 0x08 IER, 0x0C ISR
//     (no interrupt: XRT polls), then one 8-byte slot per kernel argument in the order of
//     overlay.xrt_host.KERNEL_ARGS: 0x10 prog, 0x18 prog_len, 0x20 start_pc, 0x28 pos,
//     0x30 tok, 0x38 out, 0x40 wqkv, 0x48 wo, 0x50 wffn, 0x58 kv, 0x60 act (buffers are
//     64-bit device addresses, low word first); 0x70 (read only) bit 0: the core saw an
//     AXI error response (sticky until reset);
//   * m_axi_prog (256-bit reads, one instruction a beat): on a call at the init entry
//     (start_pc == 0, where overlay.compiler puts it) the prog_len instructions are copied
//     into the core's instruction memory before it starts;
//   * m_axi_out (32-bit writes): after every call out[0] = {axi_err, 15'b0, argmax token}:
//     bit 31 is the core's sticky AXI error flag, so the host sees a memory error with the
//     token it spoils, without register access (which XRT grants only to an exclusive CU);
//   * the core's five AXI4 masters with each buffer's base address added (the core emits
//     offsets from 0 in its port's image).
// One call = ap_start -> (program load) -> run from start_pc -> token written -> ap_done.
module overlay_kernel #(
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
    parameter IDXB = 4,
    parameter XBUF = 1024,
    parameter TT = 1,         // prefill token slots (batched MV)
    parameter MT = 1,         // token lanes of the batched MV (mm_t)
    parameter SEP = 0,        // a separate MM engine (unified_engine: false)
    parameter MM_K = 8,
    parameter MM_N = 8,
    parameter CAP_MM = 0
) (
    input  wire              ap_clk,
    input  wire              ap_rst_n,
    // ---------------------------------------------------------------- AXI4-Lite control
    input  wire [7:0]        s_axi_control_awaddr,
    input  wire              s_axi_control_awvalid,
    output wire              s_axi_control_awready,
    input  wire [31:0]       s_axi_control_wdata,
    input  wire [3:0]        s_axi_control_wstrb,
    input  wire              s_axi_control_wvalid,
    output wire              s_axi_control_wready,
    output wire [1:0]        s_axi_control_bresp,
    output reg               s_axi_control_bvalid,
    input  wire              s_axi_control_bready,
    input  wire [7:0]        s_axi_control_araddr,
    input  wire              s_axi_control_arvalid,
    output wire              s_axi_control_arready,
    output reg  [31:0]       s_axi_control_rdata,
    output wire [1:0]        s_axi_control_rresp,
    output reg               s_axi_control_rvalid,
    input  wire              s_axi_control_rready,
    // ---------------------------------------------------------------- program reads
    output wire [63:0]       m_axi_prog_araddr,
    output wire [7:0]        m_axi_prog_arlen,
    output wire [2:0]        m_axi_prog_arsize,
    output wire [1:0]        m_axi_prog_arburst,
    output reg               m_axi_prog_arvalid,
    input  wire              m_axi_prog_arready,
    input  wire [255:0]      m_axi_prog_rdata,
    input  wire [1:0]        m_axi_prog_rresp,
    input  wire              m_axi_prog_rvalid,
    input  wire              m_axi_prog_rlast,
    output wire              m_axi_prog_rready,
    // ---------------------------------------------------------------- token write
    output wire [63:0]       m_axi_out_awaddr,
    output wire [7:0]        m_axi_out_awlen,
    output wire [2:0]        m_axi_out_awsize,
    output wire [1:0]        m_axi_out_awburst,
    output reg               m_axi_out_awvalid,
    input  wire              m_axi_out_awready,
    output wire [31:0]       m_axi_out_wdata,
    output wire [3:0]        m_axi_out_wstrb,
    output wire              m_axi_out_wlast,
    output reg               m_axi_out_wvalid,
    input  wire              m_axi_out_wready,
    input  wire [1:0]        m_axi_out_bresp,
    input  wire              m_axi_out_bvalid,
    output wire              m_axi_out_bready,
    // ---------------------------------------------------------------- wqkv
    output wire [63:0]       m_axi_wqkv_araddr,
    output wire [7:0]        m_axi_wqkv_arlen,
    output wire [2:0]        m_axi_wqkv_arsize,
    output wire [1:0]        m_axi_wqkv_arburst,
    output wire              m_axi_wqkv_arvalid,
    input  wire              m_axi_wqkv_arready,
    input  wire [8*BEAT-1:0] m_axi_wqkv_rdata,
    input  wire [1:0]        m_axi_wqkv_rresp,
    input  wire              m_axi_wqkv_rvalid,
    input  wire              m_axi_wqkv_rlast,
    output wire              m_axi_wqkv_rready,
    // ---------------------------------------------------------------- wo
    output wire [63:0]       m_axi_wo_araddr,
    output wire [7:0]        m_axi_wo_arlen,
    output wire [2:0]        m_axi_wo_arsize,
    output wire [1:0]        m_axi_wo_arburst,
    output wire              m_axi_wo_arvalid,
    input  wire              m_axi_wo_arready,
    input  wire [8*BEAT-1:0] m_axi_wo_rdata,
    input  wire [1:0]        m_axi_wo_rresp,
    input  wire              m_axi_wo_rvalid,
    input  wire              m_axi_wo_rlast,
    output wire              m_axi_wo_rready,
    // ---------------------------------------------------------------- wffn
    output wire [63:0]       m_axi_wffn_araddr,
    output wire [7:0]        m_axi_wffn_arlen,
    output wire [2:0]        m_axi_wffn_arsize,
    output wire [1:0]        m_axi_wffn_arburst,
    output wire              m_axi_wffn_arvalid,
    input  wire              m_axi_wffn_arready,
    input  wire [8*BEAT-1:0] m_axi_wffn_rdata,
    input  wire [1:0]        m_axi_wffn_rresp,
    input  wire              m_axi_wffn_rvalid,
    input  wire              m_axi_wffn_rlast,
    output wire              m_axi_wffn_rready,
    // ---------------------------------------------------------------- kv
    output wire [63:0]       m_axi_kv_araddr,
    output wire [7:0]        m_axi_kv_arlen,
    output wire [2:0]        m_axi_kv_arsize,
    output wire [1:0]        m_axi_kv_arburst,
    output wire              m_axi_kv_arvalid,
    input  wire              m_axi_kv_arready,
    input  wire [8*BEAT-1:0] m_axi_kv_rdata,
    input  wire [1:0]        m_axi_kv_rresp,
    input  wire              m_axi_kv_rvalid,
    input  wire              m_axi_kv_rlast,
    output wire              m_axi_kv_rready,
    output wire [63:0]       m_axi_kv_awaddr,
    output wire [7:0]        m_axi_kv_awlen,
    output wire [2:0]        m_axi_kv_awsize,
    output wire [1:0]        m_axi_kv_awburst,
    output wire              m_axi_kv_awvalid,
    input  wire              m_axi_kv_awready,
    output wire [8*BEAT-1:0] m_axi_kv_wdata,
    output wire [BEAT-1:0]   m_axi_kv_wstrb,
    output wire              m_axi_kv_wlast,
    output wire              m_axi_kv_wvalid,
    input  wire              m_axi_kv_wready,
    input  wire [1:0]        m_axi_kv_bresp,
    input  wire              m_axi_kv_bvalid,
    output wire              m_axi_kv_bready,
    // ---------------------------------------------------------------- act
    output wire [63:0]       m_axi_act_araddr,
    output wire [7:0]        m_axi_act_arlen,
    output wire [2:0]        m_axi_act_arsize,
    output wire [1:0]        m_axi_act_arburst,
    output wire              m_axi_act_arvalid,
    input  wire              m_axi_act_arready,
    input  wire [8*BEAT-1:0] m_axi_act_rdata,
    input  wire [1:0]        m_axi_act_rresp,
    input  wire              m_axi_act_rvalid,
    input  wire              m_axi_act_rlast,
    output wire              m_axi_act_rready
);
    // ---------------------------------------------------------------- registers
    reg [63:0] prog_base, out_base, base_wqkv, base_wo, base_wffn, base_kv, base_act;
    reg [31:0] prog_len, arg_pc, arg_pos, arg_tok;
    reg        ap_start, ap_done, ap_ready, gie, ier, isr;
    reg        rst;
    always @(posedge ap_clk) rst <= ~ap_rst_n;

    // AXI4-Lite: a write is taken when address and data are both there (no response
    // outstanding); a read answers the next cycle. The host never writes arguments while
    // the kernel runs, so the registers need no locking.
    wire wr = s_axi_control_awvalid && s_axi_control_wvalid && !s_axi_control_bvalid;
    assign s_axi_control_awready = wr;
    assign s_axi_control_wready = wr;
    assign s_axi_control_bresp = 2'b00;
    assign s_axi_control_arready = !s_axi_control_rvalid;
    assign s_axi_control_rresp = 2'b00;
    wire rd = s_axi_control_arvalid && !s_axi_control_rvalid;
    wire [31:0] wd = s_axi_control_wdata;
    wire idle;

    always @(posedge ap_clk) begin
        if (rst) begin
            s_axi_control_bvalid <= 0;
            s_axi_control_rvalid <= 0;
            ap_start <= 0;
            gie <= 0;
            ier <= 0;
        end else begin
            if (s_axi_control_bvalid && s_axi_control_bready) s_axi_control_bvalid <= 0;
            if (s_axi_control_rvalid && s_axi_control_rready) s_axi_control_rvalid <= 0;
            if (ap_ready) ap_start <= 0;
            if (wr) begin
                s_axi_control_bvalid <= 1;
                case (s_axi_control_awaddr)
                    8'h00: if (wd[0]) ap_start <= 1;
                    8'h04: gie <= wd[0];
                    8'h08: ier <= wd[0];
                    8'h10: prog_base[31:0] <= wd;
                    8'h14: prog_base[63:32] <= wd;
                    8'h18: prog_len <= wd;
                    8'h20: arg_pc <= wd;
                    8'h28: arg_pos <= wd;
                    8'h30: arg_tok <= wd;
                    8'h38: out_base[31:0] <= wd;
                    8'h3c: out_base[63:32] <= wd;
                    8'h40: base_wqkv[31:0] <= wd;
                    8'h44: base_wqkv[63:32] <= wd;
                    8'h48: base_wo[31:0] <= wd;
                    8'h4c: base_wo[63:32] <= wd;
                    8'h50: base_wffn[31:0] <= wd;
                    8'h54: base_wffn[63:32] <= wd;
                    8'h58: base_kv[31:0] <= wd;
                    8'h5c: base_kv[63:32] <= wd;
                    8'h60: base_act[31:0] <= wd;
                    8'h64: base_act[63:32] <= wd;
                    default: ;
                endcase
            end
            if (rd) begin
                s_axi_control_rvalid <= 1;
                case (s_axi_control_araddr)
                    8'h00: s_axi_control_rdata <= {28'd0, ap_ready, idle, ap_done, ap_start};
                    8'h04: s_axi_control_rdata <= {31'd0, gie};
                    8'h08: s_axi_control_rdata <= {31'd0, ier};
                    8'h0c: s_axi_control_rdata <= {31'd0, isr};
                    8'h10: s_axi_control_rdata <= prog_base[31:0];
                    8'h14: s_axi_control_rdata <= prog_base[63:32];
                    8'h18: s_axi_control_rdata <= prog_len;
                    8'h20: s_axi_control_rdata <= arg_pc;
                    8'h28: s_axi_control_rdata <= arg_pos;
                    8'h30: s_axi_control_rdata <= arg_tok;
                    8'h38: s_axi_control_rdata <= out_base[31:0];
                    8'h3c: s_axi_control_rdata <= out_base[63:32];
                    8'h70: s_axi_control_rdata <= {31'd0, axi_err};
                    default: s_axi_control_rdata <= 32'd0;
                endcase
            end
        end
    end

    // ---------------------------------------------------------------- call sequencer
    localparam S_IDLE = 3'd0, S_LOAD_AR = 3'd1, S_LOAD_R = 3'd2, S_START = 3'd3,
               S_SETTLE = 3'd4, S_RUN = 3'd5, S_WRITE = 3'd6, S_RESP = 3'd7;
    reg [2:0] st;
    reg [15:0] ld;
    reg core_start, imem_we;
    reg [15:0] imem_addr;
    reg [255:0] imem_wdata;
    wire core_done;
    wire [15:0] out_token;
    wire [31:0] dbg_data;
    wire axi_err;  // a port answered an error response (sticky until reset)
    assign idle = (st == S_IDLE) && !ap_start;
    assign m_axi_prog_araddr = prog_base + {43'd0, ld, 5'd0};
    assign m_axi_prog_arlen = 8'd0;
    assign m_axi_prog_arsize = 3'd5;     // 32 bytes: one instruction a beat
    assign m_axi_prog_arburst = 2'b01;
    assign m_axi_prog_rready = (st == S_LOAD_R);
    assign m_axi_out_awaddr = out_base;
    assign m_axi_out_awlen = 8'd0;
    assign m_axi_out_awsize = 3'd2;
    assign m_axi_out_awburst = 2'b01;
    assign m_axi_out_wdata = {axi_err, 15'd0, out_token};
    assign m_axi_out_wstrb = 4'hf;
    assign m_axi_out_wlast = 1'b1;
    assign m_axi_out_bready = (st == S_RESP);

    always @(posedge ap_clk) begin
        imem_we <= 0;
        core_start <= 0;
        ap_ready <= 0;
        if (rst) begin
            st <= S_IDLE;
            ap_done <= 0;
            isr <= 0;
            m_axi_prog_arvalid <= 0;
            m_axi_out_awvalid <= 0;
            m_axi_out_wvalid <= 0;
        end else begin
            if (rd && s_axi_control_araddr == 8'h00) ap_done <= 0;  // cleared on read
            case (st)
                S_IDLE: if (ap_start && !ap_ready) begin
                    ld <= 0;
                    st <= (arg_pc == 0 && prog_len != 0) ? S_LOAD_AR : S_START;
                end
                S_LOAD_AR: begin
                    m_axi_prog_arvalid <= 1;
                    if (m_axi_prog_arvalid && m_axi_prog_arready) begin
                        m_axi_prog_arvalid <= 0;
                        st <= S_LOAD_R;
                    end
                end
                S_LOAD_R: if (m_axi_prog_rvalid) begin
                    imem_we <= 1;
                    imem_addr <= ld;
                    imem_wdata <= m_axi_prog_rdata;
                    ld <= ld + 16'd1;
                    st <= (ld + 16'd1 == prog_len[15:0]) ? S_START : S_LOAD_AR;
                end
                S_START: begin
                    core_start <= 1;
                    st <= S_SETTLE;
                end
                S_SETTLE: st <= S_RUN;      // the core drops done the cycle it starts
                S_RUN: if (core_done) begin
                    m_axi_out_awvalid <= 1;
                    m_axi_out_wvalid <= 1;
                    st <= S_WRITE;
                end
                S_WRITE: begin
                    if (m_axi_out_awready) m_axi_out_awvalid <= 0;
                    if (m_axi_out_wready) m_axi_out_wvalid <= 0;
                    if ((!m_axi_out_awvalid || m_axi_out_awready)
                        && (!m_axi_out_wvalid || m_axi_out_wready)) st <= S_RESP;
                end
                S_RESP: if (m_axi_out_bvalid) begin
                    ap_done <= 1;
                    ap_ready <= 1;
                    isr <= ier;
                    st <= S_IDLE;
                end
                default: st <= S_IDLE;
            endcase
        end
    end

    // ---------------------------------------------------------------- the accelerator
    wire [31:0] wqkv_off;
    assign m_axi_wqkv_araddr = base_wqkv + {32'd0, wqkv_off};
    wire [31:0] wo_off;
    assign m_axi_wo_araddr = base_wo + {32'd0, wo_off};
    wire [31:0] wffn_off;
    assign m_axi_wffn_araddr = base_wffn + {32'd0, wffn_off};
    wire [31:0] kv_off;
    assign m_axi_kv_araddr = base_kv + {32'd0, kv_off};
    wire [31:0] act_off;
    assign m_axi_act_araddr = base_act + {32'd0, act_off};
    wire [31:0] kv_awoff;
    assign m_axi_kv_awaddr = base_kv + {32'd0, kv_awoff};

    overlay_top #(
        .MV_K(MV_K), .MV_N(MV_N), .WBITS(WBITS), .SFU_LANES(SFU_LANES), .BEAT(BEAT),
        .LOGBEAT(LOGBEAT), .CAP(CAP), .SPAD(SPAD), .IMEM(IMEM), .OVERLAP(OVERLAP),
        .BURST(BURST), .IDXB(IDXB), .XBUF(XBUF), .TT(TT), .MT(MT),
        .SEP(SEP), .MM_K(MM_K), .MM_N(MM_N), .CAP_MM(CAP_MM)
    ) u_overlay (
        .clk(ap_clk), .rst(rst), .start(core_start), .start_pc(arg_pc[15:0]),
        .pos_in(arg_pos[15:0]), .tok_in(arg_tok[15:0]), .done(core_done),
        .out_token(out_token), .imem_we(imem_we), .imem_addr(imem_addr),
        .imem_wdata(imem_wdata), .dbg_addr(16'd0), .dbg_data(dbg_data), .axi_err(axi_err),
        .m_axi_wqkv_araddr(wqkv_off), .m_axi_wqkv_arlen(m_axi_wqkv_arlen),
        .m_axi_wqkv_arsize(m_axi_wqkv_arsize), .m_axi_wqkv_arburst(m_axi_wqkv_arburst),
        .m_axi_wqkv_arvalid(m_axi_wqkv_arvalid), .m_axi_wqkv_arready(m_axi_wqkv_arready),
        .m_axi_wqkv_rdata(m_axi_wqkv_rdata), .m_axi_wqkv_rresp(m_axi_wqkv_rresp),
        .m_axi_wqkv_rvalid(m_axi_wqkv_rvalid), .m_axi_wqkv_rlast(m_axi_wqkv_rlast),
        .m_axi_wqkv_rready(m_axi_wqkv_rready),
        .m_axi_wo_araddr(wo_off), .m_axi_wo_arlen(m_axi_wo_arlen),
        .m_axi_wo_arsize(m_axi_wo_arsize), .m_axi_wo_arburst(m_axi_wo_arburst),
        .m_axi_wo_arvalid(m_axi_wo_arvalid), .m_axi_wo_arready(m_axi_wo_arready),
        .m_axi_wo_rdata(m_axi_wo_rdata), .m_axi_wo_rresp(m_axi_wo_rresp),
        .m_axi_wo_rvalid(m_axi_wo_rvalid), .m_axi_wo_rlast(m_axi_wo_rlast),
        .m_axi_wo_rready(m_axi_wo_rready),
        .m_axi_wffn_araddr(wffn_off), .m_axi_wffn_arlen(m_axi_wffn_arlen),
        .m_axi_wffn_arsize(m_axi_wffn_arsize), .m_axi_wffn_arburst(m_axi_wffn_arburst),
        .m_axi_wffn_arvalid(m_axi_wffn_arvalid), .m_axi_wffn_arready(m_axi_wffn_arready),
        .m_axi_wffn_rdata(m_axi_wffn_rdata), .m_axi_wffn_rresp(m_axi_wffn_rresp),
        .m_axi_wffn_rvalid(m_axi_wffn_rvalid), .m_axi_wffn_rlast(m_axi_wffn_rlast),
        .m_axi_wffn_rready(m_axi_wffn_rready),
        .m_axi_kv_araddr(kv_off), .m_axi_kv_arlen(m_axi_kv_arlen),
        .m_axi_kv_arsize(m_axi_kv_arsize), .m_axi_kv_arburst(m_axi_kv_arburst),
        .m_axi_kv_arvalid(m_axi_kv_arvalid), .m_axi_kv_arready(m_axi_kv_arready),
        .m_axi_kv_rdata(m_axi_kv_rdata), .m_axi_kv_rresp(m_axi_kv_rresp),
        .m_axi_kv_rvalid(m_axi_kv_rvalid), .m_axi_kv_rlast(m_axi_kv_rlast),
        .m_axi_kv_rready(m_axi_kv_rready),
        .m_axi_act_araddr(act_off), .m_axi_act_arlen(m_axi_act_arlen),
        .m_axi_act_arsize(m_axi_act_arsize), .m_axi_act_arburst(m_axi_act_arburst),
        .m_axi_act_arvalid(m_axi_act_arvalid), .m_axi_act_arready(m_axi_act_arready),
        .m_axi_act_rdata(m_axi_act_rdata), .m_axi_act_rresp(m_axi_act_rresp),
        .m_axi_act_rvalid(m_axi_act_rvalid), .m_axi_act_rlast(m_axi_act_rlast),
        .m_axi_act_rready(m_axi_act_rready),
        .m_axi_kv_awaddr(kv_awoff), .m_axi_kv_awlen(m_axi_kv_awlen),
        .m_axi_kv_awsize(m_axi_kv_awsize), .m_axi_kv_awburst(m_axi_kv_awburst),
        .m_axi_kv_awvalid(m_axi_kv_awvalid), .m_axi_kv_awready(m_axi_kv_awready),
        .m_axi_kv_wdata(m_axi_kv_wdata), .m_axi_kv_wstrb(m_axi_kv_wstrb),
        .m_axi_kv_wlast(m_axi_kv_wlast), .m_axi_kv_wvalid(m_axi_kv_wvalid),
        .m_axi_kv_wready(m_axi_kv_wready), .m_axi_kv_bresp(m_axi_kv_bresp),
        .m_axi_kv_bvalid(m_axi_kv_bvalid), .m_axi_kv_bready(m_axi_kv_bready)
    );
endmodule
