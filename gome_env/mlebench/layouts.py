"""Dev splits of the competitions whose labels live in file names, folders or text files.

- dogs-vs-cats: ``train.zip`` holds ``cat.N.jpg`` and ``dog.N.jpg``; dev images move to ``dev.zip``
  as ``<k>.jpg`` (a name without the label, like ``test.zip``'s), answers ``id,label``.
- the whale challenge: ``train2.zip`` holds ``train2/<date>_<time>_TRAIN<i>_<label>.aif``; dev clips
  move to ``dev2.zip`` as ``dev2/<date>_<time>_Dev<k>.aif``, answers ``clip,probability``.
- denoising: dirty pages in ``train/``, clean ones in ``train_cleaned/``; dev pages move to ``dev/``,
  their clean versions leave the workspace and become per-pixel answers ``id,value``.
- mlsp-2013-birds: ``essential_data/CVfolds_2.txt`` (fold 0 train, 1 test) and
  ``rec_labels_test_hidden.txt`` (labels, ``?`` when hidden); dev recordings get fold 2 and ``?``,
  answers ``Id = rec_id * 100 + species, Probability``.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from gome_env.mlebench.recipes import Recipe
from gome_env.mlebench.split import DevSplit, choose_dev, dev_sample, replace

__all__ = ["SPLITTERS"]

N_SPECIES = 19


def _move_members(public: Path, archive: str, dev_archive: str, pick, rename) -> list[tuple[str, str]]:
    """Move the members ``pick`` chooses from ``archive`` into ``dev_archive`` under ``rename``'s
    names; returns ``(old name, new name)`` of the moved members."""
    source = public / archive
    moved: list[tuple[str, str]] = []
    with zipfile.ZipFile(source) as zin:
        members = sorted(m for m in zin.namelist() if not m.endswith("/"))
        chosen = set(pick(members))
        rewritten = source.with_name(f".{source.name}.tmp")
        with zipfile.ZipFile(rewritten, "w") as ztrain, zipfile.ZipFile(replace(public / dev_archive), "w") as zdev:
            for member in members:  # one member in memory at a time (the archives run to gigabytes)
                data = zin.read(member)
                if member in chosen:
                    new = rename(member, len(moved) + 1)
                    zdev.writestr(new, data)
                    moved.append((member, new))
                else:
                    ztrain.writestr(member, data)
    rewritten.replace(replace(source))
    return moved


def _pick(seed: int):
    return lambda members: [m for m, dev in zip(members, choose_dev(len(members), seed)) if dev]


def _dogs_vs_cats(recipe: Recipe, public_in: Path, public: Path, prediction, sample, seed) -> DevSplit:
    def rename(member: str, k: int) -> str:  # members sit at the archive's root, as MLE-bench's compress() writes them
        return f"{k}.jpg" if "/" not in member else f"dev/{k}.jpg"

    moved = _move_members(public, recipe.train, "dev.zip", _pick(seed), rename)
    ids = pd.Series([int(Path(new).stem) for _, new in moved])
    labels = [int(Path(old).name.startswith("dog")) for old, _ in moved]
    answers = pd.DataFrame({recipe.id: ids, prediction[0]: labels})
    return DevSplit(answers, dev_sample(ids, prediction, sample, None, recipe), _count(public / recipe.train), "dev.zip")


def _whale(recipe: Recipe, public_in: Path, public: Path, prediction, sample, seed) -> DevSplit:
    def rename(member: str, k: int) -> str:
        return f"dev2/{Path(member).name.split('TRAIN')[0]}Dev{k}.aif"

    moved = _move_members(public, recipe.train, "dev2.zip", _pick(seed), rename)
    ids = pd.Series([Path(new).name for _, new in moved])
    labels = [int(Path(old).stem.endswith("_1")) for old, _ in moved]
    answers = pd.DataFrame({recipe.id: ids, prediction[0]: labels})
    return DevSplit(answers, dev_sample(ids, prediction, sample, None, recipe), _count(public / recipe.train), "dev2.zip")


def _count(archive: Path) -> int:
    with zipfile.ZipFile(archive) as z:
        return sum(1 for m in z.namelist() if not m.endswith("/"))


def _pixels(path: Path) -> pd.DataFrame:
    try:
        from PIL import Image
    except ImportError:
        raise ValueError("denoising-dirty-documents needs Pillow to read its images: pip install pillow") from None
    image = np.asarray(Image.open(path).convert("L"), dtype=float) / 255.0
    rows, cols = np.indices(image.shape)
    ids = [f"{path.stem}_{r + 1}_{c + 1}" for r, c in zip(rows.ravel(), cols.ravel())]
    return pd.DataFrame({"id": ids, "value": image.ravel()})


def _denoising(recipe: Recipe, public_in: Path, public: Path, prediction, sample, seed) -> DevSplit:
    pages = sorted(p.name for p in (public_in / "train").glob("*.png"))
    dev = [name for name, chosen in zip(pages, choose_dev(len(pages), seed)) if chosen]
    (public / "dev").mkdir(exist_ok=True)
    frames = []
    for name in dev:
        (public / "train" / name).rename(public / "dev" / name)
        replace(public / "train_cleaned" / name)
        frames.append(_pixels(public_in / "train_cleaned" / name))
    answers = pd.concat(frames, ignore_index=True).rename(columns={"id": recipe.id, "value": prediction[0]})
    return DevSplit(answers, dev_sample(answers[recipe.id], prediction, sample, None, recipe), len(pages) - len(dev), "dev/")


def _mlsp(recipe: Recipe, public_in: Path, public: Path, prediction, sample, seed) -> DevSplit:
    folds_path = Path("essential_data") / "CVfolds_2.txt"
    folds = pd.read_csv(public_in / folds_path)
    lines = (public_in / recipe.train).read_text().splitlines()
    labels = {}
    for line in lines[1:]:
        rec, _, rest = line.partition(",")
        labels[int(rec)] = rest
    train_ids = [int(r) for r in folds.loc[folds["fold"] == 0, "rec_id"] if labels.get(int(r), "?") != "?"]
    dev = {r for r, chosen in zip(train_ids, choose_dev(len(train_ids), seed)) if chosen}
    folds.loc[folds["rec_id"].isin(dev), "fold"] = 2
    folds.to_csv(replace(public / folds_path), index=False)
    out = [lines[0]] + [f"{rec},?" if rec in dev else (f"{rec},{rest}" if rest else f"{rec}") for rec, rest in labels.items()]
    replace(public / recipe.train).write_text("\n".join(out) + "\n")
    ids, probs = [], []
    for rec in sorted(dev):
        present = {int(s) for s in re.split(r",", labels[rec]) if s.strip().isdigit()}
        for species in range(N_SPECIES):
            ids.append(rec * 100 + species)
            probs.append(int(species in present))
    answers = pd.DataFrame({recipe.id: ids, prediction[0]: probs})
    return DevSplit(answers, dev_sample(answers[recipe.id], prediction, sample, None, recipe), len(train_ids) - len(dev), str(folds_path))


SPLITTERS = {"dogs-vs-cats": _dogs_vs_cats, "whale": _whale, "denoising": _denoising, "mlsp": _mlsp}
