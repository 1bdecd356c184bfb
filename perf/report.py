"""Results as markdown tables, RESULTS.md, JSON and (with matplotlib) PNG plots."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from perf.harness import BASE, Result

RATIO_NOTE = ("(×) = jitgrad's cost ÷ the peer's cost, measured round by round in the same "
              "run: below 1 jitgrad is faster (or smaller), above 1 the peer is.")


@dataclass
class Row:
    """One case of a workload: every peer's result and any reference columns."""

    case: str
    results: dict[str, Result]
    show: Callable[[float], str]  # a cost as displayed, e.g. "3.2 ms" or "51.0 GFLOP/s"
    params: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, str] = field(default_factory=dict)

    def cell(self, peer: str) -> str:
        r = self.results.get(peer)
        if r is None:
            return "–"
        text = self.show(r.value)
        if r.ratio is not None:
            text += f" ({r.ratio:.2f}×)"
        return text + (" †" if r.note else "")


@dataclass
class Section:
    """One workload's table."""

    name: str
    title: str
    peers: list[str]
    rows: list[Row] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)  # names of reference columns
    notes: list[str] = field(default_factory=list)

    def markdown(self) -> str:
        peers = [p for p in self.peers if any(p in row.results for row in self.rows)]
        head = ["case"] + peers + self.extra
        lines = [f"### {self.name}: {self.title}", "",
                 "| " + " | ".join(head) + " |",
                 "|---|" + "---:|" * (len(head) - 1)]
        for row in self.rows:
            cells = [row.case] + [row.cell(p) for p in peers]
            cells += [row.extra.get(e, "") for e in self.extra]
            lines.append("| " + " | ".join(cells) + " |")
        flagged = [f"† {row.case}, {p}: {r.note}" for row in self.rows
                   for p, r in row.results.items() if r.note]
        notes = self.notes + flagged
        return "\n".join(lines + ([""] + [f"- {n}" for n in notes] if notes else []))

    def slower(self) -> list[str]:
        """Every case where a peer (not a jitgrad variant) beats jitgrad, with the ratio (shown
        to two decimals: a ratio that rounds to 1.00 is not listed)."""
        return [f"{self.name} {row.case}: {peer} {r.ratio:.2f}×"
                for row in self.rows for peer, r in row.results.items()
                if not peer.startswith(BASE) and r.ratio is not None and r.ratio >= 1.005]

    def to_json(self) -> dict:
        return {"name": self.name, "title": self.title, "notes": self.notes,
                "rows": [{"case": row.case, "params": row.params, "extra": row.extra,
                          "results": {p: asdict(r) | {"display": row.show(r.value)}
                                      for p, r in row.results.items()}}
                         for row in self.rows]}


def document(meta: dict, sections: list[Section]) -> str:
    """The full markdown report: machine, versions, every table, and where jitgrad loses."""
    versions = ", ".join(f"{k} {v}" for k, v in meta["versions"].items())
    lines = ["# jitgrad benchmarks", "",
             f"- date: {meta['date']}",
             f"- command: `{meta['command']}` ({meta['duration_s']:.0f} s)",
             f"- machine: {meta['machine']['cpu']}, {meta['machine']['cores']} cores, "
             f"{meta['machine']['memory']}",
             f"- threads: {meta['threads']} ({meta['threads_detail']})",
             f"- machine load: {meta['load']}",
             f"- versions: {versions}"]
    lines += [f"- {k}: {v}" for k, v in meta["measured"].items()]
    lines += [f"- {n}" for n in meta["notes"]]
    lines += ["", "Each workload runs every available peer in this one process, interleaved: "
              "warm-up first, then rounds that time every peer in turn (order rotated each "
              "round); a cell is the median over rounds. " + RATIO_NOTE, ""]
    for s in sections:
        lines += [s.markdown(), ""]
    return "\n".join(lines) + "\n" + slower(sections)


def slower(sections: list[Section]) -> str:
    """The closing list: every case where a peer beats jitgrad."""
    found = [f"- {line}" for s in sections for line in s.slower()]
    return "\n".join(["## Where a peer beats jitgrad", ""] + (found or ["- nowhere"])) + "\n"


def write_json(path: str, meta: dict, sections: list[Section]) -> None:
    Path(path).write_text(json.dumps({"meta": meta, "sections": [s.to_json() for s in sections]},
                                     indent=1) + "\n")


def plot(sections: list[Section], meta: dict, out_dir: Path) -> list[Path]:
    """GFLOP/s against n (with the peak) and chain time against n (with the bandwidth bound);
    nothing without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for s in sections:
        if s.name not in ("matmul", "chain"):
            continue
        dtypes = sorted({row.params["dtype"] for row in s.rows})
        fig, axes = plt.subplots(1, len(dtypes), figsize=(6 * len(dtypes), 4.5), squeeze=False)
        for ax, dtype in zip(axes[0], dtypes, strict=True):
            rows = [r for r in s.rows if r.params["dtype"] == dtype
                    and r.params.get("op", "A@B") == "A@B"]
            ns = [r.params["n"] for r in rows]
            for peer in s.peers:
                pts = [(r.params["n"], r.results[peer].value) for r in rows if peer in r.results]
                if s.name == "matmul":
                    pts = [(n, 2 * n**3 / t / 1e9) for n, t in pts]
                if pts:
                    ax.plot(*zip(*pts, strict=True), marker="o", label=peer)
            ax.set_xscale("log")
            if s.name == "matmul":
                ax.axhline(meta["values"][f"peak {dtype}"], color="k", ls="--", label="FMA peak")
                ax.set_ylabel("GFLOP/s (A @ B)")
                ax.minorticks_off()
                ax.set_xticks(ns, [str(n) for n in ns])
                ax.set_ylim(bottom=0)
            else:
                ax.plot(ns, [r.params["bound_s"] for r in rows], "k--", label="bandwidth bound")
                ax.set_yscale("log")
                ax.set_ylabel("seconds per gradient")
            ax.set_xlabel("n")
            ax.set_title(f"{s.name}, {dtype}, threads: {meta['threads']}")
            ax.legend(fontsize=8)
        fig.tight_layout()
        path = out_dir / f"{s.name}.png"
        fig.savefig(path, dpi=90)
        plt.close(fig)
        paths.append(path)
    return paths
