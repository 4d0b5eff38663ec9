"""What every part of releases shares: the errors, the flows that make a bitstream, names."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

from dse.errors import DseError
from runners.toolchains import TOOLCHAINS

if TYPE_CHECKING:
    from runners import BuildResult

MANIFEST_FORMAT = 2  # bump when the layout or a manifest key changes meaning (2: ``seal``)
# Flows that end in a flashable file: flow -> (BuildResult.artefacts key, file suffix), as
# each toolchain declares it (``Toolchain.deliverable``).
RELEASE_FLOWS: Mapping[str, tuple[str, str]] = {
    name: tc.deliverable for name, tc in TOOLCHAINS.items() if tc.deliverable is not None
}
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


class ReleaseError(DseError, ValueError):
    """Bad promote/release input: unknown study, trial, metric, flow or host, a bad or taken
    release name, a missing release. The CLI prints it on one line and exits with code 2."""


class ReleaseBuildFailed(ReleaseError):
    """The build failed, or missed timing without ``allow_timing_failure``: nothing was
    published. ``result`` is the build's ``BuildResult`` (its folder stays in the build
    cache for inspection). The CLI exits with code 1."""

    def __init__(self, message: str, result: BuildResult) -> None:
        super().__init__(message)
        self.result = result


def check_name(name: str) -> None:
    """A release name is one folder name: letters, digits, ``. _ -``, not starting with ``.``."""
    if not _NAME_RE.fullmatch(name):  # not match: '$' would let 'name\n' through
        raise ReleaseError(
            f"release name {name!r}: expected 1-100 letters, digits, '.', '_' or '-', not "
            "starting with '.' or '-' (it names the folder results/releases/NAME)"
        )
