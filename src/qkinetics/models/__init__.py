"""Band models: the common interface, tight-binding, continuum (k.p), Wannier90 readers, the zoo."""

from .base import Model, ModelError, check_hermitian
from .tight_binding import TightBinding

__all__ = ["Model", "ModelError", "check_hermitian", "TightBinding"]
