"""Everything a user ships to another process pickles, with ``pickle`` (functions defined in
an importable module) and ``cloudpickle`` (what Dask uses for functions of ``__main__``, and
for lambdas and local functions): jit-ed functions (as their function and static
configuration, never their compiled state), transformed functions, custom-derivative
functions, registered pytrees, random keys and IR objects (fresh Var ids, primitives as the
registered singletons)."""

import pickle

import cloudpickle
import numpy as np
import pytest

import jitgrad as jg
import jitgrad.numpy as jnp
import jitgrad.random as jr
from jitgrad.core import IR, REGISTRY, Var, eval_ir, sub_irs
from jitgrad.tree_util import register_pytree_node_class, tree_flatten, tree_unflatten

PICKLERS = [pytest.param(pickle, id="pickle"), pytest.param(cloudpickle, id="cloudpickle")]

W = np.array([0.5, -1.0, 2.0])
X = np.array([[1.0, 2.0, 3.0], [-1.0, 0.5, 0.25]])


def loss(w, x):
    return jnp.sum(jnp.tanh(x @ w) ** 2)


@jg.jit
def jitted_loss(w, x):
    return loss(w, x)


def scale(x, n):
    return x * n


@jg.custom_vjp
def clip_gradient(x):
    return x


def _clip_fwd(x):
    return x, None


def _clip_bwd(_, g):
    return (jnp.clip(g, -1.0, 1.0),)


clip_gradient.defvjp(_clip_fwd, _clip_bwd)


@jg.custom_jvp
def softplus(x):
    return jnp.log1p(jnp.exp(x))


@softplus.defjvp
def _softplus_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return softplus(x), t * jg.nn.sigmoid(x)


@register_pytree_node_class
class Params:
    def __init__(self, w, b):
        self.w, self.b = w, b

    def tree_flatten(self):
        return (self.w, self.b), "params"

    @classmethod
    def tree_unflatten(cls, aux, children):
        return cls(*children)


def roundtrip(mod, obj):
    return mod.loads(mod.dumps(obj))


def assert_same(a, b):
    la, ta = tree_flatten(a)
    lb, tb = tree_flatten(b)
    assert ta == tb
    for x, y in zip(la, lb, strict=True):
        np.testing.assert_array_equal(x, y)
        assert np.asarray(x).dtype == np.asarray(y).dtype


# ---------------------------------------------------------------------------------------------
# jit


@pytest.mark.parametrize("mod", PICKLERS)
def test_jitted_pickles_without_compiled_state(mod):
    expected = jitted_loss(W, X)  # compiled here: none of that travels
    assert jitted_loss.trace_count >= 1
    copy = roundtrip(mod, jitted_loss)
    # a module-level @jit function is saved by name: the copy is the same object here, as
    # it would be the module's own object in another process
    assert copy is jitted_loss
    fresh = roundtrip(mod, jg.jit(loss))
    assert isinstance(fresh, type(jitted_loss)) and fresh.f is loss
    assert fresh.trace_count == 0 and not fresh._entries and not fresh._irs
    assert_same(fresh(W, X), expected)
    assert len(mod.dumps(jg.jit(loss))) == len(mod.dumps(fresh))  # calling it added nothing


@pytest.mark.parametrize("mod", PICKLERS)
def test_jitted_keeps_static_argnums(mod):
    f = jg.jit(scale, static_argnums=1)
    copy = roundtrip(mod, f)
    assert copy.static_argnums == (1,)
    assert_same(copy(X, 3), scale(X, 3))
    assert copy.trace_count == 1
    copy(X, 3)
    assert copy.trace_count == 1  # static 3 is part of the key, as before pickling


def test_cloudpickle_ships_lambdas_by_value():
    f = jg.jit(jg.value_and_grad(lambda w, x: loss(w, x)))  # loss's kernels: compiled once
    copy = cloudpickle.loads(cloudpickle.dumps(f))
    assert_same(copy(W, X), f(W, X))
    with pytest.raises((pickle.PicklingError, AttributeError)):
        pickle.dumps(f)  # a lambda has no importable name: pickle refuses, never mis-saves


# ---------------------------------------------------------------------------------------------
# transformations


TRANSFORMS = [
    pytest.param(lambda: jg.grad(loss), id="grad"),
    pytest.param(lambda: jg.grad(loss, argnums=(0, 1)), id="grad-argnums"),
    pytest.param(lambda: jg.value_and_grad(loss), id="value_and_grad"),
    pytest.param(lambda: jg.jit(jg.value_and_grad(loss)), id="jit-value_and_grad"),
    pytest.param(lambda: jg.value_and_grad(jitted_loss), id="value_and_grad-jit"),
    pytest.param(lambda: jg.vmap(jg.grad(loss), in_axes=(None, 0)), id="vmap-grad"),
]


@pytest.mark.parametrize("mod", PICKLERS)
@pytest.mark.parametrize("make", TRANSFORMS)
def test_transformed_functions_pickle(make, mod):
    f = make()
    copy = roundtrip(mod, f)
    assert type(copy) is type(f) and copy.__name__ == f.__name__
    assert_same(copy(W, X), f(W, X))


@pytest.mark.parametrize("mod", PICKLERS)
def test_vjp_function_pickles(mod):
    out, pullback = jg.vjp(loss, W, X)
    if mod is pickle:  # a pullback is a closure over its residuals: cloudpickle ships it
        with pytest.raises((pickle.PicklingError, AttributeError)):
            pickle.dumps(pullback)
        return
    assert_same(roundtrip(mod, pullback)(np.float64(1.0)), pullback(np.float64(1.0)))


# ---------------------------------------------------------------------------------------------
# custom derivatives


@pytest.mark.parametrize("mod", PICKLERS)
def test_custom_vjp_pickles(mod):
    assert roundtrip(mod, clip_gradient) is clip_gradient  # module-level: by name
    f = jg.custom_vjp(lambda x: x * 1.0)  # no name: rebuilt from its parts
    f.defvjp(_clip_fwd, _clip_bwd)
    if mod is pickle:
        with pytest.raises((pickle.PicklingError, AttributeError)):
            pickle.dumps(f)
        f = jg.custom_vjp(scale_by_one)
        f.defvjp(_clip_fwd, _clip_bwd)
    copy = roundtrip(mod, f)
    assert (copy.fwd, copy.bwd) == (_clip_fwd, _clip_bwd)
    g = jg.grad(lambda x: 5.0 * copy(x))
    assert_same(g(2.0), np.asarray(1.0))
    assert_same(jg.jit(g)(2.0), np.asarray(1.0))


def scale_by_one(x):
    return x * 1.0


@pytest.mark.parametrize("mod", PICKLERS)
def test_custom_jvp_pickles(mod):
    assert roundtrip(mod, softplus) is softplus
    f = jg.custom_jvp(scale_by_one)
    f.defjvp(_softplus_jvp)
    copy = roundtrip(mod, f)
    assert copy.jvp is _softplus_jvp and copy.fun is scale_by_one
    # the rule (sigmoid), not the function's own derivative (1.0), is what differentiates
    assert_same(jg.grad(copy)(0.0), np.asarray(0.5))
    np.testing.assert_allclose(jg.grad(copy)(3.0), 1 / (1 + np.exp(-3.0)), rtol=1e-15)


# ---------------------------------------------------------------------------------------------
# pytrees, random keys


@pytest.mark.parametrize("mod", PICKLERS)
def test_registered_pytrees_pickle(mod):
    tree = {"layer": Params(W, np.float32(1.5)), "extra": [X, (None, 3)]}
    copy = roundtrip(mod, tree)
    assert_same(copy, tree)
    leaves, treedef = tree_flatten(tree)
    treedef_copy = roundtrip(mod, treedef)
    assert treedef_copy == treedef and hash(treedef_copy) == hash(treedef)
    assert_same(tree_unflatten(treedef_copy, leaves), tree)
    grads = jg.grad(lambda p: jnp.sum(p.w * p.b))(roundtrip(mod, Params(W, 2.0)))
    assert isinstance(grads, Params)
    assert_same(grads.w, np.full(3, 2.0))


@pytest.mark.parametrize("mod", PICKLERS)
def test_random_keys_pickle(mod):
    key = jr.split(jr.PRNGKey(7))[1]
    copy = roundtrip(mod, key)
    assert_same(copy, key)
    assert_same(jr.split(copy), jr.split(key))


# ---------------------------------------------------------------------------------------------
# IR


def all_vars(ir):
    out = list(ir.constvars) + list(ir.invars)
    for eqn in ir.eqns:
        out += [x for x in eqn.inputs if isinstance(x, Var)] + list(eqn.outputs)
        for sub in sub_irs(eqn):
            out += all_vars(sub)
    return out


def prims(ir):
    return [p for e in ir.eqns for p in [e.prim, *(q for s in sub_irs(e) for q in prims(s))]]


def program(w, x):
    # a jit sub-program, a custom_jvp (its params hold the user's rule) and a custom_vjp
    h = jg.jit(lambda v: softplus(v) * 2.0)(x @ w)
    return jnp.sum(clip_gradient(h) * h)


@pytest.mark.parametrize("mod", PICKLERS)
def test_ir_pickles(mod):
    ir = jg.make_ir(jg.value_and_grad(program))(W, X)
    jg.value_and_grad(program)(W, X)
    copy = roundtrip(mod, ir)
    assert isinstance(copy, IR)
    assert str(copy) == str(ir)
    assert all(p is REGISTRY[p.name] for p in prims(copy))
    assert [p.name for p in prims(copy)] == [p.name for p in prims(ir)]
    # unpickled Vars are new Vars with fresh ids (passes key on ids), shared as before
    old, new = all_vars(ir), all_vars(copy)
    assert len({id(v) for v in new}) == len({id(v) for v in old})
    assert not {v.id for v in new} & {v.id for v in old}
    assert min(v.id for v in new) > max(v.id for v in old)
    assert_same(eval_ir(copy, W, X), eval_ir(ir, W, X))


def test_ir_leaves_derived_state_behind():
    f = jg.jit(loss)
    jg.grad(f)(W, X)  # eager grad(jit): derives programs on the sub-IR
    (sub, _, _), = f._irs.values()
    assert "_derived" in vars(sub)
    copy = pickle.loads(pickle.dumps(sub))
    assert "_derived" not in vars(copy)
    assert_same(eval_ir(copy, W, X), eval_ir(sub, W, X))


def test_unknown_primitive_is_a_clear_error():
    ir = jg.make_ir(jnp.sin)(W)
    blob = pickle.dumps(ir).replace(b"\x03sin", b"\x03nis")  # a primitive this jitgrad lacks
    with pytest.raises(jg.UnsupportedError, match="no primitive 'nis'"):
        pickle.loads(blob)
