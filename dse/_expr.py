"""Safe, vectorised expressions for ``when:`` conditions and ``derived:`` parameters.

The text is parsed with :mod:`ast` and only a small whitelist of node types is accepted, so
nothing in a config can reach attributes, imports or builtins. The same compiled expression
evaluates on scalars (one trial) and on numpy arrays (a batch or the exhaustive grid):
``and``/``or``/``not`` become element-wise logic and ``a if c else b`` becomes ``np.where``.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dse.errors import DseError

Env = Mapping[str, Any]
_Fn = Callable[[Env], Any]


# numpy's int64 arithmetic wraps around silently (max(1, 2**64) gave 1): integer results are
# checked against the same operation in float64 and an overflow is an error.
_INT_LIMIT = float(2**63)


def _overflow(exact: Any) -> None:
    if np.any(np.abs(exact) >= _INT_LIMIT):
        raise ExprError(
            "integer overflow: a value reaches 2**63; use smaller numbers or float(...)"
        )


def _checked(op: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def run(a: Any, b: Any) -> Any:
        out = op(a, b)
        if np.asarray(out).dtype.kind in "iu":
            _overflow(op(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)))
        return out

    return run


def _int(x: Any) -> Any:
    values = np.trunc(np.asarray(x, dtype=np.float64))
    _overflow(values)
    return values.astype(np.int64)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "min": lambda *a: _reduce(np.minimum, a),
    "max": lambda *a: _reduce(np.maximum, a),
    "abs": np.abs,
    "round": np.round,
    "int": _int,
    "float": lambda x: np.asarray(x, dtype=np.float64),
    "log2": np.log2,
    "sqrt": np.sqrt,
    "ceil": np.ceil,
    "floor": np.floor,
}

_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: np.add,
    ast.Sub: np.subtract,
    ast.Mult: np.multiply,
    ast.Div: np.true_divide,
    ast.FloorDiv: np.floor_divide,
    ast.Mod: np.mod,
    ast.Pow: np.power,
}
_CMPOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}

ALLOWED = (
    "names, numbers, 'strings', + - * / // % **, comparisons, and/or/not, "
    "`x if cond else y`, `x in (a, b)` and the functions " + ", ".join(FUNCTIONS)
)


class ExprError(DseError, ValueError):
    """The expression text is not valid or uses something outside the whitelist."""


def _reduce(fn: Callable[[Any, Any], Any], args: tuple[Any, ...]) -> Any:
    if not args:
        raise ExprError("min()/max() need at least one argument")
    out = args[0]
    for a in args[1:]:
        out = fn(out, a)
    return out


def _eq(a: Any, b: Any) -> Any:
    # numpy compares an object/str array with a str element-wise; plain scalars as usual.
    return np.asarray(a == b) if isinstance(a, np.ndarray) or isinstance(b, np.ndarray) else a == b


@dataclass(frozen=True)
class Expr:
    """A compiled expression. ``names`` are the variables it reads."""

    text: str
    names: frozenset[str]
    _fn: _Fn = field(repr=False, compare=False)

    def evaluate(self, env: Env) -> Any:
        """Evaluate on scalars or equal-length arrays; a 0-d result comes back as a scalar."""
        with np.errstate(all="ignore"):
            out = self._fn(env)
        if isinstance(out, np.ndarray) and out.ndim == 0:
            return out.item()
        if isinstance(out, np.generic):
            return out.item()
        return out


def compile_expr(text: str) -> Expr:
    """Parse ``text`` into an :class:`Expr`.

    Raises:
        ExprError: syntax error or a construct outside :data:`ALLOWED`.
    """
    if not isinstance(text, str) or not text.strip():
        raise ExprError("expected a non-empty expression string")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExprError(f"not a valid expression ({exc.msg})") from None
    names: set[str] = set()
    fn = _compile(tree.body, names)
    return Expr(text, frozenset(names), fn)


def _compile(node: ast.AST, names: set[str]) -> _Fn:
    if isinstance(node, ast.Constant):
        if not isinstance(node.value, int | float | str | bool):
            raise ExprError(f"constant {node.value!r} is not allowed")
        value = node.value
        return lambda env: value
    if isinstance(node, ast.Name):
        name = node.id
        names.add(name)

        def lookup(env: Env) -> Any:
            return env[name]

        return lookup
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        op = _checked(_BINOPS[type(node.op)])
        left, right = _compile(node.left, names), _compile(node.right, names)
        return lambda env: op(left(env), right(env))
    if isinstance(node, ast.UnaryOp):
        operand = _compile(node.operand, names)
        if isinstance(node.op, ast.USub):
            return lambda env: np.negative(operand(env))
        if isinstance(node.op, ast.UAdd):
            return operand
        if isinstance(node.op, ast.Not):
            return lambda env: np.logical_not(operand(env))
    if isinstance(node, ast.BoolOp):
        parts = [_compile(v, names) for v in node.values]
        combine = np.logical_and if isinstance(node.op, ast.And) else np.logical_or
        return lambda env: _reduce(combine, tuple(p(env) for p in parts))
    if isinstance(node, ast.Compare):
        return _compile_compare(node, names)
    if isinstance(node, ast.IfExp):
        test, body, orelse = (_compile(n, names) for n in (node.test, node.body, node.orelse))
        return lambda env: np.where(test(env), body(env), orelse(env))
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            what = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
            raise ExprError(f"function {what!r} is not allowed; expressions may use {ALLOWED}")
        if node.keywords:
            raise ExprError("keyword arguments are not allowed")
        fn = FUNCTIONS[node.func.id]
        args = [_compile(a, names) for a in node.args]
        return lambda env: fn(*(a(env) for a in args))
    raise ExprError(f"{ast.unparse(node)!r} is not allowed; expressions may use {ALLOWED}")


def _compile_compare(node: ast.Compare, names: set[str]) -> _Fn:
    left = _compile(node.left, names)
    steps: list[tuple[Callable[[Any, Any], Any], _Fn]] = []
    for op, comp in zip(node.ops, node.comparators, strict=True):
        if isinstance(op, ast.In | ast.NotIn):
            if not isinstance(comp, ast.Tuple | ast.List):
                raise ExprError("`in` needs a literal list or tuple on its right, e.g. x in (4, 8)")
            options = [_compile(e, names) for e in comp.elts]
            negate = isinstance(op, ast.NotIn)

            def member(a: Any, opts: Any, negate: bool = negate) -> Any:
                hit = np.isin(a, list(opts)) if isinstance(a, np.ndarray) else a in opts
                return np.logical_not(hit) if negate else hit

            steps.append((member, lambda env, o=options: [f(env) for f in o]))  # type: ignore[misc]
        elif type(op) in _CMPOPS:
            cmp = _eq if isinstance(op, ast.Eq) else _CMPOPS[type(op)]
            if isinstance(op, ast.NotEq):

                def cmp(a: Any, b: Any) -> Any:
                    return np.logical_not(_eq(a, b))

            steps.append((cmp, _compile(comp, names)))
        else:
            raise ExprError(f"comparison {type(op).__name__} is not allowed")

    def run(env: Env) -> Any:
        a = left(env)
        result: Any = True
        for cmp, right in steps:
            b = right(env)
            result = np.logical_and(result, cmp(a, b))
            a = b
        return result

    return run
