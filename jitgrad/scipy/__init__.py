"""jitgrad.scipy: SciPy-named functions on traced or concrete arrays (scipy is not needed)."""

from jitgrad.scipy import linalg, signal, special

__all__ = ["linalg", "signal", "special"]
