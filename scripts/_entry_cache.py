"""The build's cache of finished work (``scripts/build_leaderboards.py``): each entry's predictions
and each solution run, per task and pinned data version, so a stopped build resumes where it stopped."""

from __future__ import annotations

import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np

from gome_env.tasks.task import PreparedTask
from scripts._population import Recipe
from scripts._solutions import SOLUTION_FILES, run_solution

__all__ = ["EntryCache", "POPULATION_VERSION"]

# Bump to invalidate cached entries after changing how scripts/_population.py fits or scripts/_features.py
# builds an entry (a family's row cap needs no bump: the cache records the rows each entry was fitted on).
POPULATION_VERSION = 2


def _digest(*parts: str | bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part if isinstance(part, bytes) else part.encode())
    return h.hexdigest()[:16]


class EntryCache:
    """Finished entries of one task on one pinned data version: predictions (``.npz``) and solution runs (``.json``)."""

    def __init__(self, root: Path, task: PreparedTask, seed: int):
        self.dir = root / task.spec.id / _digest(task.spec.pins_path.read_bytes(), str(seed), str(POPULATION_VERSION))
        self.dir.mkdir(parents=True, exist_ok=True)
        self.pins = task.spec.pins_path.read_bytes()

    def _path(self, name: str, suffix: str) -> Path:
        return self.dir / f"{_digest(name)}{suffix}"

    def predictions(self, recipe: Recipe, compute, rows: int) -> tuple[np.ndarray, float]:
        """An entry's predictions, computed once: a cached file is used while it was fitted on the
        same number of training rows (``rows``; a file from before rows were recorded is trusted)."""
        path = self._path(recipe.name, ".npz")
        if path.exists():
            with np.load(path, allow_pickle=False) as data:
                if "rows" not in data or int(data["rows"]) == rows:
                    return data["pred"], float(data["seconds"])
        start = time.perf_counter()
        pred = compute()
        seconds = time.perf_counter() - start
        np.savez(path, pred=pred, seconds=seconds, rows=rows)
        return pred, seconds

    def cached(self, name: str) -> np.ndarray | None:
        path = self._path(name, ".npz")
        if not path.exists():
            return None
        with np.load(path, allow_pickle=False) as data:
            return data["pred"]

    def solution(self, task: PreparedTask, kind: str, source: str | None = None) -> tuple[dict, Path]:
        source = source if source is not None else (task.spec.folder / SOLUTION_FILES[kind]).read_text()
        key = _digest(self.pins, source)
        meta, test_csv = self.dir / f"{kind}-{key}.json", self.dir / f"{kind}-{key}.test.csv"
        if not meta.exists():
            print(f"  {task.spec.id}: running {kind} ...", file=sys.stderr, flush=True)
            run = run_solution(task, source, kind, keep_test=test_csv)
            meta.write_text(json.dumps(run.to_dict()))
        return json.loads(meta.read_text()), test_csv
