"""The ``qkinetics`` command line."""

from __future__ import annotations

import contextlib
import shlex
import sys
import warnings
from pathlib import Path

import click
import numpy as np

from . import __version__
from .geometry import band_geometry
from .kpath import HONEYCOMB_POINTS, high_symmetry_path
from .models import zoo
from .run.writer import atomic_path, save_figure
from .topology import chern_number

#: The embedded default model of ``qkinetics demo``: a Haldane Chern insulator with uniaxial strain
#: (the strain breaks C3 so that the Berry curvature dipole, and with it the nonlinear Hall effect, is allowed).
DEMO_MODEL = {"name": "haldane", "params": {"t1": 1.0, "t2": 0.1, "phi": np.pi / 2, "mass": 0.2, "strain": 0.2}}
#: Nonlinear Hall part of the demo: chemical potentials (eV), temperature (K), relaxation time (s), grid.
DEMO_RESPONSE = {"mu": np.linspace(0.2, 1.2, 41), "T": 300.0, "tau": 1e-14, "kgrid": 320}

def plot_bands_geometry(model, labels, points, path):
    """Bands along a path coloured by Berry curvature (left) and quantum metric trace (right)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k, s, ticks = high_symmetry_path(model, labels, points)
    geo = band_geometry(model, k, inverse_mass=False)
    omega = geo.berry_curvature[..., 0, 1]
    trg = np.trace(geo.quantum_metric, axis1=-2, axis2=-1)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True, constrained_layout=True)
    lim = np.abs(omega).max()
    for ax, val, cmap, label, norm in (
        (axes[0], omega, "coolwarm", r"Berry curvature $\Omega^{xy}_n$ ($\AA^2$)", (-lim, lim)),
        (axes[1], trg, "viridis", r"quantum metric tr $g_n$ ($\AA^2$)", (0, trg.max())),
    ):
        for n in range(model.norb):
            sc = ax.scatter(s, geo.energies[:, n], c=val[:, n], cmap=cmap, vmin=norm[0], vmax=norm[1], s=6)
        fig.colorbar(sc, ax=ax, label=label)
        ax.set_xticks(ticks, [p.replace("G", r"$\Gamma$") for p in labels])
        for t in ticks:
            ax.axvline(t, color="0.8", lw=0.5)
        ax.set_xlim(ticks[0], ticks[-1])
    axes[0].set_ylabel("energy (eV)")
    fig.suptitle(f"{model.name}: bands coloured by band geometry")
    save_figure(fig, path, dpi=120)
    plt.close(fig)


@click.group()
@click.version_option(__version__, prog_name="qkinetics")
@click.pass_context
def main(ctx):
    """qkinetics: band quantum geometry and quantum kinetics beyond leading order."""
    ctx.with_resource(one_line_warnings())


@main.command()
@click.option("--output", "-o", type=click.Path(file_okay=False, path_type=Path), default=Path("qkinetics-demo"),
              show_default=True, help="Directory for the figure.")
@click.option("--nk", type=click.IntRange(6, 2000), default=60, show_default=True,
              help="k grid per direction for the Chern number.")
def demo(output: Path, nk: int):
    """The embedded default model (a strained Haldane Chern insulator): geometry table, Chern number,
    mechanism-resolved nonlinear Hall response, and figures."""
    model = zoo.get(DEMO_MODEL["name"], **DEMO_MODEL["params"])
    params = ", ".join(f"{k}={v:.4g}" for k, v in DEMO_MODEL["params"].items())
    click.echo(f"Model: {model.name} ({params}); energies in eV, lengths in Angstrom")
    labels = list(HONEYCOMB_POINTS)
    geo = band_geometry(model, model.k_from_reduced([HONEYCOMB_POINTS[p] for p in labels]))
    click.echo(f"\n{'k':>4} {'band':>4} {'energy/eV':>11} {'Omega_xy/A^2':>13} {'tr g/A^2':>11} {'tr G/(A^2/eV)':>14}")
    for i, p in enumerate(labels):
        for n in range(model.norb):
            click.echo(f"{p:>4} {n:>4} {geo.energies[i, n]:>11.5f} {geo.berry_curvature[i, n, 0, 1]:>13.5f} "
                       f"{np.trace(geo.quantum_metric[i, n]):>11.5f} {np.trace(geo.normalized_metric[i, n]):>14.5f}")
    c = chern_number(model, [0], nk=nk)
    click.echo(f"\nChern number of the lower band: C = {c}  (filled: sigma_xy = -(e^2/h) C = {-c} e^2/h)")
    output.mkdir(parents=True, exist_ok=True)
    fig = output / "bands_geometry.png"
    plot_bands_geometry(model, ["G", "K", "M", "K'", "G"], HONEYCOMB_POINTS, fig)
    click.echo(f"Figure written to {fig.resolve()}")
    nonlinear_hall_demo(model, output)


def nonlinear_hall_demo(model, output: Path):
    """Print and plot the rectified nonlinear Hall conductivity sigma_yxx by mechanism versus mu."""
    from .conductivity import conductivity
    from .plot import response

    r = DEMO_RESPONSE
    ds = conductivity(model, 2, mu=r["mu"], T=r["T"], tau=r["tau"], kgrid=r["kgrid"])
    sel = dict(channel="rectified", T=r["T"], tau=r["tau"], omega=0.0, j="y", E1="x", E2="x")
    names = [v for v in ds.data_vars if ds[v].dims[:1] == ("channel",) and not v.startswith("error_")]
    click.echo(f"\nNonlinear Hall response j_y = sigma_yxx E_x^2 (rectified, T = {r['T']:g} K, tau = {r['tau']:g} s, "
               f"{ds.attrs['grid']}), in {ds['total'].attrs['units']}:")
    short = {n: n.replace("berry_curvature_dipole", "BCD").replace("nonlinear_drude", "NL Drude")
             .replace("intrinsic_", "tau0 ") for n in names}
    click.echo(f"{'mu/eV':>6} " + " ".join(f"{short[n]:>15}" for n in names))
    for mu in r["mu"][::8]:
        vals = [float(np.real(ds[n].sel(sel).sel(mu=mu))) for n in names]
        click.echo(f"{mu:>6.2f} " + " ".join(f"{v:>15.3e}" for v in vals))
    rel = max(ds[n].attrs.get("relative_change_vs_coarse_grid", 0.0) for n in names if n != "total")
    click.echo(f"(total = {ds['total'].attrs['included']}; the tau0 variants are alternatives, see docs/responses.md; "
               f"largest change against a grid with half the points: {rel:.1e} relative)")
    fig = output / "nonlinear_hall.png"
    with atomic_path(fig) as tmp:
        response(ds, "yxx", channel="rectified", path=tmp)
    click.echo(f"Figure written to {fig.resolve()}")


@contextlib.contextmanager
def one_line_warnings():
    """Inside the block, warnings print as one line on stderr, ``Warning (Category): message``, instead of
    Python's ``file:line: Category: message`` plus the source line."""
    def show(message, category, filename, lineno, file=None, line=None):
        text = " ".join(str(message).split())
        click.echo(f"Warning ({category.__name__}): {text}", err=True)

    with warnings.catch_warnings():
        warnings.showwarning = show
        yield


def _interrupted(config: Path, workers: int, no_progress: bool, executor: str | None = None):
    """Ctrl-C during ``qkinetics run``: say where the progress is and the command that resumes it; exit 130."""
    from .run import load_config

    try:
        checkpoint = load_config(config)["directory"] / "checkpoint.npz"
    except (ValueError, OSError):
        checkpoint = None
    options = ["--workers", str(workers)] if workers > 1 else []
    if executor and executor.startswith("dask://"):
        options += ["--scheduler", shlex.quote(executor[len("dask://"):])]
    elif executor and executor != "serial":
        options += ["--executor", executor]
    if no_progress:
        options.append("--no-progress")
    command = " ".join(["qkinetics", "run", shlex.quote(str(config))] + options)
    if checkpoint is not None and checkpoint.exists():
        click.echo(f"\nInterrupted. Progress is saved in {checkpoint}; resume with:\n    {command}", err=True)
    else:
        click.echo(f"\nInterrupted before the first checkpoint; start again with:\n    {command}", err=True)
    sys.exit(130)


@main.command("run")
@click.argument("config", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--workers", type=click.IntRange(1, None), default=None,
              help="Local worker processes; above 1 without --executor: a process pool. [default: the config's "
                   "[parallel] workers, else serial]")
@click.option("--executor", type=click.Choice(["serial", "processes", "dask"]), default=None,
              help="Where the k chunks run (results are bit-identical): serial, a local process pool, or a local "
                   "Dask cluster. [default: the config's [parallel] executor, else serial]")
@click.option("--scheduler", metavar="ADDRESS", default=None,
              help="A running Dask scheduler (HOST:PORT, e.g. started by dask-jobqueue on a cluster); overrides "
                   "--executor.")
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
def run_command(config: Path, workers: int | None, executor: str | None, scheduler: str | None, no_progress: bool):
    """Run the responses (or the kinetic problem, with a [kinetics] section) described by a TOML CONFIG;
    resumes an interrupted run of the same config (on any executor)."""
    from .run import run

    if scheduler:
        executor = f"dask://{scheduler}"
    elif executor is None and workers is not None and workers > 1:
        executor = "processes"
    try:
        ds = run(config, executor=executor, workers=workers, progress=not no_progress)
    except (ValueError, OSError) as err:         # ModelError / ConfigError are ValueErrors
        raise click.ClickException(str(err)) from None
    except KeyboardInterrupt:
        _interrupted(config, workers or 1, no_progress, executor)
    out = Path(ds.attrs.get("output_directory", ""))
    kind = ds.attrs.get("kind", "")
    if kind == "kinetics_steady":
        state = "converged" if ds.attrs["converged"] else "NOT converged"
        click.echo(f"Steady state {state} after {ds.attrs['steps']} steps (residual max|d_t f| tau = "
                   f"{ds.attrs['residual']:.1e}); particle number {ds.attrs['particle_number_initial']:.10g} -> "
                   f"{ds.attrs['particle_number_final']:.10g}")
    elif kind == "kinetics_time":
        click.echo(f"Evolved to t = {ds.attrs['time_s']:.4g} s in {ds.attrs['steps']} steps, "
                   f"{ds.sizes['time']} frames saved")
    if "boundary_inflow" in ds.attrs:
        click.echo(f"Particles in through the open ends: {ds.attrs['boundary_inflow']:.6g} 1/A^(d-1) (particle number "
                   f"{ds.attrs['particle_number_initial']:.10g} -> {ds.attrs['particle_number_final']:.10g})")
    click.echo(f"Done: {ds.attrs['model']} on {ds.attrs['grid']}; results in {out}")


@main.command("compare")
@click.option("--model", "model_name", default="pt_antiferromagnet", show_default=True,
              help="Zoo model name (lattice models only).")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE",
              help="Model parameter, repeatable (e.g. --param mass=0.1).")
@click.option("--mu", type=float, default=0.0, show_default=True, help="Chemical potential (eV).")
@click.option("--T", "T", type=click.FloatRange(min=0, min_open=True), default=600.0, show_default=True,
              help="Temperature (K).")
@click.option("--nk", type=click.IntRange(8, 512), default=48, show_default=True,
              help="k grid per direction of the quantum solver (the kinetic side uses twice as many).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the comparison to this netCDF file.")
def compare_command(model_name, params, mu, T, nk, output):
    """Each kinetic second-order mechanism next to the quantum reference's coefficient of the same power of tau."""
    from .kubo import compare_with_kinetics

    try:
        kw = {}
        for item in params:
            name, _, value = item.partition("=")
            if not _ or not name:
                raise click.BadParameter(f"expected NAME=VALUE, got {item!r}", param_hint="--param")
            kw[name.strip()] = float(value)
        model = zoo.get(model_name, **kw)
        ds = compare_with_kinetics(model, mu=mu, T=T, kgrid=nk)
    except (ValueError, OSError) as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"{model.name}, mu = {mu:g} eV, T = {T:g} K; dc sigma_abc = sum_p c_p tau^p, "
               f"c_p in {ds.attrs['units']}; largest component of each row shown")
    click.echo(f"{'relaxation':>12} {'mechanism':>24} {'p':>2} {'comp':>5} {'quantum c_p':>12} {'+-':>8} "
               f"{'kinetic':>12} {'+-':>8} {'rel. diff':>9}")
    for rel in ds["relaxation"].values:
        for mech in ds["mechanism"].values:
            q = ds["quantum"].sel(relaxation=rel, mechanism=mech)
            s = ds["semiclassical"].sel(mechanism=mech)
            idx = np.unravel_index(int(np.argmax(np.abs(np.maximum(np.abs(q.values), np.abs(s.values))))), q.shape)
            comp = "".join(str(q[d].values[i]) for d, i in zip(("j", "E1", "E2"), idx))
            qv, sv = float(q.values[idx]), float(s.values[idx])
            qe = float(ds["quantum_error"].sel(relaxation=rel, mechanism=mech).values[idx])
            se = float(ds["semiclassical_error"].sel(mechanism=mech).values[idx])
            scale = max(abs(qv), abs(sv), 1e-300)
            click.echo(f"{rel:>12} {mech:>24} {int(ds['tau_power'].sel(mechanism=mech)):>2} {comp:>5} "
                       f"{qv:>12.4e} {qe:>8.1e} {sv:>12.4e} {se:>8.1e} {(qv - sv) / scale:>9.1e}")
    click.echo("Rows whose mechanism is forbidden by symmetry compare two numerical zeros: read them against "
               f"the other powers of tau. Thermal resolution of the quantum grid: {ds.attrs['thermal_resolution']:.2g} "
               "(above 1: refine --nk or raise --T).")
    if output is not None:
        with atomic_path(output) as tmp:
            ds.to_netcdf(tmp, engine="scipy")
        click.echo(f"Comparison written to {output.resolve()}")
