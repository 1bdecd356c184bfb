"""Small libraries built on jitgrad, named and shaped as JAX's ``jax.example_libraries``."""
