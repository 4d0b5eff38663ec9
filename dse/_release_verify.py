"""``verify_release``'s checks: a release folder against its manifest, never following a link.

A release is intact when, without following any symlink:

* the folder, ``manifest.json`` and everything below are real folders and regular files
  (a symlink anywhere, a FIFO or a device is ``unsafe``);
* every file the manifest lists exists with its sha256 (``changed`` / ``missing``) and
  nothing else is there (``extra``: files, links, empty folders);
* files are 0444 and folders 0555 (``modes``: "read-only" is part of the release);
* the manifest's own content matches its ``seal`` (the sha256 of the rest of the manifest),
  its entries are plain relative paths inside the release (never ``..`` or absolute: such an
  entry is ``unsafe`` and is not read), and its fields agree with the files it lists
  (``inconsistent``: name, bitstream, measured metrics, build verdict, parameters).

All of this is in the release itself, so someone who rewrites files *and* manifest
consistently passes it. Only something kept outside the release catches that: the release
``digest`` (sha256 of ``manifest.json``, printed by ``dse promote``) checked against the value
the user recorded, or an HMAC-SHA256 ``signature`` of the manifest with a key file the user
keeps (``<releases>/<name>.sig``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dse.errors import DseError

MANIFEST = "manifest.json"
SEAL = "seal"
FILE_MODE, DIR_MODE = 0o444, 0o555
SIG_PREFIX = "hmac-sha256:"
MIN_KEY_BYTES = 16
_CHUNK = 1 << 20


class KeyFileError(DseError, ValueError):
    """A signing key file that cannot be used (missing, unreadable, too short)."""


@dataclass(frozen=True)
class VerifyReport:
    """Outcome of ``verify_release``; paths are relative to the release folder.

    ``digest`` is the sha256 of ``manifest.json`` (the value to record); ``digest_ok`` and
    ``signature_ok`` are None when no expected digest / key was given.
    """

    name: str
    path: Path
    checked: int
    changed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    modes: list[str] = field(default_factory=list)
    unsafe: list[str] = field(default_factory=list)
    inconsistent: list[str] = field(default_factory=list)
    digest: str = ""
    digest_ok: bool | None = None
    signature_ok: bool | None = None
    signature_error: str = ""

    @property
    def ok(self) -> bool:
        return not (
            self.changed
            or self.missing
            or self.extra
            or self.modes
            or self.unsafe
            or self.inconsistent
            or self.digest_ok is False
            or self.signature_ok is False
        )

    def problems(self) -> list[tuple[str, str]]:
        """``(kind, detail)`` for every finding, in a stable order."""
        out = [
            (kind, item)
            for kind, items in (
                ("unsafe", self.unsafe),
                ("changed", self.changed),
                ("missing", self.missing),
                ("extra", self.extra),
                ("mode", self.modes),
                ("inconsistent", self.inconsistent),
            )
            for item in items
        ]
        if self.digest_ok is False:
            out.append(("digest", f"manifest.json has sha256 {self.digest}, not the one given"))
        if self.signature_ok is False:
            out.append(("signature", self.signature_error))
        return out


def seal_of(manifest: dict[str, Any]) -> str:
    """sha256 of the manifest without its ``seal``, as canonical JSON."""
    body = {k: v for k, v in manifest.items() if k != SEAL}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def read_key(path: Path | str) -> bytes:
    """The bytes of a signing key file (at least ``MIN_KEY_BYTES``)."""
    try:
        key = Path(path).read_bytes()
    except OSError as exc:
        raise KeyFileError(f"key file {path}: cannot read ({exc.strerror})") from None
    if len(key.strip()) < MIN_KEY_BYTES:
        raise KeyFileError(
            f"key file {path}: expected at least {MIN_KEY_BYTES} bytes of secret (make one with "
            "`head -c 32 /dev/urandom > FILE`)"
        )
    return key


def sign(manifest_bytes: bytes, key: bytes) -> str:
    """``hmac-sha256:<hex>`` of the manifest's bytes (which carry every file's sha256)."""
    return SIG_PREFIX + hmac.new(key, manifest_bytes, hashlib.sha256).hexdigest()


def read_nofollow(path: Path) -> bytes:
    """A regular file's bytes; ``OSError`` for a symlink (``ELOOP``) or anything else."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise OSError(f"{path}: not a regular file")
        return handle.read()


def _sha256_nofollow(path: Path) -> str:
    digest = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise OSError(f"{path}: not a regular file")
        while block := handle.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def safe_entry(rel: object) -> bool:
    """A manifest path: relative, '/'-separated, no empty, '.' or '..' part, no NUL."""
    if not isinstance(rel, str) or not rel or rel.startswith("/") or "\\" in rel or "\0" in rel:
        return False
    return all(part not in ("", ".", "..") for part in rel.split("/")) and rel != MANIFEST


def scan(root: Path) -> dict[str, tuple[str, int]]:
    """``{relative path: (kind, mode)}`` of everything below ``root`` (not following links);
    kind is ``file``, ``dir``, ``link`` or ``other``."""
    out: dict[str, tuple[str, int]] = {}
    stack = [""]
    while stack:
        rel_dir = stack.pop()
        with os.scandir(root / rel_dir if rel_dir else root) as entries:
            for entry in entries:
                rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
                st = entry.stat(follow_symlinks=False)
                if stat.S_ISLNK(st.st_mode):
                    kind = "link"
                elif stat.S_ISDIR(st.st_mode):
                    kind = "dir"
                    stack.append(rel)
                elif stat.S_ISREG(st.st_mode):
                    kind = "file"
                else:
                    kind = "other"
                out[rel] = (kind, stat.S_IMODE(st.st_mode))
    return out


def check_tree(
    name: str, root: Path, manifest: dict[str, Any], listed: dict[str, Any], suffix: str | None
) -> VerifyReport:
    """Compare the tree at ``root`` (a real folder) with the manifest's ``files``;
    ``suffix``: the bitstream suffix of the manifest's flow (None: not a release flow)."""
    tree = scan(root)
    changed, missing, unsafe, modes = [], [], [], []
    root_mode = stat.S_IMODE(os.lstat(root).st_mode)
    if root_mode != DIR_MODE:
        modes.append(f". is {root_mode:04o}, expected {DIR_MODE:04o}")
    for rel, (kind, mode) in sorted(tree.items()):
        if kind in ("link", "other"):
            what = "a symlink" if kind == "link" else "not a regular file or folder"
            target = f" to {os.readlink(root / rel)}" if kind == "link" else ""
            unsafe.append(f"{rel} is {what}{target}")
        elif kind == "file" and mode != FILE_MODE:
            modes.append(f"{rel} is {mode:04o}, expected {FILE_MODE:04o}")
        elif kind == "dir" and mode != DIR_MODE:
            modes.append(f"{rel}/ is {mode:04o}, expected {DIR_MODE:04o}")
    good: dict[str, str] = {}
    for rel, digest in sorted(listed.items(), key=lambda kv: str(kv[0])):
        if not safe_entry(rel):
            unsafe.append(f"manifest.json lists {rel!r}: not a plain path inside the release")
            continue
        if tree.get(rel, ("", 0))[0] != "file":
            missing.append(rel)  # absent, or a link / folder / device where a file belongs
            continue
        try:
            actual = _sha256_nofollow(root / rel)
        except OSError:
            missing.append(rel)
            continue
        if actual != digest:
            changed.append(rel)
        else:
            good[rel] = actual
    # Folders holding a listed file are expected; everything else on disk is extra.
    parents = {
        "/".join(p.split("/")[:i])
        for p in listed
        if safe_entry(p)
        for i in range(1, p.count("/") + 1)
    }
    extra = sorted(
        rel
        for rel, (kind, _mode) in tree.items()
        if rel != MANIFEST and rel not in listed and not (kind == "dir" and rel in parents)
    )
    inconsistent = _inconsistent(name, root, manifest, good, suffix)
    return VerifyReport(
        name,
        root,
        len(listed),
        changed,
        missing,
        extra,
        modes,
        unsafe,
        inconsistent,
    )


def _inconsistent(
    name: str, root: Path, manifest: dict[str, Any], good: dict[str, str], suffix: str | None
) -> list[str]:
    """Manifest fields that disagree with its seal or with the (verified) files it lists."""
    out = []
    seal = manifest.get(SEAL)
    if not isinstance(seal, str):
        out.append("manifest.json has no seal (made before format 2): its fields are unchecked")
    elif not hmac.compare_digest(seal, seal_of(manifest)):
        out.append("manifest.json: its content does not match its seal (a field was edited)")
    if manifest.get("name") != name:
        out.append(f"manifest.json: name {manifest.get('name')!r}, but the folder is {name!r}")
    bit = manifest.get("bitstream")
    if bit != f"{name}{suffix}" or bit not in good:
        out.append(
            f"manifest.json: bitstream {bit!r} is not the release's verified "
            f"{name}{suffix or '.<flashable suffix>'}"
        )
    result = _json_of(root, "build/result.json", good)
    if result is not None:
        metrics = obj(result.get("metrics"))
        build = obj(manifest.get("build"))
        timing = metrics.get("timing_met")
        pairs = [
            ("measured", manifest.get("measured"), metrics),
            (
                "timing_met",
                manifest.get("timing_met"),
                timing if isinstance(timing, bool) else None,
            ),
            *((f"build.{k}", build.get(k), result.get(k)) for k in _RESULT_KEYS),
        ]
        for key, have, want in pairs:
            if not same(have, want):
                out.append(f"manifest.json: {key} differs from build/result.json")
    point = _json_of(root, "point.json", good)
    if point is not None:
        if not same(manifest.get("parameters"), point.get("trial_point")):
            out.append("manifest.json: parameters differ from point.json's trial_point")
        build_params = obj(manifest.get("build")).get("template_params")
        if not same(build_params, point.get("template_params")):
            out.append("manifest.json: build.template_params differ from point.json")
    return out


_RESULT_KEYS = ("status", "failure_class", "flow", "part", "template", "bundle_hash", "host")


def _json_of(root: Path, rel: str, good: dict[str, str]) -> dict[str, Any] | None:
    if rel not in good:
        return None  # reported as missing or changed already
    try:
        data = json.loads(read_nofollow(root / rel))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def obj(value: Any) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty one (a damaged manifest)."""
    return value if isinstance(value, dict) else {}


def same(a: Any, b: Any) -> bool:
    """Equality of JSON values where NaN equals NaN (a metric may be NaN on both sides)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b if isinstance(a, bool) or isinstance(b, bool) else a == b
