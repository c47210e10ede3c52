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

__all__ = ["DEV_FRACTION", "DevSplit", "choose_dev", "answers_frame", "with_id", "dev_sample", "split_table", "replace", "read_table", "link", "link_tree", "stream_split"]

DEV_FRACTION = 0.2
LARGE_CSV_BYTES = 1 << 30  # train CSVs above this are split in chunks
CHUNK_ROWS = 1_000_000


@dataclass
class DevSplit:
    """What a layout's split produced: the dev answers, the dev sample submission and row counts."""

    answers: pd.DataFrame
    sample: pd.DataFrame
    train_rows: int
    features: str  # the dev features file written into public/

    def to_dict(self) -> dict:
        return {"dev": len(self.answers), "train": self.train_rows, "features": self.features}


def choose_dev(n: int, seed: int, groups: pd.Series | None = None, fraction: float = DEV_FRACTION, cap: int | None = None) -> np.ndarray:
    """A boolean mask of the dev rows: about ``fraction`` of the rows (at most ``cap``), whole
    groups at a time."""
    if n < 2:
        raise ValueError(f"a dev split needs at least 2 labelled rows, found {n}")
    rng = np.random.default_rng(seed)
    if groups is None:
        order = rng.permutation(n)
        mask = np.zeros(n, dtype=bool)
        mask[order[: max(1, min(int(round(fraction * n)), cap or n))]] = True
        return mask
    keys = pd.unique(groups.astype(str))
    if len(keys) < 2:
        raise ValueError(f"a grouped dev split needs at least 2 groups, found {len(keys)}")
    counts = groups.astype(str).value_counts()
    chosen, total = [], 0
    for key in rng.permutation(keys):
        if total >= min(fraction * n, cap or n) or len(chosen) == len(keys) - 1:
            break
        chosen.append(key)
        total += counts[key]
    return np.array(groups.astype(str).isin(set(chosen)).to_numpy(), dtype=bool)


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
    return pd.read_csv(path, keep_default_na=False, na_values=[""], float_precision="round_trip")


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
    rows = with_id(rows, recipe)
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


def with_id(frame: pd.DataFrame, recipe: Recipe) -> pd.DataFrame:
    """``frame`` with the submission id column, built from ``recipe.id_from`` where it is not there."""
    if recipe.id_from and recipe.id not in frame.columns:
        first, *rest = recipe.id_from
        built = frame[first].astype(str)
        for column in rest:
            built = built + "_" + frame[column].astype(str)
        frame = frame.assign(**{recipe.id: built})
    return frame


def _dev_and_train(frame: pd.DataFrame, recipe: Recipe, seed: int, cap: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Masks of the dev and train rows. An id that appears twice keeps one dev row; the other rows
    with a dev id leave train too (they would carry the dev label)."""
    mask = choose_dev(len(frame), seed, frame[recipe.group] if recipe.group else None, cap=cap)
    ids = frame[recipe.id].astype(str).to_numpy()
    positions = np.flatnonzero(mask)
    mask[positions[pd.Series(ids[positions]).duplicated().to_numpy()]] = False
    train = ~pd.Series(ids).isin(set(ids[mask])).to_numpy()
    return mask, train


def stream_split(source: Path, target: Path, recipe: Recipe, seed: int, cap: int | None) -> tuple[pd.DataFrame, int]:
    """A CSV too large to hold in memory (the taxi fares' 55 million rows), split in chunks."""
    n = sum(len(chunk) for chunk in pd.read_csv(source, chunksize=CHUNK_ROWS, usecols=[recipe.id]))
    mask = choose_dev(n, seed, cap=cap)
    replace(target)
    dev_parts, start = [], 0
    for chunk in pd.read_csv(source, chunksize=CHUNK_ROWS, keep_default_na=False, na_values=[""], float_precision="round_trip"):
        chosen = mask[start : start + len(chunk)]
        start += len(chunk)
        chunk[~chosen].to_csv(target, mode="a", header=not target.exists(), index=False)
        dev_parts.append(chunk[chosen])
    return pd.concat(dev_parts, ignore_index=True), int((~mask).sum())


def split_table(recipe: Recipe, public_in: Path, public: Path, prediction: list[str], sample: pd.DataFrame, seed: int, cap: int | None = None) -> DevSplit:
    """Cut the dev rows out of ``recipe.train`` (``public`` already links every public file); at
    most ``cap`` dev rows (the test split's size)."""
    train_path = public_in / recipe.train
    if not train_path.exists():
        raise ValueError(f"the labelled train rows should be in {train_path}; public files: {sorted(p.name for p in public_in.iterdir())}")
    records = None  # the dev records of a JSON train file
    if train_path.suffix == ".csv" and train_path.stat().st_size > LARGE_CSV_BYTES and not recipe.group and not recipe.id_from:
        dev_rows, n_train = stream_split(train_path, public / recipe.train, recipe, seed, cap)
    else:
        raw = read_table(train_path)
        frame = with_id(pd.DataFrame(raw) if isinstance(raw, list) else raw, recipe)
        if recipe.id not in frame.columns:
            raise ValueError(f"{recipe.train} has no id column {recipe.id!r}; columns: {list(frame.columns)[:20]}")
        dev, train = _dev_and_train(frame, recipe, seed, cap)
        dev_rows, n_train = frame[dev], int(train.sum())
        if isinstance(raw, list):
            kept = [raw[i] for i in np.flatnonzero(train)]
            _write(kept, public / recipe.train)
            for copy in recipe.copies:  # a zip holding the same train file
                with zipfile.ZipFile(replace(public / copy), "w", zipfile.ZIP_DEFLATED) as archive:
                    archive.writestr(recipe.train, json.dumps(kept, indent=4))
            records = [raw[i] for i in np.flatnonzero(dev)]
        else:
            _write(frame[train].drop(columns=[recipe.id]) if recipe.id_from else frame[train], public / recipe.train)
    answers = answers_frame(dev_rows, recipe, prediction)

    if recipe.test_features and (public_in / recipe.test_features).exists():
        columns = [c for c in _columns(public_in / recipe.test_features) if c in dev_rows.columns]
        name = recipe.test_features.replace("test", "dev", 1)
    else:
        columns, name = list(recipe.features or (recipe.id,)), "dev.csv"
    features = dev_rows[columns].reset_index(drop=True)
    _write([{k: r[k] for k in columns if k in r} for r in records] if records is not None else features, public / name)

    dev_ids = set(answers[recipe.id].astype(str))
    for side, key in recipe.filter:
        if (public_in / side).exists():
            table = pd.read_csv(public_in / side)
            _write(table[~table[key].astype(str).isin(dev_ids)], public / side)
    for path in recipe.drop:
        if (public / path).exists() or (public / path).is_symlink():
            replace(public / path)
    ids = answers[recipe.id]
    return DevSplit(answers, dev_sample(ids, prediction, sample, features, recipe), n_train, name)


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
