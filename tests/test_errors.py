"""Bad input gets a clear jitgrad error at trace time, naming the op, the shapes and the fix,
and pointing at the user's line."""

import numpy as np
import pytest

import jitgrad as jg
import jitgrad.numpy as jnp


def test_incompatible_shapes_names_both_shapes_and_user_line():
    def f(x, b):
        return jnp.sum(x + b)  # the line the error must point at

    with pytest.raises(jg.ShapeError) as e:
        jg.grad(f)(np.ones((3, 4)), np.ones(3))
    msg = str(e.value)
    assert "add" in msg and "(3, 4)" in msg and "(3,)" in msg
    assert "test_errors.py" in msg  # the user's file, not jitgrad internals
    assert isinstance(e.value, ValueError)


def test_matmul_shape_error():
    with pytest.raises(jg.ShapeError, match=r"matmul.*\(2, 3\).*\(4, 5\)"):
        jg.grad(lambda a, b: jnp.sum(a @ b))(np.ones((2, 3)), np.ones((4, 5)))


def test_grad_of_integer_input_is_type_error():
    with pytest.raises(TypeError, match="int64"):
        jg.grad(lambda x: jnp.sum(x * 2.0))(np.arange(3))


def test_grad_of_non_scalar_output_names_shape():
    with pytest.raises(TypeError, match=r"f64\[3\]"):
        jg.grad(lambda x: x * 2)(np.ones(3))


@pytest.mark.parametrize("transform", [jg.jit, jg.make_ir, jg.vmap,
                                       lambda f: jg.jit(jg.grad(f))])
@pytest.mark.parametrize("use", [
    lambda x: 1.0 if x > 0 else 2.0,
    lambda x: float(x),
    lambda x: bool(jnp.sum(x)),
    lambda x: int(x),
    lambda x: x.item(),
])
def test_python_control_flow_on_traced_value_under_jit_suggests_where(use, transform):
    # (Outside jit, transformations carry concrete values and this works: tests/test_eager.py.)
    with pytest.raises(jg.TracerError, match="jnp.where") as e:
        transform(lambda x: jnp.sum(x) * use(jnp.sum(x)))(np.ones(2))
    assert "test_errors.py" in str(e.value)


def test_numpy_conversion_of_traced_value():
    with pytest.raises(jg.TracerError, match="jitgrad.numpy"):
        jg.grad(lambda x: np.asarray(x).sum())(np.ones(2))


def test_unsupported_numpy_function_is_named():
    with pytest.raises(AttributeError, match="fft"):
        jnp.fft  # noqa: B018
    with pytest.raises(jg.UnsupportedError, match="numpy.fft"):
        jg.grad(lambda x: jnp.sum(np.fft.fft(x)))(np.ones(3))
    with pytest.raises(jg.UnsupportedError, match="numpy.isnat"):
        jg.grad(lambda x: jnp.sum(np.isnat(x)))(np.ones(3))


def test_numpy_functions_on_traced_values_dispatch_to_jitgrad():
    g = jg.grad(lambda x: np.sum(np.sin(x) * x))(np.array([0.5, 1.0]))
    x = np.array([0.5, 1.0])
    np.testing.assert_allclose(g, np.cos(x) * x + np.sin(x))
    np.testing.assert_allclose(jg.grad(lambda x: np.linalg.norm(x))(x), x / np.linalg.norm(x))
    np.testing.assert_allclose(jg.grad(lambda x: np.linalg.det(x))(2 * np.eye(2)), 2 * np.eye(2))
    with pytest.raises(jg.UnsupportedError, match="numpy.linalg.eig"):
        jg.grad(lambda x: np.sum(np.linalg.eig(x)[0]))(np.eye(2))


def test_leaked_tracer():
    saved = []

    def f(x):
        saved.append(x)
        return jnp.sum(x)

    jg.grad(f)(np.ones(2))
    with pytest.raises(jg.TracerError, match="escaped"):
        jnp.sin(saved[0]) + 1


def test_has_aux_requires_pair():
    with pytest.raises(TypeError, match="pair"):
        jg.grad(lambda x: jnp.sum(x), has_aux=True)(np.ones(2))


def test_vjp_cotangent_shape_mismatch():
    _, f_vjp = jg.vjp(jnp.sin, np.ones(3))
    with pytest.raises(TypeError, match=r"\(2,\)"):
        f_vjp(np.ones(2))


def test_jvp_tangent_dtype_mismatch():
    with pytest.raises(TypeError, match="tangent"):
        jg.jvp(jnp.sin, (np.ones(3),), (np.ones(3, np.float32),))


def test_index_out_of_bounds():
    with pytest.raises(IndexError, match="out of bounds"):
        jg.grad(lambda x: x[5])(np.ones(3))
    with pytest.raises(IndexError, match="out of bounds"):
        jg.grad(lambda x: jnp.sum(x[np.array([0, 3])]))(np.ones(3))


def test_reshape_error():
    with pytest.raises(jg.ShapeError, match=r"\(2, 3\).*\(4,\)"):
        jg.grad(lambda x: jnp.sum(x.reshape(4)))(np.ones((2, 3)))


@pytest.mark.parametrize("op", [
    lambda x: jnp.cumsum(x, axis=(0, 1)),
    lambda x: jnp.argmax(x, axis=(0, 1)),
    lambda x: jnp.take(x, np.array([0]), axis=(0, 1)),
    lambda x: jnp.swapaxes(x, (0,), 1),
    lambda x: jnp.concatenate([x, x], axis=(0,)),
    lambda x: jnp.sort(x, axis=(0, 1)),
])
def test_tuple_axis_to_a_single_axis_function_is_type_error(op):
    # These took numpy's TypeError eagerly but raised a raw unpacking ValueError when traced.
    with pytest.raises(jg.JitgradTypeError, match="axis must be a single integer"):
        jg.make_ir(op)(np.ones((2, 3)))
