"""The ``dse`` error hierarchy, under the project's one root ``DseError``.

Every message says where (file and line or key), what was expected, and how to fix it; the
CLI prints it on one line and exits with code 2."""

from __future__ import annotations

# The one root: cost_models.InputError and runners.RunnerError derive from it too (it is
# defined in the bottom layer, which imports nothing of the project).
from cost_models._errors import DseError


class ConfigError(DseError, ValueError):
    """A config file (or a ``--set`` override) is malformed.

    Attributes:
        source: the file (or "--set").
        key: dotted key, e.g. ``design.m_ffn``.
        line: 1-based line in ``source`` when known.
        expected: what would have been valid.
        hint: "did you mean ..." or a fix.
    """

    def __init__(
        self, source: str, key: str, expected: str, line: int | None = None, hint: str = ""
    ) -> None:
        self.source, self.key, self.line, self.expected, self.hint = (
            source,
            key,
            line,
            expected,
            hint,
        )
        where = f"{source}:{line}" if line else source
        msg = f"{where}: {key}: {expected}"
        if hint:
            msg += f" ({hint})"
        super().__init__(msg)


class StudyNotFound(DseError, LookupError):
    """A study name or results directory does not exist."""


__all__ = ["ConfigError", "DseError", "StudyNotFound"]
