"""The build-host inventory (``hosts.yaml``): which hosts build which flows, with what limits.

Loading is YAML -> pydantic validation (every error collected, then one ``HostsFileError``
naming the file, the key and what was expected, with a "did you mean" for unknown keys) ->
frozen models. The schema is documented in ``docs/farm.md``; ``examples/farm/hosts.yaml`` is a
working example.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from cost_models._safeload import UnsafeInput, load_yaml, read_text
from runners._errors import RunnerError
from runners.toolchains import TOOLCHAINS

HOSTS_VERSION = 1
_JUMP = re.compile(r"^(?:[A-Za-z0-9_.-]+@)?[A-Za-z0-9_.-]+(?::(?P<port>[0-9]{1,5}))?$")


class HostsFileError(RunnerError, ValueError):
    """``hosts.yaml`` is malformed; the message names the file, the key and what was expected."""

    def __init__(self, source: str | Path, problems: list[str]) -> None:
        self.source = str(source)
        self.problems = problems
        if len(problems) == 1:
            super().__init__(f"{source}: {problems[0]}")
        else:
            super().__init__(f"{source}: {len(problems)} problems: " + "; ".join(problems))


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SSHTarget(_Model):
    """How to reach a host over SSH.

    ``host`` is a hostname/address or an alias from the SSH config (``~/.ssh/config`` or the
    inventory's ``ssh_config``), which may itself set HostName, User, Port, IdentityFile and
    ProxyJump. Unknown host keys are refused unless ``accept_unknown_host_keys`` is true, in
    which case a new key is pinned into ``known_hosts`` on first contact.
    """

    host: str = Field(min_length=1, strict=True)
    user: str | None = Field(default=None, strict=True)
    port: int | None = Field(default=None, ge=1, le=65535, strict=True)
    key: str | None = Field(default=None, strict=True)  # private key file
    # a jump host: "user@host:port" or an alias
    jump: str | None = Field(default=None, strict=True)
    # default: the SSH config's UserKnownHostsFile, else ~/.ssh
    known_hosts: str | None = Field(default=None, strict=True)
    accept_unknown_host_keys: bool = Field(default=False, strict=True)
    connect_timeout_s: float = Field(default=10.0, gt=0, strict=True)

    @field_validator("jump")
    @classmethod
    def _jump_form(cls, jump: str | None) -> str | None:
        # fabric parses this itself and raises deep inside a build when it is malformed.
        match = _JUMP.match(jump or "x")
        if not match or not 1 <= int(match.group("port") or 22) <= 65535:
            raise ValueError(f"expected [user@]host[:port] with a port in 1..65535, got {jump!r}")
        return jump


class Host(_Model):
    """One build host.

    Exactly one of ``ssh`` (reached with fabric), ``local: true`` (this machine) or
    ``ray_node`` (a Ray node id or address that runs the build on itself) says where builds
    run. ``slots`` caps concurrent builds per flow (default 1 for each offered flow);
    ``licences`` maps a flow to a pool in the inventory's ``licence_pools``.
    """

    # Scalars are strict: 'port: true' is not port 1, nor 'port: "2222"' a number.
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$", strict=True)
    ssh: SSHTarget | None = None
    local: bool = Field(default=False, strict=True)
    ray_node: str | None = Field(default=None, min_length=1, strict=True)
    workdir: str = Field(default="/tmp/dse-builds", min_length=1, strict=True)
    # a script sourced (or a shell line run) before each tool run
    setup: str | None = Field(default=None, strict=True)
    flows: tuple[Annotated[str, Field(strict=True)], ...] = Field(min_length=1)
    slots: dict[str, Annotated[int, Field(strict=True)]] = Field(default_factory=dict)
    licences: dict[str, Annotated[str, Field(strict=True)]] = Field(default_factory=dict)
    max_disk_gb: float | None = Field(default=None, gt=0, strict=True)
    min_free_disk_gb: float | None = Field(default=None, ge=0, strict=True)
    max_memory_gb: float | None = Field(default=None, gt=0, strict=True)

    @model_validator(mode="after")
    def _one_place(self) -> Host:
        places = [
            k
            for k, on in (("ssh", self.ssh), ("local", self.local), ("ray_node", self.ray_node))
            if on
        ]
        if len(places) != 1:
            got = ", ".join(places) or "none"
            raise ValueError(f"give exactly one of ssh, local: true or ray_node (got {got})")
        return self

    @property
    def kind(self) -> str:
        """``ssh``, ``local`` or ``ray_node``."""
        return "ssh" if self.ssh else "local" if self.local else "ray_node"

    def slots_for(self, flow: str) -> int:
        """Concurrent builds of ``flow`` this host takes (0 when it does not offer the flow)."""
        return self.slots.get(flow, 1) if flow in self.flows else 0


class Inventory(_Model):
    """A whole ``hosts.yaml``: the hosts and the licence pools they share."""

    version: int = Field(default=HOSTS_VERSION, strict=True)
    # an SSH config file for aliases (default ~/.ssh/config)
    ssh_config: str | None = Field(default=None, min_length=1, strict=True)
    licence_pools: dict[str, Annotated[int, Field(strict=True)]] = Field(default_factory=dict)
    hosts: tuple[Host, ...] = Field(min_length=1)
    source: str = ""

    def host(self, name: str) -> Host:
        """The host called ``name``; ``KeyError`` with the known names otherwise."""
        for h in self.hosts:
            if h.name == name:
                return h
        raise KeyError(f"no host '{name}' (hosts: {', '.join(h.name for h in self.hosts)})")

    def hosts_for(self, flow: str) -> list[Host]:
        """Hosts that offer ``flow``, in file order."""
        return [h for h in self.hosts if flow in h.flows]


def local_inventory(
    flows: Sequence[str], slots: int = 1, workdir: str = "/tmp/dse-builds"
) -> Inventory:
    """An inventory of this machine alone (``local``), ``slots`` concurrent builds per flow."""
    host = Host(
        name="local",
        local=True,
        workdir=workdir,
        flows=tuple(flows),
        slots={f: max(1, slots) for f in flows},
    )
    return Inventory(hosts=(host,), source="<local>")


def load_hosts(path: Path | str) -> Inventory:
    """Read and validate a ``hosts.yaml``; raises ``HostsFileError`` listing every problem."""
    path = Path(path)
    try:
        data = load_yaml(read_text(path))
    except UnsafeInput as exc:
        where = f"line {exc.line}: " if exc.line else ""
        key = f"{exc.key}: " if exc.key else ""
        raise HostsFileError(path, [f"{where}{key}{exc.reason}"]) from None
    return parse_hosts(data, source=str(path))


def parse_hosts(data: Any, source: str = "<hosts>") -> Inventory:
    """Validate an already-parsed inventory mapping (see ``load_hosts``)."""
    if not isinstance(data, Mapping):
        raise HostsFileError(source, ["expected a mapping with a 'hosts:' list at the top"])
    # Relative key/known_hosts/ssh_config paths are relative to the file, like a config include.
    base = Path(source).parent if source != "<hosts>" else Path.cwd()
    try:
        inv = Inventory.model_validate({**data, "source": source})
    except ValidationError as exc:
        errors = exc.errors()
        # A list with a bad item also fails "at least 1 item"; only the item's error matters.
        nested = {tuple(e["loc"][:1]) for e in errors if len(e["loc"]) > 1}
        errors = [e for e in errors if not (e["type"] == "too_short" and tuple(e["loc"]) in nested)]
        raise HostsFileError(source, [_describe(err, data) for err in errors]) from None
    problems = _cross_checks(inv)
    if problems:
        raise HostsFileError(source, problems)
    return _resolve_paths(inv, base)


def _describe(err: Mapping[str, Any], data: Any) -> str:
    loc = list(err["loc"])
    # Name hosts by their name, not their list index, when the entry has one.
    key_parts: list[str] = []
    node: Any = data
    for part in loc:
        if isinstance(part, int) and isinstance(node, list) and part < len(node):
            node = node[part]
            name = node.get("name") if isinstance(node, Mapping) else None
            key_parts.append(f"[{name}]" if isinstance(name, str) else f"[{part}]")
            continue
        if part in ("function-after", "tagged-union") or str(part).startswith("function-"):
            continue
        key_parts.append(("." if key_parts else "") + str(part))
        node = node.get(part) if isinstance(node, Mapping) else None
    key = "".join(key_parts) or "(top level)"
    if err["type"] == "extra_forbidden":
        field = str(loc[-1])
        model = _model_at(loc[:-1])
        hint = difflib.get_close_matches(field, list(model.model_fields) if model else [], n=1)
        known = ", ".join(k for k in (model.model_fields if model else {}) if k != "source")
        msg = f"{key}: unknown key (known keys: {known})"
        return msg + (f"; did you mean '{hint[0]}'?" if hint else "")
    msg = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "missing":
        return f"{key}: required key is missing"
    return (
        f"{key}: {msg} (got {err.get('input')!r})"
        if "input" in err and err["type"] != "value_error"
        else f"{key}: {msg}"
    )


def _model_at(loc: list[Any]) -> type[BaseModel] | None:
    model: type[BaseModel] | None = Inventory
    for part in loc:
        if isinstance(part, int):
            continue
        if model is None:
            return None
        children: dict[tuple[str, str], type[BaseModel]] = {
            ("Inventory", "hosts"): Host,
            ("Host", "ssh"): SSHTarget,
        }
        model = children.get((model.__name__, str(part)))
    return model


def _cross_checks(inv: Inventory) -> list[str]:
    problems: list[str] = []
    if inv.version != HOSTS_VERSION:
        problems.append(
            f"version: expected {HOSTS_VERSION} (the only hosts.yaml version), got {inv.version}"
        )
    seen: set[str] = set()
    for h in inv.hosts:
        if h.name in seen:
            problems.append(f"hosts[{h.name}].name: duplicate host name '{h.name}'")
        seen.add(h.name)
        for flow in h.flows:
            if flow not in TOOLCHAINS:
                problems.append(
                    f"hosts[{h.name}].flows: unknown flow '{flow}' (known flows: "
                    f"{', '.join(TOOLCHAINS)})" + _hint(flow, TOOLCHAINS)
                )
        for what, keys in (("slots", h.slots), ("licences", h.licences)):
            for flow in keys:
                if flow not in h.flows:
                    problems.append(
                        f"hosts[{h.name}].{what}.{flow}: flow not offered by this host "
                        f"(its flows: {', '.join(h.flows)})" + _hint(flow, h.flows)
                    )
        for flow, n in h.slots.items():
            if n < 1:
                problems.append(f"hosts[{h.name}].slots.{flow}: expected an integer >= 1, got {n}")
        for flow, pool in h.licences.items():
            if pool not in inv.licence_pools:
                problems.append(
                    f"hosts[{h.name}].licences.{flow}: no licence pool '{pool}' in licence_pools "
                    f"(pools: {', '.join(inv.licence_pools) or 'none'})"
                    + _hint(pool, inv.licence_pools)
                )
    for pool, n in inv.licence_pools.items():
        if n < 1:
            problems.append(f"licence_pools.{pool}: expected an integer >= 1, got {n}")
    return problems


def _hint(word: str, options: Any) -> str:
    close = difflib.get_close_matches(word, list(options), n=1)
    return f"; did you mean '{close[0]}'?" if close else ""


def _resolve_paths(inv: Inventory, base: Path) -> Inventory:
    def fix(p: str | None) -> str | None:
        if p is None:
            return None
        path = Path(p).expanduser()
        return str(path if path.is_absolute() else (base / path).resolve())

    hosts = []
    for h in inv.hosts:
        if h.ssh is not None:
            ssh = h.ssh.model_copy(
                update={"key": fix(h.ssh.key), "known_hosts": fix(h.ssh.known_hosts)}
            )
            h = h.model_copy(update={"ssh": ssh})
        hosts.append(h)
    ssh_config = fix(inv.ssh_config)
    if ssh_config is not None and not Path(ssh_config).is_file():
        raise HostsFileError(inv.source, [f"ssh_config: no such file: {ssh_config}"])
    return inv.model_copy(update={"hosts": tuple(hosts), "ssh_config": ssh_config})
