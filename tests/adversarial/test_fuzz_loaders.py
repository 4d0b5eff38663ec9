"""Property-based fuzzing of every loader: random bytes or structures give either a valid
object or the project's own error class, never anything else (no TypeError, no hang).

Derandomized with a small example count so the suite stays quick and reproducible.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from adv_cases import BASE, BASE_TEXT, HF, HOSTS
from adv_cli import check_one_line, run_cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cost_models as cm
from dse.config import StudyConfig, load_config
from dse.errors import DseError
from runners import ReportParseError, TemplateError
from runners._manifest import parse_manifest
from runners.hosts import HostsFileError, Inventory, load_hosts
from runners.reports import parse_report
from runners.reports._detect import parse_text, sniff

FUZZ = settings(
    # DSE_FUZZ_EXAMPLES=2000 for a long hunt; the default keeps the suite quick.
    max_examples=int(os.environ.get("DSE_FUZZ_EXAMPLES", "40")),
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
FIXTURES = Path(__file__).resolve().parents[2] / ".." / "shared" / "fixtures" / "reports"
_names = itertools.count()

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["ecp5", "vivado", "u280", "spatial", "gpt2-medium", "w4a8", "nm", "~"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def _mutate(doc: Any, draw: Callable[[Any], Any]) -> Any:
    """``doc`` with one random key replaced, added or removed, anywhere in the tree."""
    paths: list[tuple[Any, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                paths.append((node, k))
                walk(v)
        elif isinstance(node, list):
            for i, v in enumerate(node):
                paths.append((node, i))
                walk(v)

    walk(doc)
    node, key = draw(st.sampled_from(paths))
    action = draw(st.sampled_from(["replace", "replace", "add", "delete"]))
    if action == "replace":
        node[key] = draw(values)
    elif action == "add" and isinstance(node, dict):
        node[draw(st.text(max_size=8))] = draw(values)
    elif isinstance(node, dict):
        node.pop(key)
    return doc


@st.composite
def documents(draw: Callable[[Any], Any], base: dict[str, Any]) -> bytes:
    """Bytes of a file: a mutated valid document (mostly), any structure, or any bytes."""
    kind = draw(st.sampled_from(["mutant", "mutant", "mutant", "structure", "bytes"]))
    if kind == "bytes":
        return bytes(draw(st.binary(max_size=300)))
    if kind == "structure":
        return yaml.safe_dump(draw(values)).encode()
    doc = json.loads(json.dumps(base))
    for _ in range(draw(st.integers(1, 3))):
        doc = _mutate(doc, draw)
    # YAML dumps floats like .nan/.inf and big ints as written: the loaders must cope.
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False).encode()


def _fresh(tmp: Path, name: str, content: bytes) -> Path:
    # A new name each time: the platform loader caches by (path, mtime).
    path = tmp / f"{next(_names)}-{name}"
    path.write_bytes(content)
    return path


@pytest.mark.timeout(120)
@FUZZ
@given(content=documents(BASE))
def test_study_config(tmp_path: Path, content: bytes) -> None:
    path = _fresh(tmp_path, "study.yaml", content)
    with contextlib.suppress(DseError, cm.InputError):
        assert isinstance(load_config(path), StudyConfig)


@pytest.mark.timeout(120)
@FUZZ
@given(content=documents(HOSTS))
def test_hosts(tmp_path: Path, content: bytes) -> None:
    path = _fresh(tmp_path, "hosts.yaml", content)
    with contextlib.suppress(HostsFileError):
        assert isinstance(load_hosts(path), Inventory)


@pytest.mark.timeout(120)
@FUZZ
@given(content=documents(HF), as_json=st.booleans())
def test_hf_config_json(tmp_path: Path, content: bytes, as_json: bool) -> None:
    if as_json:
        # Not YAML, or not representable in JSON: fuzz the raw bytes instead.
        with contextlib.suppress(Exception):
            content = json.dumps(yaml.safe_load(content)).encode()
    path = _fresh(tmp_path, "config.json", content)
    with contextlib.suppress(cm.InputError):
        assert isinstance(cm.load_shape_file(path), cm.ModelShape)


PLATFORM = yaml.safe_load((Path(cm.__file__).parent / "platforms" / "u280.yaml").read_text())


@pytest.mark.timeout(120)
@FUZZ
@given(content=documents(PLATFORM))
def test_platform(tmp_path: Path, content: bytes) -> None:
    path = _fresh(tmp_path, "board.yaml", content)
    with contextlib.suppress(cm.InputError):
        assert isinstance(cm.load_platform(path), cm.Platform | cm.Gpu)


TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
MANIFEST = yaml.safe_load((TEMPLATES / "gemv_int" / "manifest.yaml").read_text())


@pytest.mark.timeout(120)
@FUZZ
@given(content=documents(MANIFEST))
def test_template_manifest(tmp_path: Path, content: bytes) -> None:
    folder = tmp_path / f"t{next(_names)}" / "gemv_int"
    folder.mkdir(parents=True)
    for src in (TEMPLATES / "gemv_int").iterdir():
        if src.is_file() and src.name != "manifest.yaml":
            (folder / src.name).write_bytes(src.read_bytes())
    (folder / "manifest.yaml").write_bytes(content)
    with contextlib.suppress(TemplateError):
        parse_manifest(folder / "manifest.yaml", folder.parent)


def _fixture_per_kind() -> dict[str, str]:
    """One real report per kind the detector recognises (the smallest), from the fixtures."""
    found: dict[str, str] = {}
    if not FIXTURES.is_dir():
        return found
    for path in sorted(FIXTURES.iterdir(), key=lambda p: p.stat().st_size):
        if not path.is_file() or path.stat().st_size > 1 << 20 or path.suffix == ".tcl":
            continue
        text = path.read_text("utf-8", errors="replace")
        kind = sniff(text, path.name)
        if kind is not None and kind not in found:
            found[kind] = text
    return found


REAL = _fixture_per_kind()
SMALL_JSON = {
    "nextpnr_report": {
        "fmax": {"clk": {"achieved": 120.5, "constraint": 100.0}},
        "utilization": {"TRELLIS_SLICE": {"used": 10, "available": 100}},
    },
    "yosys_stat": {
        "design": {"num_cells": 10, "num_cells_by_type": {"LUT4": 10}},
        "modules": {"top": {"num_cells": 10}},
    },
    "yosys_netlist": {"modules": {"top": {"cells": {"a": {"type": "LUT4"}}}}},
}


@st.composite
def report_texts(draw: Callable[[Any], Any]) -> tuple[str, str]:
    """(kind, text): a real report cut, spliced or with a line garbled; or JSON mutants."""
    kinds = sorted(REAL) + sorted(SMALL_JSON)
    kind = draw(st.sampled_from(kinds))
    if kind in SMALL_JSON:
        doc = json.loads(json.dumps(SMALL_JSON[kind]))
        return kind, json.dumps(_mutate(doc, draw))
    lines = REAL[kind].splitlines(keepends=True)
    how = draw(st.sampled_from(["cut", "drop", "garble", "dup"]))
    i = draw(st.integers(0, len(lines)))
    if how == "cut":
        lines = lines[:i]
    elif how == "drop":
        del lines[i : i + draw(st.integers(1, 40))]
    elif how == "garble" and lines:
        lines[min(i, len(lines) - 1)] = draw(st.text(max_size=80)) + "\n"
    else:
        lines[i:i] = lines[max(0, i - 5) : i]
    return kind, "".join(lines)


@pytest.mark.timeout(120)
@settings(FUZZ, max_examples=max(160, FUZZ.max_examples))  # 20 kinds: ~8 mutants each
@given(case=report_texts())
def test_report_parsers(case: tuple[str, str]) -> None:
    _, text = case
    with contextlib.suppress(ReportParseError):
        parse_text(text, "r.rpt")


@pytest.mark.timeout(120)
@FUZZ
@given(content=st.binary(max_size=2000))
def test_report_file_of_any_bytes(tmp_path: Path, content: bytes) -> None:
    path = _fresh(tmp_path, "r.rpt", content)
    with contextlib.suppress(ReportParseError):
        parse_report(path)


def test_fixtures_cover_several_report_kinds() -> None:
    if not FIXTURES.is_dir():
        pytest.skip(f"no report fixtures at {FIXTURES}")
    assert len(REAL) >= 8, sorted(REAL)


SET_KEYS = [
    "version", "name", "workload", "workload.model", "workload.batch", "workload.hf_config",
    "workload.shape", "platform", "arch", "baseline", "design", "design.quant", "design.m_ffn",
    "design.freq_mhz", "design.sparsity", "space", "space.m_ffn", "space.m_ffn.type",
    "space.m_ffn.low", "space.sparsity", "space.density_ffn.when", "space.density_ffn.choices",
    "derived", "derived.m_attn", "objectives", "constraints", "constraints.max_util.lut",
    "budget.trials", "sampler", "sampler.n_startup_trials", "seed", "batch_size", "storage",
    "build", "build.flow", "build.every", "build.hosts", "description", "space.m_qkv.step",
]  # fmt: skip
SET_VALUES = [
    "", "[]", "{}", "~", "true", "-1", "0", "1.5", ".nan", ".inf", "1e400", "abc", "[1, 2]",
    "{a: 1}", '"a\\nb"', "&a 1", "*a", "[[[[]]]]", "!!binary AAAA", "2024-01-01", "9" * 60,
    ":cat:", "[bold]x", "sparsity > 3", "ecp5", "nm", "u280", "{type: int, low: 1, high: 4}",
    "[none, nm]", "{name: tpe, n_startup_trials: x}",
]  # fmt: skip


@pytest.mark.timeout(120)
@settings(FUZZ, max_examples=min(20, FUZZ.max_examples) if FUZZ.max_examples <= 40 else 400)
@given(
    sets=st.lists(
        st.tuples(st.sampled_from(SET_KEYS), st.sampled_from(SET_VALUES)), min_size=1, max_size=3
    )
)
def test_estimate_with_random_overrides(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], sets: list[tuple[str, str]]
) -> None:
    """The real CLI with random ``--set`` overrides: it runs, or it says one line, exit 2."""
    cfg = tmp_path / "study.yaml"
    cfg.write_text(BASE_TEXT)
    argv = ["estimate", str(cfg)]
    for key, value in sets:
        argv += ["--set", f"{key}={value}"]
    code, out, err = run_cli(argv, capsys)
    if code != 0:
        check_one_line(code, out, err, ())
