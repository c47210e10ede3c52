"""Adapter: a competition folder as MLE-bench prepares it, as an ``MLEEnv``.

    env = gymnasium.make("gome/mlebench-v0", competition_dir="~/.cache/mle-bench/data/spooky-author-identification",
                         registry="~/mle-bench")   # a clone of openai/mle-bench (leaderboards, configs)

The folder is what ``mlebench prepare`` writes (``prepared/public``, ``prepared/private``), unchanged.
The leaderboard and ``config.yaml`` are found by :func:`~gome_env.mlebench.sources.find_sources`
(``leaderboard=``, ``registry=``, the installed ``mlebench`` package, the folder itself). A dev split is
cut from the labelled train rows as each of the 22 lite competitions publishes them
(:data:`~gome_env.mlebench.recipes.LITE`); answers hold the sample submission's prediction columns only.
Preparation is cached under ``$GOME_DATA_DIR/mlebench-<id>/``. See ``docs/MLEBENCH.md``.
"""

from __future__ import annotations

from pathlib import Path

from gome_env.mlebench.adapter import competition_spec
from gome_env.mlebench.recipes import LITE, Recipe
from gome_env.mlebench.sources import Sources, find_sources

__all__ = ["LITE", "Recipe", "Sources", "competition_spec", "find_sources", "make_env"]


def make_env(
    competition_dir: str | Path,
    metric: str | None = None,
    train_file: str | None = None,
    leaderboard: str | Path | None = None,
    registry: str | Path | None = None,
    final_refit: bool = False,
    **kwargs,
):
    """Entry point of ``gome/mlebench-v0``: an MLEEnv over a prepared competition folder.
    ``final_refit=True``: at submission the chosen solution also runs with the dev rows back in
    train (``info["final"]["refit"]``, see :mod:`gome_env.mlebench.refit`)."""
    from gome_env.mlebench.refit import MLEBenchEnv

    spec = competition_spec(competition_dir, metric=metric, train_file=train_file, leaderboard=leaderboard, registry=registry)
    return MLEBenchEnv(spec, final_refit=final_refit, **kwargs)
