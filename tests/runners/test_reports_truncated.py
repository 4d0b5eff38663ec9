"""A report cut short is an error naming the file, never a report with different numbers.

Every real fixture is cut at many offsets; each cut either parses into a subset of the whole
report's values (same keys, same values) or raises ``ReportParseError`` naming the file.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from runners.reports import ReportParseError, parse_report, parse_text

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "reports"
NOT_REPORTS = {"INDEX.txt", "MANIFEST.tsv", "FORMAT_NOTES.txt", "FAILURE_LOG_LINES.txt"}
NAMES = (
    sorted(p.name for p in FIXTURES.iterdir() if p.name not in NOT_REPORTS and p.suffix != ".tcl")
    if FIXTURES.is_dir()
    else []
)
needs_fixtures = pytest.mark.skipif(not FIXTURES.is_dir(), reason=f"{FIXTURES} absent")
CUTS = 40  # random offsets per fixture, plus the offsets next to every line end near the tail


def _offsets(text: str, seed: int) -> list[int]:
    rng = random.Random(seed)
    n = len(text)
    picks = {rng.randrange(1, n) for _ in range(CUTS)}
    # Line ends in the last 3 KB: where a closing border, verdict or exit line is lost.
    ends = [i for i in range(max(1, n - 3000), n) if text[i - 1] == "\n"]
    picks.update(ends[-30:])
    picks.update(e - 1 for e in ends[-30:] if e > 1)
    return sorted(picks)


def _same_or_fewer(cut: dict[str, object], full: dict[str, object]) -> list[str]:
    return [
        f"{k}: {v!r} vs {full.get(k, '<absent>')!r}"
        for k, v in cut.items()
        if full.get(k, "<absent>") != v
    ]


@needs_fixtures
@pytest.mark.parametrize("name", NAMES)
def test_cut_report_is_an_error_or_a_subset(name: str) -> None:
    text = (FIXTURES / name).read_text("utf-8", errors="replace")
    whole = parse_text(text, name)
    full = whole.values
    for k in _offsets(text, seed=len(name)):
        try:
            cut = parse_text(text[:k], name)
        except ReportParseError as exc:
            assert str(exc).startswith(name), str(exc)
            continue
        wrong = _same_or_fewer(cut.values, full)
        assert not wrong, f"cut at {k}/{len(text)} as {cut.kind}: {wrong}"
        assert cut.kind == whole.kind, f"cut at {k}/{len(text)} read as {cut.kind}"


def _cut_file(tmp_path: Path, name: str, fraction: float) -> Path:
    text = (FIXTURES / name).read_text("utf-8", errors="replace")
    out = tmp_path / name
    out.write_text(text[: int(len(text) * fraction)], encoding="utf-8")
    return out


@needs_fixtures
@pytest.mark.parametrize(
    ("name", "fraction"),
    [
        # a cut csynth.rpt used to give lut 0 (the Modules & Loops table lost its rows)
        (
            "nmath018__topK_feature___x.hw.xilinx_u250_gen3x16_xdma_4_1_202210_1__krnl__"
            "topKQueryScores__topKQueryScores__solution__syn__report__csynth.rpt",
            0.1,
        ),
        # a cut system_estimate gave another Fmax (a Timing Information row was missing)
        ("UniqueMR__ESE5320-Final-Project___x__reports__link__system_estimate_kernel.xtxt", 0.6),
        # a cut runme.log gave the WNS of an earlier phase
        ("samuelkravitz__RFSOC__project_1__project_1.runs__impl_1__runme.log", 0.6),
        # a cut timing summary (streamed from disk) lost clocks
        (
            "nmath018__topK_feature___x.hw.xilinx_u250_gen3x16_xdma_4_1_202210_1__link__vivado__"
            "vpl__prj__prj.runs__impl_1__dr_timing_summary.rpt",
            0.04,
        ),
    ],
)
def test_issue_cases_from_disk(tmp_path: Path, name: str, fraction: float) -> None:
    path = _cut_file(tmp_path, name, fraction)
    full = parse_report(FIXTURES / name).values
    try:
        cut = parse_report(path).values
    except ReportParseError as exc:
        assert str(exc).startswith(str(path)) and "ends early" in str(exc)
        return
    # Logs: an unfinished log keeps only what cannot change (no WNS, counts or verdict).
    assert not _same_or_fewer(cut, full)
    assert "wns_ns" not in cut and "lut" not in cut and "fmax_mhz" not in cut


@needs_fixtures
def test_cut_csynth_rpt_is_an_error_not_lut_zero(tmp_path: Path) -> None:
    name = (
        "nmath018__topK_feature___x.hw.xilinx_u250_gen3x16_xdma_4_1_202210_1__krnl__"
        "topKQueryScores__topKQueryScores__solution__syn__report__csynth.rpt"
    )
    path = _cut_file(tmp_path, name, 0.1)
    with pytest.raises(ReportParseError, match=r"ends early"):
        parse_report(path)


TIMING = """\
| Tool Version      : Vivado v.2021.2 (lin64) Build 3367213
| Device            : xczu3eg-sbva484

------------------------------------------------------------------------------------------------
| Design Timing Summary
| ---------------------
------------------------------------------------------------------------------------------------

    WNS(ns)      TNS(ns)  TNS Failing Endpoints  TNS Total Endpoints      WHS(ns)
    -------      -------  ---------------------  -------------------      -------
      {wns}        0.000                      0                  10        0.010


All user specified timing constraints are met.


------------------------------------------------------------------------------------------------
| Clock Summary
| -------------
------------------------------------------------------------------------------------------------

Clock   Waveform(ns)       Period(ns)      Frequency(MHz)
-----   ------------       ----------      --------------
clk     {{0.000 2.500}}      5.000           200.000


------------------------------------------------------------------------------------------------
| Intra Clock Table
| -----------------
"""


def test_out_of_range_number_is_an_error_not_infinity(tmp_path: Path) -> None:
    assert parse_text(TIMING.format(wns="0.120"), "t.rpt").values["wns_ns"] == 0.12
    with pytest.raises(ReportParseError, match=r"^t\.rpt: .*wns_ns is not a finite number"):
        parse_text(TIMING.format(wns="1e400"), "t.rpt")
    path = tmp_path / "timing.rpt"
    path.write_text(TIMING.format(wns="1e400"))
    with pytest.raises(ReportParseError, match=r"timing\.rpt: .*not a finite number"):
        parse_report(path)
    nextpnr = tmp_path / "report.json"
    nextpnr.write_text('{"fmax": {"clk": {"achieved": 1e400, "constraint": 100.0}}}')
    with pytest.raises(ReportParseError, match=r"report\.json: .*not a finite number"):
        parse_report(nextpnr)


def test_report_json_cli_never_prints_infinity(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from dse.cli import main

    def run(argv: list[str]) -> tuple[int, str, str]:
        try:
            main(argv)
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        out, err = capsys.readouterr()
        return code, out, err

    path = tmp_path / "timing.rpt"
    path.write_text(TIMING.format(wns="1e400"))
    code, out, err = run(["report", "parse", str(path), "--json"])
    assert code == 2 and "Infinity" not in out and "not a finite number" in err
    path.write_text(TIMING.format(wns="0.120"))
    code, out, _ = run(["report", "parse", str(path), "--json"])
    assert code == 0 and json.loads(out)["wns_ns"] == 0.12


@needs_fixtures
def test_whole_logs_give_their_numbers_and_an_embedded_exit_is_not_the_end() -> None:
    for path in sorted(FIXTURES.glob("*.log")):
        assert "failure_class" in parse_report(path).values, path.name  # not vacuous
    name = "UniqueMR__ESE5320-Final-Project___x__link__vivado__vpl__vivado.log"
    text = (FIXTURES / name).read_text("utf-8", errors="replace")
    # The synth run's log, embedded in the link's vivado.log, ends with its own exit line.
    end = text.index("Exiting Vivado at")
    end = text.index("\n", end) + 1
    cut = parse_text(text[:end], name).values
    assert "warning_count" not in cut and "last_step_completed" not in cut
    assert parse_text(text, name).values["last_step_completed"] == "write_bitstream"
