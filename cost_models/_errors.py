"""Errors raised for bad cost-model input.

``cost_models`` imports nothing of the project, so it owns the project's error root
(``DseError``) as well as its own input error; the ``dse`` CLI turns either into a one-line
message and exit code 2.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class DseError(Exception):
    """Root of every error the project raises on purpose (``dse``, ``runners`` and here).

    It lives in ``cost_models`` because that is the bottom layer: ``runners`` and ``dse``
    derive their errors from it (``dse.errors`` re-exports it), so one ``except DseError``
    catches them all. The CLI prints one as one line and exits with code 2.
    """


class InputError(DseError, ValueError):
    """A workload, platform or design point is malformed.

    The message always says where (``source``: a file or "design point"), which key, and
    what was expected, with a "did you mean" hint when the key looks like a typo.
    """

    def __init__(self, source: str, key: str, expected: str, hint: str = "") -> None:
        self.source = source
        self.key = key
        self.expected = expected
        self.hint = hint
        where = f"{source}: " if source else ""
        msg = f"{where}{key}: {expected}"
        if hint:
            msg += f" ({hint})"
        super().__init__(msg)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return ``"did you mean 'x'?"`` for the closest choice, or an empty string."""
    match = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean '{match[0]}'?" if match else ""
