"""The config expression parser (``[potential] expression``, ``[kinetics] field`` and ``T``, string ``[model]
params``): hostile expressions get one clean line, in bounded time and memory (issue 15, item 2)."""

import time

import numpy as np
import pytest

from qkinetics.run import ConfigError, load_config
from qkinetics.run.expressions import MAX_EXPRESSION_LENGTH, compile_expression, evaluate_like_x

from conftest import bounded

X = np.linspace(0.0, 60.0, 257)
TOWER = "(True+True)**(True+True)**(True+True)**(True+True)**(True+True)**(True+True)"
HOSTILE = [
    TOWER,                                                  # the reproduction: minutes and GBs before
    "((1<2)+(1<2))**((1<2)+(1<2))**((1<2)+(1<2))**((1<2)+(1<2))**((1<2)+(1<2))**((1<2)+(1<2))",
    "(x>0)**(x>0)**9**9**9", "9**9**9**9", "(True+True)<<(True+True)**99", "(1<2)<<10**9",
    "+".join(["1"] * 100000),                               # raw RecursionError before
    "-" * 100000 + "1",                                     # raw MemoryError before
    "(" * 5000 + "1" + ")" * 5000, "sin(" * 3000 + "x" + ")" * 3000,
    "x if x else x", "x and x", "1 < x < 2", "sin(x, x)", "where(x)", "maximum(x, 1, x)",
    "1 @ 2", "1 | 2", "~1", "[1, 2]", "x[0]", "(1, 2)", "1j", "'a'", "__import__('os')", "x.real",
    "lambda: 1", "sin", "f'{x}'", "", "   ", "1 +", "\x00", "é", "1e999999",
]




def _evaluate(expr):
    code = compile_expression(expr, "[potential] expression")
    with np.errstate(all="ignore"):
        return evaluate_like_x(code, X, t=0.0, L=60.0)


@pytest.mark.parametrize("expr", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_expressions_fail_cleanly_or_give_a_float_array_quickly(expr):
    t0 = time.perf_counter()
    try:
        value = bounded(lambda: _evaluate(expr))
    except ConfigError as err:
        msg = str(err)
        assert msg.startswith("[potential] expression") and "\n" not in msg and len(msg) < 600
    else:
        assert value.shape == X.shape and value.dtype == float
    assert time.perf_counter() - t0 < 2.0


def test_booleans_are_floats_so_the_tower_overflows_at_once():
    with pytest.raises(ConfigError, match=r"^\[potential\] expression cannot be evaluated .*overflow"):
        bounded(lambda: _evaluate(TOWER), seconds=0.5)
    np.testing.assert_array_equal(_evaluate("(True+True)**(True+True)**(True+True)"), 16.0)


def test_comparisons_and_conditionals_still_work():
    np.testing.assert_array_equal(_evaluate("where(x < 30, 1, 0)"), np.where(X < 30, 1.0, 0.0))
    np.testing.assert_array_equal(_evaluate("(x < 30) * 2"), np.where(X < 30, 2.0, 0.0))
    np.testing.assert_allclose(_evaluate("2**10 + 7 % 4 - 9 // 2"), 1024 + 3 - 4)
    np.testing.assert_allclose(_evaluate("-(-x) + +x"), 2 * X)
    np.testing.assert_allclose(_evaluate("1 if 2 > 1 else 0"), 1.0)


def test_long_expressions_are_refused_by_length():
    with pytest.raises(ConfigError, match=rf"longer than {MAX_EXPRESSION_LENGTH} characters"):
        compile_expression("x" + "+x" * MAX_EXPRESSION_LENGTH)


@pytest.mark.parametrize("slot, template", [
    ("potential", "[potential]\nkind = 'expression'\nexpression = {expr!r}\n"),
    ("field", "field = {expr!r}\n"),
    ("T", "T = {expr!r}\n"),
    ("model", None),
])
def test_the_tower_in_every_config_slot_is_quick_and_clean(tmp_path, slot, template):
    expr = TOWER + " * x"
    kinetics = ("[kinetics]\nlength = 40.0\nnx = 8\nnk = 8\nt_end = 1e-14\n" +
                (template.format(expr=expr) if slot in ("field", "T") else ""))
    model = "[model]\nzoo = 'rice_mele'\n" + (f"params = {{ staggered = {expr!r} }}\n" if slot == "model" else "")
    potential = template.format(expr=expr) if slot == "potential" else ""
    path = tmp_path / "run.toml"
    path.write_text(model + kinetics + potential)
    t0 = time.perf_counter()
    with pytest.raises(ConfigError) as info:
        bounded(lambda: load_config(path), seconds=5.0)
    assert "cannot be evaluated" in str(info.value) and "overflow" in str(info.value)
    assert "\n" not in str(info.value)
    assert time.perf_counter() - t0 < 5.0


def test_deeply_nested_toml_is_a_clean_config_error(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text("[model]\nzoo = 'haldane'\n[sweep]\nmu = " + "[" * 3000 + "]" * 3000 + "\n")
    with pytest.raises(ConfigError, match="nested too deeply"):
        bounded(lambda: load_config(path))
