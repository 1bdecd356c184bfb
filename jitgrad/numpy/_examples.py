"""Runnable examples for the docstrings of jitgrad.numpy's functions: each runs the function
compiled by ``jitgrad.jit`` and shows numpy's own result for the same call (the doctests check
that the two agree)."""

from __future__ import annotations

import textwrap
from typing import Any

_EXAMPLES = {
    'exp': (
        'jnp.exp',
        'np.array([0.5, 0.25])',
        'array([1.64872127, 1.28402542])'),
    'log': (
        'jnp.log',
        'np.array([0.5, 0.25])',
        'array([-0.69314718, -1.38629436])'),
    'sin': (
        'jnp.sin',
        'np.array([0.5, 0.25])',
        'array([0.47942554, 0.24740396])'),
    'cos': (
        'jnp.cos',
        'np.array([0.5, 0.25])',
        'array([0.87758256, 0.96891242])'),
    'tan': (
        'jnp.tan',
        'np.array([0.5, 0.25])',
        'array([0.54630249, 0.25534192])'),
    'tanh': (
        'jnp.tanh',
        'np.array([0.5, 0.25])',
        'array([0.46211716, 0.24491866])'),
    'sqrt': (
        'jnp.sqrt',
        'np.array([0.5, 0.25])',
        'array([0.70710678, 0.5       ])'),
    'log1p': (
        'jnp.log1p',
        'np.array([0.5, 0.25])',
        'array([0.40546511, 0.22314355])'),
    'expm1': (
        'jnp.expm1',
        'np.array([0.5, 0.25])',
        'array([0.64872127, 0.28402542])'),
    'negative': (
        'jnp.negative',
        'np.array([0.5, 0.25])',
        'array([-0.5 , -0.25])'),
    'abs': (
        'jnp.abs',
        'np.array([0.5, 0.25])',
        'array([0.5 , 0.25])'),
    'absolute': (
        'jnp.absolute',
        'np.array([0.5, 0.25])',
        'array([0.5 , 0.25])'),
    'sign': (
        'jnp.sign',
        'np.array([0.5, 0.25])',
        'array([1., 1.])'),
    'arcsin': (
        'jnp.arcsin',
        'np.array([0.5, 0.25])',
        'array([0.52359878, 0.25268026])'),
    'arccos': (
        'jnp.arccos',
        'np.array([0.5, 0.25])',
        'array([1.04719755, 1.31811607])'),
    'arctan': (
        'jnp.arctan',
        'np.array([0.5, 0.25])',
        'array([0.46364761, 0.24497866])'),
    'arcsinh': (
        'jnp.arcsinh',
        'np.array([0.5, 0.25])',
        'array([0.48121183, 0.24746646])'),
    'arctanh': (
        'jnp.arctanh',
        'np.array([0.5, 0.25])',
        'array([0.54930614, 0.25541281])'),
    'floor': (
        'jnp.floor',
        'np.array([0.5, 0.25])',
        'array([0., 0.])'),
    'ceil': (
        'jnp.ceil',
        'np.array([0.5, 0.25])',
        'array([1., 1.])'),
    'rint': (
        'jnp.rint',
        'np.array([0.5, 0.25])',
        'array([0., 0.])'),
    'round': (
        'jnp.round',
        'np.array([0.5, 0.25])',
        'array([0., 0.])'),
    'around': (
        'jnp.around',
        'np.array([0.5, 0.25])',
        'array([0., 0.])'),
    'square': (
        'jnp.square',
        'np.array([0.5, 0.25])',
        'array([0.25  , 0.0625])'),
    'reciprocal': (
        'jnp.reciprocal',
        'np.array([0.5, 0.25])',
        'array([2., 4.])'),
    'log2': (
        'jnp.log2',
        'np.array([0.5, 0.25])',
        'array([-1., -2.])'),
    'log10': (
        'jnp.log10',
        'np.array([0.5, 0.25])',
        'array([-0.30103   , -0.60205999])'),
    'exp2': (
        'jnp.exp2',
        'np.array([0.5, 0.25])',
        'array([1.41421356, 1.18920712])'),
    'sinh': (
        'jnp.sinh',
        'np.array([0.5, 0.25])',
        'array([0.52109531, 0.25261232])'),
    'cosh': (
        'jnp.cosh',
        'np.array([0.5, 0.25])',
        'array([1.12762597, 1.0314131 ])'),
    'isnan': (
        'jnp.isnan',
        'np.array([0.5, 0.25])',
        'array([False, False])'),
    'isinf': (
        'jnp.isinf',
        'np.array([0.5, 0.25])',
        'array([False, False])'),
    'isfinite': (
        'jnp.isfinite',
        'np.array([0.5, 0.25])',
        'array([ True,  True])'),
    'logical_not': (
        'jnp.logical_not',
        'np.array([0.5, 0.25])',
        'array([False, False])'),
    'stop_gradient': (
        'jnp.stop_gradient',
        'np.array([0.5, 0.25])',
        'array([0.5 , 0.25])'),
    'ravel': (
        'jnp.ravel',
        'np.array([0.5, 0.25])',
        'array([0.5 , 0.25])'),
    'zeros_like': (
        'jnp.zeros_like',
        'np.array([0.5, 0.25])',
        'array([0., 0.])'),
    'ones_like': (
        'jnp.ones_like',
        'np.array([0.5, 0.25])',
        'array([1., 1.])'),
    'arccosh': (
        'jnp.arccosh',
        'np.array([1.5, 2.0])',
        'array([0.96242365, 1.3169579 ])'),
    'add': (
        'jnp.add',
        'np.array([0.5, 0.25]), np.array([1.5, 0.75])',
        'array([2., 1.])'),
    'subtract': (
        'jnp.subtract',
        'np.array([0.5, 0.25]), np.array([1.5, 0.75])',
        'array([-1. , -0.5])'),
    'multiply': (
        'jnp.multiply',
        'np.array([0.5, 0.25]), np.array([1.5, 0.75])',
        'array([0.75  , 0.1875])'),
    'divide': (
        'jnp.divide',
        'np.array([0.5, 0.25]), np.array([1.5, 0.75])',
        'array([0.33333333, 0.33333333])'),
    'true_divide': (
        'jnp.true_divide',
        'np.array([0.5, 0.25]), np.array([1.5, 0.75])',
        'array([0.33333333, 0.33333333])'),
    'maximum': (
        'jnp.maximum',
        'np.array([0.5, 0.25]), np.array([1.5, 0.75])',
        'array([1.5 , 0.75])'),
    'minimum': (
        'jnp.minimum',
        'np.array([0.5, 0.25]), np.array([1.5, 0.75])',
        'array([0.5 , 0.25])'),
    'less': (
        'jnp.less',
        'np.array([0.5, 0.25]), np.array([1.5, 0.75])',
        'array([ True,  True])'),
    'less_equal': (
        'jnp.less_equal',
        'np.array([0.5, 0.25]), np.array([1.5, 0.75])',
        'array([ True,  True])'),
    'greater': (
        'jnp.greater',
        'np.array([0.5, 0.25]), np.array([1.5, 0.75])',
        'array([False, False])'),
    'greater_equal': (
        'jnp.greater_equal',
        'np.array([0.5, 0.25]), np.array([1.5, 0.75])',
        'array([False, False])'),
    'equal': (
        'jnp.equal',
        'np.array([0.5, 0.25]), np.array([1.5, 0.75])',
        'array([False, False])'),
    'not_equal': (
        'jnp.not_equal',
        'np.array([0.5, 0.25]), np.array([1.5, 0.75])',
        'array([ True,  True])'),
    'power': (
        'jnp.power',
        'np.array([0.5, 0.25]), np.array([1.5, 0.75])',
        'array([0.35355339, 0.35355339])'),
    'arctan2': (
        'jnp.arctan2',
        'np.array([0.5, 0.25]), np.array([1.5, 0.75])',
        'array([0.32175055, 0.32175055])'),
    'mod': (
        'jnp.mod',
        'np.array([0.5, 0.25]), np.array([1.5, 0.75])',
        'array([0.5 , 0.25])'),
    'remainder': (
        'jnp.remainder',
        'np.array([0.5, 0.25]), np.array([1.5, 0.75])',
        'array([0.5 , 0.25])'),
    'floor_divide': (
        'jnp.floor_divide',
        'np.array([7, -7, 7]), np.array([2, 2, 0])',
        'array([ 3, -4,  0])'),
    'fmod': (
        'jnp.fmod',
        'np.array([7, -7, 7]), np.array([2, 2, 0])',
        'array([ 1, -1,  0])'),
    'logical_and': (
        'jnp.logical_and',
        'np.array([0.5, 0.25]), np.array([1.5, 0.75])',
        'array([ True,  True])'),
    'logical_or': (
        'jnp.logical_or',
        'np.array([0.5, 0.25]), np.array([1.5, 0.75])',
        'array([ True,  True])'),
    'dot': (
        'jnp.dot',
        'np.array([0.5, 0.25]), np.array([1.5, 0.75])',
        'array(0.9375)'),
    'vdot': (
        'jnp.vdot',
        'np.array([0.5, 0.25]), np.array([1.5, 0.75])',
        'array(0.9375)'),
    'outer': (
        'jnp.outer',
        'np.array([0.5, 0.25]), np.array([1.5, 0.75])',
        'array([[0.75  , 0.375 ],\n       [0.375 , 0.1875]])'),
    'sum': (
        'lambda x: jnp.sum(x, axis=0)',
        'np.array([[1.0, 2.0], [3.0, 4.0]])',
        'array([4., 6.])'),
    'mean': (
        'lambda x: jnp.mean(x, axis=0)',
        'np.array([[1.0, 2.0], [3.0, 4.0]])',
        'array([2., 3.])'),
    'max': (
        'lambda x: jnp.max(x, axis=0)',
        'np.array([[1.0, 2.0], [3.0, 4.0]])',
        'array([3., 4.])'),
    'amax': (
        'lambda x: jnp.amax(x, axis=0)',
        'np.array([[1.0, 2.0], [3.0, 4.0]])',
        'array([3., 4.])'),
    'min': (
        'lambda x: jnp.min(x, axis=0)',
        'np.array([[1.0, 2.0], [3.0, 4.0]])',
        'array([1., 2.])'),
    'amin': (
        'lambda x: jnp.amin(x, axis=0)',
        'np.array([[1.0, 2.0], [3.0, 4.0]])',
        'array([1., 2.])'),
    'prod': (
        'lambda x: jnp.prod(x, axis=0)',
        'np.array([[1.0, 2.0], [3.0, 4.0]])',
        'array([3., 8.])'),
    'var': (
        'lambda x: jnp.var(x, axis=0)',
        'np.array([[1.0, 2.0], [3.0, 4.0]])',
        'array([1., 1.])'),
    'std': (
        'lambda x: jnp.std(x, axis=0)',
        'np.array([[1.0, 2.0], [3.0, 4.0]])',
        'array([1., 1.])'),
    'argmax': (
        'lambda x: jnp.argmax(x, axis=0)',
        'np.array([[1.0, 2.0], [3.0, 4.0]])',
        'array([1, 1])'),
    'argmin': (
        'lambda x: jnp.argmin(x, axis=0)',
        'np.array([[1.0, 2.0], [3.0, 4.0]])',
        'array([0, 0])'),
    'cumsum': (
        'lambda x: jnp.cumsum(x, axis=0)',
        'np.array([[1.0, 2.0], [3.0, 4.0]])',
        'array([[1., 2.],\n       [4., 6.]])'),
    'matmul': (
        'jnp.matmul',
        'np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[1.0, 2.0], [3.0, 4.0]])',
        'array([[ 7., 10.],\n       [15., 22.]])'),
    'where': (
        'lambda x: jnp.where(x > 2.0, x, -x)',
        'np.array([[1.0, 2.0], [3.0, 4.0]])',
        'array([[-1., -2.],\n       [ 3.,  4.]])'),
    'clip': (
        'lambda x: jnp.clip(x, 1.5, 3.5)',
        'np.array([[1.0, 2.0], [3.0, 4.0]])',
        'array([[1.5, 2. ],\n       [3. , 3.5]])'),
    'reshape': (
        'lambda x: jnp.reshape(x, (4,))',
        'np.array([[1.0, 2.0], [3.0, 4.0]])',
        'array([1., 2., 3., 4.])'),
    'transpose': (
        'jnp.transpose',
        'np.array([[1.0, 2.0], [3.0, 4.0]])',
        'array([[1., 3.],\n       [2., 4.]])'),
    'swapaxes': (
        'lambda x: jnp.swapaxes(x, 0, 1)',
        'np.array([[1.0, 2.0], [3.0, 4.0]])',
        'array([[1., 3.],\n       [2., 4.]])'),
    'moveaxis': (
        'lambda x: jnp.moveaxis(x, 0, -1)',
        'np.array([[1.0, 2.0], [3.0, 4.0]])',
        'array([[1., 3.],\n       [2., 4.]])'),
    'expand_dims': (
        'lambda x: jnp.expand_dims(x, 1)',
        'np.array([0.5, 0.25])',
        'array([[0.5 ],\n       [0.25]])'),
    'squeeze': (
        'lambda x: jnp.squeeze(x[:1])',
        'np.array([[1.0, 2.0], [3.0, 4.0]])',
        'array([1., 2.])'),
    'broadcast_to': (
        'lambda x: jnp.broadcast_to(x, (2, 2))',
        'np.array([0.5, 0.25])',
        'array([[0.5 , 0.25],\n       [0.5 , 0.25]])'),
    'concatenate': (
        'lambda x: jnp.concatenate([x, x * 2])',
        'np.array([0.5, 0.25])',
        'array([0.5 , 0.25, 1.  , 0.5 ])'),
    'stack': (
        'lambda x: jnp.stack([x, x * 2], axis=1)',
        'np.array([0.5, 0.25])',
        'array([[0.5 , 1.  ],\n       [0.25, 0.5 ]])'),
    'split': (
        'lambda x: jnp.split(x, 2)',
        'np.array([[1.0, 2.0], [3.0, 4.0]])',
        '[array([[1., 2.]]), array([[3., 4.]])]'),
    'full_like': (
        'lambda x: jnp.full_like(x, 7.0)',
        'np.array([0.5, 0.25])',
        'array([7., 7.])'),
    'full': (
        'lambda x: jnp.full((2,), x[0])',
        'np.array([0.5, 0.25])',
        'array([0.5, 0.5])'),
    'asarray': (
        'lambda x: jnp.asarray([x[1], x[0]])',
        'np.array([0.5, 0.25])',
        'array([0.25, 0.5 ])'),
    'array': (
        'lambda x: jnp.array([x[1], x[0]])',
        'np.array([0.5, 0.25])',
        'array([0.25, 0.5 ])'),
    'astype': (
        'lambda x: jnp.astype(x, np.float32)',
        'np.array([0.5, 0.25])',
        'array([0.5 , 0.25], dtype=float32)'),
    'getitem': (
        'lambda x: jnp.getitem(x, (slice(None), 1))',
        'np.array([[1.0, 2.0], [3.0, 4.0]])',
        'array([2., 4.])'),
    'concat': (
        'jnp.concat',
        '[np.array([1.0, 2.0]), np.array([3.0])]',
        'array([1., 2., 3.])'),
    'permute_dims': (
        'lambda x: jnp.permute_dims(x, (1, 0))',
        'np.array([[1.0, 2.0]])',
        'array([[1.],\n       [2.]])'),
    'cumulative_sum': (
        'lambda x: jnp.cumulative_sum(x, include_initial=True)',
        'np.array([1.0, 2.0])',
        'array([0., 1., 3.])'),
    'cumulative_prod': (
        'jnp.cumulative_prod',
        'np.array([2.0, 3.0])',
        'array([2., 6.])'),
    'empty_like': (
        'lambda x: jnp.empty_like(x) + 1.0',
        'np.array([0.5, 0.25])',
        'array([1., 1.])'),
    'isneginf': (
        'jnp.isneginf',
        'np.array([-np.inf, np.inf, 0.0])',
        'array([ True, False, False])'),
    'isposinf': (
        'jnp.isposinf',
        'np.array([-np.inf, np.inf, 0.0])',
        'array([False,  True, False])'),
    'nanmax': (
        'jnp.nanmax',
        'np.array([0.5, np.nan, 0.25])',
        'array(0.5)'),
    'nanmin': (
        'jnp.nanmin',
        'np.array([0.5, np.nan, 0.25])',
        'array(0.25)'),
    'nanprod': (
        'jnp.nanprod',
        'np.array([0.5, np.nan, 0.25])',
        'array(0.125)'),
    'nanstd': (
        'jnp.nanstd',
        'np.array([0.5, np.nan, 0.25])',
        'array(0.125)'),
    'nanvar': (
        'jnp.nanvar',
        'np.array([0.5, np.nan, 0.25])',
        'array(0.015625)'),
    'nanargmax': (
        'jnp.nanargmax',
        'np.array([0.5, np.nan, 0.25])',
        'array(0)'),
    'nanargmin': (
        'jnp.nanargmin',
        'np.array([0.5, np.nan, 0.25])',
        'array(2)'),
    'nancumsum': (
        'jnp.nancumsum',
        'np.array([0.5, np.nan, 0.25])',
        'array([0.5 , 0.5 , 0.75])'),
    'nancumprod': (
        'jnp.nancumprod',
        'np.array([0.5, np.nan, 0.25])',
        'array([0.5  , 0.5  , 0.125])'),
    'ptp': (
        'jnp.ptp',
        'np.array([0.5, 2.0, 0.25])',
        'array(1.75)'),
    'cbrt': (
        'jnp.cbrt',
        'np.array([-8.0, 0.125])',
        'array([-2. ,  0.5])'),
}


def attach(namespace: dict[str, Any], examples: dict[str, tuple[str, str, str]] | None = None
           ) -> None:
    """Append each example (of ``examples``, by default this module's) to the docstring of the
    function of that name."""
    for name, (fn, args, expected) in (_EXAMPLES if examples is None else examples).items():
        obj = namespace[name]
        example = (">>> import jitgrad, jitgrad.numpy as jnp\n"
                   f">>> jitgrad.jit({fn})({args})\n{expected}\n")
        obj.__doc__ = f"{(obj.__doc__ or '').rstrip()}\n\n{textwrap.indent(example, '    ')}"
