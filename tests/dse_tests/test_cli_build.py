"""``dse build`` and ``dse templates`` through the CLI entry point."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest
from sweep_cases import run

ROOT = Path(__file__).resolve().parents[2]
ECP5_CONFIG = str(ROOT / "examples" / "smollm-135m-ecp5.yaml")


def test_templates_list_and_show(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["templates", "list"], capsys)
    assert code == 0
    for name in ("gemv_int", "llm_top", "hls_gemv", "vivado"):
        assert name in out
    code, out, _ = run(["templates", "show", "gemv_int"], capsys)
    assert code == 0
    assert "LANES" in out and "lanes" in out and "power of two in [1, 256]" in out
    assert "yosys-xilinx" in out and "gemv_int.v" in out
    code, _, err = run(["templates", "show", "gemv"], capsys)
    assert code == 2 and "known templates" in err and "Traceback" not in err


def test_bad_point_value_names_template_parameter_and_range(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["build", ECP5_CONFIG, "--template", "gemv_int", "--results", str(tmp_path)]
    code, _, err = run([*args, "--point", '{"lanes": 3}'], capsys)
    assert code == 2
    assert "template 'gemv_int'" in err and "LANES=3" in err and "[1, 256]" in err
    code, _, err = run([*args, "--point", '{"lane": 4}'], capsys)
    assert code == 2 and "lane" in err and "did you mean 'lanes'" in err
    code, _, err = run([*args, "--point", "[1, 2]"], capsys)
    assert code == 2 and "JSON object" in err
    code, _, err = run([*args, "--flow", "ecp6"], capsys)
    assert code == 2 and "did you mean 'ecp5'" in err
    assert not list(tmp_path.glob("builds/*[!.]*"))


def test_build_point_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    point = tmp_path / "point.json"
    point.write_text('{"lanes": 2, "w_bits": 4}')
    args = ["build", ECP5_CONFIG, "--template", "gemv_int", "--flow", "yosys-xilinx"]
    args += ["--point", f"@{point}", "--results", str(tmp_path / "results"), "--json"]
    code, out, err = run(args, capsys)
    assert code == 0, err
    res = json.loads(out)
    assert res["status"] == "ok" and res["flow"] == "yosys-xilinx"
    assert res["part"] == "xcu280-fsvh2892-2L-e"  # the ECP5 platform's part suits only ecp5
    assert res["params"] == {"LANES": 2, "WBITS": 4, "ACCBITS": 32}
    assert res["metrics"]["dsp"] == 1 and not res["cached"]
    code, out, _ = run(args[:-1], capsys)  # table output, from the cache
    assert code == 0 and "cached" in out and "estimated_clock_mhz" in out


def test_build_trial_from_study(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = tmp_path / "results"
    (results / "demo").mkdir(parents=True)
    storage = f"sqlite:///{results / 'demo' / 'optuna.db'}"
    study = optuna.create_study(study_name="demo", storage=storage)
    trial = study.ask()
    trial.set_user_attr("point", {"lanes": 1, "w_bits": 4, "acc_bits": 24})
    study.tell(trial, 1.0)
    args = ["build", ECP5_CONFIG, "--template", "gemv_int", "--flow", "yosys-xilinx"]
    args += ["--results", str(results), "--json"]
    code, out, err = run([*args, "--trial", "demo:0"], capsys)
    assert code == 0, err
    assert json.loads(out)["params"] == {"LANES": 1, "WBITS": 4, "ACCBITS": 24}
    code, _, err = run([*args, "--trial", "demo:5"], capsys)
    assert code == 2 and "no trial 5" in err
    code, _, err = run([*args, "--trial", "nosuch:0"], capsys)
    assert code == 2 and "no study storage" in err and "demo" in err
    code, _, err = run([*args, "--trial", "demo"], capsys)
    assert code == 2 and "STUDY:N" in err
