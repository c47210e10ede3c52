"""gome-env: MLE tasks as Gymnasium environments.

Importing the package registers ``gome/<task>-v0`` for every task folder in ``envs/``, and
``gome/mlebench-v0`` for prepared MLE-bench competitions (``competition_dir=PATH``)::

    import gymnasium as gym
    import gome_env  # noqa: F401

    env = gym.make("gome/digits-v0", max_steps=10)
    obs, info = env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step(diff)

Shared names have one definition each, exported here: ``SOLUTION``, ``SUBMIT``,
``DETAIL_LEVELS``, ``MODALITIES``, ``STATUSES`` and ``Direction`` (every score comparison).
"""

from __future__ import annotations

import gymnasium as gym

from gome_env.constants import DETAIL_LEVELS, SOLUTION, SUBMIT
from gome_env.diagnostics import STATUSES, Diagnostics
from gome_env.patching.diffs import apply_diff, make_diff
from gome_env.grading.direction import Direction
from gome_env.env import MLEEnv
from gome_env.isolation.executor import ExecutorStats
from gome_env.final import FinalReport
from gome_env.grading.grader import grade
from gome_env.pool import EnvPool
from gome_env.tasks.task import MODALITIES, TaskSpec, list_tasks, load_spec, prepare, task_ids
from gome_env.wrappers import RecordTrajectory

__all__ = ["MLEEnv", "EnvPool", "RecordTrajectory", "TaskSpec", "apply_diff", "make_diff", "grade", "list_tasks", "load_spec", "prepare",
           "task_ids", "register_all", "Direction", "Diagnostics", "FinalReport", "ExecutorStats", "SOLUTION", "SUBMIT",
           "DETAIL_LEVELS", "MODALITIES", "STATUSES"]
__version__ = "0.1.0"


def register_all() -> list[str]:
    """Register every task in ``envs/`` with Gymnasium (idempotent); returns the env ids."""
    ids = []
    for task_id in task_ids():
        env_id = f"gome/{task_id}-v0"
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point="gome_env.env:MLEEnv", kwargs={"task": task_id})
        ids.append(env_id)
    if "gome/mlebench-v0" not in gym.registry:
        gym.register(id="gome/mlebench-v0", entry_point="gome_env.mlebench:make_env")
    return ids


register_all()
