"""What the warm worker imports before its first fork: the standard modules every step uses, and
the heavy libraries the solution imports (found by scanning its source, without running it)."""

from __future__ import annotations

import ast
import functools
import os

__all__ = ["DEFAULT_PRELOAD", "STANDARD_PRELOAD", "imported_packages", "preload_for", "preload_list"]

DEFAULT_PRELOAD: tuple[str, ...] = (
    "numpy",
    "pandas",
    "scipy",
    "scipy.sparse",
    "scipy.stats",
    "sklearn",
    "sklearn.base",
    "sklearn.compose",
    "sklearn.ensemble",
    "sklearn.feature_extraction.text",
    "sklearn.impute",
    "sklearn.linear_model",
    "sklearn.metrics",
    "sklearn.model_selection",
    "sklearn.pipeline",
    "sklearn.preprocessing",
    "sklearn.tree",
    "lightgbm",
    "xgboost",
    "catboost",
)
"""What the warm worker may import before its first fork: by default those whose packages the
solution imports (``preload_for``; the set grows as new imports appear, replacing the worker);
``GOME_WARM_PRELOAD`` (comma-separated) fixes the list instead. Modules that fail to import are
skipped."""

STANDARD_PRELOAD: tuple[str, ...] = (
    # what every step's child runs itself (reseeding, exit handlers, threads, tracebacks)
    "atexit", "random", "threading", "traceback",
    # the standard library a typical solution imports: cheap, and free of import-time side effects
    "collections", "csv", "dataclasses", "datetime", "functools", "itertools", "json", "math",
    "pathlib", "re", "statistics", "time", "typing", "warnings",
)
"""Imported by every warm worker before its first fork, whatever the solution imports: a step then
does not pay for them in its child (a few milliseconds of a trivial step's CPU)."""

def preload_list() -> tuple[str, ...] | None:
    """``GOME_WARM_PRELOAD`` as a list, or None (preload what the solution imports)."""
    raw = os.environ.get("GOME_WARM_PRELOAD")
    if raw is None:
        return None
    return tuple(name.strip() for name in raw.split(",") if name.strip())


@functools.lru_cache(maxsize=256)
def imported_packages(source: str) -> frozenset[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return frozenset()
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return frozenset(names)


def preload_for(files: dict[str, str]) -> tuple[str, ...]:
    """The ``DEFAULT_PRELOAD`` modules whose packages the solution's files import.

    A worker that preloads only what is used forks faster (a smaller process to copy and tear
    down), so a light solution does not pay for scikit-learn it never imports."""
    imported = set().union(*(imported_packages(src) for path, src in files.items() if path.endswith(".py")))
    return tuple(name for name in DEFAULT_PRELOAD if name.split(".")[0] in imported)
