"""``promote``: build one trial of a study at bitstream fidelity and publish it."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cost_models as cm
from dse import alveo_release, onchip_release, spatial_release
from dse._release_assemble import assemble, write_json
from dse._release_base import RELEASE_FLOWS, ReleaseBuildFailed, ReleaseError, check_name
from dse._release_check import read_sign_key, release_digest, sign_release
from dse._release_files import make_read_only, make_writable, remove_tree, sha256_file, tree_files
from dse._release_read import Release, Results, load_release
from dse._release_verify import MANIFEST, SEAL, seal_of
from dse.layout import DEFAULT_RESULTS, ResultsLayout, layout

if TYPE_CHECKING:
    from dse._release_trial import StudyTrial
    from dse.buildspec import BuildSpec
    from runners import BuildResult


def promote(
    study: str,
    trial: str | int,
    name: str,
    *,
    flow: str | None = None,
    template: str | None = None,
    part: str | None = None,
    hosts: Path | str | None = None,
    host: str | None = None,
    allow_timing_failure: bool = False,
    results: Results = DEFAULT_RESULTS,
    storage: str | None = None,
    ray_address: str | None = None,
    sign_key: Path | str | None = None,
    log: Callable[[str], None] | None = None,
) -> Release:
    """Build trial ``trial`` of ``study`` at bitstream fidelity and publish it as ``name``.

    ``trial`` is a trial number or ``"best:<metric>"`` (the best feasible trial by that
    objective, in the study's direction). ``flow`` is one of ``RELEASE_FLOWS`` (default: the
    platform's open flow when it makes bitstreams, else ``vivado``). With ``hosts`` (a
    hosts.yaml) the build goes through ``runners.dispatch.BuildFarm``, restricted to ``host``
    when given; otherwise it runs here. Builds are cached in ``<results>/builds``.
    ``storage`` defaults to ``sqlite:///<results>/<study>/optuna.db``. ``sign_key``: a key
    file; the release is then signed (``sign_release``). ``log`` receives progress lines.

    Raises:
        ReleaseError: bad input (see the class), raised before anything is built.
        ReleaseBuildFailed: the build failed, or missed timing without
            ``allow_timing_failure``; nothing is published.
        StudyNotFound, ConfigError, runners.RunnerError: unknown study, a stored config or
            point that no longer resolves, a bad hosts file or template parameter.
    """
    from dse._release_trial import select_trial

    say = log or (lambda _msg: None)
    lay = layout(results)
    final = _new_release_dir(lay, name, flow, sign_key)
    inventory = _inventory(hosts, host, flow)
    chosen = select_trial(study, str(trial), storage, lay)
    say(f"trial {chosen.number} of study {study!r} ({chosen.selector})")
    if not chosen.feasible:
        # Promoting it is allowed (the model may be wrong); the manifest records the verdict.
        why = chosen.metrics.get("violations") or "a constraint is violated"
        say(f"warning: the cost model marks trial {chosen.number} infeasible ({why})")
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{name}-", dir=final.parent))
    try:
        spec = _build_spec(chosen, tmp, flow, template, part)
        # The spatial accelerator on ECP5: sp_top behind the UART, weights in the bitstream.
        spatial = spatial_release.plan(tmp / "study.yaml", chosen.point, spec)
        if spatial is not None:
            spec = spatial_release.build_spec(spatial, spec)
        # The overlay on ECP5 runs from on-chip memory: refused here if it cannot fit.
        onchip = onchip_release.plan(tmp / "study.yaml", chosen.point, spec.template)
        if onchip is not None:  # build the released top (UART, images in the bitstream)
            spec = onchip_release.build_spec(onchip, spec)
        # The overlay on an Alveo card: a vitis-link kernel, its images written into HBM.
        alveo = alveo_release.plan(tmp / "study.yaml", chosen.point, spec.template, flow)
        if alveo is not None:
            if spec.flow != alveo_release.FLOW:  # the board's first flow (vivado) runs nothing
                spec = _build_spec(chosen, tmp, alveo_release.FLOW, template, part)
            spec = alveo_release.build_spec(alveo, spec)
        _check_hosts(inventory, spec.flow, hosts, host)
        say(
            f"building {spec.template} with {spec.flow} for {spec.part} "
            + (f"on {', '.join(h.name for h in inventory.hosts)}" if inventory else "locally")
        )
        res = _build(spec, lay, inventory, ray_address)
        _check_result(res, spec, chosen, allow_timing_failure)
        say(f"built in {res.duration_s:.1f} s on {res.host}" + (" (cached)" if res.cached else ""))
        manifest = assemble(tmp, name, chosen, spec, res)
        if onchip is not None:
            manifest["onchip"] = onchip_release.publish(onchip, tmp, say)
        if spatial is not None:
            manifest["onchip"] = spatial_release.publish(spatial, tmp, say)
        if alveo is not None:
            xclbin = tmp / manifest["bitstream"]
            manifest["alveo"] = alveo_release.publish(alveo, tmp, xclbin, say)
        _publish(tmp, final, name, manifest)
    finally:
        if tmp.exists():
            make_writable(tmp)
            remove_tree(tmp)
    made = load_release(lay, name)
    say(
        f"release digest sha256:{release_digest(made)} (record it: `dse release verify {name} "
        "--digest HEX` then proves nothing was rewritten)"
    )
    if sign_key is not None:
        say(f"signed: {sign_release(lay, name, sign_key)}")
    if "onchip" in made.manifest:  # a board runs it as it is: say how
        say(
            f"on a board: flash {made.bitstream} (e.g. openFPGALoader -b <board> FILE), then "
            f"dse run {name} --port /dev/ttyUSB0 --prompt 1,2,3 --tokens 16"
        )
    if "alveo" in made.manifest:
        say(
            f"on an Alveo card with XRT: source /opt/xilinx/xrt/setup.sh, then dse run {name} "
            "--prompt 1,2,3 --tokens 16 (docs/release.md, Alveo release)"
        )
    return made


def _new_release_dir(
    lay: ResultsLayout, name: str, flow: str | None, sign_key: Path | str | None
) -> Path:
    """The folder a new release ``name`` gets, after refusing bad input before any build."""
    check_name(name)
    final = lay.release_dir(name)
    if final.exists():
        raise ReleaseError(
            f"release {name!r} already exists at {final}; releases are immutable - choose "
            "another --name"
        )
    if flow is not None and flow not in RELEASE_FLOWS:
        hint = cm.did_you_mean(flow, RELEASE_FLOWS)
        raise ReleaseError(
            f"--flow {flow!r}: not a flow that makes a bitstream (release flows: "
            f"{', '.join(RELEASE_FLOWS)})" + (f"; {hint}" if hint else "")
        )
    if sign_key is not None:
        read_sign_key(sign_key)  # a bad key file is bad input: refuse it before building
    return final


def _check_hosts(inventory: Any, flow: str, hosts: Path | str | None, host: str | None) -> None:
    if inventory is not None and flow not in {f for h in inventory.hosts for f in h.flows}:
        raise ReleaseError(f"{hosts}: no host{f' {host!r}' if host else ''} offers flow {flow!r}")


def _publish(tmp: Path, final: Path, name: str, manifest: dict[str, Any]) -> None:
    """Hash and seal the assembled folder, make it read-only and rename it into place."""
    files = {rel: sha256_file(tmp / rel) for rel in tree_files(tmp)}
    manifest["files"] = dict(sorted(files.items()))
    # The seal is computed on the manifest as verify reads it back (after JSON).
    manifest = json.loads(json.dumps(manifest, default=str))
    manifest[SEAL] = seal_of(manifest)
    write_json(tmp / MANIFEST, manifest)
    make_read_only(tmp)
    try:
        os.rename(tmp, final)  # a non-empty folder already there makes this fail
    except OSError as exc:
        raise ReleaseError(
            f"release {name!r}: cannot publish to {final} ({exc.strerror}); it was "
            "created meanwhile? choose another --name"
        ) from None


def _inventory(hosts: Path | str | None, host: str | None, flow: str | None) -> Any:
    """The hosts file restricted to ``host`` (None: build locally)."""
    if hosts is None:
        if host is not None:
            raise ReleaseError(f"--host {host!r}: give the hosts file with --hosts FILE too")
        return None
    from runners.hosts import load_hosts

    inventory = load_hosts(hosts)
    if host is None:
        return inventory
    names = [h.name for h in inventory.hosts]
    if host not in names:
        hint = cm.did_you_mean(host, names)
        raise ReleaseError(
            f"--host {host!r}: not a host of {hosts} (hosts: {', '.join(names)})"
            + (f"; {hint}" if hint else "")
        )
    picked = inventory.host(host)
    if flow is not None and flow not in picked.flows:
        raise ReleaseError(
            f"--host {host!r}: offers flows {', '.join(picked.flows)}, not {flow!r} ({hosts})"
        )
    return inventory.model_copy(update={"hosts": (picked,)})


def _build_spec(
    chosen: StudyTrial, tmp: Path, flow: str | None, template: str | None, part: str | None
) -> BuildSpec:
    """The study's config (written as ``study.yaml``) and the trial's point -> a BuildSpec."""
    import yaml

    from dse.buildspec import promote_choices, resolve_build
    from dse.config import load_config
    from dse.errors import ConfigError

    config_path = tmp / "study.yaml"
    config_path.write_text(
        yaml.safe_dump(chosen.config, sort_keys=False, allow_unicode=True), encoding="utf-8"
    )
    try:
        cfg = load_config(config_path)
    except ConfigError as exc:
        raise ReleaseError(
            f"study {chosen.config['name']!r}: its stored config no longer loads ({exc}); a "
            "path in it may have been relative to the original config file"
        ) from None
    if flow is None:
        flow = promote_choices(cfg.platform, list(RELEASE_FLOWS))[0]
    return resolve_build(
        cfg,
        chosen.point,
        template=template,
        flow=flow,
        part=part,
        source=f"trial {chosen.number}",
        check_keys=False,
    )


def _build(
    spec: BuildSpec, lay: ResultsLayout, inventory: Any, ray_address: str | None
) -> BuildResult:
    from runners import build

    cache = lay.builds
    if inventory is None:
        return build(spec.template, spec.point, spec.flow, part=spec.part, cache_root=cache)
    from runners.dispatch import BuildFarm

    with BuildFarm(inventory, ray_address=ray_address, cache_root=cache) as farm:
        return farm.submit(spec.template, spec.point, spec.flow, part=spec.part).result()


def _check_result(
    res: BuildResult, spec: BuildSpec, chosen: StudyTrial, allow_timing: bool
) -> None:
    where = (
        f"trial {chosen.number} ({spec.flow}, {res.host or 'local'}; build folder {res.result_dir})"
    )
    timing_only = res.failure_class == "timing_not_met"
    if (res.ok or timing_only) and Path(res.result_dir).is_dir():
        from dse._release_cache import rederive

        rederive(res, spec.flow)
    if not res.ok and not (timing_only and allow_timing):
        if timing_only:
            raise ReleaseBuildFailed(
                f"{where}: timing not met: {res.first_error}; nothing was published (pass "
                "--allow-timing-failure to publish it anyway, marked timing_met: false)",
                res,
            )
        raise ReleaseBuildFailed(
            f"{where}: build failed ({res.failure_class}): {res.first_error}; nothing was "
            "published",
            res,
        )
    key = RELEASE_FLOWS[spec.flow][0]
    if key not in res.artefacts:
        hint = " (a Vivado build writes one only in context: OOC=0, WRITE_BITSTREAM=1 and pins)"
        raise ReleaseBuildFailed(
            f"{where}: the build wrote no {key}"
            + (hint if spec.flow == "vivado" else "")
            + "; nothing was published",
            res,
        )
    if not Path(res.result_dir).is_dir():
        raise ReleaseBuildFailed(
            f"{where}: the build folder is not on this machine (a ray_node host keeps it on "
            "its node); promote through an SSH or local host",
            res,
        )
