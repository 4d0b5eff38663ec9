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

__all__ = [
    "TEMPLATES_ROOT",
    "TOOLCHAINS",
    "BuildResult",
    "Bundle",
    "Command",
    "Executor",
    "LocalExecutor",
    "ReportParseError",
    "RunnerError",
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
    "content_hash",
    "get_toolchain",
    "list_templates",
    "list_toolchains",
    "load_template",
    "make_bundle",
    "render_template",
    "templates_root",
]
