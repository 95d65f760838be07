"""Plots: a response versus chemical potential mechanism by mechanism, and band structures along a k path."""

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
    example = "xy"[:len(tdims)] + "x" * (len(tdims) - 2)
    if not isinstance(component, str) or len(component) != len(tdims):
        raise ValueError(f"component must be a string of {len(tdims)} letters, one per tensor index "
                         f"{', '.join(tdims)} (e.g. {example!r}); got {component!r}.")
    axes = [str(a) for a in ds[tdims[0]].values]
    if set(component) - set(axes):
        raise ValueError(f"component {component!r}: this result's tensor axes are {', '.join(axes)}.")
    return component, dict(zip(tdims, component))


def response(ds, component=None, *, channel=None, T=None, tau=None, omega=None, part="real", ax=None, path=None):
    """Draw a conductivity Dataset versus chemical potential, one line per mechanism plus the total.

    The total is drawn first, underneath, as a wide grey translucent band (first in the legend, which
    names the mechanisms it includes); the mechanisms are thin coloured lines on top, so a mechanism
    equal to the total shows as a line inside the band. Error bars (``error_<name>``) are shaded.

    Parameters
    ----------
    ds : xarray.Dataset from :func:`qkinetics.conductivity` or a run.
    component : str, optional
        Tensor component such as ``"xy"`` or ``"yxx"``; default the largest component of the total.
    channel, T, tau, omega : optional
        Values to select (default the first of each). Dimensions the Dataset lacks are ignored.
    part : {"real", "imag"}
    ax : matplotlib Axes, optional
    path : str or Path, optional
        Save the figure there.

    Returns
    -------
    matplotlib Axes
    """
    import matplotlib

    if ds.attrs.get("quantity") == "thermoelectric":
        raise ValueError("this is a thermoelectric Dataset (qkinetics.thermoelectric): draw it with "
                         "qkinetics.plot.thermoelectric(ds, 'seebeck', ...).")
    if ax is None and path is not None:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    component, sel = _select_component(ds, component)
    for dim, val in (("channel", channel), ("T", T), ("tau", tau), ("omega", omega)):
        if dim in ds.dims:
            sel[dim] = ds[dim].values[0] if val is None else val
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.4, 4.2), constrained_layout=True)
    mechs = [v for v in ds.data_vars if ds[v].dims[:1] == ("channel",) and not v.startswith("error_")]
    # the total first and underneath: a wide translucent band, so that a mechanism equal to it (the only
    # one present, or the others zero) stays visible on top of it instead of being painted over
    mechs.sort(key=lambda name: name != "total")
    take = np.real if part == "real" else np.imag
    mu = ds["mu"].values
    for name in mechs:
        y = take(ds[name].sel(sel).values)
        if name == "total":
            style = dict(color="0.25", lw=5.0, alpha=0.35, zorder=1.5, solid_capstyle="butt",
                         label=f"total ({ds[name].attrs['included']})" if "included" in ds[name].attrs else "total")
        else:
            style = dict(lw=1.4, zorder=2.5, label=name)
        line, = ax.plot(mu, y, **style)
        err = f"error_{name}"
        if err in ds:
            e = ds[err].sel(sel).values
            ax.fill_between(mu, y - e, y + e, color=line.get_color(), alpha=0.2, lw=0, zorder=line.get_zorder() - 0.1)
    units = ds[_reference_variable(ds)].attrs.get("units", "")
    sym = "sigma_" + component
    ax.set_xlabel("chemical potential mu (eV)")
    ax.set_ylabel(f"{part} {sym} ({units})")
    ax.axhline(0, color="0.7", lw=0.6)
    at = f", T = {sel['T']:g} K" if "T" in sel else ""
    ax.set_title(f"{ds.attrs.get('model', '')}: {sym} by mechanism{at}")
    ax.legend(fontsize=8)
    if path is not None:
        ax.figure.savefig(path, dpi=120)
        plt.close(ax.figure)
    return ax


def bands(model, labels, points, *, n_per_segment=120, mu=None, ax=None, path=None, **line_kw):
    """Band structure of ``model`` along a path between labelled high-symmetry points.

    Parameters
    ----------
    model : Model
    labels, points, n_per_segment :
        The path, as for :func:`qkinetics.kpath.high_symmetry_path` (``points`` in reduced coordinates,
        e.g. :data:`qkinetics.kpath.HONEYCOMB_POINTS`); "G" is written as Gamma.
    mu : float, optional
        Chemical potential (eV), drawn as a dashed horizontal line.
    ax : matplotlib Axes, optional
    path : str or Path, optional
        Save the figure there.
    **line_kw :
        Passed to ``Axes.plot`` for the bands (default black lines).

    Returns
    -------
    matplotlib Axes
        The band energies (eV) against the path length (1/Angstrom), corners marked.
    """
    import matplotlib

    if ax is None and path is not None:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .kpath import high_symmetry_path

    k, dist, ticks = high_symmetry_path(model, labels, points, n_per_segment)
    energies = model.bands(k)
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.4, 4.2), constrained_layout=True)
    ax.plot(dist, energies, **{"color": "k", "lw": 1.2, **line_kw})
    if mu is not None:
        ax.axhline(mu, color="tab:red", lw=0.8, ls="--", label=f"mu = {mu:g} eV")
        ax.legend(fontsize=8)
    for t in ticks:
        ax.axvline(t, color="0.8", lw=0.5, zorder=0)
    ax.set_xticks(ticks, [r"$\Gamma$" if p == "G" else p for p in labels])
    ax.set_xlim(ticks[0], ticks[-1])
    ax.set_ylabel("energy (eV)")
    ax.set_title(f"{model.name}: bands")
    if path is not None:
        ax.figure.savefig(path, dpi=120)
        plt.close(ax.figure)
    return ax


#: Axis labels of the thermoelectric variables (symbol, scale factor shown in the unit).
_THERMO_LABELS = {"seebeck": ("S", 1e6, "uV/K"), "peltier": ("Pi", 1e3, "mV"), "kappa": ("kappa", 1.0, None),
                  "kappa_zero_field": ("K", 1.0, None), "sigma": ("sigma", 1.0, None), "alpha": ("alpha", 1.0, None),
                  "anomalous_nernst": ("alpha^AN", 1.0, None), "anomalous_thermal_hall": ("K^AH", 1.0, None),
                  "anomalous_hall": ("sigma^AH", 1.0, None), "L0": ("L0", 1.0, None), "L1": ("L1", 1.0, None),
                  "L2": ("L2", 1.0, None)}


def thermoelectric(ds, quantity="seebeck", component="xx", *, tau=None, ax=None, path=None):
    """Draw one tensor component of a thermoelectric Dataset versus chemical potential, one line per T.

    Parameters
    ----------
    ds : xarray.Dataset from :func:`qkinetics.thermoelectric`.
    quantity : str
        A variable of ``ds``: ``"seebeck"`` (drawn in uV/K), ``"peltier"`` (mV), ``"kappa"``,
        ``"alpha"``, ``"anomalous_nernst"``, ``"sigma"``, ``"L1"``, ...
    component : str
        Two letters: current direction then drive direction, e.g. ``"xx"`` or ``"xy"``.
    tau : float, optional
        Relaxation time to select (default the first).
    ax : matplotlib Axes, optional
    path : str or Path, optional
        Save the figure there.

    Returns
    -------
    matplotlib Axes. The error bars ``error_<quantity>`` are drawn as shaded bands.
    """
    import matplotlib

    if ds.attrs.get("quantity") != "thermoelectric":
        raise ValueError("expected a Dataset from qkinetics.thermoelectric; draw conductivities with "
                         "qkinetics.plot.response.")
    if quantity not in ds:
        names = [v for v in ds.data_vars if not v.startswith("error_") and "a" in ds[v].dims]
        raise ValueError(f"no variable {quantity!r} in this Dataset; choose from {names}.")
    if len(component) != 2 or any(c not in ds["a"].values for c in component):
        raise ValueError(f"component must be two of {list(ds['a'].values)} (current, drive), e.g. 'xy'; "
                         f"got {component!r}.")
    if ax is None and path is not None:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=(6.4, 4.2), constrained_layout=True)
    symbol, scale, unit = _THERMO_LABELS.get(quantity, (quantity, 1.0, None))
    unit = unit or ds[quantity].attrs.get("units", "")
    sel = dict(a=component[0], b=component[1], tau=ds["tau"].values[0] if tau is None else tau)
    mu = ds["mu"].values
    for T in ds["T"].values:
        y = scale * ds[quantity].sel(sel).sel(T=T).values
        line, = ax.plot(mu, y, lw=1.6, label=f"T = {T:g} K")
        err = f"error_{quantity}"
        if err in ds:
            e = scale * ds[err].sel(sel).sel(T=T).values
            ax.fill_between(mu, y - e, y + e, color=line.get_color(), alpha=0.25, lw=0)
    ax.set_xlabel("chemical potential mu (eV)")
    ax.set_ylabel(f"{symbol}_{component} ({unit})")
    ax.axhline(0, color="0.7", lw=0.6)
    ax.set_title(f"{ds.attrs.get('model', '')}: {symbol}_{component}")
    ax.legend(fontsize=8)
    if path is not None:
        from .run.writer import save_figure

        save_figure(ax.figure, path)
        plt.close(ax.figure)
    return ax


def magnetoconductance(ds, component="xx", *, variable="total", relative=True, ax=None, path=None, **line_kw):
    """Conductivity of a :func:`qkinetics.magnetoconductivity` result versus B, one line per other sweep value.

    ``component`` is "jE" (e.g. "xx", "xy"); ``relative`` plots sigma(B)/sigma(B=0) - 1 (the magnetoconductance
    ratio; needs B = 0 in the sweep), else sigma in the result's units. Lines run over every combination of
    the other sweep dimensions (direction, mu, T, tau, tau_valley) of length > 1. ``path`` saves the figure
    atomically.
    """
    import matplotlib.pyplot as plt

    if "B" not in ds.dims or variable not in ds:
        raise ValueError("magnetoconductance plots a qkinetics.magnetoconductivity result (dimension B).")
    if not (isinstance(component, str) and len(component) == 2):
        raise ValueError(f"component must be two letters j, E (e.g. 'xx'); got {component!r}.")
    da = ds[variable].sel(j=component[0], E=component[1])
    if relative:
        if 0.0 not in ds["B"].values:
            raise ValueError("relative=True needs B = 0 in the sweep (or pass relative=False).")
        da = da / da.sel(B=0.0) - 1
    others = [d for d in da.dims if d != "B" and da.sizes[d] > 1]
    stacked = da.stack(line=others) if others else da.expand_dims(line=[0])
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.6))
    for i in range(stacked.sizes["line"]):
        y = stacked.isel(line=i).squeeze()
        label = ", ".join(f"{d}={stacked[d].values[i]:.3g}" for d in others) if others else None
        ax.plot(ds["B"].values, np.real(y.values), label=label, **line_kw)
    ax.set_xlabel("B (T)")
    unit = ds[variable].attrs.get("units", "")
    ax.set_ylabel(f"σ_{component}(B)/σ_{component}(0) − 1" if relative else f"σ_{component} ({unit})")
    if others:
        ax.legend(fontsize=7)
    if path is not None:
        from .run.writer import save_figure

        save_figure(ax.figure, path)
    return ax
