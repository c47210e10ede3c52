"""Image competitions, as their preparers write them (file names, columns, formats)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from mlebench_fixtures.common import M, N, TINY, binary, onehot, png, put_files, split_rows, zip_files


def aerial(pub: Path, priv: Path, rng) -> dict:
    frame = pd.DataFrame({"id": [f"{i:032x}.jpg" for i in range(N + M)], "has_cactus": binary(N + M, rng)})
    train, test = split_rows(frame)
    train.to_csv(pub / "train.csv", index=False)
    test.to_csv(priv / "test.csv", index=False)
    test.assign(has_cactus=0.5).to_csv(pub / "sample_submission.csv", index=False)
    zip_files(pub / "train.zip", {i: TINY for i in train["id"]})  # compress() writes members at the root
    zip_files(pub / "test.zip", {i: TINY for i in test["id"]})
    return {"answers": "private/test.csv", "sample_submission": "public/sample_submission.csv"}


def aptos(pub: Path, priv: Path, rng) -> dict:
    frame = pd.DataFrame({"id_code": [f"{i:012x}" for i in range(N + M)], "diagnosis": np.arange(N + M) % 5})
    train, test = split_rows(frame)
    put_files(pub / "train_images", [f"{i}.png" for i in train["id_code"]])
    put_files(pub / "test_images", [f"{i}.png" for i in test["id_code"]])
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


def classes_onehot(pub, priv, rng, id_col, label, classes, labels_file, features=None, images=None):
    frame = pd.DataFrame({id_col: [f"{i:016x}" for i in range(N + M)], label: [classes[i % len(classes)] for i in range(N + M)]})
    if features:
        for f in features:
            frame[f] = rng.random(N + M).round(6)
    train, test = split_rows(frame)
    train.to_csv(pub / labels_file, index=False)
    answers = onehot(test, id_col, label, classes)
    answers.to_csv(priv / "test.csv", index=False)
    answers.assign(**{c: 1 / len(classes) for c in classes}).to_csv(pub / "sample_submission.csv", index=False)
    if features:
        test.drop(columns=[label]).to_csv(pub / "test.csv", index=False)
    return train, test


def dog_breed(pub: Path, priv: Path, rng) -> dict:
    train, test = classes_onehot(pub, priv, rng, "id", "breed", ["affenpinscher", "beagle", "boxer", "chow", "whippet"], "labels.csv")
    put_files(pub / "train", [f"{i}.jpg" for i in train["id"]])
    put_files(pub / "test", [f"{i}.jpg" for i in test["id"]])
    return {"answers": "private/test.csv", "sample_submission": "public/sample_submission.csv"}


def leaf(pub: Path, priv: Path, rng) -> dict:
    (priv / "images").mkdir()  # the preparer makes it (and leaves it empty)
    train, test = classes_onehot(pub, priv, rng, "id", "species", ["Acer_Capillipes", "Acer_Opalus", "Quercus_Rubra"], "train.csv",
                                  features=["margin1", "margin2", "shape1", "texture1"])
    put_files(pub / "images", [f"{i}.jpg" for i in pd.concat([train["id"], test["id"]])])
    return {"answers": "private/test.csv", "sample_submission": "public/sample_submission.csv"}


def dogs_vs_cats(pub: Path, priv: Path, rng) -> dict:
    labels = binary(N + M, rng)
    train, test = labels[:N], labels[N:]
    members, counts = {}, {0: 0, 1: 0}
    for label in train:
        members[f"{'dog' if label else 'cat'}.{counts[label]}.jpg"] = TINY
        counts[label] += 1
    zip_files(pub / "train.zip", members)
    zip_files(pub / "test.zip", {f"{i}.jpg": TINY for i in range(1, M + 1)})
    pd.DataFrame({"id": range(1, M + 1), "label": test}).to_csv(priv / "answers.csv", index=False)
    pd.DataFrame({"id": range(1, M + 1), "label": 0.5}).to_csv(pub / "sample_submission.csv", index=False)
    return {"answers": "private/answers.csv", "sample_submission": "public/sample_submission.csv"}


def histopathologic(pub: Path, priv: Path, rng) -> dict:
    frame = pd.DataFrame({"id": [f"{i:040x}" for i in range(N + M)], "label": binary(N + M, rng)})
    train, test = split_rows(frame)
    put_files(pub / "train", [f"{i}.tif" for i in train["id"]])
    put_files(pub / "test", [f"{i}.tif" for i in test["id"]])
    train.to_csv(pub / "train_labels.csv", index=False)
    test.to_csv(priv / "answers.csv", index=False)
    test.assign(label=0).to_csv(pub / "sample_submission.csv", index=False)
    return {"answers": "private/answers.csv", "sample_submission": "public/sample_submission.csv"}


def plant(pub: Path, priv: Path, rng) -> dict:
    classes = ["healthy", "multiple_diseases", "rust", "scab"]
    frame = pd.DataFrame({"image_id": [f"Train_{i}" for i in range(N)] + [f"Test_{i}" for i in range(M)]})
    for k, c in enumerate(classes):
        frame[c] = ((np.arange(N + M) + k) % 4 < 2).astype(int)  # multi-label, every column both ways
    train, test = split_rows(frame)
    put_files(pub / "images", [f"{i}.jpg" for i in frame["image_id"]])
    test.to_csv(priv / "test.csv", index=False)
    test[["image_id"]].assign(**{c: 0.25 for c in classes}).to_csv(pub / "sample_submission.csv", index=False)
    test[["image_id"]].to_csv(pub / "test.csv", index=False)
    train.to_csv(pub / "train.csv", index=False)
    return {"answers": "private/test.csv", "sample_submission": "public/sample_submission.csv"}


RANZCR = ["ETT - Abnormal", "ETT - Borderline", "ETT - Normal", "NGT - Abnormal", "NGT - Borderline",
          "NGT - Incompletely Imaged", "NGT - Normal", "CVC - Abnormal", "CVC - Borderline"]
RANZCR_ALL = RANZCR + ["CVC - Normal", "Swan Ganz Catheter Present"]


def ranzcr(pub: Path, priv: Path, rng) -> dict:
    frame = pd.DataFrame({"StudyInstanceUID": [f"1.2.826.0.1.{i}" for i in range(N + M)]})
    for k, c in enumerate(RANZCR_ALL):
        frame[c] = ((np.arange(N + M) // 2 + k) % 2).astype(int)
    frame["PatientID"] = [f"p{i // 3:03d}" for i in range(N + M)]  # three studies per patient
    train, test = split_rows(frame)
    put_files(pub / "train", [f"{i}.jpg" for i in train["StudyInstanceUID"]])
    put_files(pub / "test", [f"{i}.jpg" for i in test["StudyInstanceUID"]])
    annotations = train[train["ETT - Abnormal"] == 1][["StudyInstanceUID"]].assign(label="ETT - Abnormal", data="[[1, 2], [3, 4]]")
    train.to_csv(pub / "train.csv", index=False)
    annotations.to_csv(pub / "train_annotations.csv", index=False)
    test.to_csv(priv / "test.csv", index=False)
    test[["StudyInstanceUID"]].assign(**{c: 0 for c in RANZCR}).to_csv(pub / "sample_submission.csv", index=False)
    return {"answers": "private/test.csv", "sample_submission": "public/sample_submission.csv"}


def siim(pub: Path, priv: Path, rng) -> dict:
    n = N + M
    target = binary(n, rng)
    frame = pd.DataFrame({"image_name": [f"ISIC_{i:07d}" for i in range(n)], "patient_id": [f"IP_{i // 4:07d}" for i in range(n)],
                          "sex": rng.choice(["male", "female"], n), "age_approx": rng.choice([30.0, 45.0, 60.0], n),
                          "anatom_site_general_challenge": rng.choice(["torso", "head/neck"], n),
                          "diagnosis": np.where(target == 1, "melanoma", "nevus"), "benign_malignant": np.where(target == 1, "malignant", "benign"),
                          "target": target})
    train, test = split_rows(frame)
    train.to_csv(pub / "train.csv", index=False)
    test[["image_name", "patient_id", "sex", "age_approx", "anatom_site_general_challenge"]].to_csv(pub / "test.csv", index=False)
    test[["image_name"]].assign(target=0).to_csv(pub / "sample_submission.csv", index=False)
    test[["image_name", "target"]].to_csv(priv / "test.csv", index=False)
    for split, part in (("train", train), ("test", test)):
        put_files(pub / split, [f"{i}.dcm" for i in part["image_name"]])
        put_files(pub / "jpeg" / split, [f"{i}.jpg" for i in part["image_name"]])
    (pub / "tfrecords").mkdir()
    (pub / "tfrecords" / f"train00-{N}.tfrec").write_bytes(train.to_csv(index=False).encode())  # stands for labelled records
    (pub / "tfrecords" / f"test00-{M}.tfrec").write_bytes(b"\x00")
    return {"answers": "private/test.csv", "sample_submission": "public/sample_submission.csv"}
