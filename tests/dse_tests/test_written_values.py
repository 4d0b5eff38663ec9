"""Values a person writes are taken as written or refused: never read as a default, a
different type, a truncated shape or a wrapped-around integer (issue 12, item 10)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sweep_cases import cli, sub

import cost_models as cm
from dse.config import load_config
from dse.errors import ConfigError
from dse.release import ReleaseError, check_name
from runners.hosts import HostsFileError, parse_hosts

ESTIMATE = """\
version: 1
name: t
workload: {model: gpt2-medium, batch: 1, prompt_len: 64, gen_len: 64}
platform: u280
arch: spatial
design:
  quant: w4a8
"""


def _load(tmp_path: Path, text: str, name: str = "study.yaml") -> None:
    path = tmp_path / name
    path.write_text(text)
    load_config(path)


@pytest.mark.parametrize(
    ("line", "pattern"),
    [
        ("  freq_mhz: .nan", r"design\.freq_mhz: expected a number in \[10, \d+\], got nan"),
        ("  freq_mhz: .inf", r"design\.freq_mhz: expected a number .*got inf"),
        ("  m_ffn: true", r"design\.m_ffn: expected an integer .*got True"),
        ("  m_ffn: '128'", r"design\.m_ffn: expected an integer .*got '128'"),
        ("  m_ffn: [128, 256]", r"design\.m_ffn: expected an integer .*got \[128, 256\]"),
        ("  overlap_never: 1", r"design\.overlap_never: unknown spatial design parameter"),
        ("  sparsity: 1", r"design\.sparsity: expected one of none, nm, log, got 1"),
    ],
)
def test_design_values_of_the_wrong_kind_are_errors(
    tmp_path: Path, line: str, pattern: str
) -> None:
    with pytest.raises(ConfigError, match=r"^.*study\.yaml:\d+: " + pattern):
        _load(tmp_path, ESTIMATE + line + "\n")


def test_nan_clock_is_not_the_default_clock(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "study.yaml"
    cfg.write_text(ESTIMATE + "  freq_mhz: .nan\n")
    code, out, err = cli(["estimate", str(cfg), "--json"], capsys)
    assert code == 2 and out == "" and "design.freq_mhz" in err and "nan" in err


def test_search_choices_of_the_wrong_kind_are_errors(tmp_path: Path) -> None:
    text = sub("  sparsity: [none, nm]", "  sparsity: [none, nm]\n  tile_tokens: [true, 64]")
    with pytest.raises(ConfigError, match=r"space\.tile_tokens\.choices\[0\]: expected .*True"):
        _load(tmp_path, text)


@pytest.mark.parametrize(
    ("old", "new", "pattern"),
    [
        ("batch: 1,", "batch: 1000000000000000000000000000000,", r"workload\.batch: .*≤ 1048576"),
        ("gen_len: 64", "gen_len: 99999999999", r"workload\.gen_len: .*≤ 16777216"),
    ],
)
def test_scenario_sizes_are_bounded(tmp_path: Path, old: str, new: str, pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern):
        _load(tmp_path, ESTIMATE.replace(old, new))


def test_hidden_size_not_divisible_by_heads(tmp_path: Path) -> None:
    hf = {
        "model_type": "llama",
        "hidden_size": 1000,
        "num_attention_heads": 12,
        "num_hidden_layers": 2,
        "intermediate_size": 4000,
        "vocab_size": 32000,
    }
    (tmp_path / "config.json").write_text(json.dumps(hf))
    text = ESTIMATE.replace("model: gpt2-medium,", "hf_config: config.json,")
    with pytest.raises(
        ConfigError, match=r"config\.json: hidden_size: 1000 is not divisible by 12"
    ):
        _load(tmp_path, text)
    # an explicit head_dim says the heads are not hidden / heads wide: that is fine
    (tmp_path / "config.json").write_text(json.dumps({**hf, "head_dim": 80}))
    _load(tmp_path, text)
    with pytest.raises(cm.InputError, match=r"shape\.d_model: 100 is not divisible by n_heads=3"):
        cm.load_workload(
            {"shape": {"d_model": 100, "n_layers": 1, "n_heads": 3, "d_ffn": 4, "vocab": 9}}
        )


def test_a_preset_is_a_name_not_a_path(tmp_path: Path) -> None:
    hf = json.loads((Path(cm.__file__).parent / "workloads" / "gpt2-medium.json").read_text())
    (tmp_path / "x.json").write_text(json.dumps(hf))
    sub_dir = tmp_path / "a" / "b"
    sub_dir.mkdir(parents=True)
    rel = "../../x"
    text = ESTIMATE.replace("model: gpt2-medium,", f"model: '{rel}',")
    with pytest.raises(ConfigError, match=r"workload\.model: unknown model preset '\.\./\.\./x'"):
        _load(sub_dir, text)
    with pytest.raises(cm.InputError, match="unknown model preset"):
        cm.preset_shape(str(tmp_path / "x"))


def test_derived_integer_overflow_is_an_error_not_one(tmp_path: Path) -> None:
    text = sub('m_attn: "max(1, m_qkv // 8)"', 'm_attn: "max(1, 2**64)"')
    with pytest.raises(
        ConfigError, match=r"derived\.m_attn: cannot be evaluated: integer overflow"
    ):
        _load(tmp_path, text)
    # overflow that only integer parameters reach (floats would not wrap around)
    text = sub('m_attn: "max(1, m_qkv // 8)"', 'm_attn: "max(1, m_qkv * 2**54 // 2**54)"')
    with pytest.raises(
        ConfigError, match=r"derived\.m_attn: cannot be evaluated: integer overflow"
    ):
        _load(tmp_path, text)


@pytest.mark.parametrize("name", ["t\n", "t\n\n", "x/y"])
def test_study_names_end_where_they_seem_to(tmp_path: Path, name: str) -> None:
    text = ESTIMATE.replace("name: t\n", f"name: {json.dumps(name)}\n")
    with pytest.raises(ConfigError, match=r"name: expected letters, digits"):
        _load(tmp_path, text)


def test_release_names_end_where_they_seem_to() -> None:
    check_name("r1")
    with pytest.raises(ReleaseError, match="release name 'r1\\\\n'"):
        check_name("r1\n")


HOST = {"name": "a", "ssh": {"host": "h"}, "flows": ["yosys-xilinx"]}


@pytest.mark.parametrize(
    ("change", "pattern"),
    [
        ({"version": 2}, r"version: expected 1 \(the only hosts\.yaml version\), got 2"),
        ({"version": True}, r"version: Input should be a valid integer \(got True\)"),
        ({"port": True}, r"hosts\[a\]\.ssh\.port: Input should be a valid integer \(got True\)"),
        (
            {"port": "2222"},
            r"hosts\[a\]\.ssh\.port: Input should be a valid integer \(got '2222'\)",
        ),
        ({"workdir": ""}, r"hosts\[a\]\.workdir: String should have at least 1 character"),
        ({"slots": {"yosys-xilinx": True}}, r"hosts\[a\]\.slots\.yosys-xilinx: .*valid integer"),
        ({"name": "a\n"}, r"hosts\[a\n\]\.name: String should match pattern"),
    ],
)
def test_host_values_of_the_wrong_kind_are_errors(change: dict[str, object], pattern: str) -> None:
    host: dict[str, object] = {**HOST, "ssh": dict(HOST["ssh"])}  # type: ignore[call-overload]
    data: dict[str, object] = {"hosts": [host]}
    for key, value in change.items():
        if key == "version":
            data["version"] = value
        elif key == "port":
            host["ssh"]["port"] = value  # type: ignore[index]
        else:
            host[key] = value
    with pytest.raises(HostsFileError, match=r"^hosts\.yaml: " + pattern):
        parse_hosts(data, source="hosts.yaml")
    good = parse_hosts({"hosts": [{**HOST, "ssh": {"host": "h", "port": 2222}}]})
    assert good.hosts[0].ssh is not None and good.hosts[0].ssh.port == 2222


def test_build_point_with_a_bogus_choice_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "study.yaml"
    cfg.write_text(ESTIMATE)
    results = tmp_path / "results"
    code, out, err = cli(
        ["build", str(cfg), "--point", '{"sparsity": "bogus"}', "--results", str(results)], capsys
    )
    assert code == 2, (out, err)
    assert re.search(r"--point: sparsity: expected one of none, nm, log, got 'bogus'", err), err
    assert not (results / "builds").exists()  # nothing was built
    code, out, err = cli(
        ["build", str(cfg), "--point", '{"m_ffn": "128"}', "--results", str(results)], capsys
    )
    assert code == 2 and "--point: m_ffn: expected an integer" in err, err
