"""Manifest loading, validation errors and design-point parameter resolution."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from runners._errors import RunnerError, TemplateError
from runners._templates import (
    TEMPLATES_ROOT,
    Template,
    list_templates,
    load_template,
    templates_root,
)

from .conftest import MakeTemplate

RTL = {"gemv_int", "systolic_gemm", "gemv_nm_sparse", "softmax_fx", "llm_top"}
HLS = {"hls_gemv", "hls_gemm", "hls_attention"}
SCRIPTS = {"vivado", "vitis_hls", "vitis_link"}
# Whole accelerators: verified by their own suites (tests/overlay_tests), not by a unit
# testbench, and predicted by the whole-design models rather than by summed units.
WHOLE = {"overlay", "overlay_release", "spatial_rtl", "spatial_release"}
WHOLE_HLS = {"hls_spatial"}  # the spatial HLS top: C simulation in tests/spatial_tests


def test_repository_templates_all_load(repo_templates: Path) -> None:
    templates = {t.name: t for t in list_templates()}
    assert set(templates) == RTL | HLS | SCRIPTS | WHOLE | WHOLE_HLS
    assert repo_templates == Path(__file__).resolve().parents[2] / "templates"
    for t in templates.values():
        hls = HLS | WHOLE_HLS
        expected_kind = "rtl" if t.name in RTL | WHOLE else "hls" if t.name in hls else "script"
        assert t.kind == expected_kind
        assert t.description and t.flows and t.sources
        assert all((t.folder / s).is_file() for s in t.sources)
        if t.name in WHOLE | WHOLE_HLS:
            continue
        assert t.test is not None
        if t.kind != "script":
            assert len(t.test.settings) >= 2, t.name  # every unit is checked at two points
        assert t.resolve_params({}) == {k: p.default for k, p in t.parameters.items()}


def test_templates_root_follows_env(
    monkeypatch: pytest.MonkeyPatch, make_template: MakeTemplate
) -> None:
    root = make_template("only_one")
    monkeypatch.setenv("DSE_TEMPLATES", str(root))
    assert templates_root() == root
    assert [t.name for t in list_templates()] == ["only_one"]
    monkeypatch.delenv("DSE_TEMPLATES")
    assert templates_root() == TEMPLATES_ROOT


def test_unknown_template_lists_known_ones(make_template: MakeTemplate) -> None:
    root = make_template("demo")
    with pytest.raises(TemplateError, match=r"no such template manifest \(known templates: demo\)"):
        load_template("nope", root)


def test_bad_parameter_names_template_parameter_and_range() -> None:
    gemv = load_template("gemv_int")
    expected = (
        r"^template 'gemv_int': parameter LANES=3 must be a power of two in \[1, 256\] "
        r"\(from design point key 'lanes'\)$"
    )
    with pytest.raises(TemplateError, match=expected):
        gemv.resolve_params({"lanes": 3})
    with pytest.raises(
        TemplateError,
        match=r"^template 'gemv_int': parameter WBITS=6 must be "
        r"one of \[4, 8\] \(from design point key 'w_bits'\)$",
    ):
        gemv.resolve_params({"w_bits": 6})
    with pytest.raises(
        TemplateError, match=r"parameter ACCBITS='32' must be an integer in \[24, 48\]"
    ):
        gemv.resolve_params({"ACCBITS": "32"})  # found under the parameter's own name
    with pytest.raises(ValueError):  # TemplateError is also a ValueError and a RunnerError
        gemv.resolve_params({"lanes": 512})
    assert issubclass(TemplateError, RunnerError)


def test_resolve_params_reads_point_keys_and_ignores_the_rest() -> None:
    top = load_template("llm_top")
    point = {"lanes": np.int64(16), "w_bits": 4.0, "has_sparse": False, "model": "llama-2-7b"}
    params = top.resolve_params(point)
    assert params["GEMV_LANES"] == 16 and type(params["GEMV_LANES"]) is int
    assert params["GEMV_WBITS"] == 4 and params["HAS_SPARSE"] == 0
    assert params["SYS_MT"] == top.parameters["SYS_MT"].default
    with pytest.raises(TemplateError, match=r"parameter GEMV_LANES=True must be"):
        top.resolve_params({"lanes": True})  # a bool is not a lane count
    with pytest.raises(TemplateError, match=r"parameter GEMV_WBITS=4.5 must be one of"):
        top.resolve_params({"w_bits": 4.5})


def test_constraints_name_the_parameters_involved() -> None:
    sparse = load_template("gemv_nm_sparse")
    message = r"^template 'gemv_nm_sparse': parameters M=4, N=4 violate 'N < M' \(N:M sparsity"
    with pytest.raises(TemplateError, match=message):
        sparse.resolve_params({"sparse_n": 4, "sparse_m": 4})
    top = load_template("llm_top")
    off = {"has_gemv": 0, "has_systolic": 0, "has_sparse": 0, "has_softmax": 0}
    with pytest.raises(TemplateError, match="a design needs at least one unit"):
        top.resolve_params(off)


def test_chparam_command_sets_every_parameter() -> None:
    gemv = load_template("gemv_int")
    assert gemv.chparam_command({"lanes": 4, "w_bits": 4}) == (
        "chparam -set LANES 4 -set WBITS 4 -set ACCBITS 32 gemv_int"
    )


@pytest.mark.parametrize(
    ("changes", "key", "expected"),
    [
        ({"kind": "fpga"}, "kind", "expected 'rtl', 'hls' or 'script', got 'fpga'"),
        ({"version": 2}, "version", "1"),
        ({"top": None}, "top", "expected a value (the key is missing)"),
        ({"flows": "vivado"}, "flows", "expected list, got 'vivado'"),
        ({"name": "other"}, "name", "the folder name 'demo'"),
        ({"sources": ["missing.v"]}, r"sources\[0\]", "an existing file under"),
        ({"paramters": {}}, "paramters", "expected no such key"),
        (
            {"parameters": {"W": {"type": "float", "default": 1}}},
            "parameters.W.type",
            "'int', 'str' or 'bool'",
        ),
        ({"parameters": {"W": {"default": 3, "pow2": True}}}, "parameters.W.default", "a power"),
        ({"parameters": {"W": {"default": 4, "choices": [4, "8"]}}}, r"W.choices\[1\]", "int"),
        ({"parameters": {"W": {"min": 1}}}, "parameters.W.default", "the key is missing"),
        ({"constraints": ["N > 1"]}, r"constraints\[0\]", "expected mapping, got 'N > 1'"),
        ({"constraints": [{"expr": "LANES <"}]}, r"constraints\[0\].expr", "an expression"),
        ({"constraints": [{"expr": "W > 1"}]}, r"constraints\[0\]", "over parameters"),
        (
            {"test": {"simulator": "iverilog", "settings": [{"LANES": 3}]}},
            r"test.settings\[0\]",
            "LANES=3 must be a power of two",
        ),
        (
            {"test": {"simulator": "iverilog", "settings": [{"LANE": 4}]}},
            r"test.settings\[0\]",
            "parameter or context names",
        ),
        ({"test": {"testbench": "tb.v"}}, "test.testbench", "an existing file"),
        ({"derive": {"width": "mv_n"}}, "derive.width", "a parameter's point_key or name"),
        ({"derive": {"lanes": "mv_n +"}}, "derive.lanes", "an expression"),
        ({"model": [{"unit": "gemv"}]}, r"model\[0\].params", "the key is missing"),
        (
            {"model": [{"unit": "gemv", "params": {"lanes": "LANE"}}]},
            r"model\[0\].params.lanes",
            "unknown: LANE",
        ),
        (
            {"model": [{"unit": "gemv", "when": "HAS_X", "params": {"lanes": "LANES"}}]},
            r"model\[0\].when",
            "unknown: HAS_X",
        ),
    ],
)
def test_manifest_errors_name_file_key_and_expectation(
    make_template: MakeTemplate, changes: dict[str, object], key: str, expected: str
) -> None:
    root = make_template("demo", **changes)
    manifest = re.escape(str(root / "demo" / "manifest.yaml"))
    with pytest.raises(
        TemplateError, match=rf"^{manifest}: key '[^']*{key}[^']*': .*{re.escape(expected)}"
    ):
        load_template("demo", root)


def test_invalid_yaml_is_reported_with_the_file(make_template: MakeTemplate) -> None:
    root = make_template("demo")
    (root / "demo" / "manifest.yaml").write_text("version: [1\n")
    with pytest.raises(TemplateError, match=r"manifest.yaml:2: not valid YAML"):
        load_template("demo", root)


def test_template_is_immutable() -> None:
    gemv = load_template("gemv_int")
    assert isinstance(gemv, Template)
    with pytest.raises(AttributeError):
        gemv.name = "other"  # type: ignore[misc]


@pytest.mark.parametrize("name", sorted(RTL))
def test_verilog_parameter_defaults_match_the_manifest(name: str) -> None:
    """chparam / -P set every manifest parameter, so the module must declare exactly those."""
    template = load_template(name)
    text = (template.folder / template.sources[0]).read_text()
    start = text.index(f"module {template.top}")
    header = text[start : text.index(");", start)]
    declared = {k: int(v) for k, v in re.findall(r"parameter\s+(\w+)\s*=\s*(\d+)", header)}
    assert declared == {k: p.default for k, p in template.parameters.items()}


def test_derive_maps_cost_model_keys_onto_template_parameters() -> None:
    top = load_template("llm_top")
    point = {"mv_n": 16, "quant": "w4a8", "mm_k": 8, "mm_n": 4, "sparsity": "nm", "nm_m": 8}
    params = top.resolve_params({**point, "density_ffn": 0.5})
    assert (params["GEMV_LANES"], params["GEMV_WBITS"]) == (16, 4)
    assert (params["SYS_MT"], params["SYS_NT"]) == (8, 4)
    assert (params["HAS_SPARSE"], params["SP_M"], params["SP_N"]) == (1, 8, 4)
    # A template key given explicitly wins over its derivation.
    assert top.resolve_params({**point, "lanes": 2})["GEMV_LANES"] == 2
    # A dense point switches the sparse unit off and keeps its parameters valid.
    dense = top.resolve_params({**point, "sparsity": "none", "nm_m": 16, "density_ffn": 1.0})
    assert (dense["HAS_SPARSE"], dense["SP_N"], dense["SP_M"]) == (0, 2, 4)
    # A derivation naming a key the point lacks is skipped: the default applies.
    assert top.resolve_params({"mv_n": 16})["SP_N"] == top.parameters["SP_N"].default


def test_derived_value_out_of_range_names_the_derivation() -> None:
    top = load_template("llm_top")
    with pytest.raises(TemplateError, match=r"GEMV_LANES=96 must be a power of two.*'mv_n'"):
        top.resolve_params({"mv_n": 96})


def test_model_terms_follow_the_enabled_units() -> None:
    top = load_template("llm_top")
    params = top.resolve_params({"has_sparse": 0, "lanes": 4, "sys_mt": 2, "sys_nt": 3})
    terms = dict(top.model_terms(params))
    assert set(terms) == {"gemv", "systolic", "softmax"}
    assert terms["systolic"] == {"mt": 2, "nt": 3, "acc_bits": 32}
    for t in list_templates():
        if t.kind == "rtl" and t.name not in WHOLE:  # every unit RTL template names its units
            assert t.model_terms(t.resolve_params({})), t.name
