"""``python -m qkinetics``: the same command line as the ``qkinetics`` entry point."""

from .cli import main

if __name__ == "__main__":
    main(prog_name="qkinetics")
