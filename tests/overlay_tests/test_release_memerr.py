"""The released top tells its host about a memory error: an on-chip port memory addressed
past the words it holds (ov_memslave's sticky ``err``, the on-chip DECERR) ends the running
request with 0xFFFF and status 2, later requests get status 2, and ``run_uart`` (what
``dse run`` calls) raises one clear error saying so."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from overlay.onchip import encode_request, run_uart
from overlay.onchip_sim import SimPort, build
from tests.overlay_tests.test_release_uart import released  # noqa: F401 (fixture)

RELEASE = Path(__file__).resolve().parents[2] / "templates" / "overlay_release"

TB = """
module tb;
    reg clk = 0, rst = 1, arvalid = 0, awvalid = 0, wvalid = 0;
    reg [31:0] araddr = 0, awaddr = 0;
    reg [7:0] arlen = 0;
    wire err, arready, rvalid, rlast, awready, wready, bvalid;
    wire [31:0] rdata;
    always #5 clk = ~clk;
    ov_memslave #(.BEAT(4), .LOGBEAT(2), .AW(4), .WRITABLE(1)) m (
        .clk(clk), .rst(rst), .araddr(araddr), .arlen(arlen), .arvalid(arvalid),
        .arready(arready), .rdata(rdata), .rvalid(rvalid), .rlast(rlast), .rready(1'b1),
        .awaddr(awaddr), .awvalid(awvalid), .awready(awready), .wdata(32'd0),
        .wstrb(4'hf), .wvalid(wvalid), .wready(wready), .bvalid(bvalid), .err(err));
    task burst(input [31:0] a, input [7:0] n);
        begin
            araddr = a; arlen = n; arvalid = 1; @(posedge clk); #1 arvalid = 0;
            repeat (20) @(posedge clk); #1 $display("%0d", err);
        end
    endtask
    initial begin
        repeat (2) @(posedge clk); #1 rst = 0;
        burst(32'd0, 8'd15);       // words 0..15 of 16: inside
        burst(32'd60, 8'd0);       // word 15: inside
        burst(32'd32, 8'd8);       // words 8..16: one past the end
        rst = 1; @(posedge clk); #1 rst = 0; #1 $display("%0d", err);
        awaddr = 32'd64; awvalid = 1; wvalid = 1; @(posedge clk); #1 awvalid = 0; wvalid = 0;
        @(posedge clk); #1 $display("%0d", err);
        $finish;
    end
endmodule
"""


@pytest.mark.skipif(shutil.which("iverilog") is None, reason="iverilog not installed")
def test_memslave_flags_an_access_past_its_words(tmp_path: Path) -> None:
    (tmp_path / "tb.v").write_text(TB)
    exe = tmp_path / "tb.vvp"
    argv = ["iverilog", "-g2005", "-o", str(exe), str(tmp_path / "tb.v")]
    built = subprocess.run([*argv, str(RELEASE / "ov_memslave.v")], capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    done = subprocess.run(["vvp", "-n", str(exe)], capture_output=True, text=True, timeout=120)
    # inside, inside, past the end (sticky), cleared by reset, a write past the end
    assert done.stdout.split() == ["0", "0", "1", "0", "1"], done.stdout


class _Board:
    """A serial port whose board answers with ``reply``."""

    def __init__(self, reply: bytes) -> None:
        self.reply = reply

    def write(self, data: bytes, /) -> int:
        return len(data)

    def read(self, size: int = 1, /) -> bytes:
        out, self.reply = self.reply[:size], self.reply[size:]
        return out


def test_run_uart_says_which_error() -> None:
    with pytest.raises(ValueError, match="stopped after 1 tokens: it reports a memory error"):
        run_uart(_Board(b"\x5a\x00\x07\x00\xff\xff\x02"), [1, 2], 4)
    with pytest.raises(ValueError, match=r"board reports a memory error.*reload the bitstream"):
        run_uart(_Board(b"\x5a\x02"), [1, 2], 4)
    with pytest.raises(ValueError, match="refused the request: prompt"):
        run_uart(_Board(b"\x5a\x01"), [1, 2], 4)
    with pytest.raises(ValueError, match="unknown status 9"):
        run_uart(_Board(b"\x5a\x09"), [1, 2], 4)


@pytest.mark.skipif(shutil.which("verilator") is None, reason="verilator not installed")
def test_released_top_with_a_short_kv_memory_reports_it(released, tmp_path: Path) -> None:  # noqa: F811
    """The tiny release with its KV memory halved: the later layers' KV rows fall past it."""
    _, folder, section = released
    params = dict(section["params"])
    params["AW_KV"] -= 1
    if "N_KV" in params:
        params["N_KV"] = 0  # 2^AW_KV words
    images = tmp_path / "onchip"
    shutil.copytree(folder / "onchip", images)
    kv = (images / "kv.hex").read_text().split()
    (images / "kv.hex").write_text("\n".join(kv[: 1 << params["AW_KV"]]) + "\n")
    with SimPort(build(params), images, params["CPB"], timeout=300) as port:
        with pytest.raises(ValueError, match="stopped after 0 tokens: it reports a memory"):
            run_uart(port, [1, 2, 3], 4)
        port.write(encode_request([1], 1))  # sticky: the next request is refused
        head = b""
        while len(head) < 2 and (got := port.read(2 - len(head))):
            head += got
        assert head == b"\x5a\x02"
