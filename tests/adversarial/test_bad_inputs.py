"""≥ 300 hand-made bad inputs (``adv_cases.py``) through the real CLI: one line, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from adv_cases import Case, all_cases
from adv_cli import check_one_line, run_cli, write_files

CASES = all_cases()
# Cases whose fix belongs to another item of issue 12 (strict: they must start passing).
# (the --results cases of item 13 pass since --results holds the study and must be a folder)
XFAIL: dict[str, str] = {}


def _param(case: Case) -> object:
    marks = [pytest.mark.xfail(strict=True, reason=XFAIL[case.id])] if case.id in XFAIL else []
    return pytest.param(case, id=case.id, marks=marks)


@pytest.mark.timeout(20)
@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_bad_input_is_one_line_exit_2(
    case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_files(tmp_path, case.files)
    monkeypatch.chdir(tmp_path)  # nothing may land in the repository's results/
    argv = [a.replace("{d}", str(tmp_path)) for a in case.argv]
    expect = tuple(e.replace("{d}", str(tmp_path)) for e in case.expect)
    code, out, err = run_cli(argv, capsys)
    check_one_line(code, out, err, expect, case.code)


def test_suite_is_big_enough() -> None:
    assert len(CASES) >= 300
