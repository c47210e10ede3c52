"""A prepared MLE-bench competition folder as a TaskSpec, and its dev split (cached)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pandas as pd

from gome_env.grading.metrics import mean_column_auc
from gome_env.mlebench.layouts import SPLITTERS
from gome_env.mlebench.recipes import LITE, Recipe
from gome_env.mlebench.sources import Sources, find_sources
from gome_env.mlebench.split import answers_frame, link, link_tree, read_table, replace, split_table
from gome_env.tasks.task import PreparedTask, TaskSpec, data_root, publish

__all__ = ["competition_spec", "refit_data", "ADAPTER_VERSION", "ROOT_SOLUTION"]

ADAPTER_VERSION = "3"
SAMPLE_NAMES = ("sample_submission.csv", "sampleSubmission.csv", "sample_submission_null.csv")
ANSWER_NAMES = ("test.csv", "answers.csv")
REFIT = "refit"  # the prepared folder's data for final_refit runs

ROOT_SOLUTION = '''"""Root solution: copy the sample submissions (valid, and as poor as they are)."""

import shutil
from pathlib import Path

Path("submission").mkdir(exist_ok=True)
shutil.copy("data/sample_submission_dev.csv", "submission/dev.csv")
shutil.copy("data/sample_submission.csv", "submission/test.csv")
'''


def _first(folder: Path, names) -> Path | None:
    return next((folder / n for n in names if (folder / n).exists()), None)


def _sample_path(root: Path, sources: Sources) -> Path:
    public = root / "prepared" / "public"
    path = sources.sample_submission if sources.sample_submission and sources.sample_submission.exists() else _first(public, SAMPLE_NAMES)
    if path is None:
        raise ValueError(f"{public}: no sample submission (looked for {', '.join(SAMPLE_NAMES)} and the config's sample_submission)")
    return path


def _answers_path(root: Path, sources: Sources) -> Path:
    private = root / "prepared" / "private"
    if sources.answers and sources.answers.exists():
        return sources.answers
    found = _first(private, ANSWER_NAMES)
    if found is None:
        csvs = sorted(private.glob("*.csv"))
        if len(csvs) != 1:
            raise ValueError(f"{private}: cannot tell which file holds the test answers (found {[p.name for p in csvs]}); a config.yaml names it")
        found = csvs[0]
    return found


def _prediction_columns(sample: pd.DataFrame, recipe: Recipe, public: Path) -> list[str]:
    """The sample submission's columns that are predictions: neither the id nor a test feature
    (detecting-insults' sample repeats the test's ``Date``)."""
    if recipe.id not in sample.columns:
        raise ValueError(f"the sample submission has no id column {recipe.id!r}: {list(sample.columns)}")
    features: set[str] = set()
    test = public / recipe.test_features if recipe.test_features else None
    if test is not None and test.exists() and test.suffix != ".json":
        features = set(pd.read_csv(test, nrows=0).columns)
    return [c for c in sample.columns if c != recipe.id and c not in features]


def _unscored_grader(prediction: list[str]):
    """jigsaw's rule: answer rows marked -1 are not scored (the grader drops them)."""

    def grade(submission: pd.DataFrame, answers: pd.DataFrame) -> float:
        keep = (answers[prediction].astype(float).sum(axis=1) >= 0).to_numpy()
        return mean_column_auc(answers.loc[keep, prediction], submission.loc[keep, prediction])

    return grade


def _official_grader(competition_id: str):
    """The competition's own grade function from the installed ``mlebench`` package, if any."""
    try:
        from mlebench.registry import registry  # type: ignore[import-not-found]

        competition = registry.get_competition(competition_id)
    except Exception:  # noqa: BLE001 - absent, or not registered there
        return None
    return lambda submission, answers: competition.grader(submission, answers)


def competition_spec(
    competition_dir: str | Path,
    metric: str | None = None,
    train_file: str | None = None,
    leaderboard: str | Path | None = None,
    registry: str | Path | None = None,
) -> TaskSpec:
    """A TaskSpec for a competition folder as MLE-bench prepares it (``prepared/public``,
    ``prepared/private``); the leaderboard and config come from :func:`find_sources`."""
    root = Path(competition_dir).expanduser().resolve()
    if root.name in ("public", "private") and root.parent.name == "prepared":  # a folder inside: go up to the competition
        root = root.parent.parent
    elif root.name == "prepared":
        root = root.parent
    public, private = root / "prepared" / "public", root / "prepared" / "private"
    for folder in (public, private):
        if not folder.is_dir():
            raise ValueError(f"{root} is not a prepared MLE-bench competition: {folder} is missing (run `mlebench prepare -c {root.name}`)")
    competition_id = root.name
    recipe = LITE.get(competition_id)
    if recipe is None:
        if metric is None:
            raise ValueError(
                f"no recipe for {competition_id!r}: pass metric=NAME (see gome_env.grading.metrics.METRICS) for a competition "
                f"whose labelled rows are one CSV (train_file=...), or use one of: {', '.join(sorted(LITE))}"
            )
        sample_cols = list(pd.read_csv(_first(public, SAMPLE_NAMES) or public / "sample_submission.csv", nrows=0).columns)
        recipe = Recipe(metric, sample_cols[0], "tabular")
    if metric or train_file:
        recipe = Recipe(**{**recipe.__dict__, "metric": metric or recipe.metric, "train": train_file or recipe.train})
    sources = find_sources(root, leaderboard=leaderboard, registry=registry)
    sample_path, answers_path = _sample_path(root, sources), _answers_path(root, sources)
    prediction = _prediction_columns(pd.read_csv(sample_path, nrows=3), recipe, public)
    key = hashlib.sha256(f"{root}|{sources.leaderboard.resolve()}".encode()).hexdigest()[:10]
    workdir = data_root() / f"mlebench-{competition_id}" / key
    task = workdir / "task"
    task.mkdir(parents=True, exist_ok=True)
    description = public / "description.md"
    text = description.read_text() if description.exists() else f"# {competition_id}\n"
    (task / "description.md").write_text(text.rstrip() + "\n\n" + _workspace_note(recipe, prediction))
    baseline = root / "baseline.py"
    (task / "baseline.py").write_text(baseline.read_text() if baseline.exists() else ROOT_SOLUTION)
    _write_leaderboard(sources.leaderboard, task / "leaderboard.csv")
    grade_fn = _official_grader(competition_id) or (_unscored_grader(prediction) if recipe.unscored else None)
    spec = TaskSpec(
        id=f"mlebench-{competition_id}",
        title=competition_id.replace("-", " ").title(),
        metric_name=recipe.metric,
        modality=recipe.modality,
        source=str(root),
        target=prediction[0],
        id_column=recipe.id,
        submission_columns=tuple(prediction),
        answer_columns=tuple(prediction) if len(prediction) > 1 else (),
        step_timeout_s=3600.0,
        baseline_timeout_s=600.0,
        folder=task,
        grade_fn=grade_fn,
        preparer=lambda spec, force: _prepare(spec, root, recipe, sample_path, answers_path, workdir / "prepared", force),
    )
    spec.metric  # noqa: B018 - validates the metric name
    return spec


def _workspace_note(recipe: Recipe, prediction: list[str]) -> str:
    if recipe.layout == "table":
        features = recipe.test_features.replace("test", "dev", 1) if recipe.test_features else "dev.csv"
        where = f"- Dev features: `data/{features}`" + (f"; their files: {recipe.files}" if recipe.files else "")
    else:
        where = f"- Dev items: {recipe.files}"
    lines = [
        "## This workspace (gome-env)",
        "A dev split was taken off the public train rows; its labels are not in `data/`.",
        where,
        f"- Submissions: `{recipe.id}` and {', '.join(f'`{c}`' for c in prediction[:12])}"
        + (f" (+{len(prediction) - 12} more)" if len(prediction) > 12 else "")
        + " (`data/sample_submission_dev.csv`, `data/sample_submission.csv`).",
    ]
    if recipe.note:
        lines.append(f"- Note: {recipe.note}.")
    return "\n".join(lines) + "\n"


def refit_data(prepared: PreparedTask) -> Path:
    """The data a ``final_refit`` run sees (built on first use, then kept): the competition's public
    files as published (the dev rows back in train, labels included), plus the workspace's own files
    (dev features, sample submissions, description)."""
    refit = prepared.root / REFIT
    if refit.is_dir():
        return refit
    public_in = Path(prepared.spec.source) / "prepared" / "public"
    tmp = refit.with_name(f".{REFIT}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    link_tree(public_in, tmp)
    originals = {p.name for p in public_in.iterdir()}
    for item in prepared.public.iterdir():
        if item.name not in originals or item.name in ("sample_submission.csv", "description.md"):
            link(item, replace(tmp / item.name))
    try:
        os.replace(tmp, refit)
    except OSError:  # another process built it first
        shutil.rmtree(tmp, ignore_errors=True)
    return refit


def _write_leaderboard(source: Path, target: Path) -> None:
    frame = pd.read_csv(source)
    column = next((c for c in frame.columns if c.lower() == "score"), None)
    if column is None:
        raise ValueError(f"{source}: no 'score' column in {list(frame.columns)}")
    frame.rename(columns={column: "score"})[["score"]].to_csv(target, index=False)


def _fingerprint(recipe: Recipe, *paths: Path) -> str:
    digest = hashlib.sha256(f"{ADAPTER_VERSION}|{recipe!r}".encode())
    for path in paths:
        for item in sorted(path.iterdir()) if path.is_dir() else [path]:
            stat = item.stat()
            digest.update(f"{item}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def private_answers(answers_path: Path, recipe: Recipe, prediction: list[str]) -> pd.DataFrame:
    """The private answers reduced to the submission's columns (id + predictions)."""
    frame = read_table(answers_path)
    return answers_frame(pd.DataFrame(frame) if isinstance(frame, list) else frame, recipe, prediction)


def _prepare(spec: TaskSpec, root: Path, recipe: Recipe, sample_path: Path, answers_path: Path, out: Path, force: bool) -> PreparedTask:
    public_in = root / "prepared" / "public"
    fingerprint = _fingerprint(recipe, public_in, sample_path, answers_path)
    manifest = out / "manifest.json"
    if not force and manifest.exists() and json.loads(manifest.read_text()).get("fingerprint") == fingerprint:
        return PreparedTask(spec, out)
    tmp = out.with_name(f".prepared.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    public, private = tmp / "public", tmp / "private"
    public.mkdir(parents=True)
    private.mkdir()
    link_tree(public_in, public)
    prediction = list(spec.prediction_columns)
    sample = pd.read_csv(sample_path, keep_default_na=False, na_values=[""])
    test = private_answers(answers_path, recipe, prediction)
    if recipe.layout == "table":  # a dev split no larger than the test split
        dev = split_table(recipe, public_in, public, prediction, sample, spec.split_seed, cap=len(test))
    else:
        dev = SPLITTERS[recipe.layout](recipe, public_in, public, prediction, sample, spec.split_seed)
    dev.answers.to_csv(private / "dev.csv", index=False)
    test.to_csv(private / "test.csv", index=False)
    dev.sample.to_csv(replace(public / "sample_submission_dev.csv"), index=False)
    sample[[recipe.id, *prediction]].to_csv(replace(public / "sample_submission.csv"), index=False)
    shutil.copy2(spec.folder / "description.md", replace(public / "description.md"))
    rows = {"train": dev.train_rows, "dev": len(dev.answers), "test": len(test)}
    tmp.joinpath("manifest.json").write_text(json.dumps({"fingerprint": fingerprint, "rows": rows, "source": str(root), "dev_features": dev.features}))
    os.chmod(private, 0o700)
    publish(tmp, out)
    return PreparedTask(spec, out)
