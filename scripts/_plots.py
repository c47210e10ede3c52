"""Plots (matplotlib, Agg backend: no display needed). Every function writes one PNG and returns its path."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from scripts._aggregate import FIGURES  # noqa: E402
from scripts._crossover import fmt_params  # noqa: E402

__all__ = [
    "STATUS_COLOURS", "plot_medal_rates", "plot_best_vs", "plot_failure_statuses", "plot_tree",
    "plot_trees", "plot_scaling", "tree_layout",
]

STATUS_COLOURS = {
    "ok": "#2ca02c",
    "patch_failed": "#9e9e9e",
    "syntax_error": "#ff7f0e",
    "runtime_error": "#d62728",
    "timeout": "#9467bd",
    "memory_exceeded": "#8c564b",
    "invalid_submission": "#e377c2",
    "run_failed": "#000000",
}


def _save(fig: plt.Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _label(row: pd.Series | dict, by: Sequence[str]) -> str:
    return " / ".join(str(row[c]) for c in by)


def plot_medal_rates(summary: pd.DataFrame, path: str | Path, by: Sequence[str] = ("policy", "model")) -> Path:
    """Grouped bars: the MLE-bench figures (%) per policy x model, SEM over seeds as error bars."""
    fig, ax = plt.subplots(figsize=(max(6.0, 1.6 * len(FIGURES)), 4.2))
    groups = list(summary.itertuples(index=False)) if not summary.empty else []
    width = 0.8 / max(1, len(groups))
    x = np.arange(len(FIGURES))
    for i, row in enumerate(groups):
        row = row._asdict()
        means = [row[f"{c}_mean"] for c, _ in FIGURES]
        errs = [0 if math.isnan(row[f"{c}_sem"]) else row[f"{c}_sem"] for c, _ in FIGURES]
        ax.bar(x + i * width - 0.4 + width / 2, means, width, yerr=errs, capsize=3, label=_label(row, by))
    ax.set_xticks(x, [label for _, label in FIGURES])
    ax.set_ylabel("% of runs (mean ± SEM over seeds)")
    ax.set_ylim(0, 105)
    ax.set_title("MLE-bench figures per policy / model")
    if groups:
        ax.legend(fontsize=8)
    return _save(fig, path)


def plot_best_vs(steps: pd.DataFrame, path: str | Path, x: str = "step", group: str = "policy") -> Path:
    """Best dev score so far (normalised: 0 = baseline, 1 = gold) against ``step`` or
    ``cumulative_tokens``: a thin line per run, a thick mean line per policy (steps only)."""
    fig, ax = plt.subplots(figsize=(7, 4.2))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    if not steps.empty:
        for i, (name, frame) in enumerate(steps.groupby(group, sort=True)):
            colour = colours[i % len(colours)]
            for _, run in frame.groupby("run_key"):
                run = run.sort_values("step")
                ax.plot(run[x], run["best_normalised"], color=colour, alpha=0.3, lw=1, drawstyle="steps-post")
            if x == "step":
                mean = frame.groupby("step")["best_normalised"].mean()
                ax.plot(mean.index, mean.values, color=colour, lw=2.5, marker="o", ms=3, label=f"{name} (mean)")
            else:
                ax.plot([], [], color=colour, lw=2, label=str(name))
        ax.legend(fontsize=8)
    ax.axhline(0, color="grey", lw=0.8, ls=":")
    ax.axhline(1, color="goldenrod", lw=0.8, ls="--")
    ax.set_xlabel("step" if x == "step" else "tokens used (prompt + completion)")
    ax.set_ylabel("best dev score (0 = baseline, 1 = gold)")
    ax.set_title(f"Best dev score against {'steps' if x == 'step' else 'tokens'}")
    return _save(fig, path)


def plot_failure_statuses(steps: pd.DataFrame, runs: pd.DataFrame, path: str | Path, group: str = "policy") -> Path:
    """Stacked bars per policy: the share of steps with each status, plus failed runs."""
    counts = pd.DataFrame()
    if not steps.empty:
        counts = steps.groupby([group, "status"]).size().unstack(fill_value=0)
    if not runs.empty:
        failed = runs[runs["status"] != "ok"].groupby(group).size()
        if len(failed):
            counts = counts.reindex(counts.index.union(failed.index), fill_value=0)
            counts["run_failed"] = failed.reindex(counts.index, fill_value=0)
    fig, ax = plt.subplots(figsize=(max(5.0, 1.3 * max(1, len(counts))), 4.2))
    if not counts.empty:
        order = [s for s in STATUS_COLOURS if s in counts.columns] + [s for s in counts.columns if s not in STATUS_COLOURS]
        share = counts[order].div(counts[order].sum(axis=1), axis=0) * 100
        bottom = np.zeros(len(share))
        for status in order:
            ax.bar(share.index.astype(str), share[status], bottom=bottom, label=status,
                   color=STATUS_COLOURS.get(status, "#17becf"))
            bottom += share[status].to_numpy()
        ax.legend(fontsize=8, bbox_to_anchor=(1.02, 1), loc="upper left")
    ax.set_ylabel("% of steps (failed runs counted once)")
    ax.set_title("Step statuses by policy")
    return _save(fig, path)


# ------------------------------------------------------------------------------ trees

def tree_layout(nodes: list[dict]) -> dict[int, tuple[float, float]]:
    """(x, y) per node id: leaves spread left to right in depth-first order, parents centred over
    their children, y = -depth."""
    children: dict[int, list[int]] = {n["id"]: [] for n in nodes}
    roots = []
    for n in sorted(nodes, key=lambda n: n["id"]):
        if n.get("parent_id") is None or n["parent_id"] not in children:
            roots.append(n["id"])
        else:
            children[n["parent_id"]].append(n["id"])
    pos: dict[int, tuple[float, float]] = {}
    next_x = [0.0]

    def place(node: int, depth: int) -> float:
        kids = children[node]
        if not kids:
            x = next_x[0]
            next_x[0] += 1.0
        else:
            xs = [place(k, depth + 1) for k in kids]
            x = (min(xs) + max(xs)) / 2
        pos[node] = (x, -float(depth))
        return x

    import sys

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(nodes) + 100))
    for root in roots:
        place(root, 0)
    return pos


def _path_to(nodes: dict[int, dict], target: int | None) -> list[int]:
    path = []
    while target is not None and target in nodes and target not in path:
        path.append(target)
        target = nodes[target].get("parent_id")
    return path[::-1]


def _draw_tree(ax: plt.Axes, tree: dict, accepted: int | None, title: str) -> None:
    nodes = {n["id"]: n for n in tree.get("nodes", [])}
    if not nodes:
        ax.set_title(f"{title}\n(empty tree)")
        ax.axis("off")
        return
    pos = tree_layout(list(nodes.values()))
    on_path = set(_path_to(nodes, accepted))
    for n in nodes.values():
        parent = n.get("parent_id")
        if parent in pos:
            (x0, y0), (x1, y1) = pos[parent], pos[n["id"]]
            hot = n["id"] in on_path and parent in on_path
            ax.plot([x0, x1], [y0, y1], color="#1f3fbf" if hot else "#bbbbbb", lw=3.2 if hot else 1.0, zorder=1)
    size = 520 if len(nodes) <= 30 else 260 if len(nodes) <= 80 else 120
    font = 7 if len(nodes) <= 30 else 5.5 if len(nodes) <= 80 else 4
    for nid, n in nodes.items():
        x, y = pos[nid]
        colour = STATUS_COLOURS.get(n.get("status"), "#17becf")
        edge = "#1f3fbf" if nid in on_path else "white"
        ax.scatter([x], [y], s=size, c=colour, edgecolors=edge, linewidths=2.5 if nid in on_path else 0.8, zorder=2)
        if nid == accepted:
            ax.scatter([x], [y], s=size * 2.2, facecolors="none", edgecolors="#1f3fbf", linewidths=1.5, zorder=2)
        score = n.get("dev_score")
        text = f"{nid}\n{score:.3g}" if isinstance(score, (int, float)) and math.isfinite(score) else f"{nid}\n–"
        ax.annotate(text, (x, y), xytext=(0, -(math.sqrt(size * 2.2) / 2 + 1)), textcoords="offset points",
                    ha="center", va="top", fontsize=font, zorder=3)
    ys = [p[1] for p in pos.values()]
    xs = [p[0] for p in pos.values()]
    ax.set_xlim(min(xs) - 0.8, max(xs) + 0.8)
    ax.set_ylim(min(ys) - 0.8, 0.6)
    ax.set_title(title, fontsize=9)
    ax.axis("off")


def _tree_legend(fig: plt.Figure, statuses: set[str]) -> None:
    handles = [Patch(color=STATUS_COLOURS[s], label=s) for s in STATUS_COLOURS if s in statuses]
    handles.append(Line2D([], [], color="#1f3fbf", lw=3, label="accepted path (root -> submitted)"))
    fig.legend(handles=handles, loc="lower center", ncol=min(4, len(handles)), fontsize=7, frameon=False)


def plot_tree(tree: dict, path: str | Path, accepted: int | None = None, title: str = "") -> Path:
    """One episode's search tree: nodes coloured by status with their dev score, the path from the
    root to the submitted node (``accepted``) in blue."""
    return plot_trees([(title, tree, accepted)], path)


def plot_trees(panels: list[tuple[str, dict, int | None]], path: str | Path) -> Path:
    """Several trees side by side (e.g. GOME and greedy on the same task and seed)."""
    leaves = []
    for _, tree, _ in panels:
        ids = {n["id"] for n in tree.get("nodes", [])}
        parents = {n.get("parent_id") for n in tree.get("nodes", [])}
        leaves.append(max(1, len(ids - parents)))
    depths = [max((abs(p[1]) for p in tree_layout(t.get("nodes", [])).values()), default=0) for _, t, _ in panels]
    width = sum(max(4.0, 0.55 * n) for n in leaves)
    height = max(3.5, 0.9 * (max(depths, default=0) + 1) + 1.5)
    fig, axes = plt.subplots(1, len(panels), figsize=(min(width, 60), min(height, 40)), squeeze=False,
                             gridspec_kw={"width_ratios": [max(4.0, 0.55 * n) for n in leaves]})
    statuses: set[str] = set()
    for ax, (title, tree, accepted) in zip(axes[0], panels):
        _draw_tree(ax, tree, accepted, title)
        statuses |= {n.get("status") for n in tree.get("nodes", [])}
    _tree_legend(fig, statuses)
    fig.subplots_adjust(bottom=0.12)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


# ------------------------------------------------------------------------------ scaling

def plot_scaling(table: pd.DataFrame, path: str | Path, results: dict | None = None, focus: str = "gome",
                 metrics: Sequence[tuple[str, str]] = (("any_medal", "any medal (%)"),
                                                       ("percentile", "leaderboard percentile"))) -> Path:
    """Metric against model size (log x), one line per policy through one point per model (models
    of the same size stay separate points, labelled by name), one panel per metric. ``table`` has
    columns policy, name, params, ``<metric>_mean`` and ``<metric>_sem``; ``results`` maps a metric
    to its :class:`scripts._crossover.CrossoverResult`, whose crossovers are marked (or "no
    crossover detected" is written)."""
    results = results or {}
    fig, axes = plt.subplots(1, len(metrics), figsize=(6.2 * len(metrics), 4.4), squeeze=False)
    for ax, (metric, label) in zip(axes[0], metrics):
        for policy, frame in table.groupby("policy", sort=True):
            frame = frame.sort_values(["params", "name"], kind="stable")
            yerr = frame[f"{metric}_sem"].fillna(0).to_numpy() if f"{metric}_sem" in frame else None
            ax.errorbar(frame["params"], frame[f"{metric}_mean"], yerr=yerr, marker="o", capsize=3,
                        lw=2.5 if policy == focus else 1.5, label=str(policy))
        for name, params in table.drop_duplicates("name")[["name", "params"]].itertuples(index=False):
            ax.annotate(str(name), (params, 0.01), xycoords=("data", "axes fraction"), rotation=90, fontsize=6,
                        color="dimgrey", ha="center", va="bottom")
        result = results.get(metric)
        found = result.crossovers if result is not None else []
        for i, c in enumerate(found):
            ax.axvline(c.at_params, color="crimson", ls="--", lw=1.2, label="crossover" if i == 0 else None)
            ax.annotate(f"crossover ≈ {fmt_params(c.at_params)}", (c.at_params, 0.96), xycoords=("data", "axes fraction"),
                        rotation=90, ha="right", va="top", fontsize=8, color="crimson")
        if result is not None and not found:
            ax.text(0.02, 0.96, "no crossover detected (95% intervals)", transform=ax.transAxes, fontsize=8,
                    va="top", color="dimgrey")
        ax.set_xscale("log")
        ax.set_xlabel("model parameters")
        ax.set_ylabel(label)
        ax.set_title(f"{label} against model size")
        ax.legend(fontsize=8)
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: fmt_params(v)))
    return _save(fig, path)
