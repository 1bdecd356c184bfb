"""jitgrad.scipy: SciPy-named functions on traced or concrete arrays (scipy is not needed)."""

from jitgrad.scipy import linalg, special

__all__ = ["linalg", "special"]
