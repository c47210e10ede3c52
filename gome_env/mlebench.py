"""Adapter: a prepared MLE-bench competition folder as an ``MLEEnv``.

    env = gymnasium.make("gome/mlebench-v0", competition_dir="~/mle-bench/data/spooky-author-identification")

The folder is laid out as MLE-bench prepares it::

    <competition_dir>/prepared/public/    description.md, train file(s), test features, sample_submission.csv
    <competition_dir>/prepared/private/   the test answers (``test.csv``, ``answers.csv`` or the only CSV)
    <competition_dir>/leaderboard.csv     the Kaggle private leaderboard (a ``score`` column)
    <competition_dir>/baseline.py         optional: a root solution; by default the root copies
                                          the sample submissions (valid, and as poor as they are)

Preparation (cached under ``$GOME_DATA_DIR/mlebench-<id>``) splits a dev set off the public train
rows deterministically (the env needs dev labels), rewrites the train file without them, writes
``dev.csv`` (features), ``sample_submission_dev.csv`` and the dev answers (in the format of the test
answers), and links every other public file unchanged. Grading uses the competition's own grader
when the ``mlebench`` package is importable, and otherwise the metric in :data:`LITE`, which covers
MLE-bench's 22 low-complexity competitions (or a ``metric=`` you pass).

The dev split needs a ``sample_submission.csv`` and one CSV of labelled train rows keyed by the
submission's id column (``train_file``). Competitions published otherwise need that file made
first: random-acts-of-pizza (``train.json``, ``sampleSubmission.csv``), the text-normalization
challenges (zipped files, ids built from two columns), and those whose labels live in folder
names, archives or image masks (denoising-dirty-documents, mlsp-2013-birds, the whale challenge).
Public files other than the train CSV are linked unchanged: a zipped copy of the train data would
still hold the dev rows' labels.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from gome_env.task import PreparedTask, TaskSpec, data_root

__all__ = ["LITE", "LiteEntry", "competition_spec", "make_env"]

ADAPTER_VERSION = "1"
DEV_FRACTION = 0.2

ROOT_SOLUTION = '''"""Root solution: copy the sample submissions (valid, and as poor as they are)."""

import shutil
from pathlib import Path

Path("submission").mkdir(exist_ok=True)
shutil.copy("data/sample_submission_dev.csv", "submission/dev.csv")
shutil.copy("data/sample_submission.csv", "submission/test.csv")
'''


@dataclass(frozen=True)
class LiteEntry:
    """How to grade a competition and derive dev answers from its train rows.

    ``answers``: ``"columns"`` (the answer columns are train columns of the same names) or
    ``"onehot:<label column>"`` (one-hot answer columns, one per class, from a label column).
    """

    metric: str
    train_file: str = "train.csv"
    answers: str = "columns"
    train_id: str | None = None  # the id column's name in the train file, if it differs


LITE: dict[str, LiteEntry] = {
    "aerial-cactus-identification": LiteEntry("auc"),
    "aptos2019-blindness-detection": LiteEntry("qwk"),
    "denoising-dirty-documents": LiteEntry("rmse", train_file="train_labels.csv"),
    "detecting-insults-in-social-commentary": LiteEntry("auc"),
    "dog-breed-identification": LiteEntry("logloss", train_file="labels.csv", answers="onehot:breed"),
    "dogs-vs-cats-redux-kernels-edition": LiteEntry("logloss", train_file="train_labels.csv"),
    "histopathologic-cancer-detection": LiteEntry("auc", train_file="train_labels.csv"),
    "jigsaw-toxic-comment-classification-challenge": LiteEntry("mean_column_auc"),
    "leaf-classification": LiteEntry("logloss", answers="onehot:species"),
    "mlsp-2013-birds": LiteEntry("auc", train_file="train_labels.csv"),
    "new-york-city-taxi-fare-prediction": LiteEntry("rmse", train_file="labels.csv"),
    "nomad2018-predict-transparent-conductors": LiteEntry("mean_column_rmsle"),
    "plant-pathology-2020-fgvc7": LiteEntry("mean_column_auc"),
    "random-acts-of-pizza": LiteEntry("auc", train_file="train.csv"),
    "ranzcr-clip-catheter-line-classification": LiteEntry("mean_column_auc"),
    "siim-isic-melanoma-classification": LiteEntry("auc"),
    "spooky-author-identification": LiteEntry("logloss", answers="onehot:author"),
    "tabular-playground-series-dec-2021": LiteEntry("accuracy"),
    "tabular-playground-series-may-2022": LiteEntry("auc"),
    "text-normalization-challenge-english-language": LiteEntry("accuracy", train_file="en_train.csv"),
    "text-normalization-challenge-russian-language": LiteEntry("accuracy", train_file="ru_train.csv"),
    "the-icml-2013-whale-challenge-right-whale-redux": LiteEntry("auc", train_file="train_labels.csv"),
}


def _answers_file(private: Path) -> Path:
    for name in ("test.csv", "answers.csv"):
        if (private / name).exists():
            return private / name
    csvs = sorted(private.glob("*.csv"))
    if len(csvs) == 1:
        return csvs[0]
    raise ValueError(f"{private}: cannot tell which file holds the test answers (found {[p.name for p in csvs]})")


def _official_grader(competition_id: str):
    """The competition's own grade function from the ``mlebench`` package, if importable."""
    try:
        from mlebench.registry import registry  # type: ignore[import-not-found]
    except ImportError:
        return None
    try:
        competition = registry.get_competition(competition_id)
    except Exception:  # noqa: BLE001 - not registered there: fall back to the mapping
        return None
    return lambda submission, answers: competition.grader(submission, answers)


def competition_spec(competition_dir: str | Path, metric: str | None = None, train_file: str | None = None) -> TaskSpec:
    """A TaskSpec for a prepared MLE-bench competition folder."""
    root = Path(competition_dir).expanduser().resolve()
    public, private = root / "prepared" / "public", root / "prepared" / "private"
    for folder in (public, private):
        if not folder.is_dir():
            raise ValueError(f"{root} is not a prepared MLE-bench competition: {folder} is missing")
    competition_id = root.name
    entry = LITE.get(competition_id)
    if metric is None and entry is None:
        raise ValueError(
            f"no metric known for {competition_id!r}: pass metric=NAME (see gome_env.metrics.METRICS), "
            f"or use one of the mapped competitions: {', '.join(sorted(LITE))}"
        )
    entry = LiteEntry(metric or entry.metric, train_file or entry.train_file, entry.answers, entry.train_id) if entry else LiteEntry(metric, train_file or "train.csv")
    sample = pd.read_csv(public / "sample_submission.csv", nrows=5)
    id_column, *prediction = list(sample.columns)
    answers = pd.read_csv(_answers_file(private), nrows=5)
    answer_columns = tuple(c for c in answers.columns if c != id_column)
    leaderboard = root / "leaderboard.csv"
    if not leaderboard.exists():
        raise ValueError(f"{root}: leaderboard.csv is missing (medals need the competition's leaderboard)")
    workdir = data_root() / f"mlebench-{competition_id}" / "task"
    workdir.mkdir(parents=True, exist_ok=True)
    description = public / "description.md"
    (workdir / "description.md").write_text(description.read_text() if description.exists() else f"# {competition_id}\n")
    baseline = root / "baseline.py"
    (workdir / "baseline.py").write_text(baseline.read_text() if baseline.exists() else ROOT_SOLUTION)
    _write_leaderboard(leaderboard, workdir / "leaderboard.csv")
    spec = TaskSpec(
        id=f"mlebench-{competition_id}",
        title=competition_id.replace("-", " ").title(),
        metric_name=entry.metric,
        modality="tabular",
        source=str(root),
        target=answer_columns[0],
        id_column=id_column,
        submission_columns=tuple(prediction),
        answer_columns=answer_columns if len(answer_columns) > 1 else (),
        step_timeout_s=3600.0,
        baseline_timeout_s=600.0,
        folder=workdir,
        grade_fn=_official_grader(competition_id),
        preparer=lambda spec, force: _prepare(spec, root, entry, force),
    )
    spec.metric  # noqa: B018 - validates the metric name
    return spec


def _write_leaderboard(source: Path, target: Path) -> None:
    frame = pd.read_csv(source)
    column = next((c for c in frame.columns if c.lower() == "score"), None)
    if column is None:
        raise ValueError(f"{source}: no 'score' column in {list(frame.columns)}")
    frame.rename(columns={column: "score"})[["score"]].to_csv(target, index=False)


def _fingerprint(*paths: Path) -> str:
    digest = hashlib.sha256(ADAPTER_VERSION.encode())
    for path in paths:
        stat = path.stat()
        digest.update(f"{path}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def _link(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, target, copy_function=_hardlink_or_copy)
    else:
        _hardlink_or_copy(source, target)


def _hardlink_or_copy(source, target) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _prepare(spec: TaskSpec, root: Path, entry: LiteEntry, force: bool) -> PreparedTask:
    public_in, private_in = root / "prepared" / "public", root / "prepared" / "private"
    train_path = public_in / entry.train_file
    if not train_path.exists():
        raise ValueError(
            f"{spec.id}: the dev split needs labelled train rows in {train_path} (train_file=...); "
            f"public files: {sorted(p.name for p in public_in.iterdir())}"
        )
    answers_path = _answers_file(private_in)
    out = data_root() / spec.id / "prepared"
    fingerprint = _fingerprint(train_path, answers_path, public_in / "sample_submission.csv")
    manifest_path = out / "manifest.json"
    if not force and manifest_path.exists() and json.loads(manifest_path.read_text()).get("fingerprint") == fingerprint:
        return PreparedTask(spec, out)

    tmp = out.with_name(f".prepared.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    public, private = tmp / "public", tmp / "private"
    public.mkdir(parents=True)
    private.mkdir()
    train = pd.read_csv(train_path)
    id_train = entry.train_id or spec.id_column
    if id_train not in train.columns:
        raise ValueError(f"{spec.id}: {entry.train_file} has no id column {id_train!r}; columns: {list(train.columns)[:20]}")
    order = np.random.default_rng(spec.split_seed).permutation(len(train))
    n_dev = max(1, int(round(DEV_FRACTION * len(train))))
    dev_rows = train.iloc[np.sort(order[:n_dev])]
    train_rows = train.iloc[np.sort(order[n_dev:])]

    if entry.answers.startswith("onehot:"):
        label = entry.answers.split(":", 1)[1]
        label_columns = [label]
        onehot = pd.get_dummies(dev_rows[label].astype(str)).reindex(columns=list(spec.target_columns), fill_value=0)
        dev_answers = pd.concat([dev_rows[[id_train]].reset_index(drop=True), onehot.astype(int).reset_index(drop=True)], axis=1)
    else:
        label_columns = [c for c in spec.target_columns if c in train.columns]
        missing = sorted(set(spec.target_columns) - set(label_columns))
        if missing:
            raise ValueError(f"{spec.id}: answer columns {missing} are not in {entry.train_file}; set the answers format in LITE")
        dev_answers = dev_rows[[id_train, *label_columns]].reset_index(drop=True)
    dev_answers = dev_answers.rename(columns={id_train: spec.id_column})
    dev_answers.to_csv(private / "dev.csv", index=False)
    shutil.copy2(answers_path, private / "test.csv")

    for item in public_in.iterdir():
        if item.name != entry.train_file:
            _link(item, public / item.name)
    train_rows.to_csv(public / entry.train_file, index=False)
    dev_rows.drop(columns=label_columns).to_csv(public / "dev.csv", index=False)
    sample = pd.read_csv(public_in / "sample_submission.csv")
    first = sample.iloc[0]
    dev_sample = pd.DataFrame({spec.id_column: dev_rows[id_train].to_numpy()})
    for column in spec.prediction_columns:
        dev_sample[column] = first[column]
    dev_sample.to_csv(public / "sample_submission_dev.csv", index=False)
    if not (public / "description.md").exists():
        (public / "description.md").write_text(spec.description)
    rows = {"train": len(train_rows), "dev": len(dev_rows), "test": len(sample)}
    (tmp / "manifest.json").write_text(json.dumps({"fingerprint": fingerprint, "rows": rows, "source": str(root)}))
    os.chmod(private, 0o700)
    if out.exists():
        shutil.rmtree(out)
    os.replace(tmp, out)
    return PreparedTask(spec, out)


def make_env(competition_dir: str | Path, metric: str | None = None, train_file: str | None = None, **kwargs):
    """Entry point of ``gome/mlebench-v0``: an MLEEnv over a prepared competition folder."""
    from gome_env.env import MLEEnv

    return MLEEnv(competition_spec(competition_dir, metric=metric, train_file=train_file), **kwargs)
