"""Tiny synthetic copies of MLE-bench's 22 lite competitions, as its preparers write them.

``build(base)`` writes ``base/data/<id>/prepared/{public,private}`` with the file names, columns and
formats each competition's ``prepare.py`` produces (openai/mle-bench), from synthetic rows, and
``base/registry/<id>/{config.yaml,leaderboard.csv}`` apart from the data, as MLE-bench keeps them in
its package. Images and audio are tiny placeholder files (a real 4x4 PNG; denoising reads its pixels).
"""

from __future__ import annotations

import csv
import json
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

N, M = 50, 20  # labelled train rows, test rows
WORDS = ["storm", "night", "dream", "house", "sea", "ghost", "road", "fire"]


def png(pixels: np.ndarray) -> bytes:
    """A grayscale 8-bit PNG of ``pixels`` (2-D uint8)."""
    raw = b"".join(b"\x00" + row.tobytes() for row in pixels.astype(np.uint8))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", pixels.shape[1], pixels.shape[0], 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


TINY = png(np.arange(16).reshape(4, 4) * 16)


def _files(folder: Path, names) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(TINY)


def _zip(path: Path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def _binary(n: int, rng, offset: int = 0) -> np.ndarray:
    """Balanced 0/1 labels in random order (both classes in any sizeable subset)."""
    return rng.permutation((np.arange(n) + offset) % 2)


def _text(rng, n: int) -> list[str]:
    return [" ".join(rng.choice(WORDS, 5)) for _ in range(n)]


def _split_rows(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    return frame.iloc[:N].reset_index(drop=True), frame.iloc[N:].reset_index(drop=True)


def _onehot(frame: pd.DataFrame, id_col: str, label: str, classes: list[str]) -> pd.DataFrame:
    out = frame[[id_col]].copy()
    for c in classes:
        out[c] = (frame[label] == c).astype(int)
    return out


def aerial(pub: Path, priv: Path, rng) -> dict:
    frame = pd.DataFrame({"id": [f"{i:032x}.jpg" for i in range(N + M)], "has_cactus": _binary(N + M, rng)})
    train, test = _split_rows(frame)
    train.to_csv(pub / "train.csv", index=False)
    test.to_csv(priv / "test.csv", index=False)
    test.assign(has_cactus=0.5).to_csv(pub / "sample_submission.csv", index=False)
    _zip(pub / "train.zip", {f"train/{i}": TINY for i in train["id"]})
    _zip(pub / "test.zip", {f"test/{i}": TINY for i in test["id"]})
    return {"answers": "private/test.csv", "sample_submission": "public/sample_submission.csv"}


def aptos(pub: Path, priv: Path, rng) -> dict:
    frame = pd.DataFrame({"id_code": [f"{i:012x}" for i in range(N + M)], "diagnosis": np.arange(N + M) % 5})
    train, test = _split_rows(frame)
    _files(pub / "train_images", [f"{i}.png" for i in train["id_code"]])
    _files(pub / "test_images", [f"{i}.png" for i in test["id_code"]])
    train.to_csv(pub / "train.csv", index=False)
    test.to_csv(priv / "test.csv", index=False)
    test[["id_code"]].to_csv(pub / "test.csv", index=False)
    test.assign(diagnosis=0).to_csv(pub / "sample_submission.csv", index=False)
    return {"answers": "private/test.csv", "sample_submission": "public/sample_submission.csv"}


def denoising(pub: Path, priv: Path, rng) -> dict:
    names = [f"{i}.png" for i in range(2, 2 * 12 + 2, 2)]
    train, test = names[:9], names[9:]
    for folder, chosen in (("train", train), ("test", test)):
        (pub / folder).mkdir()
        for name in chosen:
            (pub / folder / name).write_bytes(png(rng.integers(0, 255, (3, 4))))
    (pub / "train_cleaned").mkdir()
    frames = []
    for name in names:
        clean = (rng.random((3, 4)) > 0.3) * 255
        if name in train:
            (pub / "train_cleaned" / name).write_bytes(png(clean))
        else:
            rows, cols = np.indices(clean.shape)
            ids = [f"{Path(name).stem}_{r + 1}_{c + 1}" for r, c in zip(rows.ravel(), cols.ravel())]
            frames.append(pd.DataFrame({"id": ids, "value": clean.ravel() / 255.0}))
    answers = pd.concat(frames)
    answers.to_csv(priv / "answers.csv", index=False)
    answers.assign(value=1).to_csv(pub / "sampleSubmission.csv", index=False)
    return {"answers": "private/answers.csv", "sample_submission": "public/sampleSubmission.csv"}


def insults(pub: Path, priv: Path, rng) -> dict:
    frame = pd.DataFrame({"Insult": _binary(N + M, rng), "Date": [f"2012061{i % 10}000000Z" for i in range(N + M)],
                          "Comment": [f'"comment {i}: {t}"' for i, t in enumerate(_text(rng, N + M))]})
    train, test = _split_rows(frame)
    train.to_csv(pub / "train.csv", index=False)
    test.assign(Usage="PrivateTest").to_csv(priv / "test.csv", index=False)
    test.to_csv(priv / "gold_submission.csv", index=False)
    test.drop(columns=["Insult"]).to_csv(pub / "test.csv", index=False)
    test.assign(Insult=0).to_csv(pub / "sample_submission_null.csv", index=False)
    return {"answers": "private/test.csv", "gold_submission": "private/gold_submission.csv",
            "sample_submission": "public/sample_submission_null.csv"}


def _classes_onehot(pub, priv, rng, id_col, label, classes, labels_file, features=None, images=None):
    frame = pd.DataFrame({id_col: [f"{i:016x}" for i in range(N + M)], label: [classes[i % len(classes)] for i in range(N + M)]})
    if features:
        for f in features:
            frame[f] = rng.random(N + M).round(6)
    train, test = _split_rows(frame)
    train.to_csv(pub / labels_file, index=False)
    onehot = _onehot(test, id_col, label, classes)
    onehot.to_csv(priv / "test.csv", index=False)
    onehot.assign(**{c: 1 / len(classes) for c in classes}).to_csv(pub / "sample_submission.csv", index=False)
    if features:
        test.drop(columns=[label]).to_csv(pub / "test.csv", index=False)
    return train, test


def dog_breed(pub: Path, priv: Path, rng) -> dict:
    train, test = _classes_onehot(pub, priv, rng, "id", "breed", ["affenpinscher", "beagle", "boxer", "chow", "whippet"], "labels.csv")
    _files(pub / "train", [f"{i}.jpg" for i in train["id"]])
    _files(pub / "test", [f"{i}.jpg" for i in test["id"]])
    return {"answers": "private/test.csv", "sample_submission": "public/sample_submission.csv"}


def leaf(pub: Path, priv: Path, rng) -> dict:
    train, test = _classes_onehot(pub, priv, rng, "id", "species", ["Acer_Capillipes", "Acer_Opalus", "Quercus_Rubra"], "train.csv",
                                  features=["margin1", "margin2", "shape1", "texture1"])
    _files(pub / "images", [f"{i}.jpg" for i in pd.concat([train["id"], test["id"]])])
    return {"answers": "private/test.csv", "sample_submission": "public/sample_submission.csv"}


def spooky(pub: Path, priv: Path, rng) -> dict:
    frame = pd.DataFrame({"id": [f"id{i:05d}" for i in range(N + M)], "text": _text(rng, N + M),
                          "author": [["EAP", "HPL", "MWS"][i % 3] for i in range(N + M)]})
    train, test = _split_rows(frame)
    train.to_csv(pub / "train.csv", index=False)
    test.drop(columns=["author"]).to_csv(pub / "test.csv", index=False)
    onehot = _onehot(test, "id", "author", ["EAP", "HPL", "MWS"])
    onehot.to_csv(priv / "test.csv", index=False)
    onehot.assign(EAP=0.403493538995863, HPL=0.287808366106543, MWS=0.308698094897594).to_csv(pub / "sample_submission.csv", index=False)
    return {"answers": "private/test.csv", "sample_submission": "public/sample_submission.csv"}


def dogs_vs_cats(pub: Path, priv: Path, rng) -> dict:
    labels = _binary(N + M, rng)
    train, test = labels[:N], labels[N:]
    members, counts = {}, {0: 0, 1: 0}
    for label in train:
        members[f"train/{'dog' if label else 'cat'}.{counts[label]}.jpg"] = TINY
        counts[label] += 1
    _zip(pub / "train.zip", members)
    _zip(pub / "test.zip", {f"test/{i}.jpg": TINY for i in range(1, M + 1)})
    pd.DataFrame({"id": range(1, M + 1), "label": test}).to_csv(priv / "answers.csv", index=False)
    pd.DataFrame({"id": range(1, M + 1), "label": 0.5}).to_csv(pub / "sample_submission.csv", index=False)
    return {"answers": "private/answers.csv", "sample_submission": "public/sample_submission.csv"}


def histopathologic(pub: Path, priv: Path, rng) -> dict:
    frame = pd.DataFrame({"id": [f"{i:040x}" for i in range(N + M)], "label": _binary(N + M, rng)})
    train, test = _split_rows(frame)
    _files(pub / "train", [f"{i}.tif" for i in train["id"]])
    _files(pub / "test", [f"{i}.tif" for i in test["id"]])
    train.to_csv(pub / "train_labels.csv", index=False)
    test.to_csv(priv / "answers.csv", index=False)
    test.assign(label=0).to_csv(pub / "sample_submission.csv", index=False)
    return {"answers": "private/answers.csv", "sample_submission": "public/sample_submission.csv"}


JIGSAW = ["toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate"]


def jigsaw(pub: Path, priv: Path, rng) -> dict:
    frame = pd.DataFrame({"id": [f"{i:016x}" for i in range(N + M)], "comment_text": _text(rng, N + M)})
    for k, c in enumerate(JIGSAW):
        frame[c] = _binary(N + M, rng, k)
    train, test = _split_rows(frame)
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
    _files(ess / "src_wavs", [f"{f}.wav" for f in names])
    _files(sup / "spectrograms", [f"{f}.bmp" for f in names])
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
    train, test = _split_rows(frame)
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


def plant(pub: Path, priv: Path, rng) -> dict:
    classes = ["healthy", "multiple_diseases", "rust", "scab"]
    frame = pd.DataFrame({"image_id": [f"Train_{i}" for i in range(N)] + [f"Test_{i}" for i in range(M)]})
    for k, c in enumerate(classes):
        frame[c] = ((np.arange(N + M) + k) % 4 < 2).astype(int)  # multi-label, every column both ways
    train, test = _split_rows(frame)
    _files(pub / "images", [f"{i}.jpg" for i in frame["image_id"]])
    test.to_csv(priv / "test.csv", index=False)
    test[["image_id"]].assign(**{c: 0.25 for c in classes}).to_csv(pub / "sample_submission.csv", index=False)
    test[["image_id"]].to_csv(pub / "test.csv", index=False)
    train.to_csv(pub / "train.csv", index=False)
    return {"answers": "private/test.csv", "sample_submission": "public/sample_submission.csv"}


def pizza(pub: Path, priv: Path, rng) -> dict:
    labels = _binary(N + M, rng)
    records = [{"giver_username_if_known": "N/A", "request_id": f"t3_{i:05x}", "request_text_edit_aware": t,
                "request_title": f"[Request] {t[:12]}", "requester_account_age_in_days_at_request": float(i),
                "number_of_upvotes_of_request_at_retrieval": int(i % 7), "requester_received_pizza": bool(labels[i]),
                "unix_timestamp_of_request": 1300000000.0 + i} for i, t in enumerate(_text(rng, N + M))]
    train, test = records[:N], records[N:]
    test_fields = ["giver_username_if_known", "request_id", "request_text_edit_aware", "request_title",
                   "requester_account_age_in_days_at_request", "unix_timestamp_of_request"]
    (pub / "train.json").write_text(json.dumps(train, indent=4))
    (pub / "test.json").write_text(json.dumps([{k: r[k] for k in test_fields} for r in test], indent=4))
    _zip(pub / "train.zip", {"train.json": (pub / "train.json").read_bytes()})
    _zip(pub / "test.zip", {"test.json": (pub / "test.json").read_bytes()})
    answers = pd.DataFrame({"request_id": [r["request_id"] for r in test], "requester_received_pizza": [int(r["requester_received_pizza"]) for r in test]})
    answers.to_csv(priv / "test.csv", index=False)
    answers.assign(requester_received_pizza=0).to_csv(pub / "sampleSubmission.csv", index=False)
    return {"answers": "private/test.csv", "sample_submission": "public/sampleSubmission.csv"}


RANZCR = ["ETT - Abnormal", "ETT - Borderline", "ETT - Normal", "NGT - Abnormal", "NGT - Borderline",
          "NGT - Incompletely Imaged", "NGT - Normal", "CVC - Abnormal", "CVC - Borderline"]
RANZCR_ALL = RANZCR + ["CVC - Normal", "Swan Ganz Catheter Present"]


def ranzcr(pub: Path, priv: Path, rng) -> dict:
    frame = pd.DataFrame({"StudyInstanceUID": [f"1.2.826.0.1.{i}" for i in range(N + M)]})
    for k, c in enumerate(RANZCR_ALL):
        frame[c] = ((np.arange(N + M) // 2 + k) % 2).astype(int)
    frame["PatientID"] = [f"p{i // 3:03d}" for i in range(N + M)]  # three studies per patient
    train, test = _split_rows(frame)
    _files(pub / "train", [f"{i}.jpg" for i in train["StudyInstanceUID"]])
    _files(pub / "test", [f"{i}.jpg" for i in test["StudyInstanceUID"]])
    annotations = train[train["ETT - Abnormal"] == 1][["StudyInstanceUID"]].assign(label="ETT - Abnormal", data="[[1, 2], [3, 4]]")
    train.to_csv(pub / "train.csv", index=False)
    annotations.to_csv(pub / "train_annotations.csv", index=False)
    test.to_csv(priv / "test.csv", index=False)
    test[["StudyInstanceUID"]].assign(**{c: 0 for c in RANZCR}).to_csv(pub / "sample_submission.csv", index=False)
    return {"answers": "private/test.csv", "sample_submission": "public/sample_submission.csv"}


def siim(pub: Path, priv: Path, rng) -> dict:
    n = N + M
    target = _binary(n, rng)
    frame = pd.DataFrame({"image_name": [f"ISIC_{i:07d}" for i in range(n)], "patient_id": [f"IP_{i // 4:07d}" for i in range(n)],
                          "sex": rng.choice(["male", "female"], n), "age_approx": rng.choice([30.0, 45.0, 60.0], n),
                          "anatom_site_general_challenge": rng.choice(["torso", "head/neck"], n),
                          "diagnosis": np.where(target == 1, "melanoma", "nevus"), "benign_malignant": np.where(target == 1, "malignant", "benign"),
                          "target": target})
    train, test = _split_rows(frame)
    train.to_csv(pub / "train.csv", index=False)
    test[["image_name", "patient_id", "sex", "age_approx", "anatom_site_general_challenge"]].to_csv(pub / "test.csv", index=False)
    test[["image_name"]].assign(target=0).to_csv(pub / "sample_submission.csv", index=False)
    test[["image_name", "target"]].to_csv(priv / "test.csv", index=False)
    for split, part in (("train", train), ("test", test)):
        _files(pub / split, [f"{i}.dcm" for i in part["image_name"]])
        _files(pub / "jpeg" / split, [f"{i}.jpg" for i in part["image_name"]])
    (pub / "tfrecords").mkdir()
    (pub / "tfrecords" / f"train00-{N}.tfrec").write_bytes(train.to_csv(index=False).encode())  # stands for labelled records
    (pub / "tfrecords" / f"test00-{M}.tfrec").write_bytes(b"\x00")
    return {"answers": "private/test.csv", "sample_submission": "public/sample_submission.csv"}


def _tabular(pub, priv, rng, id_col, target, values, sample_value, gold=False) -> dict:
    n = N + M
    frame = pd.DataFrame({id_col: range(n)})
    for k in range(4):
        frame[f"f_{k:02d}"] = rng.normal(size=n).round(5)
    frame["f_27"] = ["".join(rng.choice(list("ABCD"), 4)) for _ in range(n)]
    frame[target] = values
    train, test = _split_rows(frame)
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
    return _tabular(pub, priv, rng, "Id", "Cover_Type", 1 + np.arange(N + M) % 3, 2)


def tps_may(pub: Path, priv: Path, rng) -> dict:
    return _tabular(pub, priv, rng, "id", "target", _binary(N + M, rng), 0.5, gold=True)


def _text_normalization(prefix: str):
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
            _zip(pub / f"{name}.zip", {name: part.to_csv(**quoted)})
        return {"answers": "private/answers.csv", "sample_submission": "private/sample_submission.csv"}

    return build


def whale(pub: Path, priv: Path, rng) -> dict:
    labels = _binary(N + M, rng)
    train = {f"train2/20090328_{i:06d}_{i}s0ms_TRAIN{i}_{labels[i]}.aif": TINY for i in range(N)}
    test_names = [f"20090330_{i:06d}_{i}s0ms_Test{i}.aif" for i in range(M)]
    _zip(pub / "train2.zip", train)
    _zip(pub / "test2.zip", {f"test2/{name}": TINY for name in test_names})
    answers = pd.DataFrame({"clip": test_names, "probability": labels[N:]})
    answers.to_csv(priv / "test.csv", index=False)
    answers.assign(probability=0).to_csv(pub / "sampleSubmission.csv", index=False)
    return {"answers": "private/test.csv", "sample_submission": "public/sampleSubmission.csv"}


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
    "text-normalization-challenge-english-language": _text_normalization("en"),
    "text-normalization-challenge-russian-language": _text_normalization("ru"),
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
