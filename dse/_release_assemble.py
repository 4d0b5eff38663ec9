"""Assembling a release folder: the build's files copied in, and its manifest."""

from __future__ import annotations

import json
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dse._release_base import MANIFEST_FORMAT, RELEASE_FLOWS, ReleaseError
from dse._release_files import git_state, sha256_file, template_digests, tree_files

if TYPE_CHECKING:
    from dse._release_trial import StudyTrial
    from dse.buildspec import BuildSpec
    from runners import BuildResult


def assemble(
    tmp: Path, name: str, chosen: StudyTrial, spec: BuildSpec, res: BuildResult
) -> dict[str, Any]:
    """Copy the build's files into ``tmp``; return the manifest (without ``files``)."""
    from runners import make_bundle

    built = Path(res.result_dir)
    key, suffix = RELEASE_FLOWS[spec.flow]
    bitstream = f"{name}{suffix}"
    _copy(built / res.artefacts[key], tmp / bitstream)
    # The bundle's own files (what the tools read) are those of a fresh render of the same
    # request; they are copied from the build folder, after checking they are the same bytes.
    with tempfile.TemporaryDirectory(prefix="dse-release-") as scratch:
        bundle = make_bundle(spec.template, spec.point, spec.flow, part=spec.part, root=scratch)
        inputs = tree_files(bundle.folder)
        for rel in inputs:
            src = built / rel
            if not src.is_file():
                raise ReleaseError(f"build folder {built}: {rel} is missing (a damaged cache?)")
            if rel != "bundle.json" and sha256_file(src) != sha256_file(bundle.folder / rel):
                raise ReleaseError(
                    f"build folder {built}: {rel} differs from a fresh render of the design "
                    "(a damaged cache entry? delete the folder and promote again)"
                )
            _copy(src, tmp / "sources" / rel)
    for rel in sorted(set(res.reports.values()) - set(inputs)):
        _copy(built / rel, tmp / "reports" / rel)
    for art_key, rel in sorted(res.artefacts.items()):
        if art_key != key and rel not in inputs:
            _copy(built / rel, tmp / "artefacts" / rel)
    _copy(built / "result.json", tmp / "build" / "result.json")
    write_json(
        tmp / "point.json",
        {"trial_point": chosen.point, "build_point": spec.point, "template_params": res.params},
    )
    return _manifest(name, bitstream, chosen, spec, res)


def _manifest(
    name: str, bitstream: str, chosen: StudyTrial, spec: BuildSpec, res: BuildResult
) -> dict[str, Any]:
    """The release's provenance: trial, prediction, measurement, build, tools, templates."""
    commit, dirty = git_state(Path(__file__).resolve().parents[1])
    timing = res.metrics.get("timing_met")
    return {
        "format": MANIFEST_FORMAT,
        "name": name,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "bitstream": bitstream,
        "timing_met": timing if isinstance(timing, bool) else None,
        "study": {
            "name": chosen.config["name"],
            "storage": _shown(chosen.storage),
            "config": "study.yaml",
        },
        "trial": {
            "number": chosen.number,
            "selector": chosen.selector,
            "state": chosen.state,
            "feasible": chosen.feasible,
            "duplicate_of": chosen.duplicate_of,
            "objectives": chosen.values,
        },
        "parameters": chosen.point,
        "predicted": chosen.metrics,
        "measured": dict(res.metrics),
        "build": {
            "template": spec.template,
            "flow": spec.flow,
            "part": spec.part,
            "template_params": dict(res.params),
            "status": res.status,
            "failure_class": res.failure_class,
            "first_error": res.first_error,
            "host": res.host,
            "bundle_hash": res.bundle_hash,
            "cached": res.cached,
            "started_at": res.started_at,
            "ended_at": res.ended_at,
            "duration_s": res.duration_s,
        },
        "tool_versions": dict(res.tool_versions),
        "project": {"commit": commit, "dirty": dirty},
        "templates": template_digests(spec.template, spec.flow),
    }


def _copy(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=1, sort_keys=False, default=str) + "\n", "utf-8")


def _shown(url: str) -> str:
    """A storage URL without its password."""
    try:
        import sqlalchemy as sa

        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparseable URL is shown as given (it opened, so it has no secret)
        return url
