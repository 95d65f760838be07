"""Every ```python block of README.md and docs/*.md runs as written.

The blocks of one file run in order in one namespace (later blocks use the names of earlier ones, as a
reader pasting them into one session would), with the repository root as the working directory: the
paths in the snippets (e.g. ``examples/data/Te_tb.dat``) are relative to it. The working directory is a
temporary mirror of the root (a symbolic link per top-level entry), so files a snippet writes under a
relative name land in the temporary directory, never in the checkout; matplotlib draws off screen.

Opt-out, for a block that is illustrative only or too slow for the default suite: put the line

    <!-- docs-test: skip (the reason) -->

directly above its opening fence (invisible in the rendered page). Keep such blocks rare: a skipped block
is a block nobody checks. A failure names the Markdown file and the line of the block.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))
SKIP = re.compile(r"<!--\s*docs-test:\s*skip\s*\((?P<reason>[^)]+)\)\s*-->")
FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`]*)$")
# pages whose blocks take long in total (seconds on one core of the CI machine, measured): slow tests
SLOW_PAGES = {}


def code_blocks(path: Path):
    """``(line, code, skip_reason)`` for every ```python block of a Markdown file (line: first code line, 1-based)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks, i = [], 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if m is None:
            i += 1
            continue
        fence, info, indent = m["fence"], m["info"].strip(), len(m["indent"])
        end = i + 1
        while end < len(lines) and not (lines[end].strip().startswith(fence)
                                        and lines[end].strip().strip(fence[0]) == ""):
            end += 1
        if end == len(lines):
            raise ValueError(f"{path.name}:{i + 1}: code fence {fence!r} is never closed.")
        if info.split()[:1] == ["python"]:
            prev = lines[i - 1] if i > 0 else ""
            skip = SKIP.search(prev)
            code = "\n".join(line[indent:] for line in lines[i + 1:end])
            blocks.append((i + 2, code, skip["reason"] if skip else None))
        i = end + 1
    return blocks


def test_code_blocks_are_found():
    """The extractor sees the blocks (a silent zero would make every page test pass vacuously)."""
    counts = {p.name: len(code_blocks(p)) for p in PAGES}
    assert counts["README.md"] >= 1 and sum(counts.values()) >= 40, counts
    skipped = [(p.name, line) for p in PAGES for line, _, reason in code_blocks(p) if reason]
    assert len(skipped) <= 3, f"too many docs blocks opted out of the test: {skipped}"


def test_opt_out_marker_is_recognised(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("text\n\n<!-- docs-test: skip (illustrative) -->\n```python\nraise SystemExit\n```\n\n"
                    "```python\nx = 1\n```\n\n```bash\nls\n```\n")
    assert [(line, reason) for line, _, reason in code_blocks(page)] == [(5, "illustrative"), (9, None)]


RUNNER = textwrap.dedent("""
    import json
    import sys

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    page = sys.argv[1]
    namespace = {"__name__": "__main__"}
    with open(sys.argv[2], encoding="utf-8") as f:
        blocks = json.load(f)
    for line, code in blocks:
        # pad so that tracebacks give the line numbers of the Markdown file
        exec(compile("\\n" * (line - 1) + code, page, "exec"), namespace)
        plt.close("all")
""")


def _run_page(path: Path, tmp_path: Path):
    blocks = [(line, code) for line, code, reason in code_blocks(path) if reason is None]
    if not blocks:
        pytest.skip(f"{path.name} has no Python blocks")
    cwd = tmp_path / "root"
    cwd.mkdir()
    for entry in ROOT.iterdir():
        if entry.name not in (".git",):
            (cwd / entry.name).symlink_to(entry)
    spec = tmp_path / "blocks.json"
    spec.write_text(json.dumps(blocks), encoding="utf-8")
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONPATH=os.pathsep.join(
        [str(ROOT / "src")] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    figures = {p: p.stat().st_mtime_ns for p in (ROOT / "docs" / "figures").glob("*")}
    result = subprocess.run([sys.executable, "-c", RUNNER, str(path.relative_to(ROOT)), str(spec)], cwd=cwd,
                            env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"a code block of {path.name} failed:\n{result.stderr[-6000:]}"
    assert figures == {p: p.stat().st_mtime_ns for p in (ROOT / "docs" / "figures").glob("*")}, \
        f"a code block of {path.name} wrote into docs/figures"


@pytest.mark.parametrize(
    "page", [pytest.param(p, marks=[pytest.mark.slow] if p.name in SLOW_PAGES else []) for p in PAGES],
    ids=lambda p: p.name)
def test_page_code_blocks_run(page, tmp_path):
    _run_page(page, tmp_path)
