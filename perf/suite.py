"""Runs the chosen workloads, prints their tables, and writes RESULTS.md, JSON and plots."""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import time
from pathlib import Path

from perf import machine, peers, report
from perf.harness import Budget, Context
from perf.workloads import NAMES, load

HERE = Path(__file__).resolve().parent
QUICK = Budget(min_time=0.005, min_rounds=3, max_rounds=7, seconds=1.0)
FULL = Budget(min_time=0.02, min_rounds=5, max_rounds=21, seconds=6.0)


def run_suite(args: argparse.Namespace) -> None:
    start, load_start = time.perf_counter(), os.getloadavg()[0]
    libs, notes = peers.available()
    ctx = Context(args.quick, libs, QUICK if args.quick else FULL, args.threads == "1")
    pinned = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set()
    detail = ("single-threaded (OMP/OPENBLAS/MKL/NUMBA/JITGRAD_NUM_THREADS=1, XLA single-threaded "
              f"Eigen, torch.set_num_threads(1), process pinned to CPU {sorted(pinned)})"
              if args.threads == "1" else "library defaults (all cores), "
              f"JITGRAD_NUM_THREADS={os.environ.get('JITGRAD_NUM_THREADS')}")
    print(f"# jitgrad benchmarks ({'quick' if args.quick else 'full'}; {detail})\n")
    print(f"peers: {', '.join(libs)}, numpy" + "".join(f"\n- {n}" for n in notes) + "\n",
          flush=True)
    sections = []
    for name in args.only:
        ctx.workload = name
        section = load(name)(ctx)
        ctx.progress.done()
        sections.append(section)
        print(section.markdown() + "\n", flush=True)
    command = "python -m perf " + " ".join(sys.argv[1:])
    meta = {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": command.strip(),
        "duration_s": time.perf_counter() - start,
        "machine": machine.describe(),
        "threads": args.threads,
        "threads_detail": detail,
        "load": f"{load_start:.2f} at the start, {os.getloadavg()[0]:.2f} at the end (1-minute "
                f"load average on {os.cpu_count()} cores; the suite itself accounts for ≈ 1)",
        "versions": peers.versions(),
        "measured": machine.summary(),
        "values": dict(machine.values),
        "notes": notes + ctx.warnings,
    }
    print(report.slower(sections))
    for warning in ctx.warnings:
        print(f"WARNING: {warning}")
    for path in report.plot(sections, meta, HERE / "out"):
        print(f"plot: {os.path.relpath(path)}")
    if args.json:
        report.write_json(args.json, meta, sections)
        print(f"json: {args.json}")
    if not args.quick and list(args.only) == list(NAMES):
        # The single-threaded run is the reference; the all-cores run is kept beside it.
        path = HERE / ("RESULTS.md" if args.threads == "1" else "RESULTS-all-threads.md")
        path.write_text(report.document(meta, sections))
        print(f"results: {os.path.relpath(path)}")
    print(f"total: {meta['duration_s']:.0f} s")
