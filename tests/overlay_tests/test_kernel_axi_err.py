"""The XRT kernel passes overlay_top's sticky AXI error flag to its host: bit 31 of the out
word it writes after every call (iverilog, the kernel driven over s_axi_control as XRT
drives it), and the host runner stops with a clear error when it sees it."""

from __future__ import annotations

import shutil
import subprocess
import types
from pathlib import Path

import pytest

from overlay.xrt_host import KernelError, XrtRunner
from tests.overlay_tests import fake_pyxrt
from tests.overlay_tests.test_axi_err import SOURCES as AXI_SOURCES
from tests.overlay_tests.test_axi_err import _port_conns
from tests.overlay_tests.test_xrt_host import _release

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [ROOT / "templates" / "overlay_kernel" / "overlay_kernel.v"] + [
    ROOT / "templates" / "overlay" / s for s in AXI_SOURCES
]

# Two calls at the init entry with a one-instruction program (END, all-zero words): the
# first with clean memories, then an SLVERR read response on wqkv, then the second. Each
# call prints the out word the kernel writes, then register 0x70.
TB = """
module tb;
    reg clk = 0, rst_n = 0;
    always #5 clk = ~clk;
    reg [7:0] awaddr = 0, araddr = 0;
    reg awvalid = 0, wvalid = 0, arvalid = 0;
    reg [31:0] wdata = 0;
    wire awready, wready, arready, c_rvalid, bvalid;
    wire [31:0] rdata, out_wdata;
    wire out_wvalid;
    reg [1:0] rresp [0:4];
    reg [4:0] rvalid = 0;
    integer k;
    overlay_kernel #(.MV_K(8), .MV_N(1), .WBITS(4), .SFU_LANES(1), .BEAT(4), .LOGBEAT(2),
                     .CAP(256), .SPAD(256), .IMEM(64), .BURST(16), .IDXB(0), .XBUF(64)) dut (
        .ap_clk(clk), .ap_rst_n(rst_n),
        .s_axi_control_awaddr(awaddr), .s_axi_control_awvalid(awvalid),
        .s_axi_control_awready(awready), .s_axi_control_wdata(wdata),
        .s_axi_control_wstrb(4'hf), .s_axi_control_wvalid(wvalid),
        .s_axi_control_wready(wready), .s_axi_control_bvalid(bvalid),
        .s_axi_control_bready(1'b1), .s_axi_control_araddr(araddr),
        .s_axi_control_arvalid(arvalid), .s_axi_control_arready(arready),
        .s_axi_control_rdata(rdata), .s_axi_control_rvalid(c_rvalid),
        .s_axi_control_rready(1'b1),
        .m_axi_prog_arready(1'b1), .m_axi_prog_rdata(256'd0), .m_axi_prog_rresp(2'b00),
        .m_axi_prog_rvalid(1'b1), .m_axi_prog_rlast(1'b1),
        .m_axi_out_awready(1'b1), .m_axi_out_wdata(out_wdata), .m_axi_out_wvalid(out_wvalid),
        .m_axi_out_wready(1'b1), .m_axi_out_bresp(2'b00), .m_axi_out_bvalid(1'b1),
        PORTS
        .m_axi_kv_awready(1'b1), .m_axi_kv_wready(1'b1), .m_axi_kv_bresp(2'b00),
        .m_axi_kv_bvalid(1'b0));
    task wr(input [7:0] a, input [31:0] d);
        begin
            awaddr = a; wdata = d; awvalid = 1; wvalid = 1;
            @(posedge clk); while (!awready) @(posedge clk);
            #1 awvalid = 0; wvalid = 0; @(posedge clk); #1;
        end
    endtask
    task rd(input [7:0] a);
        begin
            araddr = a; arvalid = 1;
            @(posedge clk); while (!arready) @(posedge clk);
            #1 arvalid = 0;
            while (!c_rvalid) @(posedge clk);
            #1 $display("reg %0h %0h", a, rdata);
        end
    endtask
    task call;
        begin
            wr(8'h18, 1); wr(8'h20, 0); wr(8'h00, 1);
            while (!out_wvalid) @(posedge clk);
            #1 $display("out %0h", out_wdata);
            repeat (4) @(posedge clk); #1;
            rd(8'h70);
        end
    endtask
    initial begin
        for (k = 0; k < 5; k = k + 1) rresp[k] = 0;
        repeat (4) @(posedge clk); #1 rst_n = 1;
        repeat (2) @(posedge clk); #1;
        call;
        rresp[0] = 2'b10; rvalid[0] = 1; @(posedge clk); #1 rvalid[0] = 0; rresp[0] = 0;
        call;
        $finish;
    end
    initial begin #200000 $display("timeout"); $finish; end
endmodule
"""


@pytest.mark.skipif(shutil.which("iverilog") is None, reason="iverilog not installed")
def test_the_out_word_carries_the_axi_error_flag(tmp_path: Path) -> None:
    (tmp_path / "tb.v").write_text(TB.replace("PORTS", _port_conns()))
    exe = tmp_path / "tb.vvp"
    argv = ["iverilog", "-g2005", "-o", str(exe), str(tmp_path / "tb.v"), *map(str, SOURCES)]
    built = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr
    done = subprocess.run(["vvp", "-n", str(exe)], capture_output=True, text=True, timeout=600)
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith(("out", "reg", "timeout"))]
    # token 0 (END leaves the argmax at 0): clean, then flagged in bit 31 and at 0x70
    assert lines == ["out 0", "reg 70 0", "out 80000000", "reg 70 1"], done.stdout


def test_the_runner_stops_on_the_flag(tmp_path: Path) -> None:
    _, _, xclbin = _release(tmp_path)

    class FlaggingKernel(fake_pyxrt.kernel):  # the stand-in, with a port that failed
        def __call__(self, *args: object) -> object:
            run = super().__call__(*args)  # type: ignore[arg-type]
            out = args[5]
            out.data[3] |= 0x80  # type: ignore[attr-defined]
            return run

    xrt = types.SimpleNamespace(**{k: getattr(fake_pyxrt, k) for k in dir(fake_pyxrt)})
    xrt.kernel = FlaggingKernel
    runner = XrtRunner(tmp_path, xclbin, xrt=xrt)
    with pytest.raises(KernelError, match=r"AXI error flag.*SLVERR or DECERR"):
        runner.generate([5, 9], 2)
