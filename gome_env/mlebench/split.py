"""The dev split of a competition whose labelled train rows form a table (CSV, zipped CSV or JSON).

Dev rows are chosen deterministically (whole groups where rows share a key such as a patient),
removed from the public train file (and from every public file that repeats them), and written
as dev features in the format of the public test features. Their answers are the sample
submission's prediction columns: the label columns themselves, or one-hot columns built from a
class column.
"""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from gome_env.mlebench.recipes import Recipe

__all__ = ["DEV_FRACTION", "DevSplit", "choose_dev", "answers_frame", "dev_sample", "split_table", "replace", "read_table", "link", "link_tree"]

DEV_FRACTION = 0.2


@dataclass
class DevSplit:
    """What a layout's split produced: the dev answers, the dev sample submission and row counts."""

    answers: pd.DataFrame
    sample: pd.DataFrame
    train_rows: int
    features: str  # the dev features file written into public/

    def to_dict(self) -> dict:
        return {"dev": len(self.answers), "train": self.train_rows, "features": self.features}


def choose_dev(n: int, seed: int, groups: pd.Series | None = None, fraction: float = DEV_FRACTION) -> np.ndarray:
    """A boolean mask of the dev rows: about ``fraction`` of the rows, whole groups at a time."""
    if n < 2:
        raise ValueError(f"a dev split needs at least 2 labelled rows, found {n}")
    rng = np.random.default_rng(seed)
    if groups is None:
        order = rng.permutation(n)
        mask = np.zeros(n, dtype=bool)
        mask[order[: max(1, int(round(fraction * n)))]] = True
        return mask
    keys = pd.unique(groups.astype(str))
    if len(keys) < 2:
        raise ValueError(f"a grouped dev split needs at least 2 groups, found {len(keys)}")
    counts = groups.astype(str).value_counts()
    chosen, total = [], 0
    for key in rng.permutation(keys):
        if total >= fraction * n or len(chosen) == len(keys) - 1:
            break
        chosen.append(key)
        total += counts[key]
    return groups.astype(str).isin(set(chosen)).to_numpy()


def replace(path: Path) -> Path:
    """Make ``path`` safe to write: the workspace holds hard links to the competition's files,
    and writing through one would change the original."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _inner(path: Path) -> str:
    return path.name[: -len(".zip")]


def read_table(path: Path) -> pd.DataFrame | list:
    """A CSV, a zipped CSV (pandas reads it directly) or a JSON list of records."""
    if path.suffix == ".json":
        return json.loads(path.read_text())
    return pd.read_csv(path, keep_default_na=False, na_values=[""])


def _write(frame_or_records, path: Path) -> None:
    replace(path)
    if isinstance(frame_or_records, list):
        path.write_text(json.dumps(frame_or_records, indent=4))
    elif path.name.endswith(".zip"):
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(_inner(path), frame_or_records.to_csv(index=False))
    else:
        frame_or_records.to_csv(path, index=False)


def _columns(path: Path) -> list[str]:
    if path.suffix == ".json":
        records = json.loads(path.read_text())
        return list(records[0]) if records else []
    return list(pd.read_csv(path, nrows=0).columns)


def answers_frame(rows: pd.DataFrame, recipe: Recipe, prediction: list[str]) -> pd.DataFrame:
    """Answers in the submission's format (id + prediction columns) from labelled rows."""
    if recipe.id_from and recipe.id not in rows.columns:
        rows = rows.assign(**{recipe.id: rows[list(recipe.id_from)].astype(str).agg("_".join, axis=1)})
    out = rows[[recipe.id]].reset_index(drop=True)
    missing = [c for c in prediction if c not in rows.columns]
    if missing and recipe.label and recipe.label in rows.columns:
        labels = rows[recipe.label].astype(str).to_numpy()
        for column in prediction:
            out[column] = (labels == str(column)).astype(int)
        return out
    if missing:
        raise ValueError(f"labelled rows lack the prediction columns {missing}; columns: {list(rows.columns)[:20]}")
    for column in prediction:
        values = rows[column].reset_index(drop=True)
        out[column] = values.astype(int) if values.dtype == bool else values
    return out


def dev_sample(ids: pd.Series, prediction: list[str], sample: pd.DataFrame, features: pd.DataFrame | None, recipe: Recipe) -> pd.DataFrame:
    """The dev sample submission: the test sample's constant values (or a copied feature column)."""
    out = pd.DataFrame({recipe.id: ids.to_numpy()})
    copies = dict(recipe.sample_from)
    for column in prediction:
        if column in copies and features is not None and copies[column] in features.columns:
            out[column] = features[copies[column]].to_numpy()
        else:
            out[column] = sample[column].iloc[0]
    return out


def split_table(recipe: Recipe, public_in: Path, public: Path, prediction: list[str], sample: pd.DataFrame, seed: int) -> DevSplit:
    """Cut the dev rows out of ``recipe.train`` (``public`` already links every public file)."""
    train_path = public_in / recipe.train
    if not train_path.exists():
        raise ValueError(f"the labelled train rows should be in {train_path}; public files: {sorted(p.name for p in public_in.iterdir())}")
    raw = read_table(train_path)
    frame = pd.DataFrame(raw) if isinstance(raw, list) else raw
    if recipe.id_from:
        frame[recipe.id] = frame[list(recipe.id_from)].astype(str).agg("_".join, axis=1)
    if recipe.id not in frame.columns:
        raise ValueError(f"{recipe.train} has no id column {recipe.id!r}; columns: {list(frame.columns)[:20]}")
    mask = choose_dev(len(frame), seed, frame[recipe.group] if recipe.group else None)
    dev_rows, train_rows = frame[mask], frame[~mask]
    answers = answers_frame(dev_rows, recipe, prediction)

    if isinstance(raw, list):
        kept = [record for record, dev in zip(raw, mask) if not dev]
        _write(kept, public / recipe.train)
        for copy in recipe.copies:  # a zip holding the same train file
            replace(public / copy)
            with zipfile.ZipFile(public / copy, "w", zipfile.ZIP_DEFLATED) as archive:
                archive.writestr(recipe.train, json.dumps(kept, indent=4))
    else:
        written = train_rows.drop(columns=[recipe.id]) if recipe.id_from else train_rows
        _write(written, public / recipe.train)

    if recipe.test_features and (public_in / recipe.test_features).exists():
        columns = [c for c in _columns(public_in / recipe.test_features) if c in frame.columns]
        name = recipe.test_features.replace("test", "dev", 1)
    else:
        columns, name = list(recipe.features or (recipe.id,)), "dev.csv"
    features = dev_rows[columns].reset_index(drop=True)
    if isinstance(raw, list):
        _write([{k: record[k] for k in columns if k in record} for record, dev in zip(raw, mask) if dev], public / name)
    else:
        _write(features, public / name)

    dev_ids = set(answers[recipe.id].astype(str))
    for side, key in recipe.filter:
        if (public_in / side).exists():
            table = pd.read_csv(public_in / side)
            _write(table[~table[key].astype(str).isin(dev_ids)], public / side)
    for path in recipe.drop:
        if (public / path).exists() or (public / path).is_symlink():
            replace(public / path)
    ids = answers[recipe.id]
    return DevSplit(answers, dev_sample(ids, prediction, sample, features, recipe), len(train_rows), name)


def link_tree(source: Path, target: Path) -> None:
    """Every entry of ``source`` hard-linked (or copied) into ``target``."""
    for item in source.iterdir():
        link(item, target / item.name)


def link(source: Path, target: Path) -> None:
    """A file hard-linked (copied across file systems), or a folder rebuilt of such links."""
    if source.is_dir():
        shutil.copytree(source, target, copy_function=_hardlink_or_copy, symlinks=False)
    else:
        _hardlink_or_copy(source, target)


def _hardlink_or_copy(source, target) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)
