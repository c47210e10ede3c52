"""The task brief: the environment's task text, then a data preview, the runtime limit and the
packages available (as AIDE and AIRA-dojo give them). Every policy's prompts and the RL tools'
prompts start from it (``policies.taskinfo`` re-exports it).

Everything here is computed from the environment's public side: its ``task_text``, its task spec
(target columns), its step limits and the **public** data folder (the files the solution itself
reads under ``data/``; private answers are never there). A preview that cannot be built (a
missing or unreadable file) is replaced by one line saying why; it never raises.

``task_brief(env.unwrapped)`` is what ``policies``' ``Episode.task_text`` returns. Every line is whole: long
cell values are shortened inside the cell, and no line is longer than ``MAX_LINE`` characters.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path
from typing import Any

__all__ = ["task_brief", "data_preview", "limits_section", "packages_section", "installed_packages", "public_data_dir", "PACKAGES",
           "MAX_LINE"]

MAX_LINE = 160
PREVIEW_ROWS = 3
PREVIEW_COLUMNS = 10
BIG_FILE_BYTES = 50_000_000  # above this, distributions come from the first rows only
SAMPLE_ROWS = 20_000
# Packages a solution may import, when installed in the interpreter that runs it (the same one).
PACKAGES = (
    "numpy", "pandas", "scikit-learn", "scipy", "lightgbm", "xgboost", "catboost", "statsmodels",
    "torch", "torchvision", "transformers", "Pillow", "opencv-python", "nltk",
)


def public_data_dir(unwrapped: Any) -> Path | None:
    """The folder the solution sees as ``data/``: the env's prepared public files (``env.prepared.public``;
    private answers are never there), or None when the env has none."""
    public = getattr(getattr(unwrapped, "prepared", None), "public", None)
    return Path(public) if public is not None and Path(public).is_dir() else None


def _cell(value: Any, width: int = 24) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= width else text[: width - 3] + "..."


def _wrap(items: list[str], prefix: str = "  ") -> list[str]:
    """``items`` joined by commas into whole lines of at most MAX_LINE characters."""
    lines, current = [], prefix
    for item in items:
        piece = item if current == prefix else ", " + item
        if len(current) + len(piece) > MAX_LINE and current != prefix:
            lines.append(current + ",")
            current, piece = prefix, item
        current += piece
    if current != prefix:
        lines.append(current)
    return lines


def _row_count(path: Path) -> str:
    if path.stat().st_size > BIG_FILE_BYTES:
        return f"{path.stat().st_size / 1e6:.0f} MB"
    with open(path, "rb") as handle:
        return f"{max(0, sum(1 for _ in handle) - 1):,} rows"


def _distribution(series: Any) -> list[str]:
    """Value counts (few distinct values) or summary statistics (numeric with many values)."""
    import pandas as pd

    values = series.dropna()
    if values.empty:
        return ["  (no values)"]
    if pd.api.types.is_numeric_dtype(values) and values.nunique() > 20:
        q = values.quantile([0.0, 0.25, 0.5, 0.75, 1.0]).tolist()
        return [f"  mean {values.mean():.4g}, std {values.std():.4g}, min {q[0]:.4g}, 25% {q[1]:.4g}, "
                f"median {q[2]:.4g}, 75% {q[3]:.4g}, max {q[4]:.4g}"]
    counts = values.value_counts()
    items = [f"{_cell(k, 20)}: {n} ({n / len(values):.1%})" for k, n in counts.head(12).items()]
    if len(counts) > 12:
        items.append(f"... {len(counts) - 12} more values")
    return _wrap(items)


def _columns(frame: Any) -> list[str]:
    cols = [f"{_cell(c, 30)} ({frame[c].dtype})" for c in frame.columns]
    if len(cols) <= 2 * PREVIEW_COLUMNS:
        return _wrap(cols)
    rest = frame.columns[PREVIEW_COLUMNS:]
    kinds = sorted({str(frame[c].dtype) for c in rest})
    return _wrap(cols[:PREVIEW_COLUMNS] + [f"... {len(rest)} more: {_cell(rest[0], 20)} ... {_cell(rest[-1], 20)} ({', '.join(kinds)})"])


def _rows(frame: Any) -> list[str]:
    shown = list(frame.columns[:PREVIEW_COLUMNS])
    more = ", ..." if len(frame.columns) > PREVIEW_COLUMNS else ""
    lines = ["  " + ", ".join(_cell(c, 20) for c in shown) + more]
    for _, row in frame.head(PREVIEW_ROWS).iterrows():
        lines.append("  " + ", ".join(_cell(row[c], 20) for c in shown) + more)
    return lines


def data_preview(data_dir: Path | None, targets: tuple[str, ...] = ()) -> str:
    """Markdown: each CSV's size; the training file's columns with dtypes, first rows and the
    distribution of each target column."""
    if data_dir is None:
        return "## Data preview\n(no public data folder to preview)"
    try:
        import pandas as pd

        csvs = sorted(data_dir.glob("*.csv"))
        if not csvs:
            listing = ", ".join(sorted(p.name for p in data_dir.iterdir())[:20])
            return f"## Data preview\nNo CSV files in data/; files: {listing}"
        train = next((p for p in csvs if p.stem.lower() == "train"), None) or next((p for p in csvs if "train" in p.stem.lower()), csvs[0])
        lines = ["## Data preview", "Files: " + "; ".join(f"{p.name} ({_row_count(p)})" for p in csvs[:8])]
        big = train.stat().st_size > BIG_FILE_BYTES
        frame = pd.read_csv(train, nrows=SAMPLE_ROWS if big else None, low_memory=False)
        lines.append(f"`{train.name}`: {frame.shape[1]} columns (name and dtype):")
        lines += _columns(frame)
        lines.append(f"First {min(PREVIEW_ROWS, len(frame))} rows:")
        lines += _rows(frame)
        for target in targets:
            if target in frame.columns:
                where = f" (first {len(frame):,} rows)" if big else ""
                lines.append(f"Target `{target}` distribution{where}:")
                lines += _distribution(frame[target])
        return "\n".join(line if len(line) <= MAX_LINE else line[: MAX_LINE - 3] + "..." for line in lines)
    except Exception as exc:  # noqa: BLE001 - a preview is a courtesy: say why there is none
        return f"## Data preview\n(not available: {type(exc).__name__}: {_cell(exc, 120)})"


def limits_section(unwrapped: Any) -> str:
    """The runtime limit of one run (and memory and threads where the env says)."""
    limits = getattr(unwrapped, "limits", None)
    spec = getattr(unwrapped, "spec_task", None)
    timeout = getattr(limits, "timeout_s", None) or getattr(spec, "step_timeout_s", None)
    parts = [f"Each run of solution.py must finish within {timeout:g} seconds" if timeout else "Each run has a time limit"]
    if getattr(limits, "memory_mb", None):
        parts.append(f"{limits.memory_mb} MB of memory")
    if getattr(limits, "threads", None):
        parts.append(f"{limits.threads} CPU threads")
    return "## Limits\n" + "; ".join(parts) + "; no internet access."


def installed_packages(names: tuple[str, ...] = PACKAGES) -> list[str]:
    """``name version`` of each of ``names`` that is installed."""
    out = []
    for name in names:
        try:
            out.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    return out


def packages_section() -> str:
    found = installed_packages()
    return "## Packages available\n" + ("\n".join(_wrap(found, "")) if found else "the Python standard library only")


def task_brief(unwrapped: Any) -> str:
    """The task text, then the data preview, the limits and the packages (each a section)."""
    spec = getattr(unwrapped, "spec_task", None)
    try:
        targets = tuple(spec.target_columns) if spec is not None else ()
    except Exception:  # noqa: BLE001 - an adapter's spec may not know its targets
        targets = ()
    parts = [unwrapped.task_text.rstrip(), data_preview(public_data_dir(unwrapped), targets), limits_section(unwrapped), packages_section()]
    return "\n\n".join(parts) + "\n"
