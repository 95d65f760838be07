"""Expressions in config files: a whitelisted arithmetic syntax tree evaluated with numpy.

``[potential] expression``, ``[kinetics] field``, ``[kinetics] T`` and string ``[model] params`` are parsed
with :func:`compile_expression` (numbers, arithmetic, comparisons, conditional expressions, the functions
of :data:`EXPRESSION_NAMES`, ``pi``, ``e`` and the variables x, t, L) and evaluated by :func:`evaluate`.
"""

from __future__ import annotations

import ast

import numpy as np

from .errors import ConfigError

#: names usable in a ``kind = "expression"`` potential (besides x, t and L)
EXPRESSION_NAMES = {
    **{n: getattr(np, n) for n in ("sin", "cos", "tan", "arcsin", "arccos", "arctan", "arctan2", "sinh", "cosh",
                                   "tanh", "exp", "log", "sqrt", "abs", "sign", "minimum", "maximum", "where",
                                   "heaviside", "mod", "floor", "ceil")},
    "pi": np.pi, "e": np.e,
}
#: number of arguments of each function (a third argument of a numpy ufunc would be its ``out`` array)
ARITY = {**{name: 1 for name in EXPRESSION_NAMES if callable(EXPRESSION_NAMES[name])},
         "arctan2": 2, "minimum": 2, "maximum": 2, "heaviside": 2, "mod": 2, "where": 3}
#: longest expression accepted (characters) and deepest nesting of its syntax tree: far beyond any profile,
#: and small enough that parsing, checking and compiling take microseconds and no recursion limit is reached
MAX_EXPRESSION_LENGTH = 2000
MAX_DEPTH = 100
_EXPR_NODES = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Compare, ast.IfExp, ast.Call, ast.Name, ast.Load,
               ast.Constant, ast.cmpop, ast.BoolOp, ast.boolop)
#: arithmetic, on float64 arrays whatever the operands (True + True is 2.0, so a power tower overflows at once
#: instead of building a huge integer)
_BINARY = {ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply, ast.Div: np.true_divide,
           ast.Pow: np.power, ast.Mod: np.mod, ast.FloorDiv: np.floor_divide}
_UNARY = {ast.USub: np.negative, ast.UAdd: np.positive, ast.Not: np.logical_not}
_HELPERS = {f"_op_{op.__name__}": (lambda f: lambda *a: f(*(np.asarray(v, dtype=float) for v in a)))(f)
            for op, f in {**_BINARY, **_UNARY}.items()}


def _depth(tree) -> int:
    """Depth of a syntax tree, without recursion."""
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, d = stack.pop()
        deepest = max(deepest, d)
        stack.extend((child, d + 1) for child in ast.iter_child_nodes(node))
    return deepest


class _FloatArithmetic(ast.NodeTransformer):
    """Operators become calls of the float64 helpers of :data:`_HELPERS`."""

    def visit_BinOp(self, node):
        self.generic_visit(node)
        return ast.copy_location(ast.Call(ast.Name(f"_op_{type(node.op).__name__}", ast.Load()),
                                          [node.left, node.right], []), node)

    def visit_UnaryOp(self, node):
        self.generic_visit(node)
        return ast.copy_location(ast.Call(ast.Name(f"_op_{type(node.op).__name__}", ast.Load()),
                                          [node.operand], []), node)


def compile_expression(expr, where="[potential] expression", variables=("x", "t", "L")):
    """Code of a whitelisted arithmetic expression (``where`` names the config key in errors).

    Allowed: numbers, the operators + - * / ** % // (on float64 arrays), comparisons, ``and``/``or``/``not``,
    conditional expressions, the ``variables`` and the names of :data:`EXPRESSION_NAMES` (functions called
    with their :data:`ARITY`). At most :data:`MAX_EXPRESSION_LENGTH` characters nested at most
    :data:`MAX_DEPTH` deep. Every error is a one-line :class:`ConfigError`."""
    if not isinstance(expr, str):
        raise ConfigError(f"{where} must be a string expression; got {expr!r}.")
    shown = expr if len(expr) <= 80 else expr[:60] + f"... ({len(expr)} characters)"
    if len(expr) > MAX_EXPRESSION_LENGTH:
        raise ConfigError(f"{where} is longer than {MAX_EXPRESSION_LENGTH} characters ({len(expr)}); write the "
                          "profile more compactly.")
    try:
        tree = ast.parse(expr.strip(), mode="eval")
    except SyntaxError as err:
        raise ConfigError(f"{where} {shown!r} is not a valid expression: {err.msg}.") from None
    except (ValueError, RecursionError, MemoryError) as err:       # null bytes; nesting beyond the parser
        raise ConfigError(f"{where} {shown!r} is not a valid expression: {type(err).__name__}.") from None
    if _depth(tree) > MAX_DEPTH:
        raise ConfigError(f"{where} {shown!r} is nested too deeply (more than {MAX_DEPTH} levels).")
    allowed = set(EXPRESSION_NAMES) | set(variables)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):   # bool, int: float
            try:
                node.value = float(node.value)
            except OverflowError:
                node.value = np.inf
        if isinstance(node, (ast.BinOp, ast.UnaryOp)):
            op = node.op
            if type(op) not in _BINARY and type(op) not in _UNARY:
                raise ConfigError(f"{where} may use the operators + - * / ** % // not and, or, comparisons; "
                                  f"{type(op).__name__} is not allowed in {shown!r}.")
            continue
        if isinstance(node, (ast.operator, ast.unaryop)):
            continue
        if not isinstance(node, _EXPR_NODES):
            raise ConfigError(f"{where} may use numbers, arithmetic, comparisons and the names "
                              f"{sorted(allowed)}; {type(node).__name__} is not allowed in {shown!r}.")
        if isinstance(node, ast.Name) and node.id not in allowed:
            raise ConfigError(f"{where} uses unknown name {node.id[:40]!r}; allowed: {sorted(allowed)}.")
        if isinstance(node, ast.Call):
            if not (isinstance(node.func, ast.Name) and node.func.id in ARITY):
                called = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)[:40]
                raise ConfigError(f"{where} may only call {sorted(ARITY)}; {called!r} is not allowed in {shown!r}.")
            if node.keywords:
                raise ConfigError(f"{where} may not use keyword arguments ({node.func.id} in {shown!r}).")
            if len(node.args) != ARITY[node.func.id]:
                raise ConfigError(f"{where} calls {node.func.id}, which takes {ARITY[node.func.id]} argument(s); got "
                                  f"{len(node.args)} in {shown!r}.")
        if isinstance(node, ast.Constant) and not isinstance(node.value, float):
            raise ConfigError(f"{where} may only contain numeric constants; got {str(node.value)[:40]!r}.")
    tree = ast.fix_missing_locations(_FloatArithmetic().visit(tree))
    code = compile(tree, f"<{where}>", "eval")
    return _Compiled(code, where, shown)


class _Compiled:
    """A compiled expression with the config key and text for error messages."""

    def __init__(self, code, where, text):
        self.code, self.where, self.text = code, where, text


def evaluate(code, **variables):
    """Value of an expression compiled by :func:`compile_expression` (float64 numpy arithmetic on the variables).

    Overflow is an error (a ConfigError naming the key, as is any other failure); 0/0 and 1/0 give NaN and inf,
    which the callers report as not finite."""
    try:
        with np.errstate(over="raise", divide="ignore", invalid="ignore", under="ignore"):
            return eval(code.code, {"__builtins__": {}, **EXPRESSION_NAMES, **_HELPERS, **variables})  # noqa: S307
    except (ArithmeticError, ValueError, TypeError, MemoryError, RecursionError) as err:
        raise ConfigError(f"{code.where} cannot be evaluated ({code.text!r}): {_first_line(err)}.") from None


def evaluate_like_x(code, x, **variables):
    """:func:`evaluate` at x and the other variables, as floats broadcast to the shape of x."""
    value = evaluate(code, x=x, **variables)
    try:
        return np.broadcast_to(np.asarray(value, dtype=float), np.shape(x))
    except (ValueError, TypeError) as err:
        raise ConfigError(f"{code.where} cannot be evaluated ({code.text!r}): it does not give one number per "
                          f"point ({_first_line(err)}).") from None


def _first_line(err) -> str:
    lines = str(err).splitlines() or [type(err).__name__]
    return lines[0][:200]


def profile_function(code, length):
    """p(x) from a compiled expression in x (Angstrom) and L = length: an array shaped like x."""
    def profile(x):
        return evaluate_like_x(code, x, L=length)
    return profile

