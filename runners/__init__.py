"""Turning a design point into measured numbers: templates, toolchains, report parsers.

Never imports ``dse`` (arrows point one way: ``dse -> runners``).
"""

from runners._errors import ReportParseError, RunnerError, TemplateError
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

__all__ = [
    "TEMPLATES_ROOT",
    "ReportParseError",
    "RunnerError",
    "Template",
    "TemplateError",
    "TemplateParam",
    "TemplateTest",
    "list_templates",
    "load_template",
    "render_template",
    "templates_root",
]
