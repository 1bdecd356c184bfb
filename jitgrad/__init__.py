"""jitgrad: JIT-compiled functional autodiff over a printable IR.

>>> import numpy as np, jitgrad as jg, jitgrad.numpy as jnp
>>> jg.grad(lambda x: jnp.sum(x ** 2))(np.array([1.0, 2.0, 3.0]))
array([2., 4., 6.])
"""

from jitgrad import lax, nn, numpy, tree_util
from jitgrad._version import __version__
from jitgrad.api import (
    Array,
    ShapeDtypeStruct,
    Tracer,
    deriv,
    disable_jit,
    elementwise_grad,
    ensure_compile_time_eval,
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
    make_jaxpr,
    make_jvp,
    make_vjp,
    multigrad_dict,
    named_call,
    named_scope,
    tensor_jacobian_product,
    typeof,
    value_and_grad,
    vector_jacobian_product,
    vjp,
    vmap,
)
from jitgrad.api_util import lazy_submodules
from jitgrad.core import IR, config
from jitgrad.custom_derivatives import (
    checkpoint,
    checkpoint_policies,
    custom_jvp,
    custom_vjp,
    remat,
)
from jitgrad.devices import (
    block_until_ready,
    default_backend,
    device_count,
    device_get,
    device_put,
    devices,
    local_device_count,
    local_devices,
)
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

# Public submodules that are not imported with jitgrad (random and scipy cost import time):
# ``jitgrad.random`` and the others are imported on first access, as attributes of jitgrad,
# so that ``import jitgrad as jax; jax.random.key(0)`` works as it does in JAX.
__getattr__, __dir__ = lazy_submodules("jitgrad", (
    "ad_checkpoint", "debug", "distributed", "example_libraries", "flatten_util", "misc",
    "random", "scipy", "tree"))


__all__ = [
    "__version__", "Array", "BatchError", "CompileError", "IR", "JitgradError",
    "JitgradIndexError", "JitgradTypeError", "ShapeDtypeStruct", "ShapeError", "Tracer",
    "TracerError", "UnsupportedError", "block_until_ready", "check_grads", "checkpoint",
    "checkpoint_policies", "clear_caches", "config", "custom_jvp", "custom_vjp",
    "default_backend", "deriv",
    "device_count", "device_get", "device_put", "devices", "disable_jit", "elementwise_grad",
    "ensure_compile_time_eval", "eval_shape", "grad", "grad_and_aux", "grad_named", "hessian",
    "hessian_tensor_product", "hessian_vector_product", "is_tracer", "jacfwd", "jacobian",
    "jacrev", "jit", "jvp", "lax", "linearize", "local_device_count", "local_devices",
    "make_ggnvp", "make_hvp", "make_ir", "make_jaxpr", "make_jvp", "make_vjp",
    "multigrad_dict", "named_call", "named_scope", "nn", "numpy", "remat", "show_kernels",
    "stop_gradient", "tensor_jacobian_product", "tree_util", "typeof", "value_and_grad",
    "vector_jacobian_product", "vjp", "vmap", "wait_for_compiles",
]
