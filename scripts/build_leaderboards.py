"""Build each task's private leaderboard: a population shaped like a real competition's.

How the leaderboards were made (the record kept with the committed ``envs/<id>/leaderboard.csv``):

1. The task is prepared (``gome_env.tasks.task.prepare``), the same files agents get, and its files are
   pinned: ``envs/<id>/data.sha256`` (``tests/test_pinned_data.py`` checks them). Its
   ``default_solution.py`` is rendered from the one template (``scripts/_defaults.py``).
2. Features come from the public frames only (``scripts/_features.py``).
3. A population of distinct entries, its protocol fixed in code before any grading
   (``scripts/_population.py``): weak and middle tiers, then strong entrants, each tuning one
   family (LightGBM, XGBoost, CatBoost, scikit-learn's boosting and forests, a linear model, a
   small MLP, kernels and neighbours where the modality suits) by a few points of its grid and
   submitting the one with the best *dev* score, boosting early-stopped on the dev rows; the
   dev-tuned threshold for macro F1; at most four blends chosen by *dev* score, no entry in two.
   An entry predicting exactly as another is left out, and further entrants replace such twins
   until the board has at least 150 distinct entries. Each is fitted on the train split and
   graded on the private test split; the board is the population alone.
4. Witnesses, off the board they are measured against: the task's ``baseline.py``,
   ``default_solution.py`` (a competent ten-minute entry) and ``reference_gold.py`` (the
   gold-level reference), plus the "new user" check: the default template with a default-settings
   model of another family (LightGBM, a random forest, CatBoost, XGBoost). Each runs as an agent's
   ``solution.py`` would (a subprocess, one thread).
5. Targets (printed, tabled in ``envs/README.md``): the default solution at percentile 0.35-0.60
   with no medal, the gold reference gold by more than one paired standard error over the entry at
   the gold line (the bootstrap SE of the difference of the two scores on the same resampled test
   rows, 200 resamples), no gold line at a perfect score, the baseline without a medal; over 100
   resamples of the test rows, the default's percentile interval and the share of resamples on
   which its target holds (the table's summary adds them up across tasks); each new-user model
   with no gold and medals on at most a third of the tasks. Exit 1 when the default or the gold
   target holds on fewer than 10 tasks of 12 (of those built), a baseline medals, a gold line is
   perfect, or a new-user model misses its target. The default's and the gold reference's test scores
   are written to ``envs/<id>/witnesses.json`` (the benchmark's "vs default" score reads them).

Entries are cached (``--cache``, default ``$GOME_DATA_DIR/../boards``), keyed by the pinned
data and the entry's recipe or solution source, so a rerun skips finished work.

Usage::

    nice -n 10 python scripts/build_leaderboards.py                # every task, smallest first
    python scripts/build_leaderboards.py --tasks spam digits
    python scripts/build_leaderboards.py --check-only              # checks and README from the committed CSVs
    python scripts/build_leaderboards.py --pins-only               # rewrite envs/<id>/data.sha256 only
    python scripts/build_leaderboards.py --render-defaults         # rewrite envs/<id>/default_solution.py only
"""

from __future__ import annotations

import os

# One thread per model: on a shared 2-core machine OpenMP's spinning threads slow gradient boosting tenfold.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
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
from gome_env.grading.medals import Leaderboard, medal_thresholds, percentile  # noqa: E402
from gome_env.tasks.task import PreparedTask, data_root, load_spec, prepare, task_ids, write_pins  # noqa: E402
from gome_env.tasks.witnesses import write_witnesses  # noqa: E402
from scripts._board_report import TaskReport, new_user_counts, write_readme_table  # noqa: E402
from scripts._defaults import FILE as DEFAULT_FILE  # noqa: E402
from scripts._defaults import render  # noqa: E402
from scripts._features import featurize  # noqa: E402
from scripts._population import (MIN_TEAMS, TIER_SIZES, Recipe, blend_parts, blend_predictions, blend_recipes,  # noqa: E402
                                 draw_population, fit_predict, reserve_entrants, to_submission, training_rows)
from scripts._entry_cache import EntryCache  # noqa: E402
from scripts._solutions import SOLUTION_FILES, resampled_scores, resampled_se  # noqa: E402

warnings.filterwarnings("ignore")
NEW_USER_MODELS = ("lightgbm", "random-forest", "catboost", "xgboost")  # the "new user" check: the default template, another family
DEFAULT_PERCENTILE = (0.35, 0.60)
PERCENTILE_RESAMPLES = 100  # resamples of the test rows behind the default's percentile interval
TARGET_TASKS = 10  # of 12: the default and gold targets must hold on at least this many


def _score(spec, pred, classes, ids, answers) -> float | None:
    result = grade(spec, to_submission(spec, pred, classes, ids), answers)
    return result.score if result.valid else None


class Frames:
    """A prepared task's public frames, the classes, and the dev labels in the dev file's row order."""

    def __init__(self, task: PreparedTask):
        spec = task.spec
        self.train, self.dev, self.test = (pd.read_csv(task.public / f"{n}.csv") for n in ("train", "dev", "test"))
        self.answers = {"dev": task.answers("dev"), "test": task.answers("test")}
        self.classes = np.unique(self.train[spec.target].to_numpy()) if spec.metric.kind != "value" else None
        self.n_dev = len(self.dev)
        dev_answers = self.answers["dev"].set_index(spec.id_column)
        self.dev_labels = dev_answers.loc[self.dev[spec.id_column], spec.target].to_numpy() if spec.target in dev_answers else None

    def test_submission(self, spec, pred: np.ndarray) -> pd.DataFrame:
        return to_submission(spec, pred[self.n_dev:], self.classes, self.test[spec.id_column])


def build(task_id: str, seed: int, cache_root: Path, check_only: bool = False) -> TaskReport:
    """Rebuild one task's board (unless ``check_only``), run its witnesses and check the targets."""
    spec = load_spec(task_id)
    task = prepare(spec)
    if not check_only:
        (spec.folder / DEFAULT_FILE).write_text(render(spec))
        write_pins(task)
        task = prepare(spec)  # the pins are part of the cache checksum
    cache = EntryCache(cache_root, task, seed)
    direction = Direction(spec.higher_is_better)
    start = time.perf_counter()
    if not check_only:
        fr = Frames(task)
        feats = featurize(spec, fr.train, pd.concat([fr.dev, fr.test], ignore_index=True))
        y = fr.train[spec.target]
        rows, preds = [], {}

        def fitted(recipe: Recipe, compute) -> dict | None:
            try:  # a blend is recomputed from its members' predictions, never cached under its name alone
                pred, seconds = (compute(), 0.0) if recipe.parts else cache.predictions(recipe, compute, training_rows(recipe, len(y)))
            except Exception as exc:  # noqa: BLE001 - a failed entry is skipped, and said so
                print(f"  {task_id}: {recipe.name} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
                return None
            return {"team": recipe.name, "tier": recipe.tier, "seconds": seconds, "recipe": recipe, "pred": pred,
                    "dev": _score(spec, pred[:fr.n_dev], fr.classes, fr.dev[spec.id_column], fr.answers["dev"]),
                    "score": _score(spec, pred[fr.n_dev:], fr.classes, fr.test[spec.id_column], fr.answers["test"])}

        def enter(row: dict | None) -> None:
            if row is None:
                return
            twin = next((team for team, pred in preds.items() if pred.shape == row["pred"].shape
                         and np.allclose(pred, row["pred"], rtol=0, atol=1e-9)), None)
            if twin is not None:  # the same model under other settings (an SVM past its margin): one entry
                print(f"  {task_id}: {row['team']} predicts exactly as {twin}: left out", file=sys.stderr)
                return
            preds[row["team"]] = row.pop("pred")
            rows.append(row)

        def submit(points: list[Recipe]) -> None:  # a strong entrant submits the dev-best point of its own search
            tried = [row for row in (fitted(r, fit(r)) for r in points) if row is not None and row["dev"] is not None]
            if tried:
                best = max(tried, key=lambda row: direction.sign * row["dev"])
                enter({**best, "seconds": sum(row["seconds"] for row in tried)})

        def fit(recipe: Recipe):
            return lambda: fit_predict(recipe, spec, feats, y, fr.classes, fr.n_dev, fr.dev_labels)

        singles, entrants = draw_population(spec, seed, len(fr.train))
        for i, recipe in enumerate(singles):
            if i % 20 == 0:
                print(f"  {task_id}: entry {i + 1}/{len(singles)} ({recipe.name})", file=sys.stderr, flush=True)
            enter(fitted(recipe, fit(recipe)))
        for i, points in enumerate(entrants):
            if i % 10 == 0:
                print(f"  {task_id}: entrant {i + 1}/{len(entrants)} ({points[0].family})", file=sys.stderr, flush=True)
            submit(points)
        reserve = iter(reserve_entrants(spec, seed, len(fr.train)))
        while sum(row["score"] is not None for row in rows) < MIN_TEAMS - TIER_SIZES["blend"]:  # twins replaced
            if (points := next(reserve, None)) is None:
                break
            print(f"  {task_id}: reserve entrant ({points[0].family}) for a twin", file=sys.stderr, flush=True)
            submit(points)

        def dev_ranked() -> list[Recipe]:
            strong = [r for r in rows if r["tier"] == "strong" and r["dev"] is not None and not r["recipe"].parts]
            return [r["recipe"] for r in sorted(strong, key=lambda r: direction.sign * r["dev"], reverse=True)]

        for recipe in blend_recipes(dev_ranked(), seed):
            enter(fitted(recipe, lambda r=recipe: blend_predictions([preds[p] for p in r.parts])))
        board = pd.DataFrame(rows).dropna(subset=["score"])
        if len(board) < MIN_TEAMS:
            print(f"  {task_id}: only {len(board)} distinct entries (at least {MIN_TEAMS} wanted)", file=sys.stderr)
        board = board.assign(_key=direction.sign * board["score"]).sort_values("_key", ascending=False, kind="stable")
        board[["team", "score"]].to_csv(spec.leaderboard_path, index=False)
        slowest = board.nlargest(3, "seconds")[["team", "seconds"]].round(1).to_dict("records")
        print(f"  {task_id}: {len(board)} entries in {board['seconds'].sum():.0f} s of fitting; slowest {slowest}", file=sys.stderr)
    return check(task, cache, time.perf_counter() - start)


def _perfect(spec, score: float) -> bool:
    """A score no entry can beat: 1.0 for accuracy, F1 and AUC, 0 for a loss or an error."""
    return bool(score == 1.0) if spec.higher_is_better else bool(score == 0.0)


def _entry_predictions(cache: EntryCache, team: str) -> np.ndarray | None:
    """An entry's cached predictions; a blend's are the mean of its members' (blends are not cached)."""
    members = blend_parts(team)
    if members is None:
        return cache.cached(team)
    parts = [cache.cached(member) for member in members]
    return None if any(p is None for p in parts) else blend_predictions(parts)


def _line_entry(task: PreparedTask, frames: Frames, cache: EntryCache, board: pd.DataFrame, line: float) -> pd.DataFrame | None:
    """The test submission of the entry sitting at a medal line (from the entry cache), or None."""
    name = board.loc[board["score"] == line, "team"]
    pred = _entry_predictions(cache, name.iloc[0]) if len(name) else None
    return frames.test_submission(task.spec, pred) if pred is not None else None


def _noise(task: PreparedTask, default: pd.DataFrame | None, gold: pd.DataFrame | None,
           gold_line: pd.DataFrame | None, bronze_line: pd.DataFrame | None) -> tuple[float, float, float]:
    """The test metric's bootstrap SE (the larger of the default's and the gold reference's), and the
    paired SEs of the gold reference against the entry at the gold line and of the default against
    the entry at the bronze line: all from one resampling of the test rows (NaN where one is missing)."""
    named = {"default": default, "gold": gold, "gold_line": gold_line, "bronze_line": bronze_line}
    present = {name: sub for name, sub in named.items() if sub is not None}
    scores = dict(zip(present, resampled_scores(task, list(present.values())).T)) if present else {}
    ses = [resampled_se(scores[k]) for k in ("default", "gold") if k in scores]

    def paired(a: str, b: str) -> float:
        return resampled_se(scores[a], scores[b]) if a in scores and b in scores else float("nan")

    return (max(ses) if ses else float("nan")), paired("gold", "gold_line"), paired("default", "bronze_line")


def _in_window(pct: float) -> bool:
    """Whether a percentile lies in the default solution's window (its target also asks for no medal)."""
    return DEFAULT_PERCENTILE[0] <= pct <= DEFAULT_PERCENTILE[1]


def _targets_under_resampling(task: PreparedTask, frames: Frames, cache: EntryCache, board: pd.DataFrame,
                              default: pd.DataFrame | None, gold: pd.DataFrame | None,
                              gold_pse: float) -> tuple[tuple[float, float], float, float]:
    """How far the board's noise alone moves the targets, over ``PERCENTILE_RESAMPLES`` resamples of
    the test rows (every entry and both witnesses rescored on the same rows, so the medal lines move
    too): the 5th to 95th percentile of the default's percentile, the share of resamples on which
    the default's target holds (in the window, below that resample's bronze line) and the share on
    which the gold reference's holds (gold, and past that resample's gold line by more than
    ``gold_pse``, the paired SE measured on the test rows). NaNs where a witness did not run or an
    entry's predictions are not in the cache."""
    nan_result = (float("nan"), float("nan")), float("nan"), float("nan")
    preds = [_entry_predictions(cache, team) for team in board["team"]]
    if any(p is None for p in preds):
        return nan_result
    spec = task.spec
    d = Direction(spec.higher_is_better)
    # Both witness slots are filled (a missing one by the other, then ignored), so entries start at column 2.
    witnesses = [default if default is not None else gold, gold if gold is not None else default]
    if witnesses[0] is None:
        return nan_result
    scores = resampled_scores(task, witnesses + [frames.test_submission(spec, p) for p in preds], PERCENTILE_RESAMPLES)
    pcts, default_held, gold_held = [], [], []
    for row in scores:
        entries = row[2:][~np.isnan(row[2:])]
        lines = medal_thresholds(entries, spec.higher_is_better)
        if default is not None and not np.isnan(row[0]):
            pcts.append(percentile(row[0], entries, spec.higher_is_better))
            default_held.append(_in_window(pcts[-1]) and not d.at_least(row[0], lines.bronze))
        if gold is not None and not np.isnan(row[1]):
            gold_held.append(d.at_least(row[1], lines.gold) and d.sign * (row[1] - lines.gold) > gold_pse)
    pct_range = tuple(round(float(q), 3) for q in np.quantile(pcts, [0.05, 0.95])) if pcts else (float("nan"), float("nan"))
    return pct_range, _share_held(default_held), _share_held(gold_held)


def _share_held(held: list[bool]) -> float:
    return round(float(np.mean(held)), 2) if held else float("nan")


def check(task: PreparedTask, cache: EntryCache, build_s: float) -> TaskReport:
    """Medal lines, the paired noise, and where the baseline, the default, the gold reference and the new-user models land."""
    spec = task.spec
    d = Direction(spec.higher_is_better)
    frame = pd.read_csv(spec.leaderboard_path)
    board = Leaderboard.from_csv(spec.leaderboard_path, spec.higher_is_better)
    runs = {kind: cache.solution(task, kind) for kind in SOLUTION_FILES}
    for model in NEW_USER_MODELS:
        runs[f"new-{model}"] = cache.solution(task, f"new-{model}", render(spec, model))
    th = board.thresholds
    score = {kind: run["test_score"] for kind, (run, _) in runs.items()}
    rank = {kind: board.rank(s) for kind, s in score.items()}
    medal = {kind: r.medal if score[kind] is not None else "invalid" for kind, r in rank.items()}
    ordered = d.sorted(board.scores)
    position = {kind: (sum(d.better(x, s) for x in ordered) + 1 if s is not None else None) for kind, s in score.items()}
    subs = {kind: pd.read_csv(csv) for kind, (_, csv) in runs.items() if csv.exists()}
    frames = Frames(task)  # read once: the medal lines' entries and the interval's all need their test rows
    gold_line, bronze_line = (_line_entry(task, frames, cache, frame, line) for line in (th.gold, th.bronze))
    test_se, gold_pse, default_pse = _noise(task, subs.get("default"), subs.get("gold"), gold_line, bronze_line)
    margin = d.sign * (score["gold"] - th.gold) if score["gold"] is not None else float("nan")
    pct = percentile(score["default"], board.scores, spec.higher_is_better) if score["default"] is not None else float("nan")
    pct_range, default_ok_share, gold_ok_share = _targets_under_resampling(task, frames, cache, frame, subs.get("default"),
                                                                           subs.get("gold"), gold_pse)
    default_ok = medal["default"] == "none" and _in_window(pct)
    gold_ok = medal["gold"] == "gold" and margin == margin and gold_pse == gold_pse and margin > gold_pse
    write_witnesses(spec, score["default"], score["gold"])  # the benchmark's "vs default" reads these runs
    return TaskReport(
        task=spec.id, metric=spec.metric_name, higher_is_better=spec.higher_is_better, n=len(board.scores),
        gold=th.gold, silver=th.silver, bronze=th.bronze, median=th.median, best=ordered[0],
        test_se=test_se, gold_paired_se=gold_pse, default_paired_se=default_pse,
        baseline=score["baseline"], baseline_medal=medal["baseline"], default=score["default"],
        default_medal=medal["default"], default_position=position["default"], default_percentile=round(pct, 3),
        default_percentile_90=pct_range, default_ok_share=default_ok_share, gold_ok_share=gold_ok_share,
        gold_ref=score["gold"], gold_ref_medal=medal["gold"], gold_ref_position=position["gold"], gold_margin=margin,
        new_user={m: medal[f"new-{m}"] for m in NEW_USER_MODELS},
        new_user_percentile={m: round(rank[f"new-{m}"].percentile, 3) for m in NEW_USER_MODELS},
        gold_ref_s=runs["gold"][0]["seconds"], default_s=runs["default"][0]["seconds"], build_s=round(build_s, 1),
        default_ok=default_ok, gold_ok=gold_ok, perfect_gold_line=_perfect(spec, th.gold),
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
    parser.add_argument("--render-defaults", action="store_true", help="only rewrite envs/<id>/default_solution.py from scripts/_defaults.py")
    args = parser.parse_args(argv)
    known = task_ids()
    wanted = args.tasks or known
    unknown = [t for t in wanted if t not in known]
    if unknown:
        parser.error(f"unknown task(s) {unknown}; valid: {known}")
    if args.render_defaults:
        for task_id in wanted:
            spec = load_spec(task_id)
            (spec.folder / DEFAULT_FILE).write_text(render(spec))
        return 0
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
    total = len(reports)
    default_met, gold_met = sum(r.default_ok for r in reports), sum(r.gold_ok for r in reports)
    new_medals, new_gold = new_user_counts(reports)
    print(f"default solution at percentile {DEFAULT_PERCENTILE[0]}-{DEFAULT_PERCENTILE[1]} without a medal: {default_met} of {total}; "
          f"gold reference gold by more than one paired SE: {gold_met} of {total}; "
          f"new user (default settings, another family): medals {new_medals}, gold {new_gold} of {total}", file=sys.stderr)
    need = max(0, total - (12 - TARGET_TASKS))  # the same number of exceptions on a partial build
    bad = [r.task for r in reports if r.baseline_medal != "none" or r.perfect_gold_line]
    too_easy = [m for m in new_medals if new_gold[m] or 3 * new_medals[m] > total]  # a new user: no gold, medals on at most a third
    if bad or too_easy or default_met < need or gold_met < need:
        print(f"FAILED targets: default {default_met}/{total}, gold {gold_met}/{total} (need {need}); "
              f"baseline medalled or a perfect gold line on {bad}; a new user's gold or medals on over a third: {too_easy}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
