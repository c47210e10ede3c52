"""How each of MLE-bench's 22 lite competitions is published, and how a dev split is cut from it.

Read off each competition's ``prepare.py`` and ``grade.py`` in openai/mle-bench: which public file
holds the labelled train rows, the submission's id column, how labels become answers (a column, or
one-hot columns from a class column), the key that ties rows together (patients, sentences), and
which public files would leak a dev row's label.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Recipe", "LITE", "LAYOUTS"]

LAYOUTS = ("table", "dogs-vs-cats", "whale", "denoising", "mlsp")


@dataclass(frozen=True)
class Recipe:
    """One competition's publication format, as the dev split needs it.

    ``layout``: ``"table"`` (labelled rows in ``train``: a CSV, a zipped CSV or a JSON list) or one of
    the file-labelled layouts (labels in file names, folders or text files: :data:`LAYOUTS`).
    ``label``: a class column of ``train`` turned into the sample submission's one-hot columns.
    ``id_from``: columns joined by ``_`` into the submission id (text normalization).
    ``group``: rows sharing this key go to the same side of the dev split.
    ``test_features``: the public test-features file; the dev features are written in its format
    (``test`` in its name becomes ``dev``); with none, ``features`` names the dev columns.
    ``drop``: public paths removed from the workspace (they carry dev labels); ``filter``: public
    CSVs whose rows for dev ids are removed (``(path, id column)``); ``copies``: zips holding a copy
    of ``train`` (rewritten without the dev rows). ``sample_from``: a prediction column whose sample
    value copies a feature column (text normalization: ``after`` = ``before``).
    ``unscored``: answer rows whose values are negative are not scored (jigsaw's ``-1``).
    """

    metric: str
    id: str
    modality: str
    layout: str = "table"
    train: str = "train.csv"
    label: str | None = None
    id_from: tuple[str, ...] = ()
    group: str | None = None
    test_features: str | None = "test.csv"
    features: tuple[str, ...] = ()
    drop: tuple[str, ...] = ()
    filter: tuple[tuple[str, str], ...] = ()
    copies: tuple[str, ...] = ()
    sample_from: tuple[tuple[str, str], ...] = ()
    unscored: bool = False
    files: str = ""  # where a dev row's own files (images, audio) are found in the workspace
    note: str = ""  # what differs from MLE-bench's own files, for the docs

    def __post_init__(self) -> None:
        if self.layout not in LAYOUTS:
            raise ValueError(f"unknown layout {self.layout!r}; valid: {LAYOUTS}")


_CLASSES_NOTE = "dev answers: the class column one-hot encoded into the sample submission's columns"

LITE: dict[str, Recipe] = {
    "aerial-cactus-identification": Recipe(
        "auc", "id", "image", test_features=None, features=("id",), files="train.zip (<id>)"
    ),
    "aptos2019-blindness-detection": Recipe("qwk", "id_code", "image", files="train_images/<id_code>.png"),
    "denoising-dirty-documents": Recipe(
        "rmse", "id", "image", layout="denoising", train="train", test_features=None,
        files="dev/<image>.png (cleaned versions removed from train_cleaned/)",
    ),
    "detecting-insults-in-social-commentary": Recipe(
        "auc", "Comment", "text",
        note="the sample submission's `Date` column is not a prediction: submissions hold Comment, Insult",
    ),
    "dog-breed-identification": Recipe(
        "logloss", "id", "image", train="labels.csv", label="breed", test_features=None, features=("id",),
        files="train/<id>.jpg", note=_CLASSES_NOTE,
    ),
    "dogs-vs-cats-redux-kernels-edition": Recipe(
        "logloss", "id", "image", layout="dogs-vs-cats", train="train.zip", test_features=None,
        files="dev.zip (<id>.jpg, renamed: train names carry the label)",
    ),
    "histopathologic-cancer-detection": Recipe(
        "auc", "id", "image", train="train_labels.csv", test_features=None, features=("id",), files="train/<id>.tif"
    ),
    "jigsaw-toxic-comment-classification-challenge": Recipe(
        "mean_column_auc", "id", "text", unscored=True, note="test rows whose answers are -1 are not scored"
    ),
    "leaf-classification": Recipe("logloss", "id", "image", label="species", files="images/<id>.jpg", note=_CLASSES_NOTE),
    "mlsp-2013-birds": Recipe(
        "auc", "Id", "audio", layout="mlsp", train="essential_data/rec_labels_test_hidden.txt", test_features=None,
        files="essential_data/CVfolds_2.txt: fold 2 marks the dev recordings (their labels read '?')",
    ),
    "new-york-city-taxi-fare-prediction": Recipe(
        "rmse", "key", "tabular", train="labels.csv", note="answers: key, fare_amount (private test.csv holds every column)"
    ),
    "nomad2018-predict-transparent-conductors": Recipe(
        "mean_column_rmsle", "id", "tabular", files="train/<id>/geometry.xyz",
        note="answers: the two targets only (private test.csv holds every column)",
    ),
    "plant-pathology-2020-fgvc7": Recipe("mean_column_auc", "image_id", "image", files="images/<image_id>.jpg"),
    "random-acts-of-pizza": Recipe(
        "auc", "request_id", "text", train="train.json", test_features="test.json", copies=("train.zip",),
        note="train.json and train.zip are rewritten without the dev requests; dev.json holds test.json's fields",
    ),
    "ranzcr-clip-catheter-line-classification": Recipe(
        "mean_column_auc", "StudyInstanceUID", "image", group="PatientID", test_features=None,
        features=("StudyInstanceUID", "PatientID"), filter=(("train_annotations.csv", "StudyInstanceUID"),),
        files="train/<StudyInstanceUID>.jpg",
        note="split by PatientID; dev rows removed from train_annotations.csv",
    ),
    "siim-isic-melanoma-classification": Recipe(
        "auc", "image_name", "image", group="patient_id", drop=("tfrecords",),
        files="train/<image_name>.dcm, jpeg/train/<image_name>.jpg",
        note="split by patient_id; tfrecords/ removed (its train records carry every label)",
    ),
    "spooky-author-identification": Recipe("logloss", "id", "text", label="author", note=_CLASSES_NOTE),
    "tabular-playground-series-dec-2021": Recipe(
        "accuracy", "Id", "tabular", note="answers: Id, Cover_Type (private test.csv holds every column)"
    ),
    "tabular-playground-series-may-2022": Recipe(
        "auc", "id", "tabular", note="answers: id, target (private test.csv holds every column)"
    ),
    "text-normalization-challenge-english-language": Recipe(
        "accuracy", "id", "text", train="en_train.csv.zip", id_from=("sentence_id", "token_id"), group="sentence_id",
        test_features="en_test_2.csv.zip", sample_from=(("after", "before"),),
        note="split by sentence; ids are sentence_id_token_id",
    ),
    "text-normalization-challenge-russian-language": Recipe(
        "accuracy", "id", "text", train="ru_train.csv.zip", id_from=("sentence_id", "token_id"), group="sentence_id",
        test_features="ru_test_2.csv.zip", sample_from=(("after", "before"),),
        note="split by sentence; ids are sentence_id_token_id",
    ),
    "the-icml-2013-whale-challenge-right-whale-redux": Recipe(
        "auc", "clip", "audio", layout="whale", train="train2.zip", test_features=None,
        files="dev2.zip (dev2/<date>_<time>_Dev<i>.aif, renamed: train names carry the label)",
    ),
}
