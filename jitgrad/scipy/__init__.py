"""jitgrad.scipy: SciPy-named functions on traced or concrete arrays (scipy is not needed)."""

from jitgrad.scipy import integrate, linalg, signal, special, stats

__all__ = ["integrate", "linalg", "signal", "special", "stats"]
