"""JAX's device functions for ported programs: jitgrad computes on one CPU device, in numpy
arrays, synchronously."""

from __future__ import annotations

from typing import Any

import numpy as np

from jitgrad.core import Tracer
from jitgrad.errors import TracerError, UnsupportedError
from jitgrad.tree_util import tree_map

__all__ = ["Device", "block_until_ready", "default_backend", "device_count", "device_get",
           "device_put", "devices", "local_device_count", "local_devices"]


class Device:
    """The CPU, jitgrad's one device (``platform == "cpu"``, ``id == 0``), as JAX's device
    objects describe theirs."""

    platform = "cpu"
    device_kind = "cpu"
    id = 0
    process_index = 0

    def __repr__(self) -> str:
        return "CpuDevice(id=0)"


_CPU = Device()


def devices(backend: Any = None) -> list[Device]:
    """The devices jitgrad computes on: the CPU only.

    >>> devices()
    [CpuDevice(id=0)]
    """
    _check_backend(backend)
    return [_CPU]


def local_devices(process_index: int | None = None, backend: Any = None) -> list[Device]:
    """The devices of this process: the CPU.

    >>> local_devices()[0].platform
    'cpu'
    """
    _check_backend(backend)
    return [_CPU]


def device_count(backend: Any = None) -> int:
    """The number of devices: 1.

    >>> device_count()
    1
    """
    return len(devices(backend))


def local_device_count(backend: Any = None) -> int:
    """The number of devices of this process: 1.

    >>> local_device_count()
    1
    """
    return len(local_devices(backend=backend))


def default_backend() -> str:
    """The platform jitgrad computes on: ``"cpu"``.

    >>> default_backend()
    'cpu'
    """
    return "cpu"


def _check_backend(backend: Any) -> None:
    if backend not in (None, "cpu") and backend is not _CPU:
        raise UnsupportedError(f"backend {backend!r}: jitgrad computes on the CPU only "
                               f"(backend='cpu')")


def device_put(x: Any, device: Any = None, *, may_alias: Any = None, donate: Any = None) -> Any:
    """``x`` (a pytree) with its leaves as arrays on the CPU: Python scalars and lists become
    numpy arrays (``np.asarray``), arrays and traced values are returned as they are.
    ``device`` may be None, ``"cpu"`` or a jitgrad device; shardings are not supported.

    >>> device_put([1.0, np.float32(2.0)])
    [array(1.), array(2., dtype=float32)]
    """
    if device is not None and not isinstance(device, Device) and device != "cpu":
        raise UnsupportedError(f"device_put(..., {device!r}): jitgrad has one device, the CPU "
                               f"(no shardings)")
    return tree_map(lambda v: v if isinstance(v, Tracer | np.ndarray) else np.asarray(v), x)


def device_get(x: Any) -> Any:
    """``x`` (a pytree) as host values: jitgrad's arrays are numpy arrays already, so it is
    returned as it is. A traced value raises a ``TracerError``, as in JAX (inside a
    transformation there is no host value to fetch that would keep its derivative).

    >>> device_get({"w": np.ones(2)})
    {'w': array([1., 1.])}
    """
    return tree_map(_host, x)


def _host(v: Any) -> Any:
    if isinstance(v, Tracer):
        raise TracerError(f"device_get: got a traced array {v.aval}; fetch values outside "
                          f"the transformed function (its results are numpy arrays)")
    return v


def block_until_ready(x: Any) -> Any:
    """``x``, unchanged: jitgrad computes synchronously, so every result is ready when it is
    returned (JAX dispatches asynchronously and waits here). Pytrees are returned as they are.

    >>> block_until_ready((np.ones(2), 3.0))
    (array([1., 1.]), 3.0)
    """
    return x
