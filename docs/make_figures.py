"""Regenerate the figures of docs/ (docs/figures/*.png) from the example scripts.

The examples write to ./qkinetics-examples by default, so that running one never changes a tracked
file; this script is the one place that writes docs/figures, by passing ``--output docs/figures``.

    python docs/make_figures.py                  # all figures, one after another (about 15 minutes of CPU time)
    python docs/make_figures.py nonlinear_hall   # only the named ones
    python docs/make_figures.py --list           # the scripts and their figures
"""

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIGURES = ROOT / "docs" / "figures"
#: example script -> (figure it writes, the docs page that shows it)
SCRIPTS = {
    "geometry_figure": ("models_geometry.png", "models-and-geometry.md"),
    "nonlinear_hall": ("nonlinear_hall.png", "responses.md"),
    "tau0_reference": ("tau0_reference.png", "quantum-reference.md"),
    "wannier_stark": ("wannier_stark.png", "moyal.md"),
    "kinetics_lindhard": ("kinetics_lindhard.png", "kinetics.md"),
    "static_density": ("static_density.png", "kinetics.md"),
    "domain_wall": ("domain_wall_charge.png", "kinetics.md"),
    "tau0_closed_forms": ("tau0_closed_forms.png", "tau0.md"),
    "real_materials": ("real_materials.png", "real-materials.md"),
    "thermoelectric": ("thermoelectric_seebeck.png", "thermoelectric.md"),
    "magnetic_kinetics": ("magnetic_kinetics.png", "kinetics.md"),
    "streda": ("streda.png", "orbital-moment.md"),
    "adaptive_haldane": ("adaptive_haldane.png", "adaptive.md"),
    "kinetic_thermoelectric": ("kinetic_thermoelectric.png", "thermoelectric.md"),
    "magnetotransport": ("magnetotransport.png", "magnetotransport.md"),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"scripts to run (default all): {', '.join(SCRIPTS)}")
    parser.add_argument("--list", action="store_true", help="list the scripts and their figures, run nothing")
    args = parser.parse_args()
    unknown = sorted(set(args.names) - set(SCRIPTS))
    if unknown:
        parser.error(f"unknown script(s) {unknown}; choose from {', '.join(SCRIPTS)}")
    for name in args.names or SCRIPTS:
        figure, page = SCRIPTS[name]
        if args.list:
            print(f"examples/{name}.py -> docs/figures/{figure} (docs/{page})")
            continue
        start = time.perf_counter()
        subprocess.run([sys.executable, str(ROOT / "examples" / f"{name}.py"), "--output", str(FIGURES)], check=True)
        print(f"[{name}: docs/figures/{figure} in {time.perf_counter() - start:.0f} s]\n", flush=True)


if __name__ == "__main__":
    main()
