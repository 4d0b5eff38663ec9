"""The build scheduler of ``dse sweep``: real builds of promising trials while the search runs.

A study config with a ``build:`` section (:class:`dse.config.BuildPolicy`) makes the sweep
multi-fidelity. When a round is due the scheduler is handed the scored candidates (feasible
trials' objectives and their ids in storage), lets the build
policy choose up to ``top_k`` of them (:func:`dse.sweep._buildloop.choose`, injectable),
records them in the ``dse_builds`` table and submits them to a
:class:`runners.dispatch.BuildFarm` (this machine, or the hosts of a ``hosts.yaml``, through
Ray). :meth:`BuildScheduler.poll` collects finished builds: their measurements go to the
table and onto their trial, and the scheduler's :class:`~dse.scoring.Calibration` is refitted
from every build so far (:mod:`dse.sweep._fit`); a new version means the model changed.

It knows nothing of the searcher: the loop (:mod:`dse.sweep._engine`) passes candidates in
and the calibration out.

**Crash safety.** Every build is a row whose state is committed as it changes; a sweep
resumed after a kill queues the rows it finds ``queued``/``running`` again, and the build
cache returns at once the ones that had finished.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from dse.buildspec import (
    MEMORY_KEYS,
    BuildSpec,
    choose_flow,
    choose_part,
    model_defaults,
    overlay_words,
    resolve_build,
    workload_context,
)
from dse.calibration import (
    SANITY_RANGE,
    Correction,
    Observation,
    calibration_errors,
    fit_corrections,
    held_out_errors,
    predicted_for,
)
from dse.config import BuildPolicy, StudyConfig
from dse.config._build import sim_flow
from dse.errors import DseError
from dse.pareto import to_minimize
from dse.scoring import Calibration, Model, Score, cones_of
from dse.sweep._buildloop import POLICIES, choose, hw_key, layers_of, spec_key
from dse.sweep._builds import FINAL_STATES, BuildRow, BuildsTable
from dse.sweep._farm import FarmQueue, measured_values
from dse.sweep._fit import WHOLE_DESIGN_TEMPLATES, Fitter, observations
from dse.sweep._store import TrialStore
from runners.dispatch import HOST_FAILURES

__all__ = ["BuildScheduler", "BuildSummary"]

Choose = Callable[..., list[int]]  # the signature of dse.sweep._buildloop.choose


@dataclass
class BuildSummary:
    """What the scheduler did, for the CLI's closing table."""

    requested: int = 0
    done: int = 0
    failed: int = 0
    unfinished: int = 0
    rows: list[BuildRow] = field(default_factory=list)
    corrections: dict[tuple[str, str], Correction] = field(default_factory=dict)
    errors: dict[tuple[str, str], tuple[float, float]] = field(default_factory=dict)
    held_out: dict[tuple[str, str], list[float]] = field(default_factory=dict)  # LOO, %
    refused: list[str] = field(default_factory=list)  # measurements that calibrate nothing


class BuildScheduler:
    """Chooses, submits and collects the builds of one study (see the module docstring)."""

    def __init__(
        self,
        cfg: StudyConfig,
        policy: BuildPolicy,
        store: TrialStore,
        study_id: int,
        score: Callable[[list[dict[str, Any]]], list[Score]],
        *,
        hosts: Path | None = None,
        ray_address: str | None = None,
        cache_root: Path | str = "results/builds",
        log: Callable[[str], None] | None = None,
        policy_fn: Choose = choose,
    ) -> None:
        self.cfg, self.policy, self.store, self.study_id = cfg, policy, store, study_id
        # build.choice names the policy unless a caller injects its own
        self.score, self.choose = (
            score,
            POLICIES[policy.choice] if policy_fn is choose else policy_fn,
        )
        self.directions = [o.direction for o in cfg.objectives]
        self.flow = choose_flow(cfg, policy.flow)
        self.part = choose_part(cfg, self.flow, None)
        # The sim rung beside the build flow (build.sim): cycles of the same accelerator.
        self.sim_flow = sim_flow(policy.template) if policy.sim else None
        # Checks template and flow once; loading a template is slow, so it is kept.
        resolve_build(
            cfg, {}, template=policy.template, flow=self.flow, part=self.part, check_memory=False
        )
        from runners import load_template

        self.template = load_template(policy.template)
        self.base = {**model_defaults(cfg), **cfg.design}
        # What a generated template reads from the study (its model): in every build's
        # point, never in what the cost model is asked (``_design``).
        self.context = workload_context(cfg, self.template)
        self.model = Model.of(cfg)
        self.log = log or (lambda msg: None)
        self.fitter = Fitter(self.log)
        self.table = BuildsTable(store.engine, store.reader)
        flows = [f for f in (self.flow, self.sim_flow) if f is not None]
        self.farm = FarmQueue(flows, policy, self.table, hosts or policy.hosts, ray_address,
                              Path(cache_root))  # fmt: skip
        self.rows = {r.build_id: r for r in self.table.rows(study_id)}
        self.keys = {r.spec_key for r in self.rows.values()}
        self.hw = {hw_key(r.template, r.params) for r in self.rows.values()}
        self.corrections: dict[tuple[str, str], Correction] = {}
        self.kept: list[Observation] = []  # what the corrections were fitted on
        self.calibration = Calibration(
            flow=self.flow, clock_margin=policy.clock_margin, template=self.template, base=self.base
        )
        self.fresh: dict[int, dict[str, Any]] = {}  # build id -> the current model's prediction
        self._relearn(save=False)
        if self.corrections and self.corrections != self.table.latest_corrections(study_id):
            self._save(list(self.rows.values()))  # the model changed since the last fit
        self.round = max((r.round for r in self.rows.values()), default=-1) + 1
        # Builds a killed sweep left behind are queued again (the cache serves finished ones).
        left = [r.build_id for r in self.rows.values() if r.state not in FINAL_STATES]
        self.table.requeued(left)
        self.farm.queue.extend(left)
        self.next_round: int | None = None

    @property
    def pending(self) -> bool:
        """Builds queued or running."""
        return self.farm.pending

    def start_counting(self, n_trials: int) -> None:
        """Rounds fall every ``every`` trials, counted from the study's ``n_trials``."""
        every = self.policy.every
        self.next_round = None if every is None else (n_trials // every + 1) * every

    def round_due(self, n_trials: int) -> bool:
        """Whether a round is due at ``n_trials`` (then the next is counted from there)."""
        if self.next_round is None or n_trials < self.next_round:
            return False
        assert self.policy.every is not None
        self.next_round = (n_trials // self.policy.every + 1) * self.policy.every
        return True

    # -- choosing ------------------------------------------------------------------------

    def pick(self, values: np.ndarray, trial_ids: list[int]) -> list[int]:
        """Queue this round's choice among the scored candidates (``values``: their
        objectives, one row per stored trial of ``trial_ids``); returns the build ids."""
        want = min(self.policy.top_k, self.policy.budget - self._spent())
        if want <= 0:
            return []
        if len(trial_ids) == 0:
            self.log(f"build round {self.round}: no feasible trial yet")
            return []
        built = np.array(self._current_objectives(), dtype=np.float64)
        u = to_minimize(values, self.directions)
        layers = layers_of(u, want * 50)
        keys = _Keys(self, trial_ids, layers)
        picks = self.choose(
            u,
            to_minimize(built, self.directions) if len(built) else built,
            want,
            self.policy.diversity,
            keys,
            self.keys,
            self.hw,
            layers=layers,
        )
        chosen = []
        for j in picks:
            got = keys.specs[j]
            assert got is not None  # choose() only picks rows with keys
            why = f"Pareto layer {keys.rank_of.get(j, -1)}, round {self.round}"
            chosen.append(self._request(trial_ids[j], *got, values[j], why))
            if self.sim_flow is not None:
                sim = replace(got[0], flow=self.sim_flow)
                chosen.append(self._request(trial_ids[j], sim, got[1], values[j], why + ", sim"))
        self.log(
            f"build round {self.round}: {len(chosen)} candidate(s) queued "
            f"({self._spent()}/{self.policy.budget} of the build budget)"
        )
        self.round += 1
        return chosen

    def _spent(self) -> int:
        """Builds that count against the budget: all but those no host could run (the farm
        tried every host), which say nothing about the design, and the sim rung's runs."""
        return sum(
            not (r.state == "failed" and r.failure_class in HOST_FAILURES)
            and r.flow != self.sim_flow
            for r in self.rows.values()
        )

    def _current_objectives(self) -> list[list[float]]:
        """The current model's objectives at the builds' points (unscorable ones skipped)."""
        rows = list(self.rows.values())
        if not rows:
            return []
        names = [p.name for p in self.cfg.space.params]
        sampled = [{n: r.point[n] for n in names if r.point.get(n) is not None} for r in rows]
        return [s.values for s in self.score(sampled) if s.values is not None]

    def spec(self, point: Mapping[str, Any]) -> tuple[BuildSpec, dict[str, Any]] | None:
        """The build of a trial's point and its template parameters (None: not buildable)."""
        point = {**self.base, **self.context, **point}
        # the memories the study's model needs (SPAD, IMEM, XBUF), as the model sizes them;
        # a point that needs more than the template has fails resolve_params below
        point = {**overlay_words(self.cfg, self.template, point), **point}
        spec = BuildSpec(self.template.name, point, self.flow, self.part)
        try:
            return spec, self.template.resolve_params(spec.point)
        except Exception as exc:  # a point the template cannot express is not a candidate
            self.log(f"not buildable: {exc}")
            return None

    def _design(self, point: Mapping[str, Any]) -> dict[str, Any]:
        """A build's point without the study facts a generated template reads."""
        return {k: v for k, v in point.items() if k not in self.context and k not in MEMORY_KEYS}

    def _request(
        self,
        trial_id: int,
        spec: BuildSpec,
        params: dict[str, Any],
        objectives: np.ndarray,
        reason: str,
    ) -> int:
        """Record a queued build of trial ``trial_id`` (``choose`` already took its keys)."""
        # The model's prediction of what this template builds: the whole accelerator, or
        # (a unit template) its units, which calibrate nothing of the design.
        whole = spec.template in WHOLE_DESIGN_TEMPLATES
        units = None if whole else self.template.model_terms(params)
        predicted: dict[str, Any] = dict(self.model.predict_build(self._design(spec.point), units))
        predicted["objectives"] = [float(v) for v in objectives]
        bid = self.table.add(
            self.study_id,
            trial_number=self.store.trial_numbers([trial_id]).get(trial_id),
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
        self.farm.queue.append(bid)
        return bid

    # -- the farm ------------------------------------------------------------------------

    def feed(self) -> None:
        """Submit queued builds while fewer than ``max_concurrent`` are running."""
        self.farm.feed(self.rows)

    def poll(self) -> list[BuildRow]:
        """Collect the finished builds (recorded, reported, learnt from); each one that
        changes what the model knows makes a new :attr:`calibration` version."""
        out = []
        for bid, res in self.farm.finished(self.rows):
            self.table.finished(bid, res, measured_values(res.metrics, res.flow) or None)
            row = self.table.rows(self.study_id, build_ids=[bid])[0]
            self.rows[bid] = row
            self._report(row, res)
            self._relearn(save=True)
            out.append(row)
        return out

    def close(self) -> BuildSummary:
        """Shut the farm down; what was built, for the closing table."""
        self.farm.shutdown()
        rows = self.table.rows(self.study_id)
        return BuildSummary(
            requested=len(rows),
            done=sum(r.state == "done" for r in rows),
            failed=sum(r.state == "failed" for r in rows),
            unfinished=sum(r.state not in FINAL_STATES for r in rows),
            rows=self._current(rows),
            corrections=dict(self.corrections),
            errors=calibration_errors(self.kept, self.corrections),
            held_out=held_out_errors(self.kept),
            refused=list(self.fitter.refusals),
        )

    def _report(self, row: BuildRow, res: Any) -> None:
        parts = []
        for metric, value in (row.measured or {}).items():
            pred = predicted_for(metric, row.measured or {}, row.predicted)
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

    def _relearn(self, *, save: bool) -> None:
        """Refit the corrections and the cones from every finished build; a change is a
        new calibration version."""
        rows = self._current(sorted(self.rows.values(), key=lambda r: r.build_id))
        done = [r for r in rows if r.state in FINAL_STATES]
        cones = cones_of(done, self.cfg.constraints.max_util)
        refit = self._refit(rows, save=save)
        if refit or cones != self.calibration.cones:
            self.calibration = self.calibration.refit(self.corrections.values(), cones)

    def _refit(self, rows: Sequence[BuildRow], *, save: bool) -> bool:
        """Fit the corrections again; True when they changed."""
        if not self.policy.calibrate:
            return False
        obs = self.kept = self.fitter.sane(observations(rows))
        fitted = fit_corrections(obs, SANITY_RANGE)
        if fitted == self.corrections:
            return False
        self.corrections = fitted
        if save:
            self._save(rows)
        return True

    def _save(self, rows: Sequence[BuildRow]) -> None:
        measured = sum(bool(r.measured) for r in rows if r.state in FINAL_STATES)
        errors = calibration_errors(self.kept, self.corrections)
        self.table.save_calibration(self.study_id, self.corrections, measured, errors)

    def _current(self, rows: Sequence[BuildRow]) -> list[BuildRow]:
        """``rows`` with the current model's prediction of each whole-design build: the one
        stored is the model's when the build was requested, and a correction must describe
        the model it corrects (a refitted resource model, a fixed bug)."""
        out = []
        for r in rows:
            if r.template in WHOLE_DESIGN_TEMPLATES and r.measured:
                if r.build_id not in self.fresh:
                    try:
                        now = self.model.predict_build(self._design(r.point))
                    except DseError:  # a stored point this model no longer reads
                        now = {}
                    self.fresh[r.build_id] = {**r.predicted, **now}
                r = replace(r, predicted=self.fresh[r.build_id])
            out.append(r)
        return out


class _Keys:
    """``keys(j)`` for the policy: candidate ``j``'s (build key, hardware key), or None when
    it cannot be built. Points come from the database a Pareto layer at a time, on demand."""

    def __init__(self, sched: BuildScheduler, ids: list[int], layers: list[np.ndarray]) -> None:
        self.sched, self.ids, self.layers = sched, ids, layers
        self.rank_of = {int(j): r for r, layer in enumerate(layers) for j in layer}
        self.points: dict[int, dict[str, Any]] = {}
        self.fetched: set[int] = set()
        self.specs: dict[int, tuple[BuildSpec, dict[str, Any]] | None] = {}

    def __call__(self, j: int) -> tuple[str, str] | None:
        s = self.sched
        if self.rank_of[j] not in self.fetched:
            self.fetched.add(self.rank_of[j])
            want = [self.ids[int(k)] for k in self.layers[self.rank_of[j]]]
            self.points.update(s.store.user_attr(want, "point"))
        if j not in self.specs:
            point = self.points.get(self.ids[j])
            self.specs[j] = None if point is None else s.spec(point)
        got = self.specs[j]
        if got is None:
            return None
        key = spec_key(*got)
        if key not in s.keys and s.table.has_spec(s.study_id, key):
            s.keys.add(key)  # requested by another worker on this study
        return key, hw_key(got[0].template, got[1])
