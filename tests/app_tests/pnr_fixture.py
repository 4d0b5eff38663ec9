"""A real place-and-route build that misses timing, added to a dashboard test study.

Yosys + nextpnr-ecp5 (``ecp5`` flow, from PyPI's ``yowasp-*``) on the smallest engine of a
study trial with its clock target raised far above what an ECP5 reaches: nextpnr routes it,
measures the real Fmax and resources, and the build is ``failed`` with ``timing_not_met``;
its ``nextpnr.log`` holds the critical path the Builds page shows. 30-90 s on two cores.
"""

from __future__ import annotations

from typing import Any

from tests.app_tests.study_fixture import Study, add_build

TARGET_MHZ = 150.0  # inside the model's clock range, far above what an ECP5 routes at


def add_timing_failure(study: Study) -> int:
    """Build the engine of the study's first built trial, made smallest, with the ``ecp5``
    flow at ``TARGET_MHZ`` and record it as a build of that trial; returns its build id."""
    from dse.buildspec import resolve_build
    from dse.config import load_config
    from dse.sweep import BuildsTable, TrialStore, load_builds
    from dse.sweep._buildloop import MEASURED_KEYS
    from runners import build

    cfg = load_config(study.config)
    builds, _ = load_builds(study.name, study.url)
    done = builds[builds["state"] == "done"].iloc[0]  # a point the sweep itself built
    point: dict[str, Any] = dict(done["point"])
    # The smallest engine routes fastest; only the clock target is out of reach.
    point.update(mv_n=2, mm_n=1, mm_k=1, freq_mhz=TARGET_MHZ)
    # llm_top, as the sweep's own builds: the whole overlay takes minutes to place and route
    spec = resolve_build(cfg, point, template="llm_top", flow="ecp5", check_keys=False)
    store = TrialStore(study.url, create=False)
    try:
        sid = store.study_id(study.name)
        assert sid is not None
        table = BuildsTable(store.engine, store.reader)
        build_id = add_build(
            table,
            sid,
            int(done["trial_number"]),
            spec,
            f"dashboard-test-ecp5-{int(done['trial_number'])}",
            f"dashboard test: ecp5 place and route at {TARGET_MHZ:g} MHz",
        )
        table.started(build_id, "local", 1)
        res = build(
            spec.template,
            spec.point,
            spec.flow,
            part=spec.part,
            cache_root=study.results / "builds",
        )
        measured = {  # what the sweep's build loop records of a build
            k: float(v)
            for k in MEASURED_KEYS
            if isinstance(v := res.metrics.get(k), int | float) and not isinstance(v, bool)
        }
        if "fmax_mhz" in measured:
            measured.pop("estimated_clock_mhz", None)
        table.finished(build_id, res, measured or None)
    finally:
        store.close()
    return build_id
