"""Turning a design point into measured numbers: templates, toolchains, report parsers.

Never imports ``dse`` (arrows point one way: ``dse -> runners``).
"""

from runners._errors import ReportParseError, RunnerError, TemplateError

__all__ = ["ReportParseError", "RunnerError", "TemplateError"]
