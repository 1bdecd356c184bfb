"""The workloads, in the order they run; each is ``run(ctx) -> Section``, imported on demand."""

import importlib
from collections.abc import Callable

NAMES = {
    "dispatch": "dispatch:run",
    "eager": "eager:run",
    "chain": "chain:run",
    "matmul": "matmul:run",
    "einsum": "einsum:run",
    "mlp": "train:mlp",
    "mnist": "train:mnist",
    "attention": "nets:attention",
    "layernorm": "nets:layernorm",
    "gp": "gp:run",
    "conv": "conv:run",
    "cnn": "train:cnn",
    "compile": "startup:run",
    "unrolled": "unrolled:run",
    "memory": "memory:run",
    "distributed": "distributed:run",
}


def load(name: str) -> Callable:
    module, attr = NAMES[name].split(":")
    return getattr(importlib.import_module(f"perf.workloads.{module}"), attr)
