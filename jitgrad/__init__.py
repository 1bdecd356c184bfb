"""jitgrad: JIT-compiled functional autodiff over a printable IR.

>>> import numpy as np, jitgrad as jg, jitgrad.numpy as jnp
>>> jg.grad(lambda x: jnp.sum(x ** 2))(np.array([1.0, 2.0, 3.0]))
array([2., 4., 6.])
"""

from jitgrad import lax, nn, numpy, tree_util
from jitgrad._version import __version__
from jitgrad.api import (
    Tracer,
    deriv,
    elementwise_grad,
    eval_shape,
    grad,
    grad_and_aux,
    grad_named,
    hessian,
    hessian_tensor_product,
    hessian_vector_product,
    is_tracer,
    jacfwd,
    jacobian,
    jacrev,
    jvp,
    linearize,
    make_ggnvp,
    make_hvp,
    make_ir,
    make_jvp,
    make_vjp,
    multigrad_dict,
    tensor_jacobian_product,
    value_and_grad,
    vector_jacobian_product,
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
from jitgrad.jit import clear_caches, jit, show_kernels, wait_for_compiles
from jitgrad.numpy import stop_gradient
from jitgrad.testing import check_grads

__all__ = [
    "__version__", "BatchError", "CompileError", "IR", "JitgradError", "JitgradIndexError",
    "JitgradTypeError", "ShapeError", "Tracer", "TracerError", "UnsupportedError",
    "check_grads", "checkpoint", "clear_caches", "config", "custom_jvp", "custom_vjp", "deriv",
    "elementwise_grad", "eval_shape", "grad", "grad_and_aux", "grad_named", "hessian",
    "hessian_tensor_product", "hessian_vector_product", "is_tracer", "jacfwd", "jacobian",
    "jacrev", "jit", "jvp", "lax", "linearize", "make_ggnvp", "make_hvp", "make_ir",
    "make_jvp", "make_vjp", "multigrad_dict", "nn", "numpy", "remat", "show_kernels",
    "stop_gradient", "tensor_jacobian_product", "tree_util", "value_and_grad",
    "vector_jacobian_product", "vjp", "vmap", "wait_for_compiles",
]
