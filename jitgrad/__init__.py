"""jitgrad: JIT-compiled functional autodiff over a printable IR.

>>> import numpy as np, jitgrad as jg, jitgrad.numpy as jnp
>>> jg.grad(lambda x: jnp.sum(x ** 2))(np.array([1.0, 2.0, 3.0]))
array([2., 4., 6.])
"""

from jitgrad import lax, nn, numpy, tree_util
from jitgrad._version import __version__
from jitgrad.api import (
    eval_shape,
    grad,
    hessian,
    jacfwd,
    jacrev,
    jvp,
    linearize,
    make_ir,
    value_and_grad,
    vjp,
    vmap,
)
from jitgrad.core import IR, config
from jitgrad.custom_derivatives import checkpoint, custom_jvp, custom_vjp, remat
from jitgrad.errors import (
    BatchError,
    CompileError,
    JitgradError,
    JitgradIndexError,
    JitgradTypeError,
    ShapeError,
    TracerError,
    UnsupportedError,
)
from jitgrad.jit import clear_caches, jit, show_kernels
from jitgrad.numpy import stop_gradient
from jitgrad.testing import check_grads

__all__ = [
    "__version__", "BatchError", "CompileError", "IR", "JitgradError", "JitgradIndexError",
    "JitgradTypeError", "ShapeError", "TracerError", "UnsupportedError", "check_grads",
    "checkpoint", "clear_caches", "config", "custom_jvp", "custom_vjp", "eval_shape", "grad",
    "hessian", "jacfwd", "jacrev", "jit", "jvp", "lax", "linearize", "make_ir", "nn", "numpy",
    "remat", "show_kernels", "stop_gradient", "tree_util", "value_and_grad", "vjp", "vmap",
]
