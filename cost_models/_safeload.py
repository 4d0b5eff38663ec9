"""Reading YAML and JSON that a user wrote, with bounds an attacker cannot get past.

Plain ``yaml.safe_load`` expands aliases without limit (a "billion laughs" file hangs it),
recurses once per nesting level (``[[[[…`` raises ``RecursionError``), keeps the last of two
duplicate keys silently, and ``open().read()`` follows a path to ``/dev/zero`` or a FIFO.
This module is the one way the project reads such files; every problem is an
:class:`UnsafeInput` carrying a reason and, when known, the line, which each loader turns
into its own one-line error naming the file.

It lives in ``cost_models`` because that package sits at the bottom of the import arrows
(``dse`` and ``runners`` both import it; it imports nothing of the project).
"""

from __future__ import annotations

import json
import math
import stat
from pathlib import Path
from typing import Any

import yaml

MAX_BYTES = 4 << 20  # a config, platform, hosts file or config.json is a few KB
MAX_DEPTH = 40  # the deepest legitimate document here nests about six levels


class UnsafeInput(ValueError):
    """A file cannot be read as a plain document; ``line`` is 1-based when known and ``key``
    names the offending key when there is one (a duplicate)."""

    def __init__(self, reason: str, line: int | None = None, key: str = "") -> None:
        self.reason, self.line, self.key = reason, line, key
        where = f"line {line}: " if line else ""
        super().__init__(f"{where}{key + ': ' if key else ''}{reason}")


def read_text(path: str | Path, max_bytes: int = MAX_BYTES) -> str:
    """The UTF-8 text of a regular file of at most ``max_bytes`` (a BOM is dropped)."""
    p = Path(path)
    try:
        st = p.stat()
        if stat.S_ISDIR(st.st_mode):
            raise UnsafeInput("is a directory; expected a file")
        if not stat.S_ISREG(st.st_mode):
            raise UnsafeInput("is not a regular file")
        with p.open("rb") as handle:
            raw = handle.read(max_bytes + 1)
    except UnsafeInput:
        raise
    except FileNotFoundError:
        raise UnsafeInput("file not found") from None
    except OSError as exc:
        raise UnsafeInput(f"cannot be read: {exc.strerror or exc}") from None
    except ValueError:  # e.g. a NUL byte in the path
        raise UnsafeInput("is not a valid file path") from None
    if len(raw) > max_bytes:
        raise UnsafeInput(f"is larger than {max_bytes >> 10} KiB; expected a small text file")
    return decode(raw)


def decode(raw: bytes) -> str:
    """``raw`` as UTF-8 text, or an error saying which encoding it looks like instead."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise UnsafeInput("is UTF-16 text; save it as UTF-8")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise UnsafeInput(
            f"is not UTF-8 text (byte 0x{raw[exc.start]:02x}); save it as UTF-8", line
        ) from None
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise UnsafeInput("contains NUL bytes; expected UTF-8 text (is it UTF-16?)", line)
    return text


def _line(node: yaml.Node | yaml.Event) -> int | None:
    mark = node.start_mark
    return None if mark is None else int(mark.line) + 1


class _Loader(yaml.SafeLoader):
    """SafeLoader without aliases, with a nesting bound, and with unique text keys."""

    depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            raise UnsafeInput(
                "YAML aliases (*name) are not allowed; write the value out",
                _line(self.peek_event()),
            )
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise UnsafeInput(f"nested more than {MAX_DEPTH} levels deep", _line(self.peek_event()))
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError) as exc:
            if isinstance(exc, UnsafeInput):
                raise
            # int('9'*5000), a timestamp like 2024-99-99: PyYAML lets these escape as such.
            reason = str(exc).split(";")[0]
            raise UnsafeInput(
                f"cannot read value {node.value!r:.40}: {reason}", _line(node)
            ) from None

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: dict[str, int | None] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                what = repr(key_node.value) if isinstance(key_node, yaml.ScalarNode) else "a list"
                raise UnsafeInput(
                    f"key {what:.40} is not text (write keys as names, in quotes if need be)",
                    _line(key_node),
                )
            if key in seen:
                raise UnsafeInput(
                    f"duplicate key (first set on line {seen[key]})", _line(key_node), key
                )
            seen[key] = _line(key_node)
        return super().construct_mapping(node, deep)


def yaml_node(text: str) -> tuple[Any, yaml.Node | None]:
    """Parse one YAML document: (data, its node tree for line numbers; None when empty).

    Raises ``UnsafeInput`` for the guards above and ``yaml.YAMLError`` for bad syntax.
    """
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    finally:
        loader.dispose()
    return data, node


def yaml_error(exc: yaml.YAMLError) -> UnsafeInput:
    """A YAML syntax error as one line: the problem and the line it was found on."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    context = getattr(exc, "context", None)
    reason = f"not valid YAML: {problem}" + (f" ({context})" if context else "")
    return UnsafeInput(" ".join(reason.split()), mark.line + 1 if mark is not None else None)


def load_yaml(text: str) -> Any:
    """``yaml_node(text)[0]`` with syntax errors turned into ``UnsafeInput``."""
    try:
        return yaml_node(text)[0]
    except yaml.YAMLError as exc:
        raise yaml_error(exc) from None


def _no_constant(name: str) -> Any:
    raise UnsafeInput(f"{name} is not a number JSON allows; write a finite number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise UnsafeInput(f"{text} is out of range for a number")
    return value


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json keeps the last of two equal keys; a config.json or --point that says a key twice
    # is ambiguous, so it is refused as duplicate YAML keys are.
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise UnsafeInput(f"{key}: duplicate key")
        out[key] = value
    return out


def load_json(text: str, max_depth: int = MAX_DEPTH) -> Any:
    """Parse strict JSON: finite numbers only, unique keys, nesting bounded by ``max_depth``."""
    try:
        data = json.loads(
            text,
            parse_constant=_no_constant,
            parse_float=_finite,
            object_pairs_hook=_unique_keys,
        )
    except json.JSONDecodeError as exc:
        raise UnsafeInput(f"not valid JSON: {exc.msg}", exc.lineno) from None
    except RecursionError:
        raise UnsafeInput(f"nested more than {max_depth} levels deep") from None
    except ValueError as exc:  # includes UnsafeInput; int('9'*5000) too
        if isinstance(exc, UnsafeInput):
            raise
        raise UnsafeInput(f"not valid JSON: {str(exc).split(';')[0]}") from None
    check_depth(data, max_depth)
    return data


def check_depth(data: Any, max_depth: int = MAX_DEPTH) -> None:
    """Raise ``UnsafeInput`` when lists/dicts in ``data`` nest deeper than ``max_depth``."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        item, depth = stack.pop()
        if not isinstance(item, dict | list):
            continue
        if depth > max_depth:
            raise UnsafeInput(f"nested more than {max_depth} levels deep")
        stack.extend((c, depth + 1) for c in (item.values() if isinstance(item, dict) else item))
