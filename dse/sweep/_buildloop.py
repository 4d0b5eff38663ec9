"""The build loop of ``dse sweep``: real builds of promising trials while the search runs.

A study config with a ``build:`` section (:class:`dse.config.BuildPolicy`) makes the sweep
multi-fidelity. Every ``every`` trials (and once more at the end) a *round* picks up to
``top_k`` candidates and hands them to a :class:`runners.dispatch.BuildFarm` (this machine,
or the hosts of a ``hosts.yaml``, through Ray); the search goes on while they build. After
each batch the loop collects finished builds:

- the measured values go to the ``dse_builds`` table and onto their trial
  (``user_attrs["measured"]``, see :mod:`dse.sweep._builds`);
- calibration (``dse.calibration``) refits one correction per measured metric from every
  build so far (predicted = the model's raw value at the trial's point), and every point
  scored afterwards goes through the corrected model;
- a build that proves its point infeasible (over-utilisation or timing failure in the tool,
  or measured resources over the config's ``max_util``) marks its *neighbourhood*
  infeasible: any later point whose template parameters are all at least as large (a
  template's parameters are sizes: lanes, rows, bits) and, for a timing failure, whose clock
  target is at least as high.

**Picking candidates.** The feasible trials are sorted into Pareto layers by their (corrected)
predicted objectives; within a layer the NSGA-II crowding distance orders them, extremes
first. A candidate is skipped when its build (template parameters, flow options, part) was
already requested, or when it lies within ``diversity`` of a build already picked, in
objective space normalised to [0, 1] per objective (the builds so far placed by the current
model). Hardware not built yet (template parameters) comes first, then new hardware the
model cannot tell apart from a pick (ties hide what the model is blind to), and the same
hardware at another clock only fills what is left.

**Waiting.** By default the search goes on while a round builds, which suits long sweeps;
with ``wait: true`` it pauses until the round's builds are in, so every later trial is
scored by the model they calibrated (a cheap model and a handful of builds).

**Crash safety.** Every build is a row whose state is committed as it changes; a sweep
resumed after a kill queues the rows it finds ``queued``/``running`` again, and the build
cache returns at once the ones that had finished.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

import cost_models as cm
from dse.buildspec import BuildSpec, choose_flow, choose_part, model_defaults, resolve_build
from dse.calibration import (
    METRIC_COLUMNS,
    Correction,
    Observation,
    apply_corrections,
    calibration_errors,
    fit_corrections,
    sanity_check,
)
from dse.config import BuildPolicy
from dse.errors import DseError
from dse.pareto import pareto_mask, to_minimize
from dse.sweep._builds import FINAL_STATES, BuildRow, BuildsTable
from runners.dispatch import HOST_FAILURES

if TYPE_CHECKING:
    from dse.sweep._engine import Sweep

# Templates that build the whole accelerator the model predicts (calibration's sanity
# check refuses their measurements outside x0.5-x2 of the prediction).
WHOLE_DESIGN_TEMPLATES = ("overlay",)

# What a build measures, and the model columns predicted for the same quantities.
MEASURED_KEYS = ("lut", "ff", "dsp", "bram36", "uram", "fmax_mhz", "estimated_clock_mhz")
PREDICTED_KEYS = (*cm.RESOURCES, *(f"{r}_util" for r in cm.RESOURCES), "achievable_clock_mhz")
INFEASIBLE_FAILURES = ("over_utilization", "timing_not_met", "routing_congestion")
POLL_S = 0.5


class BuildLoopError(DseError):
    """The build loop cannot run as configured (no Ray, unknown flow on the hosts, ...)."""


@dataclass(frozen=True)
class Cone:
    """The neighbourhood a measured-infeasible build rules out (see the module docstring)."""

    template: str
    params: dict[str, Any]
    clock_mhz: float | None  # set for a timing failure: only clocks >= this are ruled out
    why: str

    def covers(self, params: Mapping[str, Any], clock_mhz: float | None) -> bool:
        for k, v in self.params.items():
            q = params.get(k)
            if isinstance(v, int | float) and not isinstance(v, bool):
                if not isinstance(q, int | float) or q < v:
                    return False
            elif q != v:
                return False
        if self.clock_mhz is not None:
            return clock_mhz is not None and clock_mhz >= self.clock_mhz
        return True


@dataclass
class BuildSummary:
    """What the loop did, for the CLI's closing table."""

    requested: int = 0
    done: int = 0
    failed: int = 0
    unfinished: int = 0
    rows: list[BuildRow] = field(default_factory=list)
    corrections: dict[tuple[str, str], Correction] = field(default_factory=dict)
    errors: dict[tuple[str, str], tuple[float, float]] = field(default_factory=dict)


def spec_key(spec: BuildSpec, params: Mapping[str, Any]) -> str:
    """Identity of a build: same key, same bundle (template parameters, flow options, part)."""
    from runners import get_toolchain

    facts = {
        "template": spec.template,
        "params": dict(params),
        "options": get_toolchain(spec.flow).options(spec.point),
        "flow": spec.flow,
        "part": spec.part,
    }
    return hashlib.sha256(json.dumps(facts, sort_keys=True, default=str).encode()).hexdigest()


def observations(rows: list[BuildRow]) -> list[Observation]:
    """(predicted, measured) pairs of every finished build with a measurement.

    A failed build counts too when it measured something: a run of place and route that
    missed its clock target measured the real Fmax and resources all the same.
    """
    out = []
    for r in rows:
        if r.state not in FINAL_STATES or not r.measured:
            continue
        for metric, value in r.measured.items():
            column = METRIC_COLUMNS.get(metric)
            pred = r.predicted.get(column) if column else None
            if isinstance(value, int | float) and isinstance(pred, int | float):
                label = f"trial {r.trial_number} ({r.template}, {r.flow})"
                obs = Observation(metric, r.flow, r.template, float(pred), float(value), label)
                out.append(obs)
    return out


class BuildLoop:
    """Builds for one :class:`~dse.sweep._engine.Sweep` (created by it when ``build:`` is set)."""

    def __init__(
        self,
        sweep: Sweep,
        policy: BuildPolicy,
        *,
        hosts: Path | None = None,
        ray_address: str | None = None,
        cache_root: Path | str = "results/builds",
        log: Callable[[str], None] | None = None,
    ) -> None:
        cfg = sweep.cfg
        self.sweep, self.policy = sweep, policy
        self.flow = choose_flow(cfg, policy.flow)
        self.part = choose_part(cfg, self.flow, None)
        # Checks template and flow once; loading a template is slow, so it is kept.
        resolve_build(cfg, {}, template=policy.template, flow=self.flow, part=self.part)
        from runners import load_template

        self.template = load_template(policy.template)
        self.base = {**model_defaults(cfg), **cfg.design}
        self.hosts = hosts or policy.hosts
        self.ray_address = ray_address
        self.cache_root = Path(cache_root)
        self.log = log or (lambda msg: None)
        self.table = BuildsTable(sweep.store.engine, sweep.store.reader)
        self.study_id = sweep.study_id
        self.farm: Any = None
        self.queue: list[int] = []  # build ids not yet handed to the farm
        self.flying: dict[int, Future[Any]] = {}
        self.rows = {r.build_id: r for r in self.table.rows(self.study_id)}
        self.keys = {r.spec_key for r in self.rows.values()}
        self.hw = {_hw_key(r.template, r.params) for r in self.rows.values()}
        self.cones: list[Cone] = []
        self.corrections: dict[tuple[str, str], Correction] = {}
        self.refusals: set[str] = set()  # calibration sanity lines already logged
        for r in self.rows.values():
            if r.state in FINAL_STATES:
                self._learn(r)
        self._refit(save=False)
        self.round = max((r.round for r in self.rows.values()), default=-1) + 1
        # Builds a killed sweep left behind are queued again (the cache serves finished ones).
        left = [r.build_id for r in self.rows.values() if r.state not in FINAL_STATES]
        self.table.requeued(left)
        self.queue.extend(left)
        n = len(sweep.seen.values)
        self.next_round = None if policy.every is None else (n // policy.every + 1) * policy.every

    # -- the sweep's hooks ---------------------------------------------------------------

    def resume(self) -> None:
        """Before the search goes on: with ``wait: true``, the builds a killed sweep left
        queued or running are waited for (and calibrate the model) first, as the
        uninterrupted run waited for them before its next trial."""
        if self.policy.wait and self.queue:
            self.log(f"waiting for {len(self.queue)} build(s) left by the interrupted run")
            self._drain()

    def after_batch(self) -> None:
        """Collect finished builds, start a round when due, keep the farm busy."""
        self._collect()
        n = len(self.sweep.seen.values)
        if self.next_round is not None and n >= self.next_round:
            assert self.policy.every is not None
            self.next_round = (n // self.policy.every + 1) * self.policy.every
            if self.pick_round() and self.policy.wait:
                self._drain()
        self._feed()

    def _drain(self) -> None:
        """Run the queued builds to the end (``wait: true``, and at the end of a sweep)."""
        while (self.queue or self.flying) and not self.sweep.stop.is_set():
            self._feed()
            self._collect()
            time.sleep(POLL_S)

    def finish(self) -> BuildSummary:
        """The last round (``at_end``), then wait for every build unless the sweep was
        stopped (Ctrl-C: the builds still queued or running are re-queued by a resume)."""
        try:
            self._collect()
            if self.policy.at_end and not self.sweep.stop.is_set():
                self.pick_round()
            self._drain()
            self._collect()
        finally:
            if self.farm is not None:
                self.farm.shutdown()
                self.farm = None
        if self.corrections or self.cones:
            n = self.sweep.rescore_stored()
            self.log(f"calibration: {n:,} trials re-scored with the final model")
        rows = self.table.rows(self.study_id)
        return BuildSummary(
            requested=len(rows),
            done=sum(r.state == "done" for r in rows),
            failed=sum(r.state == "failed" for r in rows),
            unfinished=sum(r.state not in FINAL_STATES for r in rows),
            rows=rows,
            corrections=dict(self.corrections),
            errors=calibration_errors(observations(rows), self.corrections),
        )

    def correct(self, df: pd.DataFrame, point: Mapping[str, Any]) -> pd.DataFrame:
        """The model's output for a batch, corrected and with measured infeasibility applied."""
        if self.corrections:
            df = apply_corrections(
                df,
                self.corrections,
                self.flow,
                _freq(point, len(df)),
                clock_margin=self.policy.clock_margin,
            )
        if self.cones:
            df = self._apply_cones(df, point)
        return df

    # -- rounds --------------------------------------------------------------------------

    def pick_round(self) -> list[int]:
        """Queue this round's candidates; returns their build ids."""
        budget_left = self.policy.budget - self._spent()
        want = min(self.policy.top_k, budget_left)
        if want <= 0:
            return []
        seen = self.sweep.seen
        # Trials scored by the current (calibrated) model, when there are any: one the raw
        # model thought feasible may be what the last builds just ruled out.
        version = self.sweep.calib_version
        current = any(v == version for v in seen.version)
        idx = np.array(
            [
                i
                for i, ok in enumerate(seen.feasible)
                if ok and seen.values[i] is not None and (not current or seen.version[i] == version)
            ],
            dtype=np.int64,
        )
        idx = idx[[self.sweep.db_ids[i] >= 0 for i in idx]] if len(idx) else idx
        if len(idx) == 0:
            self.log(f"build round {self.round}: no feasible trial yet")
            return []
        values = np.array([seen.values[i] for i in idx], dtype=np.float64)
        built = np.array(self._current_objectives(list(self.rows.values())), dtype=np.float64)
        u = to_minimize(values, self.sweep.directions)
        layers = _layers(u, want * 50)
        rank_of = {int(j): r for r, layer in enumerate(layers) for j in layer}
        # Candidates' points come from the database a Pareto layer at a time, on demand.
        points: dict[int, dict[str, Any]] = {}
        fetched: set[int] = set()
        specs: dict[int, tuple[BuildSpec, dict[str, Any]] | None] = {}

        def keys(j: int) -> tuple[str, str] | None:
            if rank_of[j] not in fetched:
                fetched.add(rank_of[j])
                points.update(self._points([int(idx[k]) for k in layers[rank_of[j]]]))
            if j not in specs:
                point = points.get(int(idx[j]))
                specs[j] = None if point is None else self._spec(point)
            got = specs[j]
            if got is None:
                return None
            key = spec_key(*got)
            if key not in self.keys and self.table.has_spec(self.study_id, key):
                self.keys.add(key)  # requested by another worker on this study
            return key, _hw_key(got[0].template, got[1])

        picks = choose(
            u,
            to_minimize(built, self.sweep.directions) if len(built) else built,
            want,
            self.policy.diversity,
            keys,
            self.keys,
            self.hw,
            layers=layers,
        )
        chosen = []
        for j in picks:
            got = specs[j]
            assert got is not None  # choose() only picks rows with keys
            spec, params = got
            why = f"Pareto layer {rank_of.get(j, -1)}, round {self.round}"
            chosen.append(self._request(int(idx[j]), spec, params, values[j], why))
        self.log(
            f"build round {self.round}: {len(chosen)} candidate(s) queued "
            f"({self._spent()}/{self.policy.budget} of the build budget)"
        )
        self.round += 1
        return chosen

    def _spent(self) -> int:
        """Builds that count against the budget: all but those no host could run (the farm
        tried every host), which say nothing about the design."""
        return sum(
            not (r.state == "failed" and r.failure_class in HOST_FAILURES)
            for r in self.rows.values()
        )

    def _current_objectives(self, rows: list[BuildRow]) -> list[list[float]]:
        """The current model's objectives at the builds' points (unscorable ones skipped)."""
        if not rows:
            return []
        names = [p.name for p in self.sweep.space.params]
        sampled = [{n: r.point[n] for n in names if r.point.get(n) is not None} for r in rows]
        return [vals for vals, *_ in self.sweep._score(sampled) if vals is not None]

    def _points(self, indices: list[int]) -> dict[int, dict[str, Any]]:
        ids = [self.sweep.db_ids[i] for i in indices]
        got = self.sweep.store.user_attr(ids, "point")
        return {i: got[t] for i, t in zip(indices, ids, strict=True) if t in got}

    def _spec(self, point: Mapping[str, Any]) -> tuple[BuildSpec, dict[str, Any]] | None:
        """The build of a trial's point and its template parameters (None: not buildable)."""
        spec = BuildSpec(self.template.name, {**self.base, **point}, self.flow, self.part)
        try:
            return spec, self.template.resolve_params(spec.point)
        except Exception as exc:  # a point the template cannot express is not a candidate
            self.log(f"not buildable: {exc}")
            return None

    def _request(
        self,
        index: int,
        spec: BuildSpec,
        params: dict[str, Any],
        objectives: np.ndarray,
        reason: str,
    ) -> int:
        """Record a queued build of trial ``index`` (``choose`` already took its keys)."""
        predicted = self._predict(spec.point)
        predicted["objectives"] = [float(v) for v in objectives]
        trial_id = self.sweep.db_ids[index]
        number = self.sweep.store.trial_numbers([trial_id]).get(trial_id)
        bid = self.table.add(
            self.study_id,
            trial_number=number,
            trial_id=trial_id,
            spec_key=spec_key(spec, params),
            template=spec.template,
            flow=spec.flow,
            part=spec.part,
            params=params,
            point=spec.point,
            predicted=predicted,
            reason=reason,
            round=self.round,
        )
        self.rows[bid] = self.table.rows(self.study_id, build_ids=[bid])[0]
        self.queue.append(bid)
        return bid

    def _predict(self, point: Mapping[str, Any]) -> dict[str, Any]:
        """The raw (uncorrected) model values a build measures, at ``point``.

        Resources are the datapath's share (total minus the ``_fixed`` shell part, which no
        template builds); ``<r>_fixed`` and ``<r>_util`` (of the total) are kept beside them.
        """
        cfg = self.sweep.cfg
        df = cm.evaluate(
            cfg.workload, cfg.platform, dict(point), arch=cfg.arch, baseline=None, detail=True
        )
        row = df.iloc[0]
        out = {k: float(row[k]) for k in PREDICTED_KEYS if k in df.columns}
        for r in cm.RESOURCES:
            fixed = float(row[f"{r}_fixed"]) if f"{r}_fixed" in df.columns else 0.0
            out[f"{r}_fixed"] = fixed
            out[r] = max(out[r] - fixed, 0.0)
        return out

    # -- the farm ------------------------------------------------------------------------

    def _get_farm(self) -> Any:
        if self.farm is None:
            from runners.dispatch import BuildFarm
            from runners.hosts import load_hosts, local_inventory

            if self.hosts is not None:
                inventory = load_hosts(self.hosts)
            else:
                inventory = local_inventory([self.flow], slots=self.policy.max_concurrent)
            try:
                self.farm = BuildFarm(
                    inventory,
                    ray_address=self.ray_address,
                    cache_root=self.cache_root,
                    step_timeout_s=self.policy.step_timeout_s,
                )
            except Exception as exc:
                raise BuildLoopError(f"cannot start the build farm: {exc}") from exc
        return self.farm

    def _feed(self) -> None:
        while self.queue and len(self.flying) < self.policy.max_concurrent:
            bid = self.queue.pop(0)
            row = self.rows[bid]

            def started(host: str, attempt: int, bid: int = bid, table: Any = self.table) -> None:
                table.started(bid, host, attempt)

            self.flying[bid] = self._get_farm().submit(
                row.template, row.point, row.flow, part=row.part, on_start=started
            )

    def _collect(self) -> None:
        for bid, fut in list(self.flying.items()):
            if not fut.done():
                continue
            del self.flying[bid]
            row = self.rows[bid]
            try:
                res = fut.result()
            except Exception as exc:  # bad input for the template: the same on every host
                res = _input_failure(row, exc)
            measured = {
                k: float(v)
                for k in MEASURED_KEYS
                if isinstance(v := res.metrics.get(k), int | float) and not isinstance(v, bool)
            }
            if "fmax_mhz" in measured:  # place and route: its synthesis estimate is redundant
                measured.pop("estimated_clock_mhz", None)
            self.table.finished(bid, res, measured or None)
            row = self.table.rows(self.study_id, build_ids=[bid])[0]
            self.rows[bid] = row
            self._report(row, res)
            cones = len(self.cones)
            self._learn(row)
            if self._refit(save=True) or len(self.cones) > cones:
                self.sweep.calibration_changed()  # the sampler's history is scored again

    def _report(self, row: BuildRow, res: Any) -> None:
        parts = []
        for metric, value in (row.measured or {}).items():
            column = METRIC_COLUMNS.get(metric)
            pred = row.predicted.get(column) if column else None
            if pred:
                parts.append(f"{metric} {value:g} (model {pred:.4g})")
        what = ", ".join(parts)
        if not res.ok:
            what = f"{res.failure_class}: {res.first_error or ''}" + (f"; {what}" if what else "")
        self.log(
            f"build {row.build_id} trial {row.trial_number} {row.state} on {res.host or '?'}"
            f"{' (cached)' if res.cached else ''}: {what}"
        )

    # -- learning ------------------------------------------------------------------------

    def _learn(self, row: BuildRow) -> None:
        clock = _clock_target(row.point)
        if row.state == "failed" and row.failure_class in INFEASIBLE_FAILURES:
            timing = row.failure_class == "timing_not_met"
            self.cones.append(
                Cone(
                    row.template,
                    row.params,
                    clock if timing else None,
                    f"measured {row.failure_class} (trial {row.trial_number})",
                )
            )
        elif row.state == "done" and row.measured:
            caps = self.sweep.cfg.constraints.max_util
            for r, cap in caps.items():
                m, pu = row.measured.get(r), row.predicted.get(f"{r}_util")
                total = row.predicted.get(r, 0.0) + row.predicted.get(f"{r}_fixed", 0.0)
                # Measured datapath + the shell part the template does not build, over the
                # device's capacity (the model's total / its utilisation).
                fixed = row.predicted.get(f"{r}_fixed", 0.0)
                if isinstance(m, int | float) and total and pu and (m + fixed) * pu / total > cap:
                    self.cones.append(
                        Cone(
                            row.template,
                            row.params,
                            None,
                            f"measured {r} over {cap:g} of the device (trial {row.trial_number})",
                        )
                    )
                    break

    def _refit(self, *, save: bool) -> bool:
        """Fit the corrections again; True when they changed."""
        if not self.policy.calibrate:
            return False
        rows = list(self.rows.values())
        obs = self._sane(observations(rows))
        fitted = fit_corrections(obs)
        if fitted == self.corrections:
            return False
        self.corrections = fitted
        if save:
            measured = sum(bool(r.measured) for r in rows if r.state in FINAL_STATES)
            self.table.save_calibration(
                self.study_id, fitted, measured, calibration_errors(obs, fitted)
            )
        return True

    def _sane(self, obs: list[Observation]) -> list[Observation]:
        """Leave out whole-design measurements far from their prediction (logged once each).

        Only the whole accelerator (``WHOLE_DESIGN_TEMPLATES``) is predicted as one object;
        a unit template's prediction is a share of the design, so its out-of-range
        measurements are reported but still used, as before (issue 15).
        """
        kept, refused = sanity_check(obs)
        for line in refused:
            if line not in self.refusals:
                self.refusals.add(line)
                whole = any(f"({t}," in line for t in WHOLE_DESIGN_TEMPLATES)
                self.log(
                    f"calibration: {line}"
                    + (": refused" if whole else ": unit template, used as before")
                )
        return [o for o in obs if o in kept or o.template not in WHOLE_DESIGN_TEMPLATES]

    def _apply_cones(self, df: pd.DataFrame, point: Mapping[str, Any]) -> pd.DataFrame:
        tpl = self.template
        n = len(df)
        freq = _freq(point, n)
        bad = np.zeros(n, dtype=bool)
        why = [""] * n
        for i in range(n):
            row = {**self.base, **{k: _at(v, i) for k, v in point.items()}}
            try:
                params = tpl.resolve_params(row)
            except Exception:
                continue
            clock = None if freq is None else float(np.asarray(freq)[i])
            for cone in self.cones:
                if cone.template == tpl.name and cone.covers(params, clock):
                    bad[i], why[i] = True, cone.why
                    break
        if not bad.any():
            return df
        out = df.copy()
        out["feasible"] = out["feasible"].to_numpy(dtype=bool) & ~bad
        base = out["violations"].astype(str).replace("nan", "")
        extra = pd.Series(why, index=out.index)
        joined = (base + "; " + extra).str.strip("; ")
        out["violations"] = joined.where(bad, out["violations"].astype(str))
        return out


def choose(
    u: np.ndarray,
    built: np.ndarray,
    want: int,
    diversity: float,
    keys: Callable[[int], tuple[str, str] | None],
    taken_specs: set[str],
    taken_hw: set[str],
    *,
    layers: list[np.ndarray] | None = None,
) -> list[int]:
    """The build policy's choice: up to ``want`` rows of ``u`` (objectives, all minimised).

    ``built`` holds the objectives of the builds so far (same orientation); ``keys(j)`` gives
    row ``j``'s (build key, hardware key), or None when it cannot be built. Rows go by Pareto
    layer, crowding order within a layer; a row is skipped when its build key is taken, and
    in the passes that ask for it when its hardware is taken or it lies within ``diversity``
    (objective space normalised to [0, 1], scaled by sqrt(#objectives)) of a build or pick.
    Passes: new hardware, spread; new hardware, not spread (rows the model cannot tell
    apart may differ in what it is blind to); any hardware, spread. ``taken_specs`` and
    ``taken_hw`` are updated with the picks.
    """
    if len(u) == 0 or want <= 0:
        return []
    lo, hi = u.min(axis=0), u.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    norm = (u - lo) / span
    placed = [(b - lo) / span for b in built]
    radius = diversity * math.sqrt(u.shape[1])
    layers = layers if layers is not None else _layers(u, want * 50)
    chosen: list[int] = []
    for new_hw, spread in ((True, True), (True, False), (False, True)):
        for layer in layers:
            for j in (int(k) for k in layer):
                if len(chosen) >= want:
                    return chosen
                if j in chosen:
                    continue
                if spread and any(np.linalg.norm(norm[j] - p) < radius for p in placed):
                    continue
                got = keys(j)
                if got is None or got[0] in taken_specs or (new_hw and got[1] in taken_hw):
                    continue
                chosen.append(j)
                taken_specs.add(got[0])
                taken_hw.add(got[1])
                placed.append(norm[j])
    return chosen


def _hw_key(template: str, params: Mapping[str, Any]) -> str:
    """The hardware of a build: its template parameters without the flow's options."""
    return json.dumps([template, dict(params)], sort_keys=True, default=str)


def _layers(u: np.ndarray, limit: int) -> list[np.ndarray]:
    """Row indices of ``u`` (minimise all) by Pareto layer, each in crowding order."""
    out: list[np.ndarray] = []
    remaining = np.arange(len(u))
    taken = 0
    directions = ["minimize"] * u.shape[1]
    while len(remaining) and taken < limit:
        mask = pareto_mask(u[remaining], directions)
        layer = remaining[mask]
        out.append(layer[np.argsort(-_crowding(u[layer]), kind="stable")])
        taken += len(layer)
        remaining = remaining[~mask]
    return out


def _crowding(v: np.ndarray) -> np.ndarray:
    n, m = v.shape
    dist = np.zeros(n)
    if n <= 2:
        return np.full(n, np.inf)
    for k in range(m):
        order = np.argsort(v[:, k], kind="stable")
        span = v[order[-1], k] - v[order[0], k]
        dist[order[0]] = dist[order[-1]] = np.inf
        if span > 0:
            dist[order[1:-1]] += (v[order[2:], k] - v[order[:-2], k]) / span
    return dist


def _clock_target(point: Mapping[str, Any]) -> float | None:
    for key in ("clock_mhz", "freq_mhz"):
        v = point.get(key)
        if isinstance(v, int | float) and not isinstance(v, bool) and v > 0:
            return float(v)
    return None


def _freq(point: Mapping[str, Any], n: int) -> np.ndarray | None:
    v = point.get("freq_mhz")
    if v is None:
        return None
    arr = np.asarray(v, dtype=np.float64)
    return np.broadcast_to(arr, (n,)) if arr.ndim == 0 else arr


def _at(v: Any, i: int) -> Any:
    if isinstance(v, np.ndarray):
        x = v[i] if v.ndim else v
        return x.item() if isinstance(x, np.generic) else x
    return v


def _input_failure(row: BuildRow, exc: BaseException) -> Any:
    from runners import BuildResult

    return BuildResult(
        "failed",
        row.flow,
        row.template,
        row.part,
        params=row.params,
        failure_class="tool_error",
        first_error=f"cannot build this point: {exc}",
    )
