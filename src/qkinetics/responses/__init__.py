"""Response mechanisms: linear and second-order conductivities, named and separated."""

from .mechanism import LINEAR_CHANNELS, SECOND_ORDER_CHANNELS, Mechanism

__all__ = ["Mechanism", "LINEAR_CHANNELS", "SECOND_ORDER_CHANNELS"]
