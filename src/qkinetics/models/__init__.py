"""Band models: the common interface, tight-binding, continuum (k.p), Wannier90 readers, the zoo."""

from .base import Model, ModelError, check_hermitian
from .tight_binding import TightBinding
from .continuum import Continuum
from . import zoo
from .wannier90 import Wannier90FormatError, read_wannier90, write_wannier90_hr, write_wannier90_tb
from .wannier90_run import read_wannier90_run

__all__ = [
    "Model", "ModelError", "check_hermitian", "TightBinding",
    "Continuum", "zoo",
    "read_wannier90", "read_wannier90_run", "write_wannier90_hr", "write_wannier90_tb", "Wannier90FormatError",
]
