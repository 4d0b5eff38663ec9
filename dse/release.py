"""Releases: one design point of a study, built at bitstream fidelity, kept with its provenance.

``promote(study, trial, name)`` resolves the trial's design point with the study's own config
(``dse.buildspec.resolve_build``), builds it locally or on a build host (the sweeps' Ray
dispatch, ``runners.dispatch.BuildFarm``) and publishes ``<results>/releases/<name>/``::

    manifest.json       provenance and the sha256 of every other file (see ``MANIFEST_FORMAT``)
    <name>.bit          the bitstream (``<name>.xclbin`` for vitis-link)
    study.yaml          the study's config, as stored with the study
    point.json          the trial's design point, the build point and the template parameters
    build/result.json   the build's ``BuildResult``
    sources/            the rendered build bundle: template sources, flow scripts, bundle.json
    reports/            the reports and logs the build names
    artefacts/          the build's other artefacts (a Vivado checkpoint, an HLS ``.xo``)

The folder is assembled in ``releases/.tmp-<name>-*`` and moved into place with one rename
when complete, so nothing half-written ever appears under its name; it is then read-only
(files 0444, folders 0555). To delete a release: ``chmod -R u+w`` it first.

Stable API (the dashboard imports these): ``promote``, ``list_releases``, ``load_release``,
``verify_release``, ``Release``, ``VerifyReport``, ``ReleaseError``, ``ReleaseBuildFailed``,
``RELEASE_FLOWS``. Every function takes the results root (default ``results``), not the
``releases`` folder.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cost_models as cm
from dse import onchip_release
from dse._release_files import (
    git_state,
    make_read_only,
    make_writable,
    remove_tree,
    sha256_file,
    template_digests,
    tree_files,
)
from dse._release_verify import (
    MANIFEST,
    SEAL,
    KeyFileError,
    VerifyReport,
    check_tree,
    obj,
    read_key,
    read_nofollow,
    seal_of,
    sign,
)
from dse.errors import DseError
from runners.toolchains import TOOLCHAINS

if TYPE_CHECKING:
    from dse._release_trial import StudyTrial
    from dse.buildspec import BuildSpec
    from runners import BuildResult

__all__ = [
    "MANIFEST",
    "RELEASE_FLOWS",
    "Release",
    "ReleaseBuildFailed",
    "ReleaseError",
    "VerifyReport",
    "check_name",
    "list_releases",
    "load_release",
    "promote",
    "release_digest",
    "releases_root",
    "sign_release",
    "signature_path",
    "verify_release",
]

MANIFEST_FORMAT = 2  # bump when the layout or a manifest key changes meaning (2: ``seal``)
RELEASES = "releases"
# Flows that end in a flashable file: flow -> (BuildResult.artefacts key, file suffix), as
# each toolchain declares it (``Toolchain.deliverable``).
RELEASE_FLOWS: Mapping[str, tuple[str, str]] = {
    name: tc.deliverable for name, tc in TOOLCHAINS.items() if tc.deliverable is not None
}
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


class ReleaseError(DseError, ValueError):
    """Bad promote/release input: unknown study, trial, metric, flow or host, a bad or taken
    release name, a missing release. The CLI prints it on one line and exits with code 2."""


class ReleaseBuildFailed(ReleaseError):
    """The build failed, or missed timing without ``allow_timing_failure``: nothing was
    published. ``result`` is the build's ``BuildResult`` (its folder stays in the build
    cache for inspection). The CLI exits with code 1."""

    def __init__(self, message: str, result: BuildResult) -> None:
        super().__init__(message)
        self.result = result


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


# -- reading releases ----------------------------------------------------------------------


def releases_root(results: Path | str = "results") -> Path:
    """``<results>/releases``."""
    return Path(results) / RELEASES


def list_releases(results: Path | str = "results") -> list[Release]:
    """Every release under ``<results>/releases``, by name (folders in progress skipped)."""
    root = releases_root(results)
    if not root.is_dir():
        return []
    out = []
    for path in sorted(root.iterdir()):
        if path.is_dir() and not path.name.startswith("."):
            out.append(_read(path))
    return out


def load_release(results: Path | str, name: str) -> Release:
    """The release ``name``; raises ``ReleaseError`` when it does not exist or its manifest
    cannot be read."""
    rel = _read(_existing(results, name))
    if rel.error:
        raise ReleaseError(rel.error)
    return rel


def verify_release(
    results: Path | str,
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
    path = _existing(results, name)
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


def signature_path(results: Path | str, name: str) -> Path:
    """``<releases>/<name>.sig``: beside the release, which is read-only."""
    return releases_root(results) / f"{name}.sig"


def sign_release(results: Path | str, name: str, key: Path | str) -> Path:
    """Write ``<releases>/<name>.sig``: an HMAC-SHA256 of the release's ``manifest.json``
    with the secret in file ``key``. Returns the signature file.

    Raises:
        ReleaseError: no such release or a bad key file.
    """
    path = _existing(results, name)
    secret = _key(key)
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


def _key(key: Path | str) -> bytes:
    try:
        return read_key(key)
    except KeyFileError as exc:
        raise ReleaseError(str(exc)) from None


def _check_signature(path: Path, raw: bytes, key: Path | str) -> tuple[bool, str]:
    secret = _key(key)
    sig_file = path.parent / f"{path.name}.sig"
    try:
        stored = sig_file.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return False, f"{sig_file}: no readable signature (sign with `dse release sign`)"
    if not hmac.compare_digest(stored, sign(raw, secret)):
        return False, f"{sig_file}: does not match manifest.json with key {key}"
    return True, ""


def _existing(results: Path | str, name: str) -> Path:
    check_name(name)
    path = releases_root(results) / name
    if not path.is_dir():
        known = [r.name for r in list_releases(results)]
        hint = cm.did_you_mean(name, known)
        raise ReleaseError(
            f"release {name!r}: no folder {path} (releases: {', '.join(known) or 'none'})"
            + (f"; {hint}" if hint else "")
        )
    return path


def _read(path: Path) -> Release:
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except OSError as exc:
        return Release(path.name, path, {}, f"{path / MANIFEST}: cannot read: {exc.strerror}")
    except json.JSONDecodeError as exc:
        return Release(path.name, path, {}, f"{path / MANIFEST}: not valid JSON ({exc})")
    if not isinstance(manifest, dict):
        return Release(path.name, path, {}, f"{path / MANIFEST}: expected a JSON object")
    return Release(path.name, path, manifest)


def check_name(name: str) -> None:
    """A release name is one folder name: letters, digits, ``. _ -``, not starting with ``.``."""
    if not _NAME_RE.fullmatch(name):  # not match: '$' would let 'name\n' through
        raise ReleaseError(
            f"release name {name!r}: expected 1-100 letters, digits, '.', '_' or '-', not "
            "starting with '.' or '-' (it names the folder results/releases/NAME)"
        )


# -- promote -------------------------------------------------------------------------------


def promote(
    study: str,
    trial: str | int,
    name: str,
    *,
    flow: str | None = None,
    template: str | None = None,
    part: str | None = None,
    hosts: Path | str | None = None,
    host: str | None = None,
    allow_timing_failure: bool = False,
    results: Path | str = "results",
    storage: str | None = None,
    ray_address: str | None = None,
    sign_key: Path | str | None = None,
    log: Callable[[str], None] | None = None,
) -> Release:
    """Build trial ``trial`` of ``study`` at bitstream fidelity and publish it as ``name``.

    ``trial`` is a trial number or ``"best:<metric>"`` (the best feasible trial by that
    objective, in the study's direction). ``flow`` is one of ``RELEASE_FLOWS`` (default: the
    platform's open flow when it makes bitstreams, else ``vivado``). With ``hosts`` (a
    hosts.yaml) the build goes through ``runners.dispatch.BuildFarm``, restricted to ``host``
    when given; otherwise it runs here. Builds are cached in ``<results>/builds``.
    ``storage`` defaults to ``sqlite:///<results>/<study>/optuna.db``. ``sign_key``: a key
    file; the release is then signed (``sign_release``). ``log`` receives progress lines.

    Raises:
        ReleaseError: bad input (see the class), raised before anything is built.
        ReleaseBuildFailed: the build failed, or missed timing without
            ``allow_timing_failure``; nothing is published.
        StudyNotFound, ConfigError, runners.RunnerError: unknown study, a stored config or
            point that no longer resolves, a bad hosts file or template parameter.
    """
    from dse._release_trial import select_trial

    say = log or (lambda _msg: None)
    results = Path(results)
    check_name(name)
    final = releases_root(results) / name
    if final.exists():
        raise ReleaseError(
            f"release {name!r} already exists at {final}; releases are immutable - choose "
            "another --name"
        )
    if flow is not None and flow not in RELEASE_FLOWS:
        hint = cm.did_you_mean(flow, RELEASE_FLOWS)
        raise ReleaseError(
            f"--flow {flow!r}: not a flow that makes a bitstream (release flows: "
            f"{', '.join(RELEASE_FLOWS)})" + (f"; {hint}" if hint else "")
        )
    if sign_key is not None:
        _key(sign_key)  # a bad key file is bad input: refuse it before building
    inventory = _inventory(hosts, host, flow)
    chosen = select_trial(study, str(trial), storage, results)
    say(f"trial {chosen.number} of study {study!r} ({chosen.selector})")
    if not chosen.feasible:
        # Promoting it is allowed (the model may be wrong); the manifest records the verdict.
        why = chosen.metrics.get("violations") or "a constraint is violated"
        say(f"warning: the cost model marks trial {chosen.number} infeasible ({why})")
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{name}-", dir=final.parent))
    try:
        spec = _build_spec(chosen, tmp, flow, template, part)
        # The overlay on ECP5 runs from on-chip memory: refused here if it cannot fit.
        onchip = onchip_release.plan(tmp / "study.yaml", chosen.point, spec.template)
        if inventory is not None and spec.flow not in {f for h in inventory.hosts for f in h.flows}:
            raise ReleaseError(
                f"{hosts}: no host{f' {host!r}' if host else ''} offers flow {spec.flow!r}"
            )
        say(
            f"building {spec.template} with {spec.flow} for {spec.part} "
            + (f"on {', '.join(h.name for h in inventory.hosts)}" if inventory else "locally")
        )
        res = _build(spec, results, inventory, ray_address)
        _check_result(res, spec, chosen, allow_timing_failure)
        say(f"built in {res.duration_s:.1f} s on {res.host}" + (" (cached)" if res.cached else ""))
        manifest = _assemble(tmp, name, chosen, spec, res)
        if onchip is not None:
            manifest["onchip"] = onchip_release.publish(onchip, tmp, say)
        files = {rel: sha256_file(tmp / rel) for rel in tree_files(tmp)}
        manifest["files"] = dict(sorted(files.items()))
        # The seal is computed on the manifest as verify reads it back (after JSON).
        manifest = json.loads(json.dumps(manifest, default=str))
        manifest[SEAL] = seal_of(manifest)
        _write_json(tmp / MANIFEST, manifest)
        make_read_only(tmp)
        try:
            os.rename(tmp, final)  # a non-empty folder already there makes this fail
        except OSError as exc:
            raise ReleaseError(
                f"release {name!r}: cannot publish to {final} ({exc.strerror}); it was "
                "created meanwhile? choose another --name"
            ) from None
    finally:
        if tmp.exists():
            make_writable(tmp)
            remove_tree(tmp)
    made = load_release(results, name)
    say(
        f"release digest sha256:{release_digest(made)} (record it: `dse release verify {name} "
        "--digest HEX` then proves nothing was rewritten)"
    )
    if sign_key is not None:
        say(f"signed: {sign_release(results, name, sign_key)}")
    return made


def _inventory(hosts: Path | str | None, host: str | None, flow: str | None) -> Any:
    """The hosts file restricted to ``host`` (None: build locally)."""
    if hosts is None:
        if host is not None:
            raise ReleaseError(f"--host {host!r}: give the hosts file with --hosts FILE too")
        return None
    from runners.hosts import load_hosts

    inventory = load_hosts(hosts)
    if host is None:
        return inventory
    names = [h.name for h in inventory.hosts]
    if host not in names:
        hint = cm.did_you_mean(host, names)
        raise ReleaseError(
            f"--host {host!r}: not a host of {hosts} (hosts: {', '.join(names)})"
            + (f"; {hint}" if hint else "")
        )
    picked = inventory.host(host)
    if flow is not None and flow not in picked.flows:
        raise ReleaseError(
            f"--host {host!r}: offers flows {', '.join(picked.flows)}, not {flow!r} ({hosts})"
        )
    return inventory.model_copy(update={"hosts": (picked,)})


def _build_spec(
    chosen: StudyTrial, tmp: Path, flow: str | None, template: str | None, part: str | None
) -> BuildSpec:
    """The study's config (written as ``study.yaml``) and the trial's point -> a BuildSpec."""
    import yaml

    from dse.buildspec import choose_flow, resolve_build
    from dse.config import load_config
    from dse.errors import ConfigError

    config_path = tmp / "study.yaml"
    config_path.write_text(
        yaml.safe_dump(chosen.config, sort_keys=False, allow_unicode=True), encoding="utf-8"
    )
    try:
        cfg = load_config(config_path)
    except ConfigError as exc:
        raise ReleaseError(
            f"study {chosen.config['name']!r}: its stored config no longer loads ({exc}); a "
            "path in it may have been relative to the original config file"
        ) from None
    if flow is None:
        default = choose_flow(cfg, None)
        flow = default if default in RELEASE_FLOWS else "vivado"
    return resolve_build(
        cfg,
        chosen.point,
        template=template,
        flow=flow,
        part=part,
        source=f"trial {chosen.number}",
        check_keys=False,
    )


def _build(spec: BuildSpec, results: Path, inventory: Any, ray_address: str | None) -> BuildResult:
    from runners import build

    cache = results / "builds"
    if inventory is None:
        return build(spec.template, spec.point, spec.flow, part=spec.part, cache_root=cache)
    from runners.dispatch import BuildFarm

    with BuildFarm(inventory, ray_address=ray_address, cache_root=cache) as farm:
        return farm.submit(spec.template, spec.point, spec.flow, part=spec.part).result()


def _check_result(
    res: BuildResult, spec: BuildSpec, chosen: StudyTrial, allow_timing: bool
) -> None:
    where = (
        f"trial {chosen.number} ({spec.flow}, {res.host or 'local'}; build folder {res.result_dir})"
    )
    timing_only = res.failure_class == "timing_not_met"
    if (res.ok or timing_only) and Path(res.result_dir).is_dir():
        from dse._release_cache import rederive

        rederive(res, spec.flow)
    if not res.ok and not (timing_only and allow_timing):
        if timing_only:
            raise ReleaseBuildFailed(
                f"{where}: timing not met: {res.first_error}; nothing was published (pass "
                "--allow-timing-failure to publish it anyway, marked timing_met: false)",
                res,
            )
        raise ReleaseBuildFailed(
            f"{where}: build failed ({res.failure_class}): {res.first_error}; nothing was "
            "published",
            res,
        )
    key = RELEASE_FLOWS[spec.flow][0]
    if key not in res.artefacts:
        hint = " (a Vivado build writes one only in context: OOC=0, WRITE_BITSTREAM=1 and pins)"
        raise ReleaseBuildFailed(
            f"{where}: the build wrote no {key}"
            + (hint if spec.flow == "vivado" else "")
            + "; nothing was published",
            res,
        )
    if not Path(res.result_dir).is_dir():
        raise ReleaseBuildFailed(
            f"{where}: the build folder is not on this machine (a ray_node host keeps it on "
            "its node); promote through an SSH or local host",
            res,
        )


def _assemble(
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
    _write_json(
        tmp / "point.json",
        {"trial_point": chosen.point, "build_point": spec.point, "template_params": res.params},
    )
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


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=1, sort_keys=False, default=str) + "\n", "utf-8")


def _shown(url: str) -> str:
    """A storage URL without its password."""
    try:
        import sqlalchemy as sa

        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparseable URL is shown as given (it opened, so it has no secret)
        return url
