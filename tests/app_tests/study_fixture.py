"""A small real study for the dashboard tests: a short sweep that builds for real.

SmolLM-135M on an ECP5 with a small searched engine and a ``build:`` section, so
``dse sweep`` itself queues, runs and records builds: unit builds (``llm_top``, Yosys takes
seconds per build), which calibrate nothing of the design. The whole overlay of a built trial
then runs on the sim rung (Verilator), and the resumed sweep calibrates the decode latency
with its cycles (whole-overlay synthesis takes 7-20 minutes here: too slow for the suite).
One more build of a sweep trial with the ``vivado`` flow is then run for real on
this machine, where Vivado is absent, so the study also holds a genuinely failed build (its
failure class, first error and log come from the runner, not from the test).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

NAME = "dash-smollm"
TRIALS = 64
OVERLAY_KEYS = {
    "quant_group": 64,
    "mm_k": 1,
    "mm_n": 1,
    "unified_engine": True,
    "prefill_serial": True,
    "act_onchip": True,
    "axi_port_bits": 64,
}


@dataclass(frozen=True)
class Study:
    name: str
    url: str
    results: Path
    config: Path
    trials: int
    failed_build_trial: int


def base_config(name: str) -> dict[str, Any]:
    """SmolLM-135M on an ECP5-85 with small engines (Yosys takes seconds per build).

    Written out here rather than read from ``examples/`` so the tests do not move when an
    example is retuned.
    """
    return {
        "version": 1,
        "name": name,
        "workload": {"model": "smollm-135m", "batch": 1, "prompt_len": 64, "gen_len": 64},
        "platform": "ecp5-85",
        "arch": "temporal",
        "baseline": "a100",
        "design": {
            "quant": "w4a8",
            "quant_group": 128,
            "kv_bits": 8,
            "cores": 1,
            "mm_t": 1,
            "mv_k": 8,
            "sfu_lanes": 2,
            "act_onchip": False,
            **{f"hbm_ch_{g}": 1 for g in ("wqkv", "wo", "wffn", "kv", "act")},
        },
        "objectives": [
            {"metric": "decode_tokens_per_s", "direction": "maximize"},
            {"metric": "energy_per_token_j", "direction": "minimize"},
        ],
        "constraints": {"max_util": {"lut": 0.85, "dsp": 1.0, "bram36": 0.9}, "feasible": True},
        "seed": 1,
    }


def study_yaml(folder: Path) -> Path:
    doc = base_config(NAME)
    # The design keys the overlay builds (one MV engine that also runs prefill, activations
    # on chip, groups that divide the sim rung's tiny model), so every trial runs on the
    # overlay's sim rung as the study scores it.
    doc["design"].update(OVERLAY_KEYS)
    del doc["design"]["sfu_lanes"]
    doc["space"] = {
        "freq_mhz": {"type": "float", "low": 40, "high": 120},
        "mv_n": {"type": "pow2", "low": 2, "high": 8},
        "sfu_lanes": {"type": "pow2", "low": 1, "high": 4},
    }
    doc["budget"] = {"trials": TRIALS}
    doc["sampler"] = {"name": "tpe"}
    doc["batch_size"] = 16
    doc["build"] = {"flow": "yosys-ecp5", "every": 32, "top_k": 1, "budget": 2}
    doc["build"]["template"] = "llm_top"  # units: Yosys takes seconds per build
    path = folder / f"{NAME}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def make_study(folder: Path) -> Study:
    """Sweep ``TRIALS`` trials with real Yosys builds into ``folder/results``."""
    from dse.buildspec import resolve_build
    from dse.config import load_config
    from dse.sweep import BuildsTable, TrialStore, default_storage, load_study_data, run_sweep
    from runners import build

    results = folder / "results"
    config = study_yaml(folder)
    cfg = load_config(config)
    url = default_storage(cfg.name, results)
    opts: dict[str, Any] = {"storage": url, "progress": False, "cache_root": results / "builds"}
    # The sweep spends its unit builds, then the whole overlay of each built trial runs on
    # the sim rung; the resumed sweep fits their cycles (the only whole-design measurements:
    # unit builds calibrate nothing of the design) and re-scores every trial with them.
    run_sweep(cfg, trials=TRIALS - 8, **opts)
    add_sim_runs(cfg, url, results / "builds")
    run_sweep(cfg, trials=TRIALS, resume=True, **opts)

    # A real failed build: the vivado flow on a machine without Vivado.
    frame = load_study_data(cfg.name, url).frame
    row = frame[frame["state"] == "COMPLETE"].iloc[-1]
    point = {
        str(k).split("_", 1)[1]: v
        for k, v in row.items()
        if str(k).startswith(("point_", "param_"))
    }
    spec = resolve_build(cfg, point, template="llm_top", flow="vivado", check_keys=False)
    store = TrialStore(url, create=False)
    try:
        sid = store.study_id(cfg.name)
        assert sid is not None
        table = BuildsTable(store.engine, store.reader)
        build_id = add_build(
            table,
            sid,
            int(row["number"]),
            spec,
            f"dashboard-test-vivado-{int(row['number'])}",
            "dashboard test: vivado flow where Vivado is absent",
        )
        table.started(build_id, "local", 1)
        res = build(
            spec.template, spec.point, spec.flow, part=spec.part, cache_root=results / "builds"
        )
        table.finished(build_id, res, None)
    finally:
        store.close()
    return Study(cfg.name, url, results, config, TRIALS, int(row["number"]))


def add_build(
    table: Any,
    sid: int,
    trial: int,
    spec: Any,
    key: str,
    reason: str,
    predicted: dict[str, Any] | None = None,
) -> int:
    """Queue ``spec`` as a build of ``trial`` in the study's builds table (``BuildsTable``)."""
    return int(
        table.add(
            sid,
            trial_number=trial,
            trial_id=None,
            spec_key=key,
            template=spec.template,
            flow=spec.flow,
            part=spec.part,
            params=spec.template_params(),
            point=spec.point,
            predicted=predicted or {},
            reason=reason,
        )
    )


def add_sim_runs(cfg: Any, url: str, cache_root: Path) -> None:
    """Run the whole overlay of each trial the sweep built on its sim rung (Verilator, a tiny
    model of the same kind; a minute or two, the Verilator build cached per hardware) and
    record it as the sweep's build loop records a build. Two runs, so the calibration has a
    held-out figure (each run predicted by the correction fitted on the other)."""
    from dse.buildspec import resolve_build
    from dse.scoring import Model
    from dse.sweep import BuildsTable, TrialStore, load_builds
    from dse.sweep._farm import measured_values
    from runners import build

    builds, _ = load_builds(cfg.name, url)
    store = TrialStore(url, create=False)
    try:
        sid = store.study_id(cfg.name)
        assert sid is not None
        table = BuildsTable(store.engine, store.reader)
        for _, done in builds[builds["state"] == "done"].iterrows():
            spec = resolve_build(cfg, done["point"], template="overlay", flow="sim-verilator")
            build_id = add_build(
                table,
                sid,
                int(done["trial_number"]),
                spec,
                f"dashboard-test-sim-{int(done['trial_number'])}",
                "dashboard test: the whole overlay on the sim rung",
                dict(Model.of(cfg).predict_build(spec.point)),
            )
            table.started(build_id, "local", 1)
            res = build(spec.template, spec.point, spec.flow, part=spec.part, cache_root=cache_root)
            assert res.ok, res.first_error
            table.finished(build_id, res, measured_values(res.metrics, res.flow) or None)
    finally:
        store.close()


def make_release_study(folder: Path) -> Study:
    """Two trials (of a 4-point grid) of the smallest engine at 20 MHz, without builds.

    nextpnr-ecp5 places and routes it and meets timing in under a minute: what the Releases
    page promotes for real.
    """
    from dse.config import load_config
    from dse.sweep import default_storage, run_sweep

    doc = base_config("dash-tiny")
    doc["design"].update({"mv_n": 2, "mm_k": 1, "mm_n": 2, "freq_mhz": 20.0})
    doc["space"] = {"tile_tokens": {"type": "categorical", "choices": [4, 8, 16, 32]}}
    doc["budget"] = {"trials": 4}
    doc["sampler"] = "grid"
    # The page's promote mechanics are under test, not the accelerator: the units build in
    # a minute, SmolLM's whole overlay does not fit the ECP5 (promote refuses it).
    doc["build"] = {"template": "llm_top"}
    config = folder / "dash-tiny.yaml"
    config.write_text(yaml.safe_dump(doc, sort_keys=False))
    cfg = load_config(config)
    results = folder / "results"
    url = default_storage(cfg.name, results)
    run_sweep(cfg, trials=2, storage=url, progress=False)  # half the grid; resume adds more
    return Study(cfg.name, url, results, config, 2, -1)
