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
_EXPR_NODES = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Compare, ast.IfExp, ast.Call, ast.Name, ast.Load,
               ast.Constant, ast.operator, ast.unaryop, ast.cmpop, ast.BoolOp, ast.boolop)


def compile_expression(expr, where="[potential] expression", variables=("x", "t", "L")):
    """Code of a whitelisted arithmetic expression (``where`` names the config key in errors).

    Allowed: numbers, arithmetic, comparisons, conditional expressions, the ``variables`` and the names
    of :data:`EXPRESSION_NAMES`; integers become floats (so ``9**9**9`` overflows instead of hanging)."""
    try:
        tree = ast.parse(expr, mode="eval")
    except SyntaxError as err:
        raise ConfigError(f"{where} {expr!r} is not a valid expression: {err.msg}.") from None
    allowed = set(EXPRESSION_NAMES) | set(variables)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, int) and not isinstance(node.value, bool):
            node.value = float(node.value)   # float arithmetic: 9**9**9 overflows at once instead of hanging
        if not isinstance(node, _EXPR_NODES):
            raise ConfigError(f"{where} may use numbers, arithmetic, comparisons and the names "
                              f"{sorted(allowed)}; {type(node).__name__} is not allowed in {expr!r}.")
        if isinstance(node, ast.Name) and node.id not in allowed:
            raise ConfigError(f"{where} uses unknown name {node.id!r}; allowed: {sorted(allowed)}.")
        if isinstance(node, ast.Call) and not (isinstance(node.func, ast.Name) and node.func.id in EXPRESSION_NAMES):
            called = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
            raise ConfigError(f"{where} may only call "
                              f"{sorted(k for k, v in EXPRESSION_NAMES.items() if callable(v))}; {called!r} is not "
                              f"allowed in {expr!r}.")
        if isinstance(node, ast.Constant) and not isinstance(node.value, (int, float)):
            raise ConfigError(f"{where} may only contain numeric constants; got {node.value!r}.")
    return compile(tree, f"<{where}>", "eval")


def evaluate(code, **variables):
    """Value of an expression compiled by :func:`compile_expression` (numpy arithmetic on the variables)."""
    return eval(code, {"__builtins__": {}, **EXPRESSION_NAMES, **variables})   # noqa: S307 - whitelisted AST


def evaluate_like_x(code, x, **variables):
    """:func:`_evaluate` at x and the other variables, as floats broadcast to the shape of x."""
    return np.broadcast_to(np.asarray(evaluate(code, x=x, **variables), dtype=float), np.shape(x))


def profile_function(code, length):
    """p(x) from a compiled expression in x (Angstrom) and L = length: an array shaped like x."""
    def profile(x):
        return evaluate_like_x(code, x, L=length)
    return profile

