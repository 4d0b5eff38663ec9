"""Rich consoles for the CLI that never reinterpret what a user wrote.

Rich turns ``:cat:`` into an emoji and ``[bold]`` into markup; a path or study name can hold
either, so consoles made here have emoji off, and text a user wrote goes through ``plain``.
"""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape


def make_console(stderr: bool = False, width: int | None = None) -> Console:
    """A console with emoji codes and automatic highlighting off."""
    return Console(stderr=stderr, emoji=False, highlight=False, width=width)


def plain(text: object) -> str:
    """``text`` escaped so rich prints it exactly (brackets included)."""
    return escape(str(text))
