"""The farm's journal: one JSON line per build attempt, appended the moment it ends
(``<cache_root>/journal.jsonl``), and its reader."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from runners._result import BuildResult

JOURNAL = "journal.jsonl"


def append_attempt(
    path: Path,
    job: Any,
    host: str,
    res: BuildResult | None,
    start: float,
    end: float,
    *,
    final: bool,
    error: str | None = None,
) -> None:
    """Append the record of ``job``'s attempt on ``host`` (``res`` None: the task raised
    ``error``, a template or toolchain error: the build's bad input)."""
    record = {
        "job": job.id,
        "attempt": job.attempt,
        "final": final,
        "host": host,
        "flow": job.flow,
        "template": job.template if isinstance(job.template, str) else job.template.name,
        "point": job.point,
        "start": round(start, 6),
        "end": round(end, 6),
        "status": res.status if res else "error",
        "failure_class": res.failure_class if res else "input_error",
        "first_error": res.first_error if res else error,
        "bundle_hash": res.bundle_hash if res else "",
        "result_dir": res.result_dir if res else "",
        "cached": res.cached if res else False,
    }
    line = json.dumps(record, sort_keys=True, default=str) + "\n"
    # One write() on an O_APPEND descriptor: a reader never sees half a line from us.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, line.encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def read_journal(path: Path | str) -> list[dict[str, Any]]:
    """Records of a farm journal (a torn last line from a crash is skipped)."""
    out: list[dict[str, Any]] = []
    p = Path(path)
    if not p.is_file():
        return out
    for line in p.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out
