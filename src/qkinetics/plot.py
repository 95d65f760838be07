"""Plots of results: response versus chemical potential, mechanism by mechanism."""

from __future__ import annotations

import numpy as np


def _reference_variable(ds):
    """``total`` when present, else the first mechanism."""
    if "total" in ds:
        return "total"
    return next(v for v in ds.data_vars if ds[v].dims[:1] == ("channel",) and not v.startswith("error_"))


def _select_component(ds, component):
    tdims = [d for d in ("j", "E1", "E2", "q") if d in ds.dims]
    ref = ds[_reference_variable(ds)]
    if component is None:
        amp = np.abs(ref).max(dim=[d for d in ref.dims if d not in tdims])
        idx = np.unravel_index(int(np.argmax(amp.values)), amp.shape)
        component = "".join(str(amp[d].values[i]) for d, i in zip(tdims, idx))
    if len(component) != len(tdims):
        raise ValueError(f"component must have {len(tdims)} letters (e.g. {'xy'[:len(tdims)] + 'y' * (len(tdims) - 2)!r}).")
    return component, dict(zip(tdims, component))


def response(ds, component=None, *, channel=None, T=None, tau=None, omega=None, part="real", ax=None, path=None):
    """Draw a conductivity Dataset versus chemical potential, one line per mechanism plus the total.

    Parameters
    ----------
    ds : xarray.Dataset from :func:`qkinetics.conductivity` or a run.
    component : str, optional
        Tensor component such as ``"xy"`` or ``"yxx"``; default the largest component of the total.
    channel, T, tau, omega : optional
        Values to select (default the first of each).
    part : {"real", "imag"}
    ax : matplotlib Axes, optional
    path : str or Path, optional
        Save the figure there.

    Returns
    -------
    matplotlib Axes
    """
    import matplotlib

    if ax is None and path is not None:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    component, sel = _select_component(ds, component)
    for dim, val in (("channel", channel), ("T", T), ("tau", tau), ("omega", omega)):
        sel[dim] = ds[dim].values[0] if val is None else val
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.4, 4.2), constrained_layout=True)
    mechs = [v for v in ds.data_vars if ds[v].dims[:1] == ("channel",) and not v.startswith("error_")]
    take = np.real if part == "real" else np.imag
    mu = ds["mu"].values
    for name in mechs:
        y = take(ds[name].sel(sel).values)
        style = dict(color="k", lw=2) if name == "total" else dict(lw=1.4)
        line, = ax.plot(mu, y, label=name, **style)
        err = f"error_{name}"
        if err in ds:
            e = ds[err].sel(sel).values
            ax.fill_between(mu, y - e, y + e, color=line.get_color(), alpha=0.2, lw=0)
    units = ds[_reference_variable(ds)].attrs.get("units", "")
    sym = "sigma_" + component
    ax.set_xlabel("chemical potential mu (eV)")
    ax.set_ylabel(f"{part} {sym} ({units})")
    ax.axhline(0, color="0.7", lw=0.6)
    ax.set_title(f"{ds.attrs.get('model', '')}: {sym} by mechanism, T = {sel['T']:g} K")
    ax.legend(fontsize=8)
    if path is not None:
        ax.figure.savefig(path, dpi=120)
        plt.close(ax.figure)
    return ax
