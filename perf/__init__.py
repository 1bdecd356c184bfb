"""jitgrad's benchmark suite against numpy, JAX, PyTorch and autograd: ``python -m perf``."""
