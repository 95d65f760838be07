"""Response mechanisms: linear and second-order conductivities, named and separated."""

from __future__ import annotations

from ..models.base import ModelError
from .mechanism import LINEAR_CHANNELS, SECOND_ORDER_CHANNELS, Mechanism


def available_mechanisms() -> dict:
    """All named mechanisms of the library, ``{name: Mechanism}``."""
    from .linear import LINEAR_MECHANISMS
    from .nonlinear import SECOND_ORDER_MECHANISMS

    return {m.name: m for m in LINEAR_MECHANISMS + SECOND_ORDER_MECHANISMS}


def mechanisms_by_name(mechanisms, order: int) -> list:
    """Resolve ``"all"``, a name, or a sequence of names / Mechanism objects for field order ``order``."""
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
            out.extend(x for x in registry.values() if x.order == order)
        elif m in registry:
            out.append(registry[m])
        else:
            names = sorted(n for n, x in registry.items() if x.order == order)
            raise ModelError(f"unknown mechanism {m!r} for order {order}; choose from {names} or 'all'.")
    wrong = [m.name for m in out if m.order != order]
    if wrong:
        raise ModelError(f"mechanisms {wrong} are not of order {order} in the field; use order="
                         f"{out[[m.name for m in out].index(wrong[0])].order} for them.")
    if not out:
        raise ModelError("no mechanisms selected.")
    return out


__all__ = ["Mechanism", "LINEAR_CHANNELS", "SECOND_ORDER_CHANNELS", "available_mechanisms", "mechanisms_by_name"]
