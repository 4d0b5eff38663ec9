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

    def line(self, key: str) -> int | None:
        """Line of ``key`` or of its nearest ancestor present in the file."""
        while key:
            if key in self.lines:
                return self.lines[key]
            key = key.rpartition(".")[0]
        return None

    def error(self, key: str, expected: str, hint: str = "") -> ConfigError:
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
