"""``build``: one design point through one flow, served from the build cache when possible.

Layout under ``cache_root`` (default ``results/builds``)::

    <hash>/result.json      the BuildResult (written last: its presence marks a cache entry)
    <hash>/...              the bundle, logs, reports and artefacts of that build
    .tmp-<hash>-<pid>/      a build in progress (renamed to <hash>/ when done)
    .lock-<hash>            flock()ed while a build of <hash> runs, so two identical requests
                            run the tools once; the second waits and gets a cache hit

A process killed mid-build (``kill -9``) leaves its ``.tmp-*`` (and maybe ``.stage-*`` /
``.old-*``) folder behind; ``reap_stale`` removes those at the next start (``BuildFarm`` calls
it): a ``.tmp-<hash>-*`` whose lock nobody holds, or any of them whose process is gone.

A failed build is cached when rerunning would fail the same way (over-utilisation, a
synthesis error, timing not met); a transient failure (timeout, host error, licence, disk)
is kept for inspection as ``<hash>/attempt.json`` but the next request runs again.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import time
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runners._bundle import Bundle, make_bundle
from runners._executor import Executor, LocalExecutor, StepResult
from runners._result import BuildResult, tail
from runners._templates import Template
from runners.toolchains import get_toolchain
from runners.toolchains._base import read_text

RESULT_JSON = "result.json"
ATTEMPT_JSON = "attempt.json"
DEFAULT_CACHE_ROOT = Path("results/builds")


def cached_result(cache_root: Path | str, bundle_hash: str) -> BuildResult | None:
    """The cached result for ``bundle_hash`` (with ``cached=True``), or None."""
    folder = Path(cache_root) / bundle_hash
    path = folder / RESULT_JSON
    if not path.is_file():
        return None
    res = BuildResult.from_json(path.read_text(encoding="utf-8"))
    return replace(res, cached=True, result_dir=str(folder))


def reap_stale(cache_root: Path | str) -> list[Path]:
    """Remove work folders a killed build left in ``cache_root``; returns what was removed.

    A ``.tmp-<hash>-<pid>`` is stale when no process holds ``.lock-<hash>`` (a running
    build of that hash holds it throughout); ``.stage-*`` and ``.old-<hash>-<pid>`` folders,
    which have no lock, when their process is gone (``.stage-*``: older than an hour, since
    their name has no pid).
    """
    root = Path(cache_root)
    removed: list[Path] = []
    if not root.is_dir():
        return removed
    for path in root.iterdir():
        name = path.name
        stale = False
        if name.startswith(".tmp-") and path.is_dir():
            parts = name.split("-")
            if len(parts) == 3:
                stale = not _pid_alive(parts[2]) or _lock_free(root / f".lock-{parts[1]}")
        elif name.startswith(".old-") and path.is_dir():
            stale = not _pid_alive(name.rsplit("-", 1)[-1])
        elif name.startswith(".stage-") and path.is_dir():
            with contextlib.suppress(OSError):
                stale = time.time() - path.stat().st_mtime > 3600
        if stale:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _pid_alive(text: str) -> bool:
    """Whether the process ``text`` (a pid) runs on this machine; True when unsure."""
    try:
        os.kill(int(text), 0)
    except ProcessLookupError:
        return False
    except (ValueError, PermissionError):
        return True
    return True


def _lock_free(path: Path) -> bool:
    """True when nobody holds the build lock ``path`` (taken and released at once)."""
    if not path.exists():
        return True
    with path.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(handle, fcntl.LOCK_UN)
        return True


def build(
    template: Template | str,
    point: Mapping[str, Any],
    flow: str,
    *,
    part: str | None = None,
    cache_root: Path | str = DEFAULT_CACHE_ROOT,
    executor: Executor | None = None,
    force: bool = False,
) -> BuildResult:
    """Build ``template`` at ``point`` with ``flow``; return the (possibly cached) result.

    ``force`` rebuilds even when a result is cached. Raises ``TemplateError`` /
    ``ToolchainError`` for bad input before any tool runs; tool failures come back as a
    ``BuildResult`` with ``status="failed"``.
    """
    root = Path(cache_root)
    root.mkdir(parents=True, exist_ok=True)
    bundle = make_bundle(template, point, flow, part=part, root=root)
    try:
        if not force and (hit := cached_result(root, bundle.hash)) is not None:
            return hit
        with _locked(root / f".lock-{bundle.hash}"):
            # Another process may have finished the same build while we waited.
            if not force and (hit := cached_result(root, bundle.hash)) is not None:
                return hit
            work = root / f".tmp-{bundle.hash}-{os.getpid()}"
            if work.exists():
                shutil.rmtree(work)
            bundle.folder.rename(work)
            bundle = replace(bundle, folder=work)
            res = _run(bundle, executor or LocalExecutor())
            _publish(root, bundle.hash, work, res)
            return replace(res, result_dir=str(root / bundle.hash))
    finally:
        if bundle.folder.exists() and bundle.folder.name.startswith(".stage-"):
            shutil.rmtree(bundle.folder, ignore_errors=True)


def _run(bundle: Bundle, executor: Executor) -> BuildResult:
    toolchain = get_toolchain(bundle.flow)
    started = datetime.now(UTC)
    t0 = time.monotonic()
    steps = executor.run(bundle.folder, list(bundle.commands))
    duration = time.monotonic() - t0
    failed = next((s for s in steps if not s.ok), None)
    if failed is None and len(steps) == len(bundle.commands):
        res = toolchain.parse(bundle.folder)
    else:
        res = _step_failure(bundle, failed)
    if not res.log_tail and steps:
        res = replace(res, log_tail=tail(read_text(bundle.folder / steps[-1].log)))
    return replace(
        res,
        flow=bundle.flow,
        template=bundle.template.name,
        part=bundle.part,
        params=dict(bundle.params),
        fidelity=res.fidelity or toolchain.fidelity,
        tool_versions=dict(bundle.tool_versions),
        host=executor.host,
        started_at=started.isoformat(timespec="seconds"),
        ended_at=datetime.now(UTC).isoformat(timespec="seconds"),
        duration_s=round(duration, 3),
        bundle_hash=bundle.hash,
        cached=False,
        steps=[s.to_json() for s in steps],
    )


def _step_failure(bundle: Bundle, step: StepResult | None) -> BuildResult:
    toolchain = get_toolchain(bundle.flow)
    if step is None:  # the executor stopped without reporting a failed step
        return BuildResult(
            "failed",
            "",
            "",
            "",
            failure_class="host_error",
            first_error="executor ran only part of the commands",
        )
    if step.failure_class is not None:  # timeout / host_error seen by the executor
        failure, first = step.failure_class, step.message
        lines = tail(read_text(bundle.folder / step.log))
    else:
        failure, first, lines = toolchain.classify(bundle.folder, step.log)
        first = first or f"step '{step.name}' exited with status {step.returncode}"
        sig = _killed_by(step.returncode)
        if sig is not None and failure == "tool_error":
            # Killed from outside (an operator, the OOM killer, a reboot): the host's doing,
            # not the design's, so it must not be cached as the point's verdict.
            failure = "host_error"
            first = f"step '{step.name}' was killed by {sig}; {first}"
    return BuildResult(
        "failed", "", "", "", failure_class=failure, first_error=first, log_tail=lines
    )


def _publish(root: Path, bundle_hash: str, work: Path, res: BuildResult) -> None:
    """Write the result file last, then move the folder into place atomically."""
    final = root / bundle_hash
    name = RESULT_JSON if res.deterministic else ATTEMPT_JSON
    stored = replace(res, result_dir=str(final))
    tmp = work / f".{name}.tmp"
    tmp.write_text(stored.to_json(), encoding="utf-8")
    os.replace(tmp, work / name)
    if final.exists():
        # rename() cannot replace a non-empty folder: move the old one aside first.
        old = root / f".old-{bundle_hash}-{os.getpid()}"
        final.rename(old)
        work.rename(final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        work.rename(final)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _killed_by(returncode: int | None) -> str | None:
    """The signal that ended a step: negative codes locally, 128+N through a remote shell."""
    if returncode is None:
        return None
    n = -returncode if returncode < 0 else returncode - 128 if 128 < returncode < 160 else 0
    if n in (signal.SIGTERM, signal.SIGKILL, signal.SIGINT, signal.SIGHUP):
        return signal.Signals(n).name
    return None
