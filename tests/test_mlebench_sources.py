"""Where the MLE-bench adapter finds a competition's leaderboard and config."""

from __future__ import annotations

import shutil
import sys

import pandas as pd
import pytest

import mlebench_fixtures as fixtures
from gome_env.mlebench import competition_spec, find_sources

SPOOKY = "spooky-author-identification"


@pytest.fixture(scope="module")
def spooky(tmp_path_factory):
    return fixtures.build(tmp_path_factory.mktemp("mle-src"), ids={SPOOKY, "text-normalization-challenge-english-language"})


def test_no_leaderboard_names_all_four_places(spooky):
    data, _ = spooky
    with pytest.raises(ValueError) as err:
        find_sources(data / SPOOKY)
    message = str(err.value)
    for place in ("leaderboard=", "registry=", "installed mlebench package", str(data / SPOOKY / "leaderboard.csv")):
        assert place in message


def test_lookup_order_and_a_clone_of_the_repository(spooky, tmp_path):
    data, registry = spooky
    clone = tmp_path / "mle-bench" / "mlebench" / "competitions"
    shutil.copytree(registry / SPOOKY, clone / SPOOKY)
    found = find_sources(data / SPOOKY, registry=tmp_path / "mle-bench")  # a clone: mlebench/competitions/<id>
    assert found.leaderboard == clone / SPOOKY / "leaderboard.csv" and found.config == clone / SPOOKY / "config.yaml"
    assert found.answers == data / SPOOKY / "prepared" / "private" / "test.csv"
    mine = tmp_path / "mine.csv"
    pd.DataFrame({"score": [0.1, 0.2, 0.3]}).to_csv(mine, index=False)
    assert find_sources(data / SPOOKY, leaderboard=mine, registry=registry).leaderboard == mine  # leaderboard= first
    assert find_sources(data / SPOOKY, leaderboard=mine, registry=registry).config == registry / SPOOKY / "config.yaml"


def test_a_git_lfs_pointer_is_named(spooky, tmp_path):
    data, registry = spooky
    pointer = tmp_path / SPOOKY
    pointer.mkdir()
    (pointer / "leaderboard.csv").write_text("version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 1\n")
    with pytest.raises(ValueError, match="git lfs pull"):
        find_sources(data / SPOOKY, registry=tmp_path)


def test_the_config_names_files_the_adapter_would_not_guess(spooky):
    data, registry = spooky
    competition = "text-normalization-challenge-english-language"  # its sample submission is in private/
    spec = competition_spec(data / competition, registry=registry)
    assert spec.id_column == "id" and spec.prediction_columns == ("after",)
    with pytest.raises(ValueError, match="no sample submission"):
        competition_spec(data / competition, leaderboard=registry / competition / "leaderboard.csv")


def test_a_folder_that_is_not_prepared_says_what_to_run(tmp_path):
    (tmp_path / SPOOKY).mkdir()
    with pytest.raises(ValueError, match="mlebench prepare -c spooky-author-identification"):
        competition_spec(tmp_path / SPOOKY)


@pytest.mark.parametrize("competition", ["detecting-insults-in-social-commentary", "tabular-playground-series-may-2022"])
def test_the_configs_gold_submission_scores_perfectly(tmp_path, competition):
    from gome_env.grading.grader import grade
    from gome_env.tasks.task import prepare

    data, registry = fixtures.build(tmp_path, ids={competition})
    sources = find_sources(data / competition, registry=registry)
    assert sources.gold_submission is not None and sources.gold_submission.name == "gold_submission.csv"
    spec = competition_spec(data / competition, registry=registry)
    gold = pd.read_csv(sources.gold_submission)[[spec.id_column, *spec.prediction_columns]]
    result = grade(spec, gold, prepare(spec).answers("test"))
    assert result.valid and result.score == 1.0  # the answers were cut to the right columns and rows


def test_the_installed_mlebench_package_is_third(spooky, tmp_path, monkeypatch):
    """A stand-in ``mlebench`` package: its registry folder is searched after registry=, and its
    competition's grader is the one used."""
    data, registry = spooky
    package = tmp_path / "site" / "mlebench"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "registry.py").write_text(
        "from pathlib import Path\n"
        "class _Competition:\n"
        "    def grader(self, submission, answers):\n"
        "        return 0.123\n"
        "class _Registry:\n"
        f"    def get_competitions_dir(self):\n        return Path({str(registry)!r})\n"
        "    def get_competition(self, competition_id):\n        return _Competition()\n"
        "registry = _Registry()\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    try:
        _check_installed_package(data, registry, tmp_path)
    finally:  # the stand-in must not outlive this test
        for name in [n for n in sys.modules if n == "mlebench" or n.startswith("mlebench.")]:
            del sys.modules[name]


def _check_installed_package(data, registry, tmp_path):
    found = find_sources(data / SPOOKY)
    assert found.leaderboard == registry / SPOOKY / "leaderboard.csv"
    other = tmp_path / "other"
    shutil.copytree(registry / SPOOKY, other / SPOOKY)
    assert find_sources(data / SPOOKY, registry=other).leaderboard == other / SPOOKY / "leaderboard.csv"  # registry= first
    spec = competition_spec(data / SPOOKY)
    assert spec.grade_fn is not None and spec.grade_fn(None, None) == 0.123


def test_config_reader_without_pyyaml(spooky, monkeypatch):
    from gome_env.mlebench.sources import read_config

    _, registry = spooky
    path = registry / SPOOKY / "config.yaml"
    with_yaml = read_config(path)
    monkeypatch.setitem(sys.modules, "yaml", None)  # import yaml now fails
    plain = read_config(path)
    assert plain["dataset"] == with_yaml["dataset"] and plain["id"] == SPOOKY
    assert plain["dataset"]["answers"] == f"{SPOOKY}/prepared/private/test.csv"


def test_a_folder_inside_the_competition_is_taken_as_the_competition(spooky):
    data, registry = spooky
    for inner in ("prepared", "prepared/public", "prepared/private"):
        assert competition_spec(data / SPOOKY / inner, registry=registry).source == str(data / SPOOKY)
