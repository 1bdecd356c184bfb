"""The differentiable peers (jitgrad, JAX, PyTorch, autograd) behind one small interface."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

GENERIC = ("jitgrad", "jax", "torch", "autograd")
VERSIONED = ("numpy", "numba", "llvmlite", "jax", "jaxlib", "torch", "autograd", "matplotlib")


@dataclass
class Lib:
    """One library's way of writing, differentiating, compiling and running a program."""

    name: str
    np: Any  # its numpy-like namespace
    jit: Callable  # f -> compiled f (identity for eager libraries)
    grad: Callable  # grad(f, argnums) with jax.grad's meaning
    value_and_grad: Callable
    softmax: Callable  # softmax(z, axis)
    log_softmax: Callable
    put: Callable = lambda x: x  # numpy array -> this library's array (outside the timing)
    block: Callable = lambda out: out  # wait until a result is computed
    ahead: Callable = lambda fn, *avals: fn  # compiled for these (shape, dtype)s, not run
    wait: Callable = lambda: None  # until every jit function called so far runs compiled code


def tree_map(f: Callable, x: Any) -> Any:
    """``f`` on every leaf of nested lists and tuples."""
    if isinstance(x, list | tuple):
        return type(x)(tree_map(f, e) for e in x)
    return f(x)


def to_numpy(x: Any) -> list[np.ndarray]:
    """The leaves of a result (nested lists/tuples of any library's arrays) as numpy arrays."""
    if isinstance(x, list | tuple):
        return [leaf for e in x for leaf in to_numpy(e)]
    return [np.asarray(x.detach() if hasattr(x, "detach") else x)]


def _jitgrad() -> Lib:
    import jitgrad as jg

    # Steady-state rows time compiled code: the first call compiles, as JAX's does. (The
    # compile workload's child turns tiered execution back on to measure it.)
    jg.config.compile = "blocking"

    def ahead(fn: Any, *avals: tuple) -> Any:
        fn.lower(*[np.empty(shape, dtype) for shape, dtype in avals])  # untouched pages
        return fn

    return Lib("jitgrad", jg.numpy, jg.jit, lambda f, argnums=0: jg.grad(f, argnums=argnums),
               lambda f, argnums=0: jg.value_and_grad(f, argnums=argnums),
               jg.nn.softmax, jg.nn.log_softmax, ahead=ahead, wait=jg.wait_for_compiles)


def _jax() -> Lib:
    import jax

    jax.config.update("jax_enable_x64", True)

    def ahead(fn: Any, *avals: tuple) -> Any:
        return fn.lower(*[jax.ShapeDtypeStruct(s, d) for s, d in avals]).compile()

    return Lib("jax", jax.numpy, jax.jit, jax.grad, jax.value_and_grad, jax.nn.softmax,
               jax.nn.log_softmax, put=jax.device_put, block=jax.block_until_ready,
               ahead=ahead)


def _torch() -> Lib:
    import torch

    if os.environ.get("OMP_NUM_THREADS") == "1":
        torch.set_num_threads(1)

    def track(x: Any, leaves: list) -> Any:
        if isinstance(x, list | tuple):
            return type(x)(track(e, leaves) for e in x)
        leaves.append(x.detach().requires_grad_())
        return leaves[-1]

    def regroup(x: Any, grads: Any) -> Any:
        if isinstance(x, list | tuple):
            return type(x)(regroup(e, grads) for e in x)
        return next(grads)

    def value_and_grad(f: Callable, argnums: int | tuple = 0) -> Callable:
        nums = (argnums,) if isinstance(argnums, int) else argnums

        def vg(*args: Any) -> tuple:
            args, leaves = list(args), []
            for i in nums:
                args[i] = track(args[i], leaves)
            out = f(*args)
            grads = iter(torch.autograd.grad(out, leaves))
            gs = tuple(regroup(args[i], grads) for i in nums)
            return out.detach(), gs[0] if isinstance(argnums, int) else gs

        return vg

    return Lib("torch", torch, lambda f: f, _grad_of(value_and_grad), value_and_grad,
               lambda z, axis: torch.softmax(z, dim=axis),
               lambda z, axis: torch.log_softmax(z, dim=axis), put=torch.from_numpy)


def _autograd() -> Lib:
    import autograd
    import autograd.numpy as anp

    def value_and_grad(f: Callable, argnums: int | tuple = 0) -> Callable:
        if isinstance(argnums, int):
            return autograd.value_and_grad(f, argnums)

        def vg(*args: Any) -> tuple:  # autograd differentiates one argument: pack a tuple
            def packed(sel: tuple) -> Any:
                full = list(args)
                for i, s in zip(argnums, sel, strict=True):
                    full[i] = s
                return f(*full)

            return autograd.value_and_grad(packed)(tuple(args[i] for i in argnums))

        return vg

    def log_softmax(z: Any, axis: int) -> Any:  # the max's gradient terms cancel exactly
        shifted = z - anp.max(z, axis=axis, keepdims=True)
        return shifted - anp.log(anp.sum(anp.exp(shifted), axis=axis, keepdims=True))

    return Lib("autograd", anp, lambda f: f, _grad_of(value_and_grad), value_and_grad,
               lambda z, axis: anp.exp(log_softmax(z, axis)), log_softmax)


def _grad_of(value_and_grad: Callable) -> Callable:
    def grad(f: Callable, argnums: int | tuple = 0) -> Callable:
        vg = value_and_grad(f, argnums)
        return lambda *args: vg(*args)[1]

    return grad


LOADERS = {"jitgrad": _jitgrad, "jax": _jax, "torch": _torch, "autograd": _autograd}


def load(name: str) -> Lib:
    """The peer ``name``; raises ImportError when its library is not installed."""
    return LOADERS[name]()


def available() -> tuple[dict[str, Lib], list[str]]:
    """The importable peers, and a note for each one skipped."""
    libs, notes = {}, []
    for name in GENERIC:
        try:
            libs[name] = load(name)
        except ImportError as e:
            if name == "jitgrad":
                raise
            notes.append(f"{name} skipped: not importable ({e})")
    return libs, notes


def _jitgrad_revision() -> str:
    """jitgrad's git commit, marked when its sources have uncommitted changes."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=Path(__file__).resolve().parents[1],
                              capture_output=True, text=True).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown commit"
    return commit + (" + uncommitted changes" if git("status", "--porcelain", "jitgrad") else "")


def versions() -> dict[str, str]:
    """Installed versions of python and the benchmarked packages."""
    out = {"python": platform.python_version(), "jitgrad": _jitgrad_revision()}
    for pkg in VERSIONED:
        try:
            out[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    blas = np.show_config(mode="dicts").get("Build Dependencies", {}).get("blas", {})
    out["numpy's BLAS"] = f"{blas.get('name', '?')} {blas.get('version', '?')}"
    return out
