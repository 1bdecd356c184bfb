"""jitgrad's version (one place: the package, the kernel cache salt)."""

__version__ = "0.1.0"
