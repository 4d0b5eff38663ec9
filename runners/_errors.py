"""Errors raised by the tool runners and the template renderer."""

from __future__ import annotations

from pathlib import Path

from cost_models._errors import DseError


class RunnerError(DseError):
    """Base class for every error raised by ``runners`` (a ``DseError``, the project's root)."""


class TemplateError(RunnerError, ValueError):
    """A template manifest, a template parameter or a template render is invalid."""


class ReportParseError(RunnerError, ValueError):
    """A tool report could not be parsed; names the report file and the reason."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")
