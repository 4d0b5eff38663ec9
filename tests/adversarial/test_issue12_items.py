"""One test per defect of issue 12 items 6-9 and 18 (the reproductions from the issue)."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from adv_cases import BASE, BASE_TEXT, BOMB, HOSTS, _dump, _with
from adv_cli import check_one_line, run_cli
from rich.console import Console
from rich.progress import Progress

from dse.sweep._progress import Snapshot, columns, plain_line, progress_display

pytestmark = pytest.mark.timeout(60)
REPO = Path(__file__).resolve().parents[2]


def _study(tmp: Path, doc: dict | None = None, name: str = "study.yaml") -> Path:
    path = tmp / name
    path.write_text(_dump(doc or BASE))
    return path


# -- item 6: usage errors are one line and exit 2 -----------------------------------------


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["sweep", "{cfg}", "--trials", "-5"], "--trials"),
        (["sweep", "{cfg}", "--trials", "abc"], "--trials"),
        (["frobnicate"], "No such command 'frobnicate'"),
        (["estimate"], "Missing argument"),
    ],
)
def test_usage_error_is_one_line_exit_2(
    argv: list[str], needle: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = _study(tmp_path)
    code, out, err = run_cli([a.replace("{cfg}", str(cfg)) for a in argv], capsys)
    check_one_line(code, out, err, (needle,))
    assert "(see 'dse" in err  # the usage hint names the command's --help


def test_usage_error_through_the_installed_entry_point(tmp_path: Path) -> None:
    res = subprocess.run(
        [sys.executable, "-m", "dse.cli", "sweep", "x.yaml", "--trials", "-5"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert res.returncode == 2, res.stderr
    assert res.stderr.startswith("error: Invalid value for '--trials'")
    assert "Traceback" not in res.stderr and len(res.stderr.splitlines()) == 2


# -- item 7: alias bombs and deep nesting, in every loader --------------------------------


@pytest.mark.parametrize(
    ("argv", "files"),
    [
        (["estimate", "{d}/s.yaml"], {"s.yaml": BOMB}),
        (["hosts", "check", "{d}/h.yaml"], {"h.yaml": BOMB}),
        (["estimate", "{d}/s.yaml"], {"s.yaml": "a: " + "[" * 100000 + "]" * 100000}),
        (["hosts", "check", "{d}/h.yaml"], {"h.yaml": "a: " + "{b: " * 50000 + "}" * 50000}),
        (
            ["estimate", "{d}/s.yaml"],
            {
                "s.yaml": _dump(_with(BASE, "workload", {"hf_config": "c.json"})),
                "c.json": '{"model_type": "llama", "x": ' + "[" * 100000 + "]" * 100000 + "}",
            },
        ),
        (["report", "parse", "--json", "{d}/r.json"], {"r.json": "[" * 100000 + "]" * 100000}),
        (["report", "parse", "{d}/r.json"], {"r.json": '{"modules":' + "[" * 100000 + "]}"}),
    ],
    ids=[
        "config-bomb",
        "hosts-bomb",
        "config-deep",
        "hosts-deep",
        "json-deep",
        "report-deep",
        "report-deep-object",
    ],
)
def test_bombs_and_deep_nesting_answer_at_once(
    argv: list[str], files: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for rel, text in files.items():
        (tmp_path / rel).write_text(text)
    code, out, err = run_cli([a.replace("{d}", str(tmp_path)) for a in argv], capsys)
    check_one_line(code, out, err, ())


def test_duplicate_keys_name_file_line_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "study.yaml"
    cfg.write_text(BASE_TEXT.replace("  batch: 1\n", "  batch: 1\n  batch: 4\n"))
    code, out, err = run_cli(["estimate", str(cfg)], capsys)
    line = check_one_line(code, out, err, ())
    assert line.endswith("study.yaml:6: batch: duplicate key (first set on line 5)"), line
    hosts = tmp_path / "hosts.yaml"
    hosts.write_text(_dump(HOSTS).replace("- name: here\n", "- name: here\n  name: there\n"))
    code, out, err = run_cli(["hosts", "check", str(hosts)], capsys)
    assert "hosts.yaml: line 6: name: duplicate key (first set on line 5)" in err


# -- item 8: tracebacks now one line naming file and key ----------------------------------


def test_utf16_and_latin1_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "study.yaml"
    cfg.write_bytes(BASE_TEXT.encode("utf-16"))
    code, out, err = run_cli(["estimate", str(cfg)], capsys)
    assert "study.yaml: (file): is UTF-16 text; save it as UTF-8" in check_one_line(
        code, out, err, ()
    )
    cfg.write_bytes(BASE_TEXT.replace("name: adv", "name: caf\xe9").encode("latin-1"))
    code, out, err = run_cli(["estimate", str(cfg)], capsys)
    assert "study.yaml:2: (file): is not UTF-8 text (byte 0xe9)" in err


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("arch", [], "study.yaml:9: arch: expected one of spatial, temporal, got []"),
        ("build", {"flow": []}, "build.flow: template 'spatial_rtl' builds with sim-verilator"),
        ("space.density_ffn.when", "sparsity > 3", "space.density_ffn.when: cannot be evaluated"),
        ("workload.hf_config", "sub", "sub: hf_config: is a directory; expected a file"),
    ],
)
def test_values_that_raised(
    key: str, value: object, expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "sub").mkdir()
    doc = _with(BASE, "workload", {"hf_config": value}) if key == "workload.hf_config" else None
    cfg = _study(tmp_path, doc or _with(BASE, key, value))
    code, out, err = run_cli(["estimate", str(cfg)], capsys)
    assert expected in check_one_line(code, out, err, ())


def test_null_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "study.yaml"
    cfg.write_text(BASE_TEXT.replace("design:\n", "design:\n  ~: 3\n"))
    code, out, err = run_cli(["estimate", str(cfg)], capsys)
    assert "key '~' is not text" in check_one_line(code, out, err, ("study.yaml:",))


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ('"hidden_size": NaN', "NaN is not a number JSON allows"),
        ('"hidden_size": Infinity', "Infinity is not a number JSON allows"),
        ('"hidden_size": 1e400', "1e400 is out of range"),
        ('"hidden_size": 4', "hidden_size"),  # smaller than the 8 heads
    ],
)
def test_config_json_numbers(
    change: str, expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (
        '{"model_type": "llama", "hidden_size": 512, "num_attention_heads": 8, '
        '"num_hidden_layers": 2, "intermediate_size": 1024, "vocab_size": 100}'
    )
    (tmp_path / "config.json").write_text(text.replace('"hidden_size": 512', change))
    cfg = _study(tmp_path, _with(BASE, "workload", {"hf_config": "config.json"}))
    code, out, err = run_cli(["estimate", str(cfg)], capsys)
    assert expected in check_one_line(code, out, err, ("config.json",))


def test_bad_sampler_option_type_names_file_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = _study(tmp_path, _with(BASE, "sampler", {"name": "tpe", "n_startup_trials": "ten"}))
    argv = ["sweep", str(cfg), "--trials", "3", "-q", "--storage", f"sqlite:///{tmp_path}/s.db"]
    code, out, err = run_cli(argv, capsys)
    line = check_one_line(code, out, err, ())
    assert "study.yaml:" in line and "sampler.n_startup_trials: expected an integer" in line
    assert "study config:" not in line


def _sweep_db(tmp: Path, name: str, capsys: pytest.CaptureFixture[str], url: str = "") -> None:
    cfg = _study(tmp, _with(BASE, "name", name), f"{name}.yaml")
    argv = ["sweep", str(cfg), "--trials", "10", "-q", "--no-builds"]
    code, _out, err = run_cli([*argv, "--storage", url] if url else argv, capsys)
    assert code == 0, err


def test_corrupt_database_does_not_hide_other_studies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _sweep_db(tmp_path, "good", capsys)
    (tmp_path / "results" / "bad").mkdir()
    (tmp_path / "results" / "bad" / "optuna.db").write_bytes(b"garbage" * 500)
    code, out, err = run_cli(["status"], capsys)
    assert code == 2 and "good" in out  # the healthy study is still listed
    check_one_line(code, "", err, ("bad/optuna.db", "file is not a database"))
    code, out, err = run_cli(["pareto", "bad"], capsys)
    check_one_line(code, out, err, ("bad/optuna.db",))


def test_second_study_in_one_database_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _sweep_db(tmp_path, "one", capsys)
    _sweep_db(tmp_path, "two", capsys, f"sqlite:///{tmp_path}/results/one/optuna.db")
    code, out, err = run_cli(["status"], capsys)
    assert code == 0, err
    assert "one" in out and "two" in out
    code, out, err = run_cli(["pareto", "two"], capsys)
    assert code == 0 and "results/one/optuna.db" in out, err


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("ssh_config", "missing_config", "ssh_config: no such file"),
        ("hosts.1.ssh.jump", "gw:99999", "expected [user@]host[:port] with a port in 1..65535"),
        ("hosts.1.ssh.jump", "a b", "expected [user@]host[:port]"),
    ],
)
def test_hosts_ssh_fields(
    field: str, value: str, expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hosts = tmp_path / "hosts.yaml"
    hosts.write_text(_dump(_with(HOSTS, field, value)))
    code, out, err = run_cli(["hosts", "check", str(hosts)], capsys)
    assert expected in check_one_line(code, out, err, ("hosts.yaml",))


# -- item 9: messages that misled -----------------------------------------------------------


def test_emoji_and_markup_in_a_path_print_as_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "my:cat:[bold]config.yaml"
    cfg.write_text("[]")
    code, out, err = run_cli(["estimate", str(cfg)], capsys)
    assert "my:cat:[bold]config.yaml" in check_one_line(code, out, err, ())
    assert "\N{CAT FACE}" not in err and "🐱" not in err


def test_set_errors_blame_the_set(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = _study(tmp_path)
    code, out, err = run_cli(["estimate", str(cfg), "--set", "design.quant=w3a3"], capsys)
    line = check_one_line(code, out, err, ())
    assert line.startswith("error: --set design.quant=w3a3: design.quant: expected one of")
    assert "study.yaml" not in line


def test_list_path_is_not_file_not_found(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = _study(tmp_path, _with(BASE, "workload", {"hf_config": []}))
    code, out, err = run_cli(["estimate", str(cfg)], capsys)
    line = check_one_line(code, out, err, ())
    assert "study.yaml:4: workload.hf_config: expected the path of a config.json, got []" in line


def test_multiline_yaml_error_is_one_line_with_file_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "study.yaml"
    cfg.write_text("version: 1\nworkload:\n  model: [gpt2\nplatform: u280\n")
    code, out, err = run_cli(["estimate", str(cfg)], capsys)
    line = check_one_line(code, out, err, ())
    assert "study.yaml:4: (syntax): not valid YAML:" in line


def test_flow_message_says_why_a_listed_flow_cannot_build() -> None:
    from runners import get_toolchain, list_templates

    rtl = next(t for t in list_templates() if t.kind == "rtl")
    hls_flow = get_toolchain("vitis-hls")
    fake = rtl.__class__(**{**rtl.__dict__, "flows": (*rtl.flows, "vitis-hls")})
    with pytest.raises(Exception, match=r"is rtl, but flow 'vitis-hls' builds hls sources"):
        hls_flow.check(fake, "xcu280-fsvh2892-2L-e")


# -- item 18: progress, completion ----------------------------------------------------------


def test_progress_fits_80_columns() -> None:
    buf = io.StringIO()
    console = Console(file=buf, width=80, force_terminal=True, color_system=None)
    with Progress(*columns(80), console=console, auto_refresh=False) as bar:
        task = bar.add_task(
            "llama2-7b-u280-temporal-search",
            total=20000,
            completed=12345,
            rate=1234.0,
            feasible=0.456,
            pareto=123,
        )
        bar.update(task, completed=12345)
        bar.refresh()
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", buf.getvalue()).replace("\r", "\n")
    last = [ln for ln in plain.splitlines() if "/20000" in ln][-1]
    assert len(last) <= 80, last
    for part in ("llama2-7b-u280-temp", "12345/20000", "1234/s", "feas  46%", "front 123"):
        assert part in last, last


def test_log_file_gets_periodic_plain_lines() -> None:
    out = io.StringIO()
    snap = Snapshot("s", 10, 100, 50.0, 0.5, 3, 61.0)
    with progress_display("s", 100, 0, stream=out, every_s=0) as show:
        show(snap)
        show(Snapshot("s", 20, 100, 55.0, 0.5, 4, 62.0))
    lines = out.getvalue().splitlines()
    assert lines[0] == plain_line(snap)
    assert lines[0] == (
        "progress s: 10/100 trials (10%), 50 trials/s, feasible 50.0%, Pareto front 3, 1:01 elapsed"
    )
    assert len(lines) == 3  # two updates, then the last one again when the sweep ends


def test_sweep_to_a_log_prints_progress_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DSE_PROGRESS_EVERY_S", "0")
    monkeypatch.chdir(tmp_path)
    cfg = _study(tmp_path, _with(_with(BASE, "sampler", "random"), "budget", {"trials": 30}))
    code, _out, err = run_cli(["sweep", str(cfg), "--no-builds"], capsys)
    assert code == 0, err
    progress = [ln for ln in err.splitlines() if ln.startswith("progress adv: ")]
    assert len(progress) >= 2 and progress[-1].startswith("progress adv: 30/30 trials (100%)")


def test_shell_completion(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("SHELL", "/bin/bash")
    # The shell named on the command line, not guessed from the parent processes (under
    # nohup or a CI runner no shell may be found, and typer then names none).
    monkeypatch.setenv("_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION", "1")
    code, out, err = run_cli(["--show-completion", "bash"], capsys)
    assert code == 0 and "_dse_completion" in out, err
    code, out, err = run_cli(["--install-completion", "bash"], capsys)
    assert code == 0 and "Traceback" not in out + err
    assert "_dse_completion" in (tmp_path / ".bash_completions" / "dse.sh").read_text()
    env = {
        **os.environ,
        "_DSE_COMPLETE": "complete_bash",
        "COMP_WORDS": "dse swe",
        "COMP_CWORD": "1",
    }
    res = subprocess.run(
        [sys.executable, "-m", "dse.cli"], env=env, capture_output=True, text=True, timeout=60
    )
    assert res.stdout.split() == ["sweep"], res.stderr


def test_postgres_walkthrough_exists() -> None:
    text = (REPO / "docs" / "postgres.md").read_text()
    for needle in (
        "CREATE ROLE",
        "CREATE DATABASE",
        "postgresql+psycopg://",
        "127.0.0.1",
        "listen_addresses",
        "pg_hba.conf",
        "--storage",
    ):
        assert needle in text, needle
    assert yaml  # the docs' YAML snippets are plain study-config keys


def test_odd_output_paths(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _sweep_db(tmp_path, "one", capsys)
    (tmp_path / "afile").write_text("x")
    for out, expected in [
        (str(tmp_path), "is a folder"),
        ("/dev/null", "is not a regular file"),  # never renamed over the device
        (f"{tmp_path}/afile/x.csv", "afile is a file, not a folder"),
        ("/proc/no/such/x.csv", "cannot create its folder"),
        ("", "expected an output file path"),
    ]:
        code, text, err = run_cli(["export", "one", "-o", out], capsys)
        assert expected in check_one_line(code, text, err, ("-o",)), out
    assert Path("/dev/null").is_char_device()
    for argv in (["--results", "/proc/x"], ["--results", f"{tmp_path}/afile"]):
        cfg = str(tmp_path / "one.yaml")
        code, text, err = run_cli(["sweep", cfg, "-q", "--trials", "12", *argv], capsys)
        check_one_line(code, text, err, (argv[1],))
