"""Build each task's private leaderboard: a population shaped like a real competition's.

How the leaderboards were made (the record kept with the committed ``envs/<id>/leaderboard.csv``):

1. The task is prepared (``gome_env.tasks.task.prepare``), the same files agents get, and its files are
   pinned: ``envs/<id>/data.sha256`` (``tests/test_pinned_data.py`` checks them).
2. Features come from the public frames only (``scripts/_features.py``).
3. A population of distinct entries (``scripts/_population.py``; no seed-only variants): 50
   weak entries (handicapped: 5-25% of the rows or 30-50% of the columns, or weak families),
   45 middle entries (one family, plain settings, every row), 40 strong entries (tuned gradient
   boosting and large forests on engineered features, every row, except that big tasks cap
   them at 40,000 rows; 10 more with short schedules for log loss) and 30 blends of two or
   three of the ten strongest singles chosen by their dev score. Each is fitted on the train split and graded on the private test split.
4. The task's solution files run as an agent's ``solution.py`` would (a subprocess, one thread):
   ``default_solution.py`` (a competent ten-minute entry: one strong family with default
   settings) and ``reference_gold.py`` (the gold-level reference: tuned, engineered, ensembled,
   trained on every training row) join the board; ``baseline.py`` does not.
5. Checks (exit 1 when one fails): the baseline earns no medal, the default solution earns
   neither silver nor gold, the gold reference earns gold (or a medal, where bronze to gold spans
   under two standard errors and the top is a statistical tie). The bootstrap standard error of the
   test metric (the larger over the default's and the gold reference's submissions, 200 resamples
   of the test rows) is reported
   beside the medal bands, and the table in ``envs/README.md`` is rewritten.

Entries are cached (``--cache``, default ``$GOME_DATA_DIR/../boards``), keyed by the pinned
data and the entry's recipe or solution source, so a rerun skips finished work.

Usage::

    nice -n 10 python scripts/build_leaderboards.py                # every task, smallest first
    python scripts/build_leaderboards.py --tasks spam digits
    python scripts/build_leaderboards.py --check-only              # checks and README from the committed CSVs
    python scripts/build_leaderboards.py --pins-only               # rewrite envs/<id>/data.sha256 only
"""

from __future__ import annotations

import os

# One thread per model: on a shared 2-core machine OpenMP's spinning threads slow gradient boosting tenfold.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from gome_env.grading.direction import Direction  # noqa: E402
from gome_env.grading.grader import grade  # noqa: E402
from gome_env.grading.medals import Leaderboard  # noqa: E402
from gome_env.tasks.task import PreparedTask, data_root, load_spec, prepare, task_ids, write_pins  # noqa: E402
from scripts._board_report import TaskReport, write_readme_table  # noqa: E402
from scripts._features import featurize  # noqa: E402
from scripts._population import Recipe, blend_recipes, draw_population, fit_predict, to_submission  # noqa: E402
from scripts._solutions import SOLUTION_FILES, bootstrap_se, run_solution  # noqa: E402

warnings.filterwarnings("ignore")
POPULATION_VERSION = 1  # bump to invalidate cached entries after changing scripts/_population.py or _features.py


def _digest(*parts: str | bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part if isinstance(part, bytes) else part.encode())
    return h.hexdigest()[:16]


class EntryCache:
    """Finished entries of one task on one pinned data version: predictions (``.npy``) and solution runs (``.json``)."""

    def __init__(self, root: Path, task: PreparedTask, seed: int):
        self.dir = root / task.spec.id / _digest(task.spec.pins_path.read_bytes(), str(seed), str(POPULATION_VERSION))
        self.dir.mkdir(parents=True, exist_ok=True)
        self.pins = task.spec.pins_path.read_bytes()

    def _path(self, name: str, suffix: str) -> Path:
        return self.dir / f"{_digest(name)}{suffix}"

    def predictions(self, recipe: Recipe, compute) -> tuple[np.ndarray, float]:
        path = self._path(recipe.name, ".npz")
        if path.exists():
            with np.load(path, allow_pickle=False) as data:
                return data["pred"], float(data["seconds"])
        start = time.perf_counter()
        pred = compute()
        seconds = time.perf_counter() - start
        np.savez(path, pred=pred, seconds=seconds)
        return pred, seconds

    def solution(self, task: PreparedTask, kind: str) -> tuple[dict, Path]:
        source = (task.spec.folder / SOLUTION_FILES[kind]).read_text()
        key = _digest(self.pins, source)
        meta, test_csv = self.dir / f"{kind}-{key}.json", self.dir / f"{kind}-{key}.test.csv"
        if not meta.exists():
            print(f"  {task.spec.id}: running {SOLUTION_FILES[kind]} ...", file=sys.stderr, flush=True)
            run = run_solution(task, source, kind, keep_test=test_csv)
            meta.write_text(json.dumps(run.to_dict()))
        return json.loads(meta.read_text()), test_csv


def _score(spec, pred, classes, ids, answers) -> float | None:
    result = grade(spec, to_submission(spec, pred, classes, ids), answers)
    return result.score if result.valid else None


def build(task_id: str, seed: int, cache_root: Path, check_only: bool = False) -> TaskReport:
    """Rebuild one task's board (unless ``check_only``), run its solution files and check the medals."""
    spec = load_spec(task_id)
    task = prepare(spec)
    if not check_only:
        write_pins(task)
        task = prepare(spec)  # the pins are part of the cache checksum
    cache = EntryCache(cache_root, task, seed)
    direction = Direction(spec.higher_is_better)
    start = time.perf_counter()
    if not check_only:
        train, dev, test = (pd.read_csv(task.public / f"{n}.csv") for n in ("train", "dev", "test"))
        answers = {"dev": task.answers("dev"), "test": task.answers("test")}
        feats = featurize(spec, train, pd.concat([dev, test], ignore_index=True))
        y = train[spec.target]
        classes = np.unique(y.to_numpy()) if spec.metric.kind != "value" else None
        n_dev = len(dev)
        rows, preds = [], {}

        def add(recipe: Recipe, compute) -> None:
            try:
                pred, seconds = cache.predictions(recipe, compute)
            except Exception as exc:  # noqa: BLE001 - a failed entry is skipped, and said so
                print(f"  {task_id}: {recipe.name} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
                return
            preds[recipe.name] = pred
            rows.append({"team": recipe.name, "tier": recipe.tier, "seconds": seconds,
                         "dev": _score(spec, pred[:n_dev], classes, dev[spec.id_column], answers["dev"]),
                         "score": _score(spec, pred[n_dev:], classes, test[spec.id_column], answers["test"])})

        for recipe in draw_population(spec, seed, len(train)):
            add(recipe, lambda r=recipe: fit_predict(r, spec, feats, y, classes))
        strong = [r for r in rows if r["tier"] == "strong" and r["dev"] is not None]
        ranked = [r["team"] for r in sorted(strong, key=lambda r: direction.sign * r["dev"], reverse=True)]
        for recipe in blend_recipes(ranked, seed):
            add(recipe, lambda r=recipe: np.mean([preds[p] for p in r.parts], axis=0))
        for kind, team in (("default", "default-solution"), ("gold", "reference-gold")):
            run, _ = cache.solution(task, kind)
            if run["test_score"] is not None:
                rows.append({"team": team, "tier": kind, "seconds": run["seconds"], "dev": run["dev_score"], "score": run["test_score"]})
        board = pd.DataFrame(rows).dropna(subset=["score"])
        board = board.assign(_key=direction.sign * board["score"]).sort_values("_key", ascending=False, kind="stable")
        board[["team", "score"]].to_csv(spec.leaderboard_path, index=False)
        slowest = board.nlargest(3, "seconds")[["team", "seconds"]].round(1).to_dict("records")
        print(f"  {task_id}: {len(board)} entries; slowest {slowest}", file=sys.stderr)
    return check(task, cache, time.perf_counter() - start)


def check(task: PreparedTask, cache: EntryCache, build_s: float) -> TaskReport:
    """Medal bands, the noise in the test metric, and where the baseline, default and gold reference land."""
    spec = task.spec
    board = Leaderboard.from_csv(spec.leaderboard_path, spec.higher_is_better)
    runs = {kind: cache.solution(task, kind) for kind in SOLUTION_FILES}
    gold_run = runs["gold"][0]
    # The larger of the default's and the gold reference's bootstrap SE: a perfect submission has none.
    ses = [bootstrap_se(task, pd.read_csv(csv)) for kind, (_, csv) in runs.items() if kind != "baseline" and csv.exists()]
    se = max(ses) if ses else float("nan")
    th = board.thresholds
    score = {kind: run["test_score"] for kind, (run, _) in runs.items()}
    medal = {kind: board.rank(s)["medal"] if s is not None else "invalid" for kind, s in score.items()}
    ordered = Direction(spec.higher_is_better).sorted(board.scores)
    position = {kind: (sum(Direction(spec.higher_is_better).better(x, s) for x in ordered) + 1 if s is not None else None)
                for kind, s in score.items()}
    # Where bronze to gold spans under two standard errors the top of the board is a statistical
    # tie: the gold reference must then reach the medal bands, not necessarily gold itself.
    narrow = bool(se == se and se > 0 and abs(th.gold - th.bronze) < 2 * se)
    gold_ok = medal["gold"] == "gold" or (narrow and medal["gold"] in ("silver", "bronze"))
    ok = medal["baseline"] == "none" and medal["default"] in ("none", "bronze") and gold_ok
    return TaskReport(
        task=spec.id, metric=spec.metric_name, higher_is_better=spec.higher_is_better, n=len(board.scores),
        gold=th.gold, silver=th.silver, bronze=th.bronze, median=th.median, best=ordered[0], test_se=se,
        baseline=score["baseline"], baseline_medal=medal["baseline"], default=score["default"],
        default_medal=medal["default"], default_position=position["default"], gold_ref=score["gold"],
        gold_ref_medal=medal["gold"], gold_ref_position=position["gold"], gold_ref_s=gold_run["seconds"],
        default_s=runs["default"][0]["seconds"], build_s=round(build_s, 1), ok=ok,
        test_rows=task.sizes()["test"], total_rows=sum(task.sizes().values()),
    )


def _order(ids: list[str]) -> list[str]:
    """Smallest tasks first (rows in the prepared train split), so the big ones run last."""
    def size(task_id: str) -> int:
        try:
            return prepare(task_id).sizes()["train"]
        except Exception:  # noqa: BLE001
            return 0
    return sorted(ids, key=size)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog="usage examples:" + __doc__.split("Usage::")[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="*", default=None, help="task ids (default: every task under envs/)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the population draw (default 0)")
    parser.add_argument("--cache", type=Path, default=None, help="entry cache (default: $GOME_DATA_DIR/../boards)")
    parser.add_argument("--check-only", action="store_true", help="do not rebuild; check the committed leaderboards")
    parser.add_argument("--pins-only", action="store_true", help="only prepare the tasks and rewrite envs/<id>/data.sha256")
    parser.add_argument("--no-readme", action="store_true", help="do not rewrite the table in envs/README.md")
    args = parser.parse_args(argv)
    known = task_ids()
    wanted = args.tasks or known
    unknown = [t for t in wanted if t not in known]
    if unknown:
        parser.error(f"unknown task(s) {unknown}; valid: {known}")
    if args.pins_only:
        for task_id in wanted:
            print(write_pins(prepare(task_id)))
        return 0
    cache_root = args.cache or data_root().parent / "boards"
    reports = []
    for task_id in _order(wanted):
        print(f"building {task_id} ...", file=sys.stderr, flush=True)
        reports.append(build(task_id, args.seed, cache_root, args.check_only))
        print(json.dumps(reports[-1].to_dict()), file=sys.stderr, flush=True)
    table = pd.DataFrame([r.to_dict() for r in reports])
    with pd.option_context("display.width", 250, "display.max_columns", 40):
        print(table.to_string(index=False))
    if not args.no_readme:
        every = {r.task: r for r in reports}
        for task_id in known:  # keep the other tasks' rows: re-check them from their committed boards
            if task_id not in every:
                every[task_id] = build(task_id, args.seed, cache_root, check_only=True)
        write_readme_table([every[t] for t in known])
    bad = [r.task for r in reports if not r.ok]
    if bad:
        print(f"FAILED checks (baseline medalled, default silver or gold, or gold reference short of gold): {bad}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
