"""Rendering: determinism, params.json, error locations and design-point-driven pragmas."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

from runners._errors import TemplateError
from runners._templates import list_templates, load_template, render_template

from .conftest import MakeTemplate


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(folder.iterdir()):
        h.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


@pytest.mark.parametrize("name", [t.name for t in list_templates()])
def test_rendering_is_deterministic(name: str, tmp_path: Path) -> None:
    template = load_template(name)
    # A whole accelerator has no unit testbench (tests/overlay_tests): render its defaults.
    setting = template.test.settings[0] if template.test and template.test.settings else {}
    first = render_template(template, setting, tmp_path / "a", include_test=True)
    render_template(
        template, dict(reversed(list(setting.items()))), tmp_path / "b", include_test=True
    )
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert [f.parent for f in first] == [tmp_path / "a"] * len(first)
    assert not any(f.name.endswith(".j2") for f in first)


def test_params_json_records_resolved_parameters(tmp_path: Path) -> None:
    gemv = load_template("gemv_int")
    files = render_template(gemv, {"lanes": 16, "w_bits": 4, "unrelated": "x"}, tmp_path)
    assert [f.name for f in files] == ["gemv_int.v", "params.json"]  # no testbench by default
    meta = json.loads((tmp_path / "params.json").read_text())
    assert meta == {
        "template": "gemv_int",
        "kind": "rtl",
        "top": "gemv_int",
        "params": {"LANES": 16, "WBITS": 4, "ACCBITS": 32},
        "context": {},
    }
    # RTL is copied verbatim: parameters reach it as module parameters (chparam / -P).
    assert (tmp_path / "gemv_int.v").read_bytes() == (gemv.folder / "gemv_int.v").read_bytes()


def test_render_rejects_bad_parameters_before_writing(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match=r"parameter LANES=3"):
        render_template(load_template("gemv_int"), {"lanes": 3}, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_undefined_variable_names_file_and_line(
    make_template: MakeTemplate, tmp_path: Path
) -> None:
    text = "// header\nmodule demo;\n// {{ LANES }} lanes, {{ WIDTH }} bits\nendmodule\n"
    root = make_template("demo", files={"demo.v.j2": text}, sources=["demo.v.j2"])
    template = load_template("demo", root)
    source = re.escape(str((root / "demo" / "demo.v.j2").resolve()))
    with pytest.raises(TemplateError, match=rf"^{source}:3: UndefinedError: 'WIDTH' is undefined"):
        render_template(template, {}, tmp_path / "out")


def test_template_syntax_error_names_file_and_line(
    make_template: MakeTemplate, tmp_path: Path
) -> None:
    text = "line one\n{% for x in y %}\n{{ x }\n"
    root = make_template("demo", files={"demo.v.j2": text}, sources=["demo.v.j2"])
    with pytest.raises(TemplateError, match=r"demo\.v\.j2:3: template syntax error"):
        render_template(load_template("demo", root), {}, tmp_path / "out")


def test_context_keys_reach_jinja_and_others_do_not(
    make_template: MakeTemplate, tmp_path: Path
) -> None:
    text = "{% for s in sources %}read {{ s }} x{{ LANES }}\n{% endfor %}"
    root = make_template(
        "demo",
        files={"demo.tcl.j2": text},
        sources=["demo.tcl.j2"],
        context={"sources": {"default": ["a.v"], "doc": "files"}},
    )
    template = load_template("demo", root)
    render_template(template, {"lanes": 2, "sources": ["b.v", "c.v"], "junk": 1}, tmp_path)
    assert (tmp_path / "demo.tcl").read_text() == "read b.v x2\nread c.v x2\n"
    render_template(template, {}, tmp_path)
    assert (tmp_path / "demo.tcl").read_text() == "read a.v x8\n"


def test_hls_pragmas_come_from_the_design_point(tmp_path: Path) -> None:
    point = {"w_bundles": 3, "ii": 2, "unroll": 16, "partition": 8, "w_bits": 4}
    render_template(load_template("hls_gemv"), point, tmp_path)
    text = (tmp_path / "hls_gemv.cpp").read_text()
    bundles = re.findall(
        r"#pragma HLS interface m_axi port=w(\d) bundle=gmem(\d) offset=slave", text
    )
    assert bundles == [("0", "0"), ("1", "1"), ("2", "2")]
    assert "#pragma HLS pipeline II=2" in text
    assert "#pragma HLS unroll factor=16" in text
    assert "#pragma HLS array_partition variable=xbuf cyclic factor=8" in text
    assert "typedef dse_int<4> wgt_t;" in (tmp_path / "hls_gemv.h").read_text()
    assert (tmp_path / "dse_types.h").is_file()  # the shared header travels with the kernel
