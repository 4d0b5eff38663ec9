"""``BuildResult``: the one small record a build produces, stored as ``result.json``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

Metric = int | float | str | bool | None
Status = Literal["ok", "failed"]

# Failure classes that a rerun would reproduce: such failed builds are cached. The others
# (timeout, host_error, license, disk_or_io) depend on the host, so they are retried.
DETERMINISTIC_FAILURES = frozenset(
    {"over_utilization", "tool_error", "timing_not_met", "routing_congestion", "drc"}
)
LOG_TAIL_LINES = 50


@dataclass(frozen=True)
class BuildResult:
    """Outcome of one build of one design point.

    ``metrics`` uses the shared report keys (``lut``, ``ff``, ``dsp``, ``bram36``, ``uram``,
    ``fmax_mhz``, ``timing_met``, ``estimated_clock_mhz``, ...). ``artefacts`` and ``reports``
    map a name to a path relative to ``result_dir``. ``cached`` is True when the result was
    served from the build cache without running a tool.
    """

    status: Status
    flow: str
    template: str
    part: str
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Metric] = field(default_factory=dict)
    failure_class: str = "none"
    first_error: str | None = None
    log_tail: list[str] = field(default_factory=list)
    artefacts: dict[str, str] = field(default_factory=dict)
    reports: dict[str, str] = field(default_factory=dict)
    tool_versions: dict[str, str] = field(default_factory=dict)
    fidelity: str = ""
    host: str = ""
    started_at: str = ""
    ended_at: str = ""
    duration_s: float = 0.0
    bundle_hash: str = ""
    result_dir: str = ""
    cached: bool = False
    steps: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the build succeeded."""
        return self.status == "ok"

    @property
    def deterministic(self) -> bool:
        """True when a rerun would give the same outcome (so the result may be cached)."""
        return self.ok or self.failure_class in DETERMINISTIC_FAILURES

    def to_json(self) -> str:
        """Serialise as one JSON object (sorted keys, so equal results give equal text)."""
        return json.dumps(asdict(self), sort_keys=True, indent=1, default=str) + "\n"

    @classmethod
    def from_json(cls, text: str | Mapping[str, Any]) -> BuildResult:
        """Inverse of ``to_json``; unknown keys (from newer versions) are ignored."""
        data = json.loads(text) if isinstance(text, str) else dict(text)
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def tail(text: str, lines: int = LOG_TAIL_LINES) -> list[str]:
    """The last ``lines`` non-empty-at-end lines of ``text``."""
    return text.rstrip("\n").split("\n")[-lines:] if text.strip() else []
