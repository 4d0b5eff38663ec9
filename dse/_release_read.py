"""Reading published releases: ``<results>/releases/<name>/`` and its manifest."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cost_models as cm
from dse._release_base import ReleaseError, check_name
from dse._release_verify import MANIFEST
from dse.layout import DEFAULT_RESULTS, ResultsLayout, layout

Results = ResultsLayout | Path | str  # a results root, as a layout or a path


@dataclass(frozen=True)
class Release:
    """A published release: its folder and its parsed ``manifest.json``.

    ``error`` is set (and ``manifest`` empty) when the manifest cannot be read; such a
    release still shows in ``list_releases`` so it is not silently hidden.
    """

    name: str
    path: Path
    manifest: dict[str, Any] = field(default_factory=dict, repr=False)
    error: str | None = None

    @property
    def study(self) -> str:
        return str(self.manifest.get("study", {}).get("name", ""))

    @property
    def trial(self) -> int | None:
        number = self.manifest.get("trial", {}).get("number")
        return int(number) if isinstance(number, int) else None

    @property
    def created_at(self) -> str:
        return str(self.manifest.get("created_at", ""))

    @property
    def flow(self) -> str:
        return str(self.manifest.get("build", {}).get("flow", ""))

    @property
    def host(self) -> str:
        return str(self.manifest.get("build", {}).get("host", ""))

    @property
    def timing_met(self) -> bool | None:
        value = self.manifest.get("timing_met")
        return value if isinstance(value, bool) else None

    @property
    def bitstream(self) -> Path | None:
        """The flashable file (``.bit`` / ``.xclbin``)."""
        rel = self.manifest.get("bitstream")
        return self.path / rel if isinstance(rel, str) else None

    @property
    def parameters(self) -> dict[str, Any]:
        return dict(self.manifest.get("parameters") or {})

    @property
    def predicted(self) -> dict[str, Any]:
        """The cost model's metrics of the trial (its ``user_attrs["metrics"]``)."""
        return dict(self.manifest.get("predicted") or {})

    @property
    def measured(self) -> dict[str, Any]:
        """The build's metrics (``BuildResult.metrics``)."""
        return dict(self.manifest.get("measured") or {})


def releases_root(results: Results = DEFAULT_RESULTS) -> Path:
    """``<results>/releases``."""
    return layout(results).releases


def list_releases(results: Results = DEFAULT_RESULTS) -> list[Release]:
    """Every release under ``<results>/releases``, by name (folders in progress skipped)."""
    root = releases_root(results)
    if not root.is_dir():
        return []
    out = []
    for path in sorted(root.iterdir()):
        if path.is_dir() and not path.name.startswith("."):
            out.append(read_release(path))
    return out


def load_release(results: Results, name: str) -> Release:
    """The release ``name``; raises ``ReleaseError`` when it does not exist or its manifest
    cannot be read."""
    rel = read_release(existing_release(results, name))
    if rel.error:
        raise ReleaseError(rel.error)
    return rel


def existing_release(results: Results, name: str) -> Path:
    """The folder of release ``name``; ``ReleaseError`` naming the releases there if none."""
    check_name(name)
    path = layout(results).release_dir(name)
    if not path.is_dir():
        known = [r.name for r in list_releases(results)]
        hint = cm.did_you_mean(name, known)
        raise ReleaseError(
            f"release {name!r}: no folder {path} (releases: {', '.join(known) or 'none'})"
            + (f"; {hint}" if hint else "")
        )
    return path


def read_release(path: Path) -> Release:
    """The release in folder ``path`` (``error`` set when its manifest is unreadable)."""
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except OSError as exc:
        return Release(path.name, path, {}, f"{path / MANIFEST}: cannot read: {exc.strerror}")
    except json.JSONDecodeError as exc:
        return Release(path.name, path, {}, f"{path / MANIFEST}: not valid JSON ({exc})")
    if not isinstance(manifest, dict):
        return Release(path.name, path, {}, f"{path / MANIFEST}: expected a JSON object")
    return Release(path.name, path, manifest)
