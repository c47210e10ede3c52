"""Every public import that worked before the regrouping into subpackages still works: the package
names, ``__all__`` of the public packages, the Gymnasium ids and the console scripts."""

from __future__ import annotations

import importlib
import tomllib
from pathlib import Path

import gymnasium as gym
import pytest

ROOT = Path(__file__).resolve().parents[1]

PUBLIC = {  # module -> names importable from it (a snapshot: a name may be added, never dropped)
    "gome_env": [
        "MLEEnv", "EnvPool", "RecordTrajectory", "TaskSpec", "apply_diff", "make_diff", "grade", "list_tasks", "load_spec",
        "prepare", "task_ids", "register_all", "Direction", "Diagnostics", "FinalReport", "ExecutorStats", "SOLUTION", "SUBMIT",
        "DETAIL_LEVELS", "MODALITIES", "STATUSES",
    ],
    "gome_env.rl": ["GomeReward", "GomeEnvironment", "make_grpo_dataset", "improve_messages", "make_options_dataset",
                    "pick_option", "completion_text"],
    "gome_env.rl.options": ["LETTERS", "Option", "options_prompt", "pick_option", "make_options_dataset", "ladder_options"],
    "gome_env.rl.dataset": ["make_grpo_dataset", "improve_messages", "PROMPT_DEFAULTS"],
    "gome_env.rl.trl_utils": ["cpu_grpo_config", "answer_logprob", "reward_history"],
    "gome_env.mlebench": ["LITE", "Recipe", "Sources", "competition_spec", "find_sources", "make_env"],
    "gome_env.mlebench.refit": ["RefitResult", "MLEBenchEnv", "run_refit"],
    "gome_env.records": ["MappingRecord", "jsonable", "plain"],
    "gome_env.raypool": ["RayWorker", "start_workers", "connect", "DEFAULT_ACTOR_OPTIONS", "LOST_STEP_RETRIES"],
    "gome_env.final": ["FinalReport", "final_report"],
    "gome_env.grading.medals": ["Leaderboard", "MedalThresholds", "Rank", "medal_thresholds", "rank_medal", "percentile"],
    "policies": [
        "POLICIES", "make_policy", "run_episode", "Policy", "PolicyConfig", "Episode", "Exchange", "Budget", "Stop",
        "ConfigError", "PRESETS", "GOMEPolicy", "GreedyPolicy", "MCTSPolicy", "EvolutionaryPolicy", "ReplayPolicy",
        "table_backend",
    ],
    "policies.models": ["SAMPLING", "EDIT_MAX_TOKENS", "Completion", "Conversation", "Message", "ModelBackend", "ModelError",
                        "Sampling", "Usage", "ScriptedBackend", "load_model", "bundled_model_dir", "DEFAULT_SPEC", "SPEC_FORMS"],
    "policies.models.serving": ["ServeConfig", "ServedEndpoint", "ModelServers", "LocalLauncher", "Launcher",
                                "servable", "served_name", "model_path"],
    "policies.models.serving_ray": ["ServerActor", "RayLauncher", "ray_launcher", "actor_resources"],
    "policies.prompts": ["SYSTEM", "START_MODES", "clip", "code_block", "execution_output", "feedback", "node_feedback",
                         "task_section", "memory_section", "baseline_section", "draft_prompt", "improve_prompt", "debug_prompt",
                         "crossover_prompt", "merge_prompt", "draft_request", "improve_request", "debug_request",
                         "crossover_request", "score_line"],
    "policies.taskinfo": ["task_brief", "data_preview", "limits_section", "packages_section", "public_data_dir", "PACKAGES"],
}


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_each_public_name_still_imports(module):
    mod = importlib.import_module(module)
    missing = [name for name in PUBLIC[module] if not hasattr(mod, name)]
    assert not missing, f"{module} lost {missing}"
    for name in getattr(mod, "__all__", ()):  # everything a module exports exists
        assert hasattr(mod, name), f"{module}.__all__ names {name!r}, which it does not define"


def test_the_package_reads_as_before():
    import gome_env

    assert gome_env.MLEEnv.__module__ == "gome_env.env" and callable(gome_env.make_diff)
    assert "--- a/a.py\n+++ b/a.py" in gome_env.make_diff({"a.py": "x\n"}, {"a.py": "y\n"})


def test_the_gymnasium_ids_are_registered():
    import gome_env

    ids = gome_env.register_all()
    assert ids and all(gym.spec(i).entry_point == "gome_env.env:MLEEnv" for i in ids)
    assert "gome/digits-v0" in ids and "gome/mlebench-v0" in gym.registry


def test_the_view_helpers_are_the_same_objects_in_the_policies():
    """The policies import the environment's text views rather than keeping copies."""
    import gome_env.views as views
    import policies.prompts as prompts
    import policies.taskinfo as taskinfo

    for name in ("clip", "code_block", "feedback", "node_feedback", "execution_output", "score_line", "SYSTEM"):
        assert getattr(prompts, name) is getattr(views, name), name
    assert taskinfo.task_brief is views.task_brief


def test_the_console_scripts_resolve():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert {"gome-benchmark", "gome-tasks"} <= set(scripts)
    for name, target in scripts.items():
        module, _, attr = target.partition(":")
        assert callable(getattr(importlib.import_module(module), attr)), name
