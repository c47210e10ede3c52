"""All 22 lite competitions of MLE-bench, as its preparers lay them out, through reset -> step -> submit.

The fixtures (``tests/mlebench_fixtures.py``) are synthetic but keep each preparer's file names,
columns and formats; the leaderboards and configs sit in a separate registry folder, as in MLE-bench.
"""

from __future__ import annotations

import importlib.util
import re
import zipfile

import gymnasium as gym
import pandas as pd
import pytest

import gome_env  # noqa: F401 - registers gome/mlebench-v0
import mlebench_fixtures as fixtures
from gome_env.grading.medals import Leaderboard
from gome_env.mlebench import LITE, competition_spec
from gome_env.tasks.task import prepare
from helpers import edit

COPY_SAMPLES = '''
import csv
from pathlib import Path

Path("submission").mkdir(exist_ok=True)
for split, name in (("dev", "sample_submission_dev.csv"), ("test", "sample_submission.csv")):
    with open(f"data/{name}", newline="") as source, open(f"submission/{split}.csv", "w", newline="") as target:
        rows = list(csv.reader(source))
        csv.writer(target).writerows(rows)
print("rows", len(rows))
'''

@pytest.fixture(scope="session")
def lite(tmp_path_factory):
    """One build of the 22 synthetic competitions per session: (data folder, registry folder)."""
    return fixtures.build(tmp_path_factory.mktemp("mlebench"))


def test_fixtures_cover_the_lite_split():
    assert sorted(fixtures.BUILDERS) == sorted(LITE) and len(LITE) == 22


@pytest.mark.parametrize("competition", sorted(LITE))
def test_reset_step_submit(lite, competition, tmp_path):
    if competition == "denoising-dirty-documents":
        pytest.importorskip("PIL", reason="its per-pixel dev answers need Pillow")
    data, registry = lite
    env = gym.make("gome/mlebench-v0", competition_dir=str(data / competition), registry=str(registry),
                   max_steps=3, workdir=tmp_path / "w")
    try:
        obs, info = env.reset(seed=0)
        assert info["diagnostics"]["status"] == "ok", info["diagnostics"]
        note = obs["task"].split("## This workspace (gome-env)")[1]
        named = re.search(r"Dev features: `data/([^`]+)`", note)  # the note names a file that is there
        assert (named is not None) == (LITE[competition].layout == "table")
        assert named is None or (env.unwrapped.prepared.public / named.group(1)).is_file()
        _, _, _, _, info = env.step(edit(env, lambda _: COPY_SAMPLES))
        d = info["diagnostics"]
        assert d["status"] == "ok", d
        assert d["dev_score"] == env.unwrapped.tree.root.dev_score  # the same predictions, the same score
        _, _, terminated, _, info = env.step("submit")
        final = info["final"]
        assert terminated and final["valid_submission"] and final["test_score"] is not None
        spec = env.unwrapped.spec_task
        board = Leaderboard.from_csv(registry / competition / "leaderboard.csv", spec.higher_is_better)
        assert final["medal"] == board.rank(final["test_score"])["medal"]
        assert final["thresholds"]["gold"] == board.thresholds.gold  # the registry's leaderboard was used
    finally:
        env.close()


def _prepared(lite, competition):
    data, registry = lite
    spec = competition_spec(data / competition, registry=registry)
    return spec, prepare(spec)


@pytest.mark.parametrize("competition", sorted(c for c, r in LITE.items() if r.layout == "table"))
def test_dev_rows_leave_the_public_train_file(lite, competition):
    spec, prepared = _prepared(lite, competition)
    recipe = LITE[competition]
    dev_ids = set(prepared.answers("dev")[spec.id_column].astype(str))
    train = fixtures_frame(prepared.public / recipe.train, recipe)
    assert dev_ids and not dev_ids & set(train[recipe.id].astype(str))
    answers = prepared.answers("test")
    assert list(answers.columns) == [spec.id_column, *spec.prediction_columns]  # nothing but the predictions
    data, _ = lite
    if recipe.train.endswith(".csv"):  # the kept rows, byte for byte (floats round-trip)
        original = (data / competition / "prepared" / "public" / recipe.train).read_text().splitlines()
        kept = (prepared.public / recipe.train).read_text().splitlines()
        assert kept[0] == original[0] and set(kept[1:]) <= set(original[1:]) and len(kept) < len(original)
    if recipe.group:  # no group on both sides
        original = fixtures_frame(data / competition / "prepared" / "public" / recipe.train, recipe)
        dev_groups = set(original[original[recipe.id].astype(str).isin(dev_ids)][recipe.group])
        assert not dev_groups & set(train[recipe.group])


def fixtures_frame(path, recipe):
    """A public train file as a frame, with the submission id built where it is (text normalization)."""
    frame = pd.read_json(path) if path.suffix == ".json" else pd.read_csv(path, keep_default_na=False)
    if recipe.id_from:
        frame[recipe.id] = frame[list(recipe.id_from)].astype(str).agg("_".join, axis=1)
    return frame


def test_onehot_answers_from_a_class_column(lite):
    spec, prepared = _prepared(lite, "spooky-author-identification")
    dev = prepared.answers("dev")
    assert list(dev.columns) == ["id", "EAP", "HPL", "MWS"] and (dev[["EAP", "HPL", "MWS"]].sum(axis=1) == 1).all()
    assert "author" not in pd.read_csv(prepared.public / "dev.csv").columns


def test_answers_drop_the_feature_columns_of_the_private_file(lite):
    for competition, columns in (("new-york-city-taxi-fare-prediction", ["key", "fare_amount"]),
                                 ("tabular-playground-series-may-2022", ["id", "target"]),
                                 ("nomad2018-predict-transparent-conductors", ["id", "formation_energy_ev_natom", "bandgap_energy_ev"])):
        spec, prepared = _prepared(lite, competition)
        assert list(prepared.answers("test").columns) == columns
        dev_features = pd.read_csv(prepared.public / "dev.csv")
        assert not set(columns[1:]) & set(dev_features.columns) and len(dev_features.columns) > 2


def test_side_files_that_carry_dev_labels_are_filtered(lite):
    spec, prepared = _prepared(lite, "ranzcr-clip-catheter-line-classification")
    dev_ids = set(prepared.answers("dev")["StudyInstanceUID"])
    assert not dev_ids & set(pd.read_csv(prepared.public / "train_annotations.csv")["StudyInstanceUID"])
    assert set(pd.read_csv(prepared.public / "dev.csv").columns) == {"StudyInstanceUID", "PatientID"}
    spec, prepared = _prepared(lite, "siim-isic-melanoma-classification")
    assert not (prepared.public / "tfrecords").exists()
    spec, prepared = _prepared(lite, "random-acts-of-pizza")
    dev_ids = set(prepared.answers("dev")["request_id"])
    with zipfile.ZipFile(prepared.public / "train.zip") as archive:
        assert not dev_ids & {r["request_id"] for r in pd.read_json(archive.open("train.json")).to_dict("records")}
    dev = pd.read_json(prepared.public / "dev.json")
    assert "requester_received_pizza" not in dev.columns and "number_of_upvotes_of_request_at_retrieval" not in dev.columns


def test_labels_in_file_names_never_reach_the_dev_files(lite):
    spec, prepared = _prepared(lite, "dogs-vs-cats-redux-kernels-edition")
    with zipfile.ZipFile(prepared.public / "dev.zip") as archive:
        names = archive.namelist()
    assert len(names) == len(prepared.answers("dev")) and not any("cat" in n or "dog" in n for n in names)
    spec, prepared = _prepared(lite, "the-icml-2013-whale-challenge-right-whale-redux")
    with zipfile.ZipFile(prepared.public / "dev2.zip") as archive:
        names = [n.split("/")[-1] for n in archive.namelist()]
    assert sorted(names) == sorted(prepared.answers("dev")["clip"]) and not any("TRAIN" in n for n in names)
    spec, prepared = _prepared(lite, "mlsp-2013-birds")
    folds = pd.read_csv(prepared.public / "essential_data" / "CVfolds_2.txt")
    dev_recs = set(folds.loc[folds.fold == 2, "rec_id"])
    assert dev_recs == set(prepared.answers("dev")["Id"] // 100)
    labels = (prepared.public / "essential_data" / "rec_labels_test_hidden.txt").read_text().splitlines()[1:]
    assert all(line.endswith(",?") for line in labels if int(line.split(",")[0]) in dev_recs)
    if importlib.util.find_spec("PIL") is None:
        return  # denoising's dev answers need Pillow
    spec, prepared = _prepared(lite, "denoising-dirty-documents")
    dev_pages = {p.name for p in (prepared.public / "dev").iterdir()}
    assert dev_pages and not dev_pages & {p.name for p in (prepared.public / "train_cleaned").iterdir()}


def test_the_competitions_own_files_are_untouched(lite):
    data, _ = lite
    before = {p: p.stat().st_mtime_ns for p in (data / "mlsp-2013-birds").rglob("*") if p.is_file()}
    _prepared(lite, "mlsp-2013-birds")  # rewrites hard-linked files: must never write through a link
    assert before == {p: p.stat().st_mtime_ns for p in (data / "mlsp-2013-birds").rglob("*") if p.is_file()}
    assert (data / "mlsp-2013-birds" / "prepared" / "public" / "essential_data" / "CVfolds_2.txt").read_text().count(",2") == 0


def test_unscored_rows_do_not_count(lite):
    spec, prepared = _prepared(lite, "jigsaw-toxic-comment-classification-challenge")
    answers = prepared.answers("test")
    perfect = answers.copy()
    columns = list(spec.prediction_columns)
    perfect[columns] = perfect[columns].clip(lower=0)  # -1 rows predicted 0: would break a plain AUC
    assert spec.grade_fn(perfect, answers) == 1.0


def test_insults_submissions_hold_the_comment_and_the_prediction(lite):
    spec, prepared = _prepared(lite, "detecting-insults-in-social-commentary")
    assert spec.id_column == "Comment" and spec.prediction_columns == ("Insult",)
    assert list(pd.read_csv(prepared.public / "sample_submission.csv").columns) == ["Comment", "Insult"]


def test_the_fixture_script_writes_and_checks(tmp_path, capsys):
    from scripts.make_mlebench_fixtures import main

    assert main([str(tmp_path / "out"), "--only", "leaf-classification", "--check"]) == 0
    out = capsys.readouterr().out
    assert "leaf-classification" in out and "INVALID" not in out
    assert (tmp_path / "out" / "registry" / "leaf-classification" / "leaderboard.csv").exists()
    assert not (tmp_path / "out" / "data" / "leaf-classification" / "leaderboard.csv").exists()  # kept apart, as in MLE-bench


def test_a_token_spelled_like_a_missing_value_is_text(lite, tmp_path):
    from gome_env.grading.grader import grade_file

    spec, prepared = _prepared(lite, "text-normalization-challenge-english-language")
    answers = prepared.answers("test").astype({"after": str})
    answers.loc[0, "after"] = "None"  # an English token the real data holds
    answers.to_csv(tmp_path / "test.csv", index=False)
    assert grade_file(spec, tmp_path / "test.csv", answers).valid
