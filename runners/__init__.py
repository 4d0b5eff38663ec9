"""Turning a design point into measured numbers: templates, toolchains, report parsers.

Never imports ``dse`` (arrows point one way: ``dse -> runners``).
"""

from runners._build import build, cached_result
from runners._bundle import Bundle, content_hash, make_bundle
from runners._errors import ReportParseError, RunnerError, TemplateError
from runners._executor import Command, Executor, LocalExecutor, StepResult
from runners._result import BuildResult
from runners._templates import (
    TEMPLATES_ROOT,
    Template,
    TemplateParam,
    TemplateTest,
    list_templates,
    load_template,
    render_template,
    templates_root,
)
from runners.toolchains import (
    TOOLCHAINS,
    Toolchain,
    ToolchainError,
    UnknownToolchain,
    get_toolchain,
    list_toolchains,
)

# Loaded on first use: these pull in fabric/paramiko and Ray, which plain builds do not need.
_LAZY = {
    "SSHExecutor": "runners._ssh",
    "BuildFarm": "runners.dispatch",
    "Inventory": "runners.hosts",
    "Host": "runners.hosts",
    "HostsFileError": "runners.hosts",
    "load_hosts": "runners.hosts",
    "local_inventory": "runners.hosts",
    "check_hosts": "runners.hostcheck",
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'runners' has no attribute '{name}'")


__all__ = [
    "TEMPLATES_ROOT",
    "TOOLCHAINS",
    "BuildFarm",
    "BuildResult",
    "Bundle",
    "Command",
    "Executor",
    "Host",
    "HostsFileError",
    "Inventory",
    "LocalExecutor",
    "ReportParseError",
    "RunnerError",
    "SSHExecutor",
    "StepResult",
    "Template",
    "TemplateError",
    "TemplateParam",
    "TemplateTest",
    "Toolchain",
    "ToolchainError",
    "UnknownToolchain",
    "build",
    "cached_result",
    "check_hosts",
    "content_hash",
    "get_toolchain",
    "list_templates",
    "list_toolchains",
    "load_hosts",
    "load_template",
    "local_inventory",
    "make_bundle",
    "render_template",
    "templates_root",
]
