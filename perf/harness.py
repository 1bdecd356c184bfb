"""The one measuring harness shared by every workload: warm-up, calibration, rounds that visit
every peer in turn (order rotated each round), medians, and per-round cost ratios to jitgrad."""

from __future__ import annotations

import gc
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from perf.peers import Lib, to_numpy, tree_map
from perf.programs import bind

BASE = "jitgrad"  # ratios are this peer's cost divided by each other peer's


@dataclass
class Result:
    """One peer's measurement of one case."""

    value: float  # median cost: seconds per call, or bytes
    samples: list[float]
    ratio: float | None = None  # median over rounds of (jitgrad's cost / this peer's cost)
    note: str = ""
    cores: float | None = None  # median over samples of process CPU time / wall time


class Timed:
    """Samples a zero-argument callable by wall clock, ``number`` calls per sample, with
    ``number`` calibrated at warm-up so that a sample lasts at least ``min_time``."""

    def __init__(self, fn: Callable[[], Any], min_time: float):
        self.fn, self.min_time, self.number, self.cost = fn, min_time, 1, 0.0
        self.cores: list[float] = []  # CPU time / wall time of each sample: threads at work

    def _run(self, number: int) -> float:
        fn = self.fn
        gc.disable()  # as timeit: collections between samples, not inside them
        try:
            cpu, start = time.process_time(), time.perf_counter()
            for _ in range(number):
                fn()
            wall = time.perf_counter() - start
            self.cores.append((time.process_time() - cpu) / wall)
            return wall
        finally:
            gc.enable()

    def warmup(self) -> Any:
        out = self.fn()  # compilation, caches, lazy imports
        self.calibrate()
        return out

    def calibrate(self) -> None:
        """Double ``number`` (or scale it) until one sample lasts ``min_time``; twice, since the
        first pass may meet a one-time cost that the second does not (jitgrad's first split
        product loads its native splitter, tens of ms: fitted to that, every sample of the
        first two-thread matmul row was a single call, each after a pause in which the other
        peers ran, and the row read 7-10 GFLOP/s where the same product runs at 50-90)."""
        for _ in range(2):
            while (elapsed := self._run(self.number)) < self.min_time:
                self.number = max(self.number * 2,
                                  int(self.number * 1.2 * self.min_time / elapsed))
        self.cost = elapsed
        self.cores.clear()

    def sample(self) -> float:
        return self._run(self.number) / self.number


class Probe:
    """Samples a callable that measures itself (e.g. in a fresh subprocess) and returns the
    cost; ``prepare`` runs once at warm-up."""

    def __init__(self, fn: Callable[[], float], prepare: Callable[[], Any] | None = None):
        self.fn, self.prepare, self.cost = fn, prepare, 0.0
        self.cores: list[float] = []  # not observable: the work is in another process

    def warmup(self) -> Any:
        return self.prepare() if self.prepare else None

    def sample(self) -> float:
        return self.fn()


@dataclass
class Budget:
    """How long to measure: seconds per sample, bounds on rounds, seconds per case."""

    min_time: float
    min_rounds: int
    max_rounds: int
    seconds: float

    def rounds(self, round_cost: float) -> int:
        fit = int(self.seconds / round_cost) if round_cost > 0 else self.max_rounds
        return max(self.min_rounds, min(self.max_rounds, fit))


class Progress:
    """One status line on stderr, rewritten in place on a terminal."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.width = 0

    def show(self, text: str) -> None:
        if self.tty:
            sys.stderr.write("\r" + text.ljust(self.width))
            self.width = len(text)
        elif not text.endswith("…"):  # in a log: one line per case, not per round
            sys.stderr.write(text + "\n")
        sys.stderr.flush()

    def done(self) -> None:
        if self.tty and self.width:
            sys.stderr.write("\r" + " " * self.width + "\r")
            sys.stderr.flush()
        self.width = 0


def max_rel_error(got: Any, expect: list[np.ndarray]) -> float:
    """Largest error of any leaf, relative to that leaf's largest expected magnitude."""
    leaves = to_numpy(got)
    if [a.shape for a in leaves] != [b.shape for b in expect]:
        return float("inf")
    return max(float(np.max(np.abs(a.astype(np.float64) - b)) / max(np.max(np.abs(b)), 1e-30))
               for a, b in zip(leaves, expect, strict=True))


@dataclass
class Context:
    """What a workload needs: the peers, the budget, the progress line and the run's options."""

    quick: bool
    libs: dict[str, Lib]
    budget: Budget
    single_thread: bool = True
    progress: Progress = field(default_factory=Progress)
    workload: str = ""
    warnings: list[str] = field(default_factory=list)

    def timed(self, fn: Callable[[], Any]) -> Timed:
        return Timed(fn, self.budget.min_time)

    def gradients(self, program: Callable, hand: Callable, args: list, argnums: tuple
                  ) -> dict[str, Timed]:
        """Samplers of every peer's compiled ``grad(program, argnums)`` on ``args`` (given in
        the peer's own array type, converted before timing), and of ``hand`` for "numpy"."""
        samplers = {"numpy": self.timed(lambda: hand(*args))}
        for name, lib in self.libs.items():
            fn = lib.jit(lib.grad(bind(program, lib), argnums))
            native = tree_map(lib.put, args)
            samplers[name] = self.timed(lambda f=fn, a=native, b=lib.block: b(f(*a)))
        return samplers

    def measure(self, case: str, samplers: dict[str, Timed | Probe], *,
                expect: list[np.ndarray] | None = None, tol: float = 0.0,
                rounds: int | None = None) -> dict[str, Result]:
        """Warm every peer up (checking its result against ``expect`` within relative
        ``tol``), then sample all of them round-robin; ``rounds`` defaults to what the budget
        allows. Ratios are taken round by round against the ``jitgrad`` sampler."""
        label = f"[{self.workload}] {case}"
        notes = {}
        for name, sampler in samplers.items():
            self.progress.show(f"{label}: warm-up {name}…")
            out = sampler.warmup()
            if expect is not None:
                err = max_rel_error(out, [np.asarray(e, np.float64) for e in expect])
                if not err <= tol:
                    notes[name] = f"wrong result (relative error {err:.1e} > {tol:.0e})"
                    self.warnings.append(f"{self.workload} {case}: {name}: {notes[name]}")
        if rounds is None:
            rounds = self.budget.rounds(sum(s.cost for s in samplers.values()))
        gc.collect()
        names = list(samplers)
        samples: dict[str, list[float]] = {name: [] for name in names}
        for r in range(rounds):
            self.progress.show(f"{label}: round {r + 1}/{rounds}…")
            for name in names[r % len(names):] + names[:r % len(names)]:
                samples[name].append(samplers[name].sample())
        self.progress.show(f"{label}: {rounds} rounds")
        base = samples.get(BASE)
        results = {}
        for name, s in samples.items():
            ratio = None
            if base is not None and name != BASE:
                ratio = statistics.median(b / x for b, x in zip(base, s, strict=True))
            cores = samplers[name].cores
            results[name] = Result(statistics.median(s), s, ratio, notes.get(name, ""),
                                   statistics.median(cores) if cores else None)
            if self.single_thread and cores and results[name].cores > 1.3:
                results[name].note = (f"ran on {results[name].cores:.1f} cores (CPU time ÷ "
                                      f"wall time) although single-threaded was asked for")
                self.warnings.append(f"{self.workload} {case}: {name}: {results[name].note}")
        return results
