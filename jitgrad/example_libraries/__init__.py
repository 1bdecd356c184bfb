"""Small libraries built on jitgrad, named and shaped as JAX's ``jax.example_libraries``."""

from jitgrad.api_util import lazy_submodules

# Imported on first access (jitgrad.example_libraries.stax), as in JAX after `import jax`.
__getattr__, __dir__ = lazy_submodules(__name__, ("optimizers", "stax"))
