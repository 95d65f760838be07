"""The runnable examples: every script compiles, every run config validates, and the quick-start script runs.

The configs themselves run in tests/test_run.py and tests/test_run_kinetics.py (coarse copies; as shipped
in slow tests)."""

import os
import py_compile
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.py"))
CONFIGS = sorted((Path(__file__).parent.parent / "examples").glob("*.toml"))


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.name)
def test_example_compiles(script):
    py_compile.compile(str(script), doraise=True)


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.name)
def test_example_config_validates(config):
    from qkinetics.run import build_model, load_config

    cfg = load_config(config)
    model = build_model(cfg)
    assert callable(model) or model.dim in (1, 2, 3)


def test_quickstart_runs(tmp_path):
    script = next(p for p in EXAMPLES if p.name == "quickstart.py")
    src = str(Path(__file__).parent.parent / "src")         # runs in tmp_path: a relative PYTHONPATH would not reach it
    paths = [src] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(paths))
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                            env=env)
    assert result.returncode == 0, result.stderr
    assert "C =" in result.stdout or "Chern" in result.stdout
