"""The error of a malformed run configuration."""

from ..models.base import ModelError


class ConfigError(ModelError):
    """A malformed run configuration (the message names the key and what is allowed)."""
