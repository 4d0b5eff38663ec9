"""overlay_top's sticky AXI error flag, in iverilog: an SLVERR/DECERR read or write response
sets ``axi_err`` until reset; OKAY responses do not."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from overlay import sim

RTL = Path(__file__).resolve().parents[2] / "templates" / "overlay"
SOURCES = ["overlay_top.v", *sim.SOURCES]  # the core's files as every simulator builds it
PORTS = ("wqkv", "wo", "wffn", "kv", "act")

# Drives one response per phase and prints axi_err after it: reset, OKAY read on act,
# SLVERR read on `port`, OKAY again (sticky), reset, DECERR write response on kv.
TB = """
module tb;
    reg clk = 0, rst = 1;
    reg [1:0] rresp [0:4];
    reg [4:0] rvalid = 0;
    reg [1:0] bresp = 0;
    reg bvalid = 0;
    wire axi_err;
    always #5 clk = ~clk;
    overlay_top #(.MV_K(8), .MV_N(1), .WBITS(4), .SFU_LANES(1), .BEAT(4), .LOGBEAT(2),
                  .CAP(256), .SPAD(256), .IMEM(64), .BURST(16), .IDXB(0), .XBUF(64)) dut (
        .clk(clk), .rst(rst), .start(1'b0), .start_pc(16'd0), .pos_in(16'd0),
        .tok_in(16'd0), .imem_we(1'b0), .imem_addr(16'd0), .imem_wdata(256'd0),
        .dbg_addr(16'd0), .axi_err(axi_err),
        PORTS
        .m_axi_kv_awready(1'b1), .m_axi_kv_wready(1'b1),
        .m_axi_kv_bresp(bresp), .m_axi_kv_bvalid(bvalid));
    task pulse_r(input integer p, input [1:0] resp);
        begin
            rresp[p] = resp; rvalid[p] = 1; @(posedge clk); #1 rvalid[p] = 0;
            @(posedge clk); #1 $display("%0d", axi_err);
        end
    endtask
    integer i;
    initial begin
        for (i = 0; i < 5; i = i + 1) rresp[i] = 0;
        repeat (3) @(posedge clk); #1 rst = 0;
        @(posedge clk); #1 $display("%0d", axi_err);
        pulse_r(4, 2'b00);
        pulse_r(PORT, 2'b10);
        pulse_r(4, 2'b00);
        rst = 1; @(posedge clk); #1 rst = 0; $display("%0d", axi_err);
        bresp = 2'b11; bvalid = 1; @(posedge clk); #1 bvalid = 0;
        @(posedge clk); #1 $display("%0d", axi_err);
        $finish;
    end
endmodule
"""


def _port_conns() -> str:
    out = []
    for i, g in enumerate(PORTS):
        out += [
            f".m_axi_{g}_arready(1'b1)",
            f".m_axi_{g}_rdata(32'd0)",
            f".m_axi_{g}_rresp(rresp[{i}])",
            f".m_axi_{g}_rvalid(rvalid[{i}])",
            f".m_axi_{g}_rlast(1'b1)",
        ]
    return ", ".join(out) + ","


@pytest.mark.skipif(shutil.which("iverilog") is None, reason="iverilog not installed")
@pytest.mark.parametrize("port", [0, 3])
def test_error_response_is_sticky_until_reset(tmp_path: Path, port: int) -> None:
    tb = tmp_path / "tb.v"
    tb.write_text(TB.replace("PORTS", _port_conns()).replace("PORT,", f"{port},"))
    exe = tmp_path / "tb.vvp"
    build = subprocess.run(
        ["iverilog", "-g2005", "-o", str(exe), str(tb), *(str(RTL / s) for s in SOURCES)],
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stderr[-2000:]
    run = subprocess.run(["vvp", "-n", str(exe)], capture_output=True, text=True, timeout=300)
    seen = [ln.strip() for ln in run.stdout.splitlines() if ln.strip() in ("0", "1")]
    # after reset, after OKAY, after the error, after OKAY again, after reset, after DECERR
    assert seen == ["0", "0", "1", "1", "0", "1"], run.stdout[-1000:]
