"""Errors raised for bad cost-model input.

``cost_models`` imports nothing of the project, so it owns its error type; the ``dse`` CLI
turns it into a one-line message and exit code 2.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class InputError(ValueError):
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
