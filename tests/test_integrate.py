"""Brillouin-zone integration: grid weights, Fermi functions, sweeps, executors, convergence, netCDF."""

import warnings
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest

import qkinetics as qk
from qkinetics import units
from qkinetics.conductivity import conductivity, read_netcdf, write_netcdf
from qkinetics.integrate import GridResolutionWarning, KGrid, fermi_dirac, get_executor, integrate_mechanisms
from qkinetics.responses import Mechanism


def _ahe(geo):
    return {0: geo.berry_curvature}


def _count(geo):
    return {0: np.ones(geo.energies.shape)}


def _dos(geo):
    return {1: -np.ones(geo.energies.shape)}


def _ahe_prefactor(dim, tau, omega, channel):
    return -units.e**2 / units.hbar


AHE = Mechanism("ahe_sea", 1, 0, _ahe, _ahe_prefactor, 2)
COUNT = Mechanism("count", 1, 0, _count, lambda *a: 1.0, 0)
DOS = Mechanism("dos", 1, 0, _dos, lambda *a: 1.0, 0)


def test_grid_weights_integrate_unity():
    for model in (qk.zoo.haldane(), qk.zoo.weyl_semimetal(), qk.zoo.rice_mele()):
        grid = KGrid(model, 7 if model.dim == 3 else 16)
        total = sum(w.sum() for _, w in grid.chunks(50))
        # sum_k w_k = V_BZ / (2 pi)^d = 1 / V_cell
        assert total == pytest.approx(1 / abs(np.linalg.det(model.lattice)), rel=1e-12)
    dirac = qk.zoo.massive_dirac(kcut=0.8)
    grid = KGrid(dirac, 400)
    area = sum(w.sum() for _, w in grid.chunks(7000)) * (2 * np.pi) ** 2
    assert area == pytest.approx(np.pi * 0.8**2, rel=2e-3)       # disc area, boundary error ~ dk / kcut


def test_chunking_and_executors_do_not_change_results():
    model = qk.zoo.haldane(mass=0.1)
    grid = KGrid(model, 30)
    mu = np.linspace(-1, 1, 7)
    a = integrate_mechanisms(model, [AHE, COUNT], grid, mu, [50.0], chunk_size=97, warn=False)
    b = integrate_mechanisms(model, [AHE, COUNT], grid, mu, [50.0], chunk_size=5000, warn=False)
    with get_executor("processes", 2) as ex:
        c = integrate_mechanisms(model, [AHE, COUNT], grid, mu, [50.0], executor=ex, chunk_size=200, warn=False)
    for name in ("ahe_sea", "count"):
        np.testing.assert_allclose(a.values[name], b.values[name], atol=1e-13)
        np.testing.assert_allclose(a.values[name], c.values[name], atol=1e-13)


def test_sweep_equals_single_points():
    model = qk.zoo.qi_wu_zhang(u=1.2)
    grid = KGrid(model, 24)
    mus, Ts = np.array([-0.5, 0.1, 0.7]), np.array([30.0, 300.0])
    sweep = integrate_mechanisms(model, [AHE, DOS], grid, mus, Ts, warn=False)
    for i, m in enumerate(mus):
        for j, t in enumerate(Ts):
            one = integrate_mechanisms(model, [AHE, DOS], grid, m, t, warn=False)
            np.testing.assert_allclose(sweep.values["ahe_sea"][i, j], one.values["ahe_sea"][0, 0], atol=1e-14)
            np.testing.assert_allclose(sweep.values["dos"][i, j], one.values["dos"][0, 0], atol=1e-12)


def test_fermi_dirac_and_derivatives():
    e = np.linspace(-0.2, 0.2, 41)
    f = fermi_dirac(e, [0.02], [120.0])[0, 0]
    kT = units.kB_eV * 120.0
    np.testing.assert_allclose(f, 1 / (np.exp((e - 0.02) / kT) + 1), rtol=1e-12)
    h = 1e-6
    d1 = (fermi_dirac(e + h, 0.02, 120.0) - fermi_dirac(e - h, 0.02, 120.0)) / (2 * h)
    np.testing.assert_allclose(fermi_dirac(e, 0.02, 120.0, 1), d1, atol=1e-6 * np.abs(d1).max())
    d2 = (fermi_dirac(e + h, 0.02, 120.0, 1) - fermi_dirac(e - h, 0.02, 120.0, 1)) / (2 * h)
    np.testing.assert_allclose(fermi_dirac(e, 0.02, 120.0, 2), d2, atol=1e-5 * np.abs(d2).max())
    assert fermi_dirac(np.array([-1.0, 0.0, 1.0]), 0.0, 0.0).ravel().tolist() == [1.0, 0.5, 0.0]
    # -int f' de = 1
    ee = np.linspace(-1, 1, 20001)
    assert -np.trapezoid(fermi_dirac(ee, 0.0, 300.0, 1).ravel(), ee) == pytest.approx(1.0, rel=1e-9)
    with pytest.raises(qk.ModelError, match="T > 0"):
        fermi_dirac(e, 0.0, 0.0, 1)
    with pytest.raises(qk.ModelError, match=">= 0 K"):
        fermi_dirac(e, 0.0, -1.0)


def test_density_of_states_sum_rule_and_t_to_zero():
    """sum_n int (-f') = DOS at mu; its integral over mu counts states (independent: the band count)."""
    model = qk.zoo.qi_wu_zhang(u=1.0)
    mus = np.linspace(-4, 4, 401)
    res = integrate_mechanisms(model, [DOS, COUNT], KGrid(model, 40), mus, [600.0], warn=False)
    dos = res.values["dos"][:, 0]
    count = res.values["count"][:, 0]
    cell = abs(np.linalg.det(model.lattice))
    assert count[0] == pytest.approx(0, abs=1e-6) and count[-1] * cell == pytest.approx(2, rel=1e-6)
    np.testing.assert_allclose(np.gradient(count, mus), dos, atol=2e-2 * dos.max())


def test_grid_too_coarse_for_temperature_warns():
    model = qk.zoo.haldane()
    with pytest.warns(GridResolutionWarning, match="too coarse for T = 1 K"):
        integrate_mechanisms(model, [COUNT], KGrid(model, 20), 1.2, 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        integrate_mechanisms(model, [COUNT], KGrid(model, 20), 1.2, 30000.0)


def test_conductivity_dataset_convergence_and_netcdf(tmp_path):
    model = qk.zoo.haldane(t2=0.1, phi=np.pi / 2, mass=0.2)
    ds = conductivity(model, 1, mu=[0.0, 0.1], T=5.0, mechanisms=[AHE], kgrid=48)
    c = qk.chern_number(model, [0])
    np.testing.assert_allclose(ds["ahe_sea"].sel(j="x", E1="y").real / units.e2_over_h, -c, atol=1e-4)
    assert ds["ahe_sea"].attrs["units"] == "S"
    assert ds["error_ahe_sea"].max() < 1e-3 * units.e2_over_h
    np.testing.assert_allclose(ds["total"], ds["ahe_sea"])
    path = tmp_path / "r.nc"
    write_netcdf(ds, path)
    back = read_netcdf(path)
    np.testing.assert_allclose(back["total"].values, ds["total"].values)
    assert back["total"].dtype.kind == "c" and back.attrs["grid"] == ds.attrs["grid"]


def test_conductivity_errors():
    model = qk.zoo.haldane()
    with pytest.raises(qk.ModelError, match="order must be"):
        conductivity(model, 3, mechanisms=[AHE])
    with pytest.raises(qk.ModelError, match="tau must be positive"):
        conductivity(model, 1, tau=0.0, mechanisms=[AHE])
    with pytest.raises(qk.ModelError, match="kcut"):
        KGrid(_cutoffless_dirac(), 10)


def _cutoffless_dirac():
    import sympy as sp
    kx, ky = sp.symbols("kx ky", real=True)
    return qk.Continuum(sp.Matrix([[1, kx - sp.I * ky], [kx + sp.I * ky, -1]]))


def test_totals_take_one_variant_per_family_and_gradient_dims():
    model = qk.zoo.massive_dirac(v=1.0, mass=0.1, tilt=0.1, kcut=0.6)
    ds = conductivity(model, 2, mu=0.2, T=400.0, kgrid=120, convergence=False)
    variants = [v for v in ds.data_vars if v.startswith("intrinsic_")]
    assert len(variants) >= 3
    inc = ds["total"].attrs["included"].split(", ")
    assert sum(v in inc for v in variants) == 1
    expected = sum(ds[v] for v in inc)
    np.testing.assert_allclose(ds["total"].values, expected.values)
    grad = conductivity(model, 1, gradient=True, mu=0.2, T=400.0, kgrid=120, convergence=False)
    assert grad["total"].dims[-3:] == ("j", "E1", "q")
    assert "anomalous_hall_fermi_surface" not in conductivity(model, 1, mu=0.2, T=2000.0, kgrid=40,
                                                              convergence=False)
    with pytest.raises(qk.ModelError, match="gradient=True"):
        conductivity(model, 1, mechanisms=["field_gradient_clean"], kgrid=20)


def test_process_executor_pickles_every_mechanism():
    from qkinetics.responses import available_mechanisms
    import pickle
    for m in available_mechanisms().values():
        pickle.loads(pickle.dumps(m))


@pytest.mark.parametrize("T", [[0.0], [5.0, 50.0], [20000.0]])
def test_windowed_fermi_contraction_is_exact(T):
    """Prefix sums plus thermal windows (low T) and the dense route (high T) against a direct sum."""
    from qkinetics.integrate.integrator import fermi_contractions
    rng = np.random.default_rng(3)
    E = rng.normal(size=(500, 3))
    w = rng.random(500)
    X0, X1 = rng.normal(size=(500, 3, 4)), rng.normal(size=(500, 3, 2))
    mu, T = np.linspace(-2, 2, 31), np.array(T)
    terms = [(0, X0)] + ([] if T[0] == 0 else [(1, X1), (2, X1)])
    got = fermi_contractions(E, w, terms, mu, T)
    for (p, X), g in zip(terms, got):
        ref = np.einsum("mtkn,k,knc->mtc", fermi_dirac(E, mu, T, p), w, X)
        np.testing.assert_allclose(g, ref, rtol=1e-10, atol=1e-12 * np.abs(ref).max())


def test_polar_grid_integrates_disc_exactly():
    from qkinetics.integrate import polar_grid
    k, w = polar_grid(0.7, nth=32, refine=[0.3])
    assert w.sum() * (2 * np.pi) ** 2 == pytest.approx(np.pi * 0.7**2, rel=1e-12)
    # int |k|^2 over the disc = pi kc^4 / 2 (Gauss-Legendre exact for polynomials in |k|)
    assert (w * np.einsum("ij,ij->i", k, k)).sum() * (2 * np.pi) ** 2 == pytest.approx(np.pi * 0.7**4 / 2, rel=1e-12)
    assert np.all(np.linalg.norm(k, axis=1) < 0.7)


class _CountingProcessPool(ProcessPoolExecutor):
    """A process pool that counts the jobs submitted to it (in the parent process)."""

    submitted = 0

    def submit(self, fn, /, *args, **kwargs):
        self.submitted += 1
        return super().submit(fn, *args, **kwargs)


class _MapOnly:
    """An executor with only ``map`` (like a minimal cluster adapter); records the batch sizes it gets."""

    def __init__(self):
        self.batches = []

    def map(self, fn, iterable):
        batch = list(iterable)
        self.batches.append(len(batch))
        return [fn(job) for job in batch]


def test_process_executor_bounds_in_flight_chunks_and_equals_serial():
    """At most max_in_flight chunks are submitted and not yet summed; results equal the serial run exactly."""
    model = qk.zoo.haldane(mass=0.1)
    grid = KGrid(model, 30)                                   # 900 points, 18 chunks of 50
    mu, T = np.linspace(-1, 1, 5), [50.0, 300.0]
    serial = integrate_mechanisms(model, [AHE, DOS], grid, mu, T, chunk_size=50, warn=False)
    pending = []
    with _CountingProcessPool(2) as pool:
        par = integrate_mechanisms(model, [AHE, DOS], grid, mu, T, executor=pool, chunk_size=50, warn=False,
                                   max_in_flight=3, on_chunk=lambda done, *_: pending.append(pool.submitted - done))
    assert pool.submitted == grid.nchunks(50) == 18
    assert max(pending) <= 3 and len(pending) == 18
    for name in ("ahe_sea", "dos"):
        np.testing.assert_array_equal(par.values[name], serial.values[name])
    np.testing.assert_array_equal(par.resolution, serial.resolution)
    # default window: twice the workers
    with _CountingProcessPool(2) as pool:
        pending = []
        integrate_mechanisms(model, [AHE], grid, mu, T, executor=pool, chunk_size=50, warn=False,
                             on_chunk=lambda done, *_: pending.append(pool.submitted - done))
    assert max(pending) <= 4
    # executors with only map get batches of at most max_in_flight jobs
    only = _MapOnly()
    res = integrate_mechanisms(model, [AHE, DOS], grid, mu, T, executor=only, chunk_size=50, warn=False,
                               max_in_flight=4)
    assert max(only.batches) == 4 and sum(only.batches) == 18
    np.testing.assert_array_equal(res.values["dos"], serial.values["dos"])


def test_bounded_map_cancels_pending_jobs_when_the_consumer_stops():
    from concurrent.futures import ThreadPoolExecutor

    from qkinetics.integrate import bounded_map

    started = []

    def job(i):
        started.append(i)
        return i * i

    with ThreadPoolExecutor(1) as pool:
        gen = bounded_map(pool, job, range(1000), max_in_flight=2)
        assert [next(gen) for _ in range(3)] == [0, 1, 4]
        gen.close()
    assert len(started) <= 6                      # 3 consumed + at most the window (and one running)
    assert list(bounded_map(qk.integrate.SerialExecutor(), job, range(4))) == [0, 1, 4, 9]


@pytest.mark.parametrize("tile, rows, slack", [(1 << 15, 64, 4096), (300, 3, 0), (10**7, 1000, 10**9)])
def test_blocked_fermi_contraction_mu_T_sweep_is_exact(monkeypatch, tile, rows, slack):
    """Blocks of chemical potentials and tiles of states (any sizes) give the direct sum over every (mu, T).

    Unsorted and repeated mu, temperatures from 1 K to 3000 K, real and complex terms of the same order p
    (stacked into one matrix), mu outside the bands (empty windows).
    """
    from qkinetics.integrate import integrator
    monkeypatch.setattr(integrator, "FERMI_TILE_ELEMENTS", tile)
    monkeypatch.setattr(integrator, "MAX_BLOCK_ROWS", rows)
    monkeypatch.setattr(integrator, "BLOCK_MERGE_SLACK", slack)
    rng = np.random.default_rng(7)
    E = rng.normal(scale=0.3, size=(400, 3))
    w = rng.random(400)
    mu = np.concatenate([rng.uniform(-1.5, 1.5, 40), [0.1, 0.1, -5.0, 5.0]])
    T = np.array([300.0, 1.0, 3000.0, 40.0])
    terms = [(1, rng.normal(size=(400, 3, 4))), (0, rng.normal(size=(400, 3, 2))),
             (1, rng.normal(size=(400, 3, 3)) + 1j * rng.normal(size=(400, 3, 3))), (2, rng.normal(size=(400, 3))),
             (0, rng.normal(size=(400, 3, 2, 2)) * 1j)]
    got = integrator.fermi_contractions(E, w, terms, mu, T)
    for (p, X), g in zip(terms, got):
        X = X.reshape(400, 3, -1)
        ref = np.einsum("mtkn,k,knc->mtc", fermi_dirac(E, mu, T, p), w, X)
        assert g.shape == ref.shape and g.dtype == ref.dtype
        np.testing.assert_allclose(g, ref, rtol=1e-11, atol=1e-13 * np.abs(ref).max())
    # T = 0 next to T > 0 for Fermi-sea terms: the step function, 1/2 at the Fermi level
    E0 = np.array([[-0.2, 0.0, 0.3]])
    got = integrator.fermi_contractions(E0, np.ones(1), [(0, np.ones((1, 3, 1)))], np.array([0.0, 0.5]),
                                        np.array([0.0, 10.0]))[0]
    np.testing.assert_allclose(got[:, 0, 0], [1.5, 3.0])
    np.testing.assert_allclose(got[:, 1, 0], fermi_dirac(E0, [0.0, 0.5], [10.0]).sum(axis=(-1, -2))[:, 0])
