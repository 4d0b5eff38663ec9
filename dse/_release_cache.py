"""Promote does not trust the build cache: a result is re-derived from its own reports.

``results/builds/<hash>/result.json`` is a file anyone who can write ``results/`` can edit
(``status: ok, timing_met: true``). Before promote publishes a build, the flow's ``parse``
reads the reports beside it again; verdict, metrics and the report and artefact lists must
agree with ``result.json``. A consistent forgery of the reports themselves is out of reach
here (the cache is a working area); a published release is then covered by its digest.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dse._release_verify import same
from dse.release import ReleaseError
from runners.toolchains import get_toolchain

if TYPE_CHECKING:
    from runners import BuildResult


# Report names a flow has since changed while keeping its bundle hash, so entries cached
# before still hit: the ecp5 flow's Yosys log was "yosys_log" until the flows became tool steps.
RENAMED_REPORTS = {"yosys_log": "log"}


def rederive(res: BuildResult, flow: str) -> None:
    """Refuse a build result that its own reports do not back.

    ``result.json`` is a cache entry anyone with write access can edit; what promote may
    publish (a success, or a timing failure) is re-derived with the flow's ``parse`` from the
    reports beside it and must agree on verdict, metrics, reports and artefacts.
    """
    folder = Path(res.result_dir)
    fresh = get_toolchain(flow).parse(folder)
    stored = {
        "status": res.status,
        "failure_class": res.failure_class,
        "metrics": dict(res.metrics),
        "reports": {RENAMED_REPORTS.get(k, k): v for k, v in res.reports.items()},
        "artefacts": dict(res.artefacts),
    }
    derived = {
        "status": fresh.status,
        "failure_class": fresh.failure_class,
        # JSON as result.json holds it (tuples become lists, ints stay ints)
        "metrics": json.loads(json.dumps(dict(fresh.metrics), default=str)),
        "reports": dict(fresh.reports),
        "artefacts": dict(fresh.artefacts),
    }
    bad = [k for k in stored if not same(stored[k], derived[k])]
    if bad:
        shown = "; ".join(f"{k}: {_brief(stored[k], derived[k])}" for k in bad)
        raise ReleaseError(
            f"{folder / 'result.json'}: does not match the reports it came from ({shown}); the "
            f"cache entry was altered or damaged: delete {folder} and promote again"
        )


def _brief(stored: Any, derived: Any) -> str:
    """What differs between two values, briefly (only the differing keys of dicts)."""
    if isinstance(stored, dict) and isinstance(derived, dict):
        keys = sorted(
            k for k in stored.keys() | derived.keys() if not same(stored.get(k), derived.get(k))
        )
        return ", ".join(f"{k} {stored.get(k)!r} vs {derived.get(k)!r}" for k in keys[:6])
    return f"{stored!r} vs {derived!r} in the reports"
