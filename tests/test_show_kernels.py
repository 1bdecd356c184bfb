"""show_kernels: kernels and caller read in the IR's names; compiled kernels stay shared."""

import numpy as np

import jitgrad as jg
import jitgrad.numpy as jnp
from jitgrad.backend import cache
from jitgrad.backend.codegen import display_kernel
from jitgrad.backend.fuse import LoopKernel
from jitgrad.core import var_names


def loss(W, b, X, y):  # the README's tour
    logits = jnp.tanh(X @ W + b)
    return jnp.mean((logits - y) ** 2)


MLP_GRAD = '''\
# program
{ lambda a:f64[4,3] b:f64[3] c:f64[5,4] d:f64[5,3] .
  let e:f64[5,3] = matmul[transpose_a=False transpose_b=False] c a
      f:f64[5,3] = broadcast_in_dim[dims=(1,) shape=(5, 3)] b
      g:f64[5,3] = add e f
      h:f64[5,3] = tanh g
      i:f64[5,3] = sub h d
      j:f64[5,3] = mul 2.0 i
      k:f64[5,3] = mul 0.06666666666666667 j
      l:f64[5,3] = mul h h
      m:f64[5,3] = sub 1.0 l
      n:f64[5,3] = mul k m
      o:f64[4,3] = matmul[transpose_a=True transpose_b=False] c n
  in ( o ) }

# caller
def run(a, b, c, d):
    try:
        ws = buffers.take()
        g = ws[0]
        M0(c, a, b, g)  # matmul g = c @ a + b  f64[5,4]@[4,3]
        n = ws[1]
        K0(g.reshape((15,)), d.reshape((15,)), n.reshape((15,)))
        o = np.empty((4, 3), np.float64)
        M1(c, n, None, o)  # matmul o = c.T @ n  f64[5,4]@[5,3]
        res = [o]
        buffers.give(ws)
        return res
    except Exception as exc:
        raise compile_error(exc) from exc

# kernels
import math

import numpy as np
from numba import njit

from jitgrad.backend.vmath import tanh_f64

# K0: h = tanh g; i = sub h d; j = mul 2.0 i; k = mul 0.06666666666666667 j; \
l = mul h h; m = sub 1.0 l; n = mul k m   loop (15,)
@njit(cache=True, nogil=True, error_model="numpy", fastmath={"contract"})
def K0(G, D, N):
    n0 = N.shape[0]
    for i0 in range(n0):
        g = G[i0]
        h = tanh_f64(g)  # tanh
        d = D[i0]
        i = h - d  # sub
        j = 2.0 * i  # mul
        k = 0.06666666666666667 * j  # mul
        l = h * h  # mul
        m = 1.0 - l  # sub
        n = k * m  # mul
        N[i0] = n
'''


def test_mlp_gradient_golden():
    """The README's MLP gradient as show_kernels prints it (before: the caller's x0/t0, the
    kernel's in0/out0 and v2..v11 with gaps, the module preamble with its salt per kernel)."""
    W, b, X, y = np.ones((4, 3)), np.ones(3), np.ones((5, 4)), np.ones((5, 3))
    assert jg.show_kernels(jg.grad(loss))(W, b, X, y) == MLP_GRAD


def test_kernels_shared_whatever_the_names():
    """Programs whose IR names differ (an unused first argument shifts them) compile the same
    kernel module (one cache entry); only what is displayed is named after the IR."""
    x, y = np.ones(6), np.ones(6)
    f = jg.jit(lambda x, y: jnp.sin(x) * y).lower(x, y)
    g = jg.jit(lambda w, x, y: jnp.sin(x) * y).lower(x, x, y)
    assert f.kernel_sources == g.kernel_sources
    assert cache.load(f.kernel_sources[0]) is cache.load(g.kernel_sources[0])
    assert "def kernel(in0, in1, out0):" in f.kernel_sources[0]
    shown_f, shown_g = f.describe(), g.describe()
    assert "K0(a, b, d)" in shown_f and "def K0(A, B, D):" in shown_f
    assert "        d = c * b  # mul\n        D[i0] = d\n" in shown_f
    assert "K0(b, c, e)" in shown_g and "def K0(B, C, E):" in shown_g
    assert "        e = d * c  # mul\n        E[i0] = e\n" in shown_g


def test_names_taken_by_the_module_get_an_underscore():
    """A variable named like something the kernel's module uses gets a trailing underscore
    (still valid Python); a loaded scalar is named after the value it is at the loop position
    (the slices), not after the array it is read from."""
    lowered = jg.jit(lambda x: jnp.exp(x[1:] - x[:-1])).lower(np.arange(8.0))
    (k,) = [s for s in lowered.steps if isinstance(s, LoopKernel)]
    ((_, body),) = lowered.kernels
    names = var_names(lowered.ir)
    assert sorted(names.values()) == ["a", "b", "c", "d", "e"]
    renamed = {"a": "np", "b": "if", "c": "min", "e": "range"}
    names = {v: renamed.get(n, n) for v, n in names.items()}
    shown = display_kernel(k, body, "K3", names)
    compile(shown, "<shown>", "exec")
    assert shown.endswith('''
def K3(NP, RANGE):
    n0 = RANGE.shape[0]
    for i0 in range(n0):
        if_ = NP[1 + i0]
        min_ = NP[i0]
        d = if_ - min_  # sub
        range_ = exp_f64(d)  # exp
        RANGE[i0] = range_
''')


def test_one_array_passed_as_several_views():
    """Each view of ``a`` the caller passes is a parameter of its own: A, A_1, A_2."""
    text = jg.show_kernels(lambda x: x[0] * x[1] + x[0, 0])(np.ones((2, 3, 4)))
    assert "K0(a[0, :, :, ...], a[1, :, :, ...], a[0, 0, :, ...], j)" in text
    assert "def K0(A, A_1, A_2, J):" in text
    assert "c = A[i0, i1]\n            e = A_1[i0, i1]\n" in text and "i = A_2[i1]" in text


def test_accumulators_and_chunks_are_named_after_their_output():
    """A float32 sum run in chunks: its accumulator, partial sum and chunk function."""
    text = jg.show_kernels(lambda x: jnp.sum(jnp.exp(x)))(np.ones(5000, np.float32))
    assert "        part_c = K0_chunk(A, C, c0, imin(2048, n0 - c0))\n" \
           "        acc_c = acc_c + np.float64(part_c)\n" in text
    assert "def K0_chunk(A, C, c0, m0):" in text and "part_c = radd(part_c, b)" in text


def test_no_op_stop_gradient_costs_no_copy_kernel():
    """A stop_gradient of a reshape feeding a matmul is no kernel in the displayed plan."""
    x, w = np.ones((4, 4)), np.ones((8, 3))
    text = jg.show_kernels(lambda x, w: jnp.stop_gradient(x.reshape(2, 8)) @ w)(x, w)
    assert "# kernels" not in text and "# K0" not in text
