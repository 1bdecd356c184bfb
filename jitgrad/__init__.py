"""jitgrad: JIT-compiled functional autodiff over a printable IR.

>>> import numpy as np, jitgrad as jg, jitgrad.numpy as jnp
>>> jg.grad(lambda x: jnp.sum(x ** 2))(np.array([1.0, 2.0, 3.0]))
array([2., 4., 6.])
"""

from jitgrad import lax, nn, numpy, tree_util
from jitgrad.api import custom_vjp, grad, jvp, make_ir, value_and_grad, vjp
from jitgrad.core import IR, config
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
from jitgrad.jit import jit, show_kernels
from jitgrad.lax import checkpoint, custom_jvp, remat
from jitgrad.numpy import stop_gradient
from jitgrad.testing import check_grads
from jitgrad.toolkit import eval_shape, hessian, jacfwd, jacrev, linearize, vmap

__version__ = "0.1.0"

__all__ = [
    "IR", "BatchError", "CompileError", "JitgradError", "JitgradIndexError", "JitgradTypeError",
    "ShapeError",
    "TracerError", "UnsupportedError",
    "check_grads", "config", "custom_vjp", "grad", "jit", "jvp", "make_ir", "nn", "numpy",
    "show_kernels", "stop_gradient", "tree_util", "value_and_grad", "vjp", "vmap", "jacfwd",
    "jacrev", "hessian", "linearize", "eval_shape", "lax", "checkpoint", "remat", "custom_jvp",
]
