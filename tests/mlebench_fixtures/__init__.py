"""Tiny synthetic copies of MLE-bench's 22 lite competitions, as its preparers write them.

``build(base)`` writes ``base/data/<id>/prepared/{public,private}`` with the file names, columns and
formats each competition's ``prepare.py`` produces (openai/mle-bench), from synthetic rows, and
``base/registry/<id>/{config.yaml,leaderboard.csv}`` apart from the data, as MLE-bench keeps them in
its package. Images and audio are tiny placeholder files (a real 4x4 PNG; denoising reads its pixels).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from mlebench_fixtures.images import aerial, aptos, denoising, dog_breed, dogs_vs_cats, histopathologic, leaf, plant, ranzcr, siim
from mlebench_fixtures.tables import insults, jigsaw, mlsp, nomad, pizza, spooky, taxi, text_normalization, tps_dec, tps_may, whale

BUILDERS = {
    "aerial-cactus-identification": aerial,
    "aptos2019-blindness-detection": aptos,
    "denoising-dirty-documents": denoising,
    "detecting-insults-in-social-commentary": insults,
    "dog-breed-identification": dog_breed,
    "dogs-vs-cats-redux-kernels-edition": dogs_vs_cats,
    "histopathologic-cancer-detection": histopathologic,
    "jigsaw-toxic-comment-classification-challenge": jigsaw,
    "leaf-classification": leaf,
    "mlsp-2013-birds": mlsp,
    "new-york-city-taxi-fare-prediction": taxi,
    "nomad2018-predict-transparent-conductors": nomad,
    "plant-pathology-2020-fgvc7": plant,
    "random-acts-of-pizza": pizza,
    "ranzcr-clip-catheter-line-classification": ranzcr,
    "siim-isic-melanoma-classification": siim,
    "spooky-author-identification": spooky,
    "tabular-playground-series-dec-2021": tps_dec,
    "tabular-playground-series-may-2022": tps_may,
    "text-normalization-challenge-english-language": text_normalization("en"),
    "text-normalization-challenge-russian-language": text_normalization("ru"),
    "the-icml-2013-whale-challenge-right-whale-redux": whale,
}
LOWER_IS_BETTER = {"logloss", "rmse", "mean_column_rmsle"}


def build(base: Path, ids=None) -> tuple[Path, Path]:
    """Write the competitions (``ids``, default all 22) under ``base``; returns (data dir, registry)."""
    from gome_env.mlebench import LITE

    data, registry = base / "data", base / "registry"
    for k, (cid, builder) in enumerate(sorted(BUILDERS.items())):
        if ids is not None and cid not in ids:
            continue
        pub, priv = data / cid / "prepared" / "public", data / cid / "prepared" / "private"
        pub.mkdir(parents=True)
        priv.mkdir(parents=True)
        (pub / "description.md").write_text(f"# {cid} (synthetic fixture)\n\nA tiny stand-in for the Kaggle competition.\n")
        dataset = builder(pub, priv, np.random.default_rng(k))
        entry = registry / cid
        entry.mkdir(parents=True)
        lines = [f"id: {cid}", f"name: {cid}", "competition_type: simple", "", "dataset:"]
        lines += [f"  {key}: {cid}/prepared/{path}" for key, path in dataset.items()]
        lines += ["", "grader:", f"  name: {LITE[cid].metric}", f"  grade_fn: mlebench.competitions.{cid}.grade:grade", ""]
        (entry / "config.yaml").write_text("\n".join(lines))
        lower = LITE[cid].metric in LOWER_IS_BETTER
        scores = np.linspace(0.02, 3.0, 60) if lower else np.linspace(0.99, 0.2, 60)
        pd.DataFrame({"teamId": range(60), "teamName": [f"team {i}" for i in range(60)], "score": scores.round(5)}).to_csv(entry / "leaderboard.csv", index=False)
    return data, registry
