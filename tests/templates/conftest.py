"""Fixtures for the template tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from runners._templates import TEMPLATES_ROOT

MakeTemplate = Callable[..., Path]

_BASE_MANIFEST: dict[str, object] = {
    "version": 1,
    "kind": "rtl",
    "description": "scratch template",
    "top": "demo",
    "flows": ["yosys-xilinx"],
    "sources": ["demo.v"],
    "parameters": {
        "LANES": {
            "type": "int",
            "min": 1,
            "max": 256,
            "pow2": True,
            "default": 8,
            "point_key": "lanes",
        },
    },
}


@pytest.fixture
def repo_templates() -> Path:
    """The repository's templates folder."""
    return TEMPLATES_ROOT


@pytest.fixture
def make_template(tmp_path: Path) -> MakeTemplate:
    """Write a scratch template under ``tmp_path/templates``; returns that templates root.

    ``make_template(name, files={...}, **manifest_overrides)``; a key set to None is removed.
    """
    root = tmp_path / "templates"

    def make(name: str = "demo", /, files: dict[str, str] | None = None, **changes: object) -> Path:
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        manifest = {**_BASE_MANIFEST, "name": name, **changes}
        manifest = {k: v for k, v in manifest.items() if v is not None}
        (folder / "manifest.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
        files = files if files is not None else {"demo.v": "module demo;\nendmodule\n"}
        for rel, text in files.items():
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            (folder / rel).write_text(text)
        return root

    return make
