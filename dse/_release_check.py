"""Checking releases: verify against the manifest, its digest and its HMAC signature."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
from dataclasses import replace
from pathlib import Path

from dse._release_base import RELEASE_FLOWS, ReleaseError
from dse._release_read import Release, Results, existing_release
from dse._release_verify import (
    MANIFEST,
    KeyFileError,
    VerifyReport,
    check_tree,
    obj,
    read_key,
    read_nofollow,
    sign,
)
from dse.layout import layout


def verify_release(
    results: Results,
    name: str,
    *,
    digest: str | None = None,
    key: Path | str | None = None,
) -> VerifyReport:
    """Check release ``name`` against its manifest (see ``dse._release_verify``).

    ``digest``: the release digest recorded at promote time (sha256 of ``manifest.json``);
    ``key``: the key file the release was signed with (checks ``<releases>/<name>.sig``).
    Only these two catch a consistent rewrite of files and manifest.

    Raises:
        ReleaseError: no such release, its manifest is unreadable, a bad digest or key file.
    """
    path = existing_release(results, name)
    if digest is not None and not re.fullmatch(r"(sha256:)?[0-9a-fA-F]{64}", digest):
        raise ReleaseError(f"--digest {digest!r}: expected the 64 hex digits dse promote printed")
    if path.is_symlink() or not path.is_dir():
        where = os.readlink(path) if path.is_symlink() else "not a folder"
        return VerifyReport(
            name, path, 0, unsafe=[f". (the release folder) is a symlink to {where}"]
        )
    manifest_path = path / MANIFEST
    if manifest_path.is_symlink():
        target = os.readlink(manifest_path)
        return VerifyReport(name, path, 0, unsafe=[f"{MANIFEST} is a symlink to {target}"])
    try:
        raw = read_nofollow(manifest_path)
        manifest = json.loads(raw)
    except OSError as exc:
        raise ReleaseError(f"{manifest_path}: cannot read: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise ReleaseError(f"{manifest_path}: not valid JSON ({exc})") from None
    listed = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(listed, dict):
        raise ReleaseError(f"{manifest_path}: files: missing; expected {{path: sha256}}")
    flow = obj(manifest.get("build")).get("flow")
    suffix = RELEASE_FLOWS[flow][1] if isinstance(flow, str) and flow in RELEASE_FLOWS else None
    rep = check_tree(name, path, manifest, listed, suffix)
    found = hashlib.sha256(raw).hexdigest()
    digest_ok = (
        None
        if digest is None
        else hmac.compare_digest(found, digest.lower().removeprefix("sha256:"))
    )
    sig_ok, sig_error = (None, "") if key is None else _check_signature(path, raw, key)
    return replace(
        rep, digest=found, digest_ok=digest_ok, signature_ok=sig_ok, signature_error=sig_error
    )


def signature_path(results: Results, name: str) -> Path:
    """``<releases>/<name>.sig``: beside the release, which is read-only."""
    return layout(results).signature(name)


def sign_release(results: Results, name: str, key: Path | str) -> Path:
    """Write ``<releases>/<name>.sig``: an HMAC-SHA256 of the release's ``manifest.json``
    with the secret in file ``key``. Returns the signature file.

    Raises:
        ReleaseError: no such release or a bad key file.
    """
    path = existing_release(results, name)
    secret = read_sign_key(key)
    try:
        raw = read_nofollow(path / MANIFEST)
    except OSError as exc:
        raise ReleaseError(f"{path / MANIFEST}: cannot read: {exc.strerror or exc}") from None
    out = signature_path(results, name)
    out.write_text(sign(raw, secret) + "\n", encoding="utf-8")
    return out


def release_digest(release: Release) -> str:
    """The sha256 of the release's ``manifest.json``: record it to check later with
    ``verify_release(..., digest=...)``."""
    return hashlib.sha256(read_nofollow(release.path / MANIFEST)).hexdigest()


def read_sign_key(key: Path | str) -> bytes:
    """The secret in key file ``key`` (``ReleaseError`` when it is not a usable key)."""
    try:
        return read_key(key)
    except KeyFileError as exc:
        raise ReleaseError(str(exc)) from None


def _check_signature(path: Path, raw: bytes, key: Path | str) -> tuple[bool, str]:
    secret = read_sign_key(key)
    sig_file = path.parent / f"{path.name}.sig"
    try:
        stored = sig_file.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return False, f"{sig_file}: no readable signature (sign with `dse release sign`)"
    if not hmac.compare_digest(stored, sign(raw, secret)):
        return False, f"{sig_file}: does not match manifest.json with key {key}"
    return True, ""
