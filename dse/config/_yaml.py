"""YAML loading that remembers the line of every key, so errors can point at it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from cost_models._safeload import UnsafeInput, read_text, yaml_error, yaml_node
from dse.errors import ConfigError


class LocatedYaml:
    """A parsed YAML document plus ``lines``: dotted key path -> 1-based line."""

    def __init__(self, data: Any, lines: dict[str, int], source: str) -> None:
        self.data, self.lines, self.source = data, lines, source
        self.overrides: dict[str, str] = {}  # dotted key -> the ``--set KEY=VALUE`` text

    def override_of(self, key: str) -> str | None:
        """The ``--set`` text that set ``key``, an ancestor of it, or a key under it (a
        ``--set arch.x=1`` turns ``arch`` into a mapping: the error is the --set's)."""
        for k, text in self.overrides.items():
            if key == k or key.startswith((f"{k}.", f"{k}[")) or k.startswith(f"{key}."):
                return text
        return None

    def line(self, key: str) -> int | None:
        """Line of ``key`` or of its nearest ancestor present in the file (None when the
        value came from ``--set``: the file's line would blame the wrong text)."""
        if self.override_of(key) is not None:
            return None
        while key:
            if key in self.lines:
                return self.lines[key]
            key = key.rpartition(".")[0]
        return None

    def where(self, key: str) -> str:
        """``file:line`` of ``key``, or ``--set KEY=VALUE`` when an override set it."""
        text = self.override_of(key)
        if text is not None:
            return f"--set {text}"
        line = self.line(key)
        return f"{self.source}:{line}" if line else self.source

    def error(self, key: str, expected: str, hint: str = "") -> ConfigError:
        text = self.override_of(key)
        if text is not None:
            return ConfigError(f"--set {text}", key, expected, None, hint)
        return ConfigError(self.source, key, expected, self.line(key), hint)


def _walk(node: yaml.Node, path: str, lines: dict[str, int]) -> None:
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            key = f"{path}.{k.value}" if path else str(k.value)
            lines[key] = k.start_mark.line + 1
            _walk(v, key, lines)
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            key = f"{path}[{i}]"
            lines[key] = v.start_mark.line + 1
            _walk(v, key, lines)


def load_yaml(path: str | Path) -> LocatedYaml:
    """Read a YAML file through the project's guarded loader (no aliases, bounded nesting
    and size, unique keys, UTF-8); every problem is a ``ConfigError`` naming file and line."""
    source = str(path)
    try:
        data, node = yaml_node(read_text(path))
    except yaml.YAMLError as exc:
        err = yaml_error(exc)
        raise ConfigError(source, "(syntax)", err.reason, err.line) from None
    except UnsafeInput as exc:
        raise ConfigError(source, exc.key or "(file)", exc.reason, exc.line) from None
    lines: dict[str, int] = {}
    if node is not None:
        _walk(node, "", lines)
    return LocatedYaml(data, lines, source)
