"""Tabular, text and audio competitions, as their preparers write them (file names, columns, formats)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pandas as pd

from mlebench_fixtures.common import M, N, TINY, WORDS, binary, onehot, put_files, split_rows, texts, zip_files


def insults(pub: Path, priv: Path, rng) -> dict:
    frame = pd.DataFrame({"Insult": binary(N + M, rng), "Date": [f"2012061{i % 10}000000Z" for i in range(N + M)],
                          "Comment": [f'"comment {i}: {t}"' for i, t in enumerate(texts(rng, N + M))]})
    train, test = split_rows(frame)
    train.to_csv(pub / "train.csv", index=False)
    test.assign(Usage="PrivateTest").to_csv(priv / "test.csv", index=False)
    test.to_csv(priv / "gold_submission.csv", index=False)
    test.drop(columns=["Insult"]).to_csv(pub / "test.csv", index=False)
    test.assign(Insult=0).to_csv(pub / "sample_submission_null.csv", index=False)
    return {"answers": "private/test.csv", "gold_submission": "private/gold_submission.csv",
            "sample_submission": "public/sample_submission_null.csv"}


def spooky(pub: Path, priv: Path, rng) -> dict:
    frame = pd.DataFrame({"id": [f"id{i:05d}" for i in range(N + M)], "text": texts(rng, N + M),
                          "author": [["EAP", "HPL", "MWS"][i % 3] for i in range(N + M)]})
    train, test = split_rows(frame)
    train.to_csv(pub / "train.csv", index=False)
    test.drop(columns=["author"]).to_csv(pub / "test.csv", index=False)
    answers = onehot(test, "id", "author", ["EAP", "HPL", "MWS"])
    answers.to_csv(priv / "test.csv", index=False)
    answers.assign(EAP=0.403493538995863, HPL=0.287808366106543, MWS=0.308698094897594).to_csv(pub / "sample_submission.csv", index=False)
    return {"answers": "private/test.csv", "sample_submission": "public/sample_submission.csv"}


JIGSAW = ["toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate"]


def jigsaw(pub: Path, priv: Path, rng) -> dict:
    frame = pd.DataFrame({"id": [f"{i:016x}" for i in range(N + M)], "comment_text": texts(rng, N + M)})
    for k, c in enumerate(JIGSAW):
        frame[c] = binary(N + M, rng, k)
    train, test = split_rows(frame)
    train.to_csv(pub / "train.csv", index=False)
    test[["id", "comment_text"]].to_csv(pub / "test.csv", index=False)
    answers = test.drop(columns=["comment_text"])
    answers.loc[answers.index[-4:], JIGSAW] = -1  # unscored rows, as in Kaggle's test_labels.csv
    answers.to_csv(priv / "test.csv", index=False)
    test[["id"]].assign(**{c: 0.5 for c in JIGSAW}).to_csv(pub / "sample_submission.csv", index=False)
    return {"answers": "private/test.csv", "sample_submission": "public/sample_submission.csv"}


def mlsp(pub: Path, priv: Path, rng) -> dict:
    ess, sup = pub / "essential_data", pub / "supplemental_data"
    ess.mkdir()
    sup.mkdir()
    n = N + M
    folds = pd.DataFrame({"rec_id": range(n), "fold": [0] * N + [1] * M})
    folds.to_csv(ess / "CVfolds_2.txt", index=False)
    names = [f"PC1_2010{i:04d}_0000" for i in range(n)]
    pd.DataFrame({"rec_id": range(n), "filename": names}).to_csv(ess / "rec_id2filename.txt", index=False)
    species = [sorted(set(rng.choice(19, rng.integers(0, 3)).tolist()) | {i % 19}) for i in range(n)]
    lines = ["rec_id,[labels]"]
    for rec in range(n):
        lines.append(f"{rec},?" if rec >= N else (f"{rec}," + ",".join(map(str, species[rec]))))
    (ess / "rec_labels_test_hidden.txt").write_text("\n".join(lines) + "\n")
    (ess / "species_list.txt").write_text("class_id,code,species\n" + "".join(f"{s},S{s},bird {s}\n" for s in range(19)))
    put_files(ess / "src_wavs", [f"{f}.wav" for f in names])
    put_files(sup / "spectrograms", [f"{f}.bmp" for f in names])
    (sup / "histogram_of_segments.txt").write_text("rec_id,[histogram of segment features]\n" + "".join(f"{r},0.1,0.2\n" for r in range(n)))
    ids = [rec * 100 + s for rec in range(N, n) for s in range(19)]
    probs = [int(s in species[rec]) for rec in range(N, n) for s in range(19)]
    pd.DataFrame({"Id": ids, "Probability": probs}).to_csv(priv / "answers.csv", index=False)
    pd.DataFrame({"Id": ids, "Probability": 0}).to_csv(pub / "sample_submission.csv", index=False)
    return {"answers": "private/answers.csv", "sample_submission": "public/sample_submission.csv"}


def taxi(pub: Path, priv: Path, rng) -> dict:
    n = N + M
    frame = pd.DataFrame({"key": [f"2013-01-0{1 + i % 9} 10:{i % 60:02d}:00.000000{i}" for i in range(n)],
                          "fare_amount": (rng.random(n) * 30 + 2.5).round(2),
                          "pickup_datetime": [f"2013-01-0{1 + i % 9} 10:{i % 60:02d}:00 UTC" for i in range(n)],
                          "pickup_longitude": -73.9 + rng.random(n) / 10, "pickup_latitude": 40.7 + rng.random(n) / 10,
                          "dropoff_longitude": -73.9 + rng.random(n) / 10, "dropoff_latitude": 40.7 + rng.random(n) / 10,
                          "passenger_count": rng.integers(1, 6, n)})
    train, test = split_rows(frame)
    train.to_csv(pub / "labels.csv", index=False)
    test.drop(columns=["fare_amount"]).to_csv(pub / "test.csv", index=False)
    test[["key"]].assign(fare_amount=11.35).to_csv(pub / "sample_submission.csv", index=False)
    test.to_csv(priv / "test.csv", index=False)
    (pub / "GCP-Coupons-Instructions.rtf").write_text("{\\rtf1 coupons}")
    return {"answers": "private/test.csv", "sample_submission": "public/sample_submission.csv"}


def nomad(pub: Path, priv: Path, rng) -> dict:
    def rows(n):
        return pd.DataFrame({"id": range(1, n + 1), "spacegroup": rng.choice([12, 33, 227], n), "number_of_total_atoms": rng.choice([10, 20, 40], n),
                             "percent_atom_al": rng.random(n).round(4), "lattice_vector_1_ang": (rng.random(n) * 10).round(4),
                             "formation_energy_ev_natom": (rng.random(n) * 0.4).round(4), "bandgap_energy_ev": (rng.random(n) * 5).round(4)})

    train, test = rows(N), rows(M)
    train.to_csv(pub / "train.csv", index=False)
    test.to_csv(priv / "test.csv", index=False)
    test.drop(columns=["formation_energy_ev_natom", "bandgap_energy_ev"]).to_csv(pub / "test.csv", index=False)
    for split, frame in (("train", train), ("test", test)):
        for i in frame["id"]:
            (pub / split / str(i)).mkdir(parents=True)
            (pub / split / str(i) / "geometry.xyz").write_text("lattice_vector 1 0 0\natom 0 0 0 Al\n")
    pd.DataFrame({"id": test["id"], "formation_energy_ev_natom": 0.1779, "bandgap_energy_ev": 1.8892}).to_csv(pub / "sample_submission.csv", index=False)
    return {"answers": "private/test.csv", "sample_submission": "public/sample_submission.csv"}


def pizza(pub: Path, priv: Path, rng) -> dict:
    labels = binary(N + M, rng)
    records = [{"giver_username_if_known": "N/A", "request_id": f"t3_{i:05x}", "request_text_edit_aware": t,
                "request_title": f"[Request] {t[:12]}", "requester_account_age_in_days_at_request": float(i),
                "number_of_upvotes_of_request_at_retrieval": int(i % 7), "requester_received_pizza": bool(labels[i]),
                "unix_timestamp_of_request": 1300000000.0 + i} for i, t in enumerate(texts(rng, N + M))]
    train, test = records[:N], records[N:]
    test_fields = ["giver_username_if_known", "request_id", "request_text_edit_aware", "request_title",
                   "requester_account_age_in_days_at_request", "unix_timestamp_of_request"]
    (pub / "train.json").write_text(json.dumps(train, indent=4))
    (pub / "test.json").write_text(json.dumps([{k: r[k] for k in test_fields} for r in test], indent=4))
    zip_files(pub / "train.zip", {"train.json": (pub / "train.json").read_bytes()})
    zip_files(pub / "test.zip", {"test.json": (pub / "test.json").read_bytes()})
    answers = pd.DataFrame({"request_id": [r["request_id"] for r in test], "requester_received_pizza": [int(r["requester_received_pizza"]) for r in test]})
    answers.to_csv(priv / "test.csv", index=False)
    answers.assign(requester_received_pizza=0).to_csv(pub / "sampleSubmission.csv", index=False)
    return {"answers": "private/test.csv", "sample_submission": "public/sampleSubmission.csv"}


def tabular(pub, priv, rng, id_col, target, values, sample_value, gold=False) -> dict:
    n = N + M
    frame = pd.DataFrame({id_col: range(n)})
    for k in range(4):
        frame[f"f_{k:02d}"] = rng.normal(size=n).round(5)
    frame["f_27"] = ["".join(rng.choice(list("ABCD"), 4)) for _ in range(n)]
    frame[target] = values
    train, test = split_rows(frame)
    train.to_csv(pub / "train.csv", index=False)
    test.to_csv(priv / "test.csv", index=False)
    test.drop(columns=[target]).to_csv(pub / "test.csv", index=False)
    test[[id_col]].assign(**{target: sample_value}).to_csv(pub / "sample_submission.csv", index=False)
    config = {"answers": "private/test.csv", "sample_submission": "public/sample_submission.csv"}
    if gold:
        test[[id_col, target]].to_csv(priv / "gold_submission.csv", index=False)
        config["gold_submission"] = "private/gold_submission.csv"
    return config


def tps_dec(pub: Path, priv: Path, rng) -> dict:
    return tabular(pub, priv, rng, "Id", "Cover_Type", 1 + np.arange(N + M) % 3, 2)


def tps_may(pub: Path, priv: Path, rng) -> dict:
    return tabular(pub, priv, rng, "id", "target", binary(N + M, rng), 0.5, gold=True)


def text_normalization(prefix: str):
    def build(pub: Path, priv: Path, rng) -> dict:
        rows = []
        for sentence in range(24):
            for token in range(4):
                before = str(rng.integers(0, 30)) if token == 3 else rng.choice(WORDS)
                after = f"{before}_spoken" if token == 3 else before
                rows.append({"sentence_id": sentence, "token_id": token, "class": "CARDINAL" if token == 3 else "PLAIN", "before": before, "after": after})
        frame = pd.DataFrame(rows)
        train, test = frame[frame.sentence_id < 18].copy(), frame[frame.sentence_id >= 18].copy()
        test["sentence_id"] -= 18
        answers = test.assign(id=test.sentence_id.astype(str) + "_" + test.token_id.astype(str))[["id", "after"]]
        sample = test.assign(id=answers["id"], after=test["before"])[["id", "after"]]
        quoted = {"index": False, "quotechar": '"', "quoting": csv.QUOTE_NONNUMERIC}
        answers.to_csv(priv / "answers.csv", **quoted)
        sample.to_csv(priv / "sample_submission.csv", **quoted)
        for name, part in ((f"{prefix}_train.csv", train), (f"{prefix}_test_2.csv", test.drop(columns=["after", "class"])), (f"{prefix}_sample_submission_2.csv", sample)):
            zip_files(pub / f"{name}.zip", {name: part.to_csv(**quoted)})
        return {"answers": "private/answers.csv", "sample_submission": "private/sample_submission.csv"}

    return build


def whale(pub: Path, priv: Path, rng) -> dict:
    labels = binary(N + M, rng)
    train = {f"train2/20090328_{i:06d}_{i}s0ms_TRAIN{i}_{labels[i]}.aif": TINY for i in range(N)}
    test_names = [f"20090330_{i:06d}_{i}s0ms_Test{i}.aif" for i in range(M)]
    zip_files(pub / "train2.zip", train)
    zip_files(pub / "test2.zip", {f"test2/{name}": TINY for name in test_names})
    answers = pd.DataFrame({"clip": test_names, "probability": labels[N:]})
    answers.to_csv(priv / "test.csv", index=False)
    answers.assign(probability=0).to_csv(pub / "sampleSubmission.csv", index=False)
    return {"answers": "private/test.csv", "sample_submission": "public/sampleSubmission.csv"}
