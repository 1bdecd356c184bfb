"""jitgrad.scipy.signal: scipy.signal's convolve, correlate, convolve2d and correlate2d (and
autograd's convolve over chosen axes with contracted ones), on the convolution primitive:
differentiable in both modes, batched by vmap, compiled under jit."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

import jitgrad.numpy as jnp
from jitgrad.core import aval_of as _aval_of
from jitgrad.errors import ShapeError
from jitgrad.numpy._contract import conv_operands as _as_computed
from jitgrad.numpy._contract import conv_result as _as_result
from jitgrad.numpy._contract import same_pads as _same_pads
from jitgrad.prims.conv import ConvDimensionNumbers as _Dn
from jitgrad.windowed import conv_general_dilated as _conv

__all__ = ["convolve", "convolve2d", "correlate", "correlate2d"]

_MODES = ("full", "valid", "same")


def _check(mode: str, method: str = "auto") -> None:
    if mode not in _MODES:
        raise ValueError(f"Acceptable mode flags are 'valid', 'same', or 'full', got {mode!r}")
    if method not in ("auto", "direct", "fft"):
        raise ValueError(f"Acceptable method flags are 'auto', 'direct', or 'fft', got "
                         f"{method!r}")


def _tensor_convolve(a: Any, b: Any, a_conv: Sequence[int], b_conv: Sequence[int],
                     a_dot: Sequence[int], b_dot: Sequence[int], mode: str, name: str) -> Any:
    """The true convolution of ``a`` and ``b`` over the paired axes ``a_conv``/``b_conv``,
    contracting ``a_dot`` with ``b_dot``; result axes: a's other axes, b's other axes, then
    the convolved ones. One conv_general_dilated: a's other axes are its batch, b's its output
    features, the contracted ones its input features, and b is flipped."""
    sa, sb = _aval_of(a).shape, _aval_of(b).shape
    a_rest = [i for i in range(len(sa)) if i not in a_conv and i not in a_dot]
    b_rest = [i for i in range(len(sb)) if i not in b_conv and i not in b_dot]
    na = [sa[i] for i in a_conv]
    nb = [sb[i] for i in b_conv]
    if [sa[i] for i in a_dot] != [sb[i] for i in b_dot] or len(na) != len(nb):
        raise ShapeError(f"{name}: contracted axes {tuple(a_dot)} and {tuple(b_dot)} of shapes "
                         f"{sa} and {sb} differ in size, or the convolved axes {tuple(a_conv)} "
                         f"and {tuple(b_conv)} in number")
    if not (math.prod(na) and math.prod(nb)) or 0 in [sa[i] for i in a_dot]:
        raise ShapeError(f"{name}: cannot convolve empty arrays (shapes {sa} and {sb})")

    def arrange(x: Any, rest: list[int], dot: Sequence[int], conv: Sequence[int],
                shape: tuple[int, ...], flip: bool) -> Any:
        x = jnp.transpose(x, rest + list(dot) + list(conv))
        x = jnp.reshape(x, (math.prod(shape[i] for i in rest),
                            math.prod(shape[i] for i in dot)) + tuple(shape[i] for i in conv))
        return jnp.flip(x, tuple(range(2, 2 + len(conv)))) if flip else x

    a_big = all(p >= q for p, q in zip(na, nb, strict=True))
    b_big = all(q >= p for p, q in zip(na, nb, strict=True))
    if mode == "valid" and not (a_big or b_big):
        raise ValueError(f"{name}: for 'valid' mode, one must be at least as large as the "
                         f"other in every dimension (got {tuple(na)} and {tuple(nb)})")
    nsp = len(na)
    iota = tuple(range(nsp + 2))
    # Convolution commutes: outside 'same' the larger operand is the one the windows cross.
    if mode != "same" and not a_big:
        lhs, rhs = arrange(b, b_rest, b_dot, b_conv, sb, False), \
            arrange(a, a_rest, a_dot, a_conv, sa, True)
        dn, kernel = _Dn(iota, iota, (1, 0) + iota[2:]), na
    else:
        lhs, rhs = arrange(a, a_rest, a_dot, a_conv, sa, False), \
            arrange(b, b_rest, b_dot, b_conv, sb, True)
        dn, kernel = _Dn(iota, iota, iota), nb
    pads = [(0, 0) if mode == "valid" else (k - 1, k - 1) if mode == "full" else _same_pads(k)
            for k in kernel]
    out = _conv(lhs, rhs, (1,) * nsp, pads, dimension_numbers=dn)
    return jnp.reshape(out, tuple(sa[i] for i in a_rest) + tuple(sb[i] for i in b_rest) +
                       _aval_of(out).shape[2:])


def convolve(in1: Any, in2: Any, mode: str = "full", method: str = "auto", *,
             axes: Any = None, dot_axes: Any = ((), ())) -> Any:
    """``scipy.signal.convolve``: the n-dimensional convolution of ``in1`` and ``in2``
    (``in2`` flipped), ``mode`` 'full' (every overlap), 'valid' (complete overlaps: the
    larger operand's size minus the smaller's plus one) or 'same' (``in1``'s size, centred as
    scipy centres it). ``method`` is accepted; every method computes directly (NB: results
    equal scipy's 'direct' ones; its 'fft' ones differ in rounding).

    With ``axes=(a_axes, b_axes)`` it is autograd's ``autograd.scipy.signal.convolve``:
    only those axes are convolved (paired in order), ``dot_axes=(a_axes, b_axes)`` are
    summed over, and the result's axes are ``in1``'s other axes, then ``in2``'s, then the
    convolved ones.

    >>> convolve(np.array([1.0, 2.0, 3.0]), np.array([0.0, 1.0, 0.5]))
    array([0. , 1. , 2.5, 4. , 1.5])
    >>> convolve(np.ones((2, 3)), np.ones((2, 2)), axes=([1], [1]), dot_axes=([], []))
    array([[[1., 2., 2., 1.],
            [1., 2., 2., 1.]],
    <BLANKLINE>
           [[1., 2., 2., 1.],
            [1., 2., 2., 1.]]])
    """
    if not isinstance(mode, str):
        raise ValueError(f"convolve: mode must be 'full', 'valid' or 'same', got {mode!r}; "
                         f"pass autograd's axes and dot_axes as keywords")
    _check(mode, method)
    a, b, dtype = _as_computed(in1, in2)
    sa, sb = _aval_of(a).shape, _aval_of(b).shape
    if axes is None:
        if len(sa) != len(sb):
            raise ValueError(f"convolve: in1 and in2 should have the same dimensionality, got "
                             f"shapes {sa} and {sb}")
        axes = (range(len(sa)), range(len(sb)))
    a_conv = [int(i) % max(len(sa), 1) for i in axes[0]]
    b_conv = [int(i) % max(len(sb), 1) for i in axes[1]]
    a_dot = [int(i) % max(len(sa), 1) for i in dot_axes[0]]
    b_dot = [int(i) % max(len(sb), 1) for i in dot_axes[1]]
    if not a_conv and not a_dot and not b_dot and len(sa) == len(sb) == 0:
        return _as_result(a * b, dtype)
    return _as_result(_tensor_convolve(a, b, a_conv, b_conv, a_dot, b_dot, mode, "convolve"),
                      dtype)


def correlate(in1: Any, in2: Any, mode: str = "full", method: str = "auto") -> Any:
    """``scipy.signal.correlate``: ``convolve(in1, in2 flipped)``, i.e. ``in2`` slides over
    ``in1`` unflipped (the output lag runs from ``-(len(in2) - 1)`` in 'full' mode).

    >>> correlate(np.array([1.0, 2.0, 3.0]), np.array([0.0, 1.0, 0.5]), "same")
    array([2. , 3.5, 3. ])
    """
    _check(mode, method)
    in2 = jnp.asarray(in2)
    return convolve(in1, jnp.flip(in2) if jnp.ndim(in2) else in2, mode, method)


def _extend(x: Any, pads: list[tuple[int, int]], boundary: str, fillvalue: Any) -> Any:
    if boundary == "fill":
        return jnp.pad(x, pads, constant_values=fillvalue)
    return jnp.pad(x, pads, mode="wrap" if boundary == "wrap" else "symmetric")


def convolve2d(in1: Any, in2: Any, mode: str = "full", boundary: str = "fill",
               fillvalue: Any = 0) -> Any:
    """``scipy.signal.convolve2d``: the 2-d convolution, ``in1`` extended beyond its edges
    by ``boundary`` 'fill' (with ``fillvalue``), 'wrap' (periodic) or 'symm' (mirrored,
    edge repeated).

    >>> convolve2d(np.eye(3), np.array([[1.0, 2.0]]), mode="same", boundary="wrap")
    array([[1., 2., 0.],
           [0., 1., 2.],
           [2., 0., 1.]])
    """
    return _filter2d("convolve2d", in1, in2, mode, boundary, fillvalue, flip=False)


def correlate2d(in1: Any, in2: Any, mode: str = "full", boundary: str = "fill",
                fillvalue: Any = 0) -> Any:
    """``scipy.signal.correlate2d``: ``convolve2d`` with ``in2`` flipped on both axes.

    >>> correlate2d(np.eye(2), np.array([[1.0, 2.0]]))
    array([[2., 1., 0.],
           [0., 2., 1.]])
    """
    return _filter2d("correlate2d", in1, in2, mode, boundary, fillvalue, flip=True)


def _filter2d(name: str, in1: Any, in2: Any, mode: str, boundary: str, fillvalue: Any,
              flip: bool) -> Any:
    _check(mode)
    boundaries = {"fill": "fill", "pad": "fill", "wrap": "wrap", "circular": "wrap",
                  "symm": "symm", "symmetric": "symm"}
    if boundary not in boundaries:
        raise ValueError(f"{name}: acceptable boundary flags are 'fill', 'wrap' and 'symm', "
                         f"got {boundary!r}")
    boundary = boundaries[boundary]
    a, b, dtype = _as_computed(in1, in2)
    if jnp.ndim(a) != 2 or jnp.ndim(b) != 2:
        raise ValueError(f"{name}: in1 and in2 should be 2-D arrays, got shapes "
                         f"{_aval_of(a).shape} and {_aval_of(b).shape}")
    if flip:
        b = jnp.flip(b)
    if mode != "valid":
        # The extension happens here; the convolution then sees only complete overlaps. NB
        # (as scipy): correlate2d centres 'same' by the kernel's other half for even sizes.
        pads = [(q - 1, q - 1) if mode == "full" else _same_pads(q)[::-1 if flip else 1]
                for q in _aval_of(b).shape]
        a = _extend(a, pads, boundary, jnp.astype(jnp.asarray(fillvalue), jnp.result_type(a)))
    return _as_result(_tensor_convolve(a, b, [0, 1], [0, 1], [], [], "valid", name), dtype)
