"""Every task's ``default_solution.py`` is the one template of ``scripts/_defaults.py`` rendered with
that task's settings (a sandboxed solution cannot import the project, so the file is rendered)."""

from __future__ import annotations

import pytest

from gome_env.tasks.task import load_spec, task_ids
from scripts._defaults import FILE, MODELS, render

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
