"""SciPy-named functions on traced (and concrete) arrays: ``jitgrad.scipy.special``."""

from jitgrad.scipy import special

__all__ = ["special"]
