"""Fuzz test of the config expression parser: random well-formed expressions give the value an independent
evaluator computes; random and mutated strings give a clean one-line ConfigError or a float array; every
case finishes within a time and memory bound (never a hang or a raw traceback). A fixed seed and a bounded
number of cases keep it fast and reproducible."""

import random
import string

import numpy as np
import pytest

from qkinetics.run import ConfigError
from qkinetics.run.expressions import compile_expression, evaluate_like_x

from conftest import bounded

X = np.linspace(0.5, 9.5, 19)
UNARY = {"sin": np.sin, "cos": np.cos, "tanh": np.tanh, "exp": np.exp, "abs": np.abs, "sqrt": np.sqrt}
BINARY = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.true_divide, "**": np.power}


def _random_tree(rng, depth):
    """(text, value on X) of a random expression, the value computed here, not by the parser."""
    r = rng.random()
    if depth == 0 or r < 0.25:
        if rng.random() < 0.5:
            return "x", X.copy()
        c = rng.choice([0.5, 1, 2, 3.25, 1e-3, 7, 10])
        return repr(c), np.full_like(X, float(c))
    if r < 0.5:
        name = rng.choice(sorted(UNARY))
        text, val = _random_tree(rng, depth - 1)
        return f"{name}({text})", UNARY[name](val)
    if r < 0.6:
        text, val = _random_tree(rng, depth - 1)
        return f"-({text})", -val
    op = rng.choice(sorted(BINARY))
    (ta, va), (tb, vb) = _random_tree(rng, depth - 1), _random_tree(rng, depth - 1)
    return f"({ta}) {op} ({tb})", BINARY[op](va, vb)




def _run(expr):
    def go():
        code = compile_expression(expr, "[kinetics] field", ("x", "t", "L"))
        with np.errstate(all="ignore"):
            return evaluate_like_x(code, X, t=1e-14, L=10.0)
    try:
        return bounded(go)
    except ConfigError as err:
        msg = str(err)
        assert msg.startswith("[kinetics] field") and "\n" not in msg, msg
        return None


@pytest.mark.parametrize("seed", range(4))
def test_random_expressions_match_an_independent_evaluation(seed):
    rng = random.Random(seed)
    overflows = []
    for _ in range(60):
        try:                               # the parser's float rules: overflow is an error, 1/0 and 0/0 are not
            with np.errstate(over="raise", divide="ignore", invalid="ignore", under="ignore"):
                text, expected = _random_tree(rng, rng.randint(1, 6))
        except FloatingPointError:
            overflows.append(seed)
            continue
        got = _run(text)
        assert got is not None, text
        finite = np.isfinite(expected)
        np.testing.assert_array_equal(np.isfinite(got), finite, err_msg=text)
        np.testing.assert_allclose(got[finite], expected[finite], rtol=1e-12, atol=0, err_msg=text)
    assert len(overflows) < 20                         # most cases compare values (overflow: see below)


ALPHABET = string.ascii_letters + string.digits + " +-*/%<>=!()[]{},.:;'\"\\@&|^~#_\n\tTrueFalse"
TOKENS = ["x", "t", "L", "pi", "e", "(", ")", "+", "-", "*", "/", "**", "%", "//", "<", "==", "if", "else",
          "and", "or", "not", "True", "False", "1", "9", "1e308", "0", "sin(", "where(", ",", "lambda", "[", "]",
          "__class__", ".", "<<", "|", "@", "1j", "'s'", "import", "sqrt(", "exp(", "9**9**9"]


@pytest.mark.parametrize("seed", range(4))
def test_random_strings_and_token_soup_fail_cleanly(seed):
    rng = random.Random(1000 + seed)
    for _ in range(150):
        if rng.random() < 0.5:
            expr = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 40)))
        else:
            expr = " ".join(rng.choice(TOKENS) for _ in range(rng.randint(1, 25)))
        got = _run(expr)
        assert got is None or (got.shape == X.shape and got.dtype == float), expr


@pytest.mark.parametrize("seed", range(2))
def test_mutated_valid_expressions_fail_cleanly(seed):
    rng = random.Random(2000 + seed)
    for _ in range(100):
        with np.errstate(all="ignore"):
            text, _ = _random_tree(rng, rng.randint(2, 6))
        chars = list(text)
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(len(chars) + 1)
            op = rng.random()
            if op < 0.4 and chars:
                del chars[min(i, len(chars) - 1)]
            elif op < 0.8:
                chars.insert(i, rng.choice(ALPHABET))
            else:
                chars.insert(i, rng.choice(["**9**9**9", "(1<2)", "True", "*" * 3, "<<", "(" * 50]))
        expr = "".join(chars)
        got = _run(expr)
        assert got is None or (got.shape == X.shape and got.dtype == float), expr


def test_adversarial_sizes_are_bounded():
    for expr in ["+".join(["x"] * 5000), "-" * 5000 + "x", "(" * 400 + "x" + ")" * 400, "sin(" * 500 + "x" + ")" * 500,
                 "**".join(["(True+True)"] * 200), "x" * 10**6, " " * 10**6 + "x", "1" * 5000]:
        got = _run(expr)
        assert got is None or got.dtype == float
    assert _run("**".join(["2"] * 10)) is None                # overflow: a clean error
    assert _run("**".join(["2"] * 4))[0] == 65536.0
