"""jitgrad.scipy: SciPy-named functions on traced or concrete arrays (scipy is not needed)."""
