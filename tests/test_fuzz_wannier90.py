"""Fuzz test of the Wannier90 readers: mutated ``_hr.dat``, ``_tb.dat``, ``_wsvec.dat``, ``.win`` and ``.eig`` files give
a clean :class:`~qkinetics.models.base.ModelError` (``Wannier90FormatError``) or a valid model, within a time and memory
bound: never a raw traceback (IndexError, OverflowError, MemoryError, UnicodeDecodeError...), never a hang. A fixed
seed and a bounded number of cases keep it fast and reproducible."""

import bz2
import random
import shutil
from pathlib import Path

import numpy as np
import pytest

import qkinetics as qk
from qkinetics.models import write_wannier90_hr, write_wannier90_tb
from qkinetics.models.base import ModelError

from conftest import bounded, random_tight_binding

DATA = Path(__file__).parent / "data" / "wannier90"
JUNK = ["1e308", "99999999999999999999", "-1", "0", "nan", "inf", "abc", "", "1.5", "-7", "1e9", "\x00", "é", "2 3"]




def _mutate(text, rng):
    """One random edit: drop, duplicate or swap lines, replace a token, truncate, or insert bytes."""
    lines = text.split("\n")
    kind = rng.randrange(6)
    i = rng.randrange(len(lines))
    if kind == 0:
        del lines[i]
    elif kind == 1:
        lines.insert(i, lines[i])
    elif kind == 2:
        j = rng.randrange(len(lines))
        lines[i], lines[j] = lines[j], lines[i]
    elif kind == 3:
        toks = lines[i].split()
        if toks:
            toks[rng.randrange(len(toks))] = rng.choice(JUNK)
            lines[i] = " ".join(toks)
    elif kind == 4:
        return text[: rng.randrange(len(text))]
    else:
        lines[i] = lines[i] + rng.choice(JUNK)
    return "\n".join(lines)


def _check(read):
    try:
        model = bounded(read, seconds=20.0, megabytes=256)
    except ModelError:
        return "error"
    assert all(np.all(np.isfinite(t)) for t in model.hoppings.values())
    return "model"


@pytest.fixture(scope="module")
def small_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("w90")
    model = random_tight_binding(3, 2, seed=1, nR=3)
    write_wannier90_hr(model, d / "m_hr.dat", wsvec=True)
    write_wannier90_tb(model, d / "m_tb.dat", wsvec=True)
    return d


@pytest.mark.filterwarnings("ignore::RuntimeWarning")           # overflow of a 1e308 entry before its check
@pytest.mark.parametrize("name", ["m_hr.dat", "m_tb.dat", "m_hr_wsvec"])
def test_mutated_tight_binding_files(small_files, tmp_path, name):
    rng = random.Random(hash(name) % 1000)
    if name == "m_hr_wsvec":
        target, source = "m_hr.dat", small_files / "m_hr.dat"
        mutated_file, original = "m_wsvec.dat", (small_files / "m_wsvec.dat").read_text()
    else:
        target, source = name, small_files / name
        mutated_file, original = name, source.read_text()
    outcomes = set()
    for case in range(150):
        d = tmp_path / str(case)
        d.mkdir()
        for f in small_files.iterdir():
            shutil.copy(f, d / f.name)
        (d / mutated_file).write_text(_mutate(original, rng), encoding="utf-8", errors="surrogateescape")
        lattice = np.eye(3) * 2.0 if target.endswith("_hr.dat") else None
        outcomes.add(_check(lambda: qk.read_wannier90(d / target, lattice=lattice)))
    assert "error" in outcomes                      # the mutations do reach the checks


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_mutated_run_files(tmp_path):
    """The Te run with a mutated .win or .eig (the checkpoint and overlaps intact)."""
    rng = random.Random(7)
    src = DATA / "te"
    originals = {"Te.win": (src / "Te.win").read_text(), "Te.eig": bz2.decompress((src / "Te.eig.bz2").read_bytes()).decode()}
    outcomes = set()
    for case in range(40):
        d = tmp_path / str(case)
        d.mkdir()
        for f in ("Te.chk.fmt.bz2", "Te.mmn.bz2"):
            (d / f).symlink_to(src / f)
        name = "Te.win" if case % 2 else "Te.eig"
        for f, text in originals.items():
            (d / f).write_text(_mutate(text, rng) if f == name else text)
        outcomes.add(_check(lambda: qk.read_wannier90_run(d / "Te.win")))
    assert "error" in outcomes
