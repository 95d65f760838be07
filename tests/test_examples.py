"""The runnable examples: every script compiles, and the quick-start script runs."""

import py_compile
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.py"))


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.name)
def test_example_compiles(script):
    py_compile.compile(str(script), doraise=True)


def test_quickstart_runs(tmp_path):
    script = next(p for p in EXAMPLES if p.name == "quickstart.py")
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "C =" in result.stdout or "Chern" in result.stdout
