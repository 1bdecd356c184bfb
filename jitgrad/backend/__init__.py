"""The compiled backend: fusion into loop kernels, code generation, Numba compilation and the
on-disk cache. Importing it does not import Numba; compiling does."""
