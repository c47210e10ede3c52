"""Every task's ``default_solution.py`` is the one template of ``scripts/_defaults.py`` rendered with
that task's settings (a sandboxed solution cannot import the project, so the file is rendered)."""

from __future__ import annotations

import pytest

from gome_env.grading.direction import Direction
from gome_env.tasks.task import load_spec, prepare, task_ids
from scripts._defaults import FILE, HELPERS, MODELS, render
from scripts._solutions import run_solution

TASKS = task_ids()


@pytest.mark.parametrize("task_id", TASKS)
def test_default_solution_is_the_rendered_template(task_id):
    spec = load_spec(task_id)
    committed = (spec.folder / FILE).read_text()
    assert committed == render(spec), (
        f"{spec.folder / FILE} differs from the template in scripts/_defaults.py: edit the template or the task's "
        "settings there, then `python scripts/build_leaderboards.py --render-defaults`"
    )


@pytest.mark.parametrize("model", sorted(MODELS))
def test_every_model_renders_valid_python(model):
    for task_id in TASKS:
        spec = load_spec(task_id)
        if model == "logreg" and spec.metric.kind == "value":
            continue
        source = render(spec, model)
        compile(source, f"{task_id}/{FILE}", "exec")
        assert spec.target in source and "submission/" in source


def test_an_unknown_model_is_refused():
    with pytest.raises(ValueError, match="unknown model"):
        render(load_spec(TASKS[0]), "magic")


def test_only_a_family_with_helpers_renders_them():
    """XGBoost's classifier is wrapped to take text labels; no other render carries that code."""
    spec = load_spec("hpc-jobs")
    assert "LabelCodes(xgboost.XGBClassifier(" in render(spec, "xgboost")
    assert all("LabelCodes" not in render(spec, m) for m in MODELS if m not in HELPERS)


@pytest.mark.parametrize("task_id, better_than", [("hpc-jobs", 0.7), ("telecom-churn", 0.8)])
def test_the_xgboost_render_answers_in_the_task_labels(task_id, better_than):
    """Both tasks' classes are text: the XGBoost render fits on codes and answers in the labels, one
    probability column per label (hpc-jobs, log loss; a uniform guess over four classes scores 1.39)
    or the label itself (telecom-churn, macro F1; all "no" scores about 0.46), so both submissions
    grade. Run as the build's new-user check runs it."""
    task = prepare(task_id)
    run = run_solution(task, render(task.spec, "xgboost"), "new-xgboost", timeout_s=300)
    assert run.returncode == 0 and run.dev_score is not None and run.test_score is not None, (run.problems, run.stderr_tail)
    assert Direction(task.spec.higher_is_better).better(run.dev_score, better_than), run.dev_score
