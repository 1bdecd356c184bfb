"""Peers measured in processes of their own, one busy at a time: the parent's ``Separate``
sampler, the child's ``serve`` loop (``python -m perf.child serve WORKLOAD PEER``), and the wait
until the process measured before has gone idle."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Any

import numpy as np

from perf.child import ROOT
from perf.harness import Timed
from perf.peers import to_numpy

NOTE = ("with more than one thread, each peer runs in a process of its own (`python -m "
        "perf.child serve`), and a process is timed only once the one timed before it has gone "
        "idle (its CPU time, read from /proc, stopped growing for 30 ms): in one process, the "
        "thread pools of the peer measured before (OpenMP, Eigen, OpenBLAS) still spin and "
        "take cores from the next; OpenBLAS's threads kept spinning for 0.07-0.1 s after a "
        "product here.")

WINDOW = 0.03  # seconds without CPU time for a process to count as idle
LONGEST = 1.0  # seconds to wait at most for it
FALLBACK = 0.25  # seconds to pause where /proc cannot be read


def _cpu_ticks(pid: int) -> int | None:
    """User + system clock ticks of every thread of process ``pid`` so far (None: unknown)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)


class Server:
    """A child process serving timings of one peer of a workload: the peer's library is
    imported once, and each case is set up on request (see ``serve``)."""

    last: Server | None = None  # the server timed last: the one that may still be spinning

    def __init__(self, workload: str, peer: str):
        self.workload, self.peer = workload, peer
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "perf.child", "serve", workload, peer], cwd=ROOT,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        reply = self.proc.stdout.readline()
        if not reply:
            raise RuntimeError(f"perf.child serve {self.workload} {self.peer!r} died")
        return json.loads(reply)

    def setup(self, case: str) -> list[np.ndarray]:
        """Make ``case`` the one timed; the result of its first call."""
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "first.npz")
            self.ask({"case": case, "save": path})
            Server.last = self
            with np.load(path) as first:
                return [first[f"arr_{i}"] for i in range(len(first.files))]

    def time(self, number: int) -> dict[str, float]:
        """``number`` calls of the current case, once the server timed before is idle: wall and
        CPU seconds."""
        if Server.last is not None and Server.last is not self:
            Server.last.wait_idle()
        Server.last = self
        return self.ask({"number": number})

    def wait_idle(self) -> None:
        """Until this process's threads stop using CPU time (at most LONGEST seconds)."""
        end = time.perf_counter() + LONGEST
        ticks = _cpu_ticks(self.proc.pid)
        if ticks is None:
            time.sleep(FALLBACK)
            return
        while time.perf_counter() < end:
            time.sleep(WINDOW)
            now = _cpu_ticks(self.proc.pid)
            if now == ticks:
                return
            ticks = now

    def close(self) -> None:
        if Server.last is self:
            Server.last = None
        self.proc.communicate("")


class Separate(Timed):
    """Samples ``case`` on ``server``, ``number`` calls per sample in the child, calibrated at
    warm-up as ``Timed`` does."""

    def __init__(self, server: Server, case: str, min_time: float):
        super().__init__(lambda: None, min_time)
        self.server, self.case = server, case

    def _run(self, number: int) -> float:
        reply = self.server.time(number)
        self.cores.append(reply["cpu"] / reply["wall"])
        return reply["wall"]

    def warmup(self) -> Any:
        out = self.server.setup(self.case)
        self.calibrate()
        return out


def serve(workload: str, peer: str) -> None:
    """The child's side of ``Server``: each line read is a JSON request, ``{"case": ...,
    "save": path}`` (make ``perf.workloads.<workload>.served(peer, case)`` the call timed and
    save its first result there as npz) or ``{"number": n}`` (time n calls); one JSON reply a
    line."""
    make = importlib.import_module(f"perf.workloads.{workload}").served
    reply = sys.stdout
    sys.stdout = sys.stderr  # only replies on the pipe
    call = None
    for line in sys.stdin:
        request = json.loads(line)
        if "case" in request:
            call = make(peer, request["case"])
            np.savez(request["save"], *to_numpy(call()))
            result: dict[str, Any] = {"saved": True}
        else:
            assert call is not None
            cpu, start = time.process_time(), time.perf_counter()
            for _ in range(request["number"]):
                call()
            result = {"wall": time.perf_counter() - start, "cpu": time.process_time() - cpu}
        reply.write(json.dumps(result) + "\n")
        reply.flush()
