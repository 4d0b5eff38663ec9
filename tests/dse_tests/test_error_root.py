"""One error root: every error the project raises on purpose derives from ``DseError``, so
the CLI's one ``except DseError`` prints it as one line with exit code 2."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import cost_models
import dse
import runners
from dse.errors import DseError

# Exceptions used as signals inside one module, caught there and never shown to a user.
INTERNAL = {
    "cost_models._safeload.UnsafeInput",  # re-raised as ConfigError / InputError naming the file
    "dse.config._space_check.WhenFailed",  # a when: that fails to evaluate: a ConfigError
    "runners._ssh_connect.HostUnavailable",  # a host to retry elsewhere (the farm's class)
    "runners._ssh_connect.HostKeyRefused",
    "runners._ssh_remote.Stale",
    "runners.reports._complete.Truncated",  # a report cut short: parsed as incomplete
}


def _project_exceptions() -> list[type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for pkg in (cost_models, runners, dse):
        for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
            try:
                module = importlib.import_module(info.name)
            except ImportError:  # an optional extra (ray, pyserial) not installed here
                continue
            for _, obj in inspect.getmembers(module, inspect.isclass):
                if issubclass(obj, BaseException) and obj.__module__ == info.name:
                    found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return [found[k] for k in sorted(found)]


ALL = _project_exceptions()


def _name(exc: type[BaseException]) -> str:
    return f"{exc.__module__}.{exc.__qualname__}"


@pytest.mark.parametrize("exc", [e for e in ALL if _name(e) not in INTERNAL], ids=_name)
def test_every_project_error_derives_from_the_root(exc: type[BaseException]) -> None:
    assert issubclass(exc, DseError), f"{_name(exc)}: not a DseError"


def test_internal_signals_still_exist() -> None:
    assert {_name(e) for e in ALL} >= INTERNAL


def test_the_three_former_roots_are_one() -> None:
    assert issubclass(cost_models.InputError, DseError)
    assert issubclass(runners.RunnerError, DseError)
    assert cost_models.InputError("f", "k", "x").args == ("f: k: x",)  # message unchanged
