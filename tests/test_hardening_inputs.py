"""Bad arguments and absurd sizes get a clear error, never a silent wrong answer, a hang or a raw exception
(issue 15, items 1, 3 and 8): the library API and the run configs."""

import math
import tracemalloc
from types import SimpleNamespace

import numpy as np
import pytest

import qkinetics as qk
from conftest import bounded
from qkinetics.checks import LIMITS
from qkinetics.integrate import KGrid
from qkinetics.run import ConfigError, load_config

QWZ = qk.zoo.qi_wu_zhang(u=-1, t=0.25)
FAST = dict(kgrid=8, convergence=False)


# ---------------------------------------------------------------------------- item 1: NaN and inf
@pytest.mark.parametrize("name, value", [
    ("tau", np.nan), ("tau", np.inf), ("tau", [1e-14, np.nan]), ("omega", np.nan), ("omega", np.inf),
    ("T", np.nan), ("T", np.inf), ("mu", np.nan), ("mu", [0.0, -np.inf]),
])
def test_conductivity_refuses_non_finite_sweeps_naming_the_argument(name, value):
    kw = dict(mu=0.35, T=300, tau=1e-13, omega=0.0, **FAST)
    kw[name] = value
    with pytest.raises(qk.ModelError, match=rf"^{name} must be (positive and |>= 0 and )?finite"):
        qk.conductivity(QWZ, 1, **kw)


def test_conductivity_nan_tau_no_longer_returns_zero():
    """The reproduction of the issue: it returned 0 for Drude and total with exit 0."""
    with pytest.raises(qk.ModelError, match="tau must be positive and finite"):
        qk.conductivity(QWZ, 1, mu=0.35, T=300, tau=np.nan, kgrid=40)


@pytest.mark.parametrize("kgrid", [np.nan, np.inf, 40.5, [40, np.nan], "40", True, 0, -3, []])
def test_conductivity_refuses_non_integer_grids(kgrid):
    with pytest.raises(qk.ModelError, match="kgrid"):
        qk.conductivity(QWZ, 1, mu=0.0, T=300, kgrid=kgrid, convergence=False)


@pytest.mark.parametrize("key, value", [("tau", "nan"), ("tau", "inf"), ("T", "nan"), ("omega", "nan"),
                                        ("mu", "[0.0, nan]"), ("tau", "-inf"), ("mu", "{start = 0, stop = inf, num = 3}")])
def test_config_refuses_nan_and_inf_in_sweeps(tmp_path, key, value):
    path = tmp_path / "run.toml"
    path.write_text(f"[model]\nzoo = 'haldane'\n[sweep]\n{key} = {value}\n")
    with pytest.raises(ConfigError, match=rf"\[sweep\] {key} (stop )?must be .*finite"):
        load_config(path)


@pytest.mark.parametrize("text, match", [
    ("[grid]\nkcut = nan\n", r"\[grid\] kcut must be"), ("[grid]\nshift = nan\n", r"\[grid\] shift must be"),
    ("[grid]\nshift = inf\n", r"\[grid\] shift must be"),
])
def test_config_refuses_nan_grid_numbers(tmp_path, text, match):
    path = tmp_path / "run.toml"
    path.write_text("[model]\nzoo = 'haldane'\n" + text)
    with pytest.raises(ConfigError, match=match):
        load_config(path)


# ---------------------------------------------------------------------------- item 8: loose arguments
@pytest.mark.parametrize("kw, match", [
    (dict(mu=[]), r"^mu must have at least one value"),
    (dict(T=[]), r"^T must have at least one value"),
    (dict(tau=[]), r"^tau must have at least one value"),
    (dict(omega=[]), r"^omega must have at least one value"),
    (dict(mu=[[0.0, 0.1]]), r"^mu must be a number or a 1D sequence"),
    (dict(mu="a lot"), r"^mu must be"),
    (dict(chunk_size=0), r"^chunk_size must be an integer >= 1"),
    (dict(chunk_size=2.5), r"^chunk_size must be an integer >= 1"),
    (dict(shift=np.nan), r"^shift must be finite"),
    (dict(kcut=np.nan), r"kcut"),
])
def test_conductivity_loose_arguments(kw, match):
    args = dict(mu=0.0, T=300, **FAST)
    args.update(kw)
    with pytest.raises(qk.ModelError, match=match):
        qk.conductivity(QWZ, 1, **args)


def test_nan_mu_is_reported_as_mu_not_T():
    from qkinetics.integrate import integrate_mechanisms
    from qkinetics.responses import mechanisms_by_name

    grid = KGrid(QWZ, 4)
    with pytest.raises(qk.ModelError, match=r"^mu must be finite .*got mu = \[nan\]"):
        integrate_mechanisms(QWZ, mechanisms_by_name("drude", 1), grid, [np.nan], [300.0])


@pytest.mark.parametrize("text, match", [
    ("[sweep]\nmu = []\n", r"\[sweep\] mu must have at least one value"),
    ("[sweep]\nT = []\n", r"\[sweep\] T must have at least one value"),
    ("[sweep]\nmu = {start = 0, stop = 1, num = 0}\n", r"\[sweep\] mu num must be an integer >= 1"),
    ("[sweep]\nmu = {start = 0, stop = 1, num = 2.5}\n", r"\[sweep\] mu num must be an integer >= 1 .*; got 2.5"),
    ("[sweep]\nmu = {start = 0, stop = 1, num = true}\n", r"\[sweep\] mu num must be an integer"),
    ("[sweep]\nmu = {start = 0, stop = 'x', num = 3}\n", r"\[sweep\] mu stop must be a number"),
    ("[sweep]\nmu = [0.0, true]\n", r"\[sweep\] mu must be"),
    ("[grid]\nn = 40.5\n", r"\[grid\] n must be an integer >= 2"),
    ("[grid]\nn = []\n", r"\[grid\] n must be"),
    ("[grid]\nn = true\n", r"\[grid\] n must be"),
    ("[grid]\nchunk_size = 0\n", r"\[grid\] chunk_size must be a positive integer"),
    ("[grid]\nchunk_size = true\n", r"\[grid\] chunk_size must be a positive integer"),
    ("[grid]\nconvergence = 'yes'\n", r"\[grid\] convergence must be true or false"),
])
def test_config_loose_values(tmp_path, text, match):
    path = tmp_path / "run.toml"
    path.write_text("[model]\nzoo = 'haldane'\n" + text)
    with pytest.raises(ConfigError, match=match):
        load_config(path)


def test_grid_list_of_the_wrong_length_is_a_config_error(tmp_path):
    from qkinetics.run import run

    path = tmp_path / "run.toml"
    path.write_text("[model]\nzoo = 'haldane'\n[grid]\nn = [40, 40, 40]\n")
    with pytest.raises(ConfigError, match=r"\[grid\] n"):
        run(path, progress=False)


# ---------------------------------------------------------------------------- item 3: absurd sizes
def _fast_and_small(fn, seconds=30.0, megabytes=50):
    """fn() must raise ModelError within ``megabytes`` of new allocations (the real criterion: refused before the
    arrays are built) and a generous time limit (a hang guard, not a timing test); returns the error."""
    with pytest.raises(qk.ModelError) as info:
        bounded(fn, seconds=seconds, megabytes=megabytes)
    return str(info.value)


@pytest.mark.parametrize("model, n", [(QWZ, 10**6), (qk.zoo.get("weyl_semimetal"), 3000)],
                         ids=["2D 1e12 points", "3D 3000^3"])
def test_absurd_lattice_grids_are_refused_with_an_estimate(model, n):
    msg = _fast_and_small(lambda: qk.conductivity(model, 1, mu=0.0, T=300, kgrid=n))
    assert "k points" in msg and "hours" in msg and "qkinetics.checks.LIMITS" in msg


def test_limit_is_overridable(monkeypatch):
    monkeypatch.setitem(LIMITS, "k_points", 50)
    with pytest.raises(qk.ModelError, match="k points"):
        KGrid(QWZ, 8)
    monkeypatch.setitem(LIMITS, "k_points", 64)
    assert KGrid(QWZ, 8).npoints == 64


def test_large_continuum_grid_counts_its_points_without_an_n_squared_array():
    model = qk.zoo.get("massive_dirac")
    tracemalloc.start()
    try:
        grid = KGrid(model, 25000, kcut=1.0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * 2**20, f"{peak / 2**20:.0f} MB"              # was a 5.6 GB dense n x n array
    assert abs(grid.npoints / (math.pi / 4 * 25000**2) - 1) < 1e-3  # the disc's share of the square


@pytest.mark.parametrize("n", [2, 3, 7, 8, 40, 41, 61])
@pytest.mark.parametrize("dim", [2, 3])
def test_continuum_point_count_equals_the_points_the_chunks_yield(n, dim):
    model = SimpleNamespace(dim=dim, periodic=False, kcut=0.7, name=f"a {dim}D continuum")
    for kcut in (0.7, 1.0, 1 / 3):                 # 1.0: points on the sphere for odd n hit |k| = kcut exactly
        grid = KGrid(model, n, kcut=kcut)
        assert grid.npoints == sum(len(k) for k, _ in grid.chunks(97))


def test_huge_continuum_grid_is_refused_quickly():
    _fast_and_small(lambda: KGrid(qk.zoo.get("massive_dirac"), 10**6, kcut=1.0))


def test_chern_number_refuses_a_grid_that_does_not_fit_in_memory():
    msg = _fast_and_small(lambda: qk.chern_number(QWZ, [0], nk=10**5))
    assert "GiB" in msg and "nk" in msg


@pytest.mark.parametrize("nk", [2.5, np.nan, 1e5, True, "60"])
def test_chern_number_nk_must_be_an_integer(nk):
    with pytest.raises(qk.ModelError, match="nk must be an integer"):
        qk.chern_number(QWZ, [0], nk=nk)


def test_huge_mu_sweep_is_refused_with_a_memory_estimate():
    mu = np.linspace(-1, 1, 10**7)
    msg = _fast_and_small(lambda: qk.conductivity(QWZ, 2, mu=mu, T=300, kgrid=8))
    assert "GiB" in msg and "mu" in msg


def test_huge_sweep_in_a_config_is_refused(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text("[model]\nzoo = 'haldane'\n[sweep]\nmu = {start = -1, stop = 1, num = 10000000}\n"
                    "tau = {start = 1e-14, stop = 1e-13, num = 100}\n")
    # refused before the 93 GiB sweep is built: memory bounded (the 10^7-value mu axis itself, 80 MB, is built),
    # with a hang guard rather than a timing assertion
    with pytest.raises(ConfigError, match=r"GiB"):
        bounded(lambda: load_config(path), seconds=60, megabytes=256)


def test_huge_grid_in_a_config_is_refused(tmp_path):
    from qkinetics.run import run

    path = tmp_path / "run.toml"
    path.write_text("[model]\nzoo = 'weyl_semimetal'\n[grid]\nn = 3000\n")
    with pytest.raises(ConfigError, match=r"k points.*\[grid\] max_points"):
        run(path, progress=False)
    path.write_text("[model]\nzoo = 'haldane'\n[grid]\nn = 8\nmax_points = 10\nconvergence = false\n")
    with pytest.raises(ConfigError, match=r"k points"):
        run(path, progress=False)


def test_huge_kinetic_grid_is_refused_with_a_memory_estimate(tmp_path):
    from qkinetics.run import run

    path = tmp_path / "run.toml"
    path.write_text("[model]\nzoo = 'rice_mele'\n[kinetics]\nlength = 40.0\nnx = 100000\nnk = 100000\n"
                    "t_end = 1e-14\n[output]\ndirectory = 'out'\n")
    with pytest.raises(ConfigError, match=r"^\[kinetics\] the kinetic grid nx=100000 x nk=100000 x 2 bands needs "
                                          r"about .* GiB"):
        bounded(lambda: run(path, progress=False), seconds=60, megabytes=64)
