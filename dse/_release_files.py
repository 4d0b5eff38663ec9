"""File helpers of ``dse.release``: checksums, read-only trees, git state, template digests."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def tree_files(root: Path) -> list[str]:
    """Every file (and symlink) below ``root`` as sorted POSIX paths relative to it."""
    out = []
    for folder, _dirs, files in os.walk(root):
        for name in files:
            out.append((Path(folder) / name).relative_to(root).as_posix())
    return sorted(out)


def make_read_only(root: Path) -> None:
    """Files 0444, folders 0555, deepest first (so every folder stays enterable meanwhile)."""
    for folder, dirs, files in os.walk(root, topdown=False):
        for name in files:
            os.chmod(Path(folder) / name, 0o444)
        for name in dirs:
            os.chmod(Path(folder) / name, 0o555)
    os.chmod(root, 0o555)


def make_writable(root: Path) -> None:
    """Undo ``make_read_only`` (owner may write), so the tree can be removed."""
    os.chmod(root, 0o755)
    for folder, dirs, files in os.walk(root):
        for name in dirs:
            os.chmod(Path(folder) / name, 0o755)
        for name in files:
            path = Path(folder) / name
            if not path.is_symlink():
                os.chmod(path, stat.S_IMODE(path.stat().st_mode) | stat.S_IWUSR)


def remove_tree(root: Path) -> None:
    shutil.rmtree(root, ignore_errors=True)


def git_state(root: Path) -> tuple[str | None, bool | None]:
    """``(commit, dirty)`` of the git checkout at ``root``; ``(None, None)`` when it is not
    one (or git is not installed). Untracked files count as dirty; ignored ones do not."""
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--verify", "HEAD"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if head.returncode != 0:
            return None, None
        status = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None, None
    dirty = bool(status.stdout.strip()) if status.returncode == 0 else None
    return head.stdout.strip(), dirty


def template_digests(template: str, flow: str) -> dict[str, Any]:
    """sha256 of every file of ``template`` (its manifest and sources) and of the script
    templates (``kind: script``) that list ``flow``, with one digest per template over them."""
    from runners import list_templates, load_template

    used = [load_template(template)]
    used += [t for t in list_templates() if t.kind == "script" and flow in t.flows]
    out: dict[str, Any] = {}
    for tpl in used:
        files = {"manifest.yaml": sha256_file(tpl.folder / "manifest.yaml")}
        for src in tpl.sources:
            files[src] = sha256_file((tpl.folder / src).resolve())
        text = json.dumps(files, sort_keys=True).encode()
        out[tpl.name] = {"digest": hashlib.sha256(text).hexdigest(), "files": files}
    return out
