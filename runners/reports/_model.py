"""The parsed-report record shared by every parser."""

from __future__ import annotations

from dataclasses import dataclass, field

Value = int | float | str | bool | None
Values = dict[str, Value]

# Failure classes ``classify_failure`` can return, most specific first.
FAILURE_CLASSES: tuple[str, ...] = (
    "over_utilization",
    "license",
    "timing_not_met",
    "routing_congestion",
    "drc",
    "disk_or_io",
    "tool_error",
    "timeout",
    "host_error",
    "none",
)


@dataclass(frozen=True)
class Report:
    """One parsed tool report.

    ``kind`` names the format (see ``SUPPORTED_KINDS``), ``path`` is the file it came from
    (or the name hint for parsed text) and ``values`` holds flat scalar results such as
    ``lut``, ``wns_ns`` or ``failure_class``. A value of ``None`` means "present in the
    report but not a number" (``NA``, ``undef``, ``?``); keys a report cannot provide are
    left out.
    """

    kind: str
    path: str
    values: Values = field(default_factory=dict)

    def get(self, key: str, default: Value = None) -> Value:
        """Return ``values[key]`` or ``default``."""
        return self.values.get(key, default)

    def to_dict(self) -> Values:
        """Flat JSON-able dict: ``kind`` first, then ``path``, then the values."""
        out: Values = {"kind": self.kind, "path": self.path}
        for key, value in self.values.items():
            if key not in out:
                out[key] = value
        return out
