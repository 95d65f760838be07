"""Response mechanisms: linear and second-order conductivities, named and separated."""

from __future__ import annotations

from ..models.base import ModelError
from .mechanism import LINEAR_CHANNELS, SECOND_ORDER_CHANNELS, Mechanism


def available_mechanisms() -> dict:
    """All named mechanisms of the library, ``{name: Mechanism}``."""
    from .linear import LINEAR_MECHANISMS
    from .nonlinear import SECOND_ORDER_MECHANISMS
    from .tau0 import TAU0_MECHANISMS

    return {m.name: m for m in LINEAR_MECHANISMS + SECOND_ORDER_MECHANISMS + TAU0_MECHANISMS}


def _not_implemented(name: str) -> str:
    """The reason a named published mechanism is not computed, or "" (e.g. ``"intrinsic_ulrich"``)."""
    from .nonlinear import INTRINSIC_NOT_IMPLEMENTED

    prefix = "intrinsic_"
    return INTRINSIC_NOT_IMPLEMENTED.get(name[len(prefix):], "") if name.startswith(prefix) else ""


def mechanisms_by_name(mechanisms, order: int, gradient: bool = False) -> list:
    """Resolve ``"all"``, a name, or a sequence of names / Mechanism objects.

    ``order`` is the power of the field and ``gradient`` selects responses to field gradients
    (O(q)). ``"all"`` takes every registered mechanism of that kind that is part of the
    conductivity (``in_total``), including alternative variants of the same term.
    """
    if isinstance(mechanisms, (str, Mechanism)):
        mechanisms = [mechanisms]
    mechanisms = list(mechanisms)
    if any(isinstance(m, str) for m in mechanisms):
        registry = available_mechanisms()
    out = []
    for m in mechanisms:
        if isinstance(m, Mechanism):
            out.append(m)
        elif m == "all":
            out.extend(x for x in registry.values()
                       if x.order == order and x.gradient == gradient and x.in_total)
        elif m in registry:
            out.append(registry[m])
        elif _not_implemented(m):
            raise ModelError(f"mechanism {m!r}: {_not_implemented(m)}")
        else:
            names = sorted(n for n, x in registry.items() if x.order == order and x.gradient == gradient)
            raise ModelError(f"unknown mechanism {m!r} for order {order}"
                             f"{' (gradient)' if gradient else ''}; choose from {names} or 'all'.")
    for m in out:
        if m.order != order or m.gradient != gradient:
            raise ModelError(f"mechanism {m.name!r} is of order {m.order}{' (field gradient)' if m.gradient else ''}; "
                             f"request it with order={m.order}, gradient={m.gradient}.")
    if not out:
        raise ModelError("no mechanisms selected.")
    return out


__all__ = ["Mechanism", "LINEAR_CHANNELS", "SECOND_ORDER_CHANNELS", "available_mechanisms", "mechanisms_by_name"]
