"""``MLEEnv``: an MLE task as a Gymnasium environment whose action is a code diff.

One step, top to bottom (``MLEEnv.step``):

1. ``submit``?  -> the episode ends with the chosen node graded on the private test split;
2. ``apply_diff`` the action to the current node's files (all-or-nothing) -> ``patch_failed``;
3. ``check_syntax`` -> ``syntax_error`` (nothing is run);
4. lay the files out in the workspace and run ``python solution.py`` in the sandbox ->
   ``timeout``, ``memory_exceeded``, ``runtime_error``;
5. ``grade`` the dev predictions (the private test predictions are graded too, and kept
   out of every observation) -> ``invalid_submission`` or ``ok`` with a dev score;
6. add a node to the tree, compute the reward, render the feedback.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import shutil
import tempfile
import time
import weakref
from pathlib import Path
from typing import Any

import gymnasium as gym
from gymnasium import spaces

from gome_env import diagnostics as dx
from gome_env.constants import DETAIL_LEVELS, SOLUTION, SUBMIT
from gome_env.patching.diffs import apply_diff
from gome_env.evaluation import Evaluator
from gome_env.isolation.executor import Executor, ExecutorStats
from gome_env.final import FinalReport, final_report
from gome_env.grading.grader import GradeResult
from gome_env.grading.medals import Leaderboard
from gome_env.observation import CHARSET, make_observation, observation_space
from gome_env.isolation.procio import Limits
from gome_env.rewards import REWARDS, RewardFn
from gome_env.isolation.sandbox import SANDBOXES, make_sandbox
from gome_env.tasks.task import SOLUTION_CONTRACT, TaskSpec, load_spec, prepare
from gome_env.tree import Node, Tree

__all__ = ["MLEEnv", "RewardFn", "REWARDS", "SUBMIT"]

# Baseline diagnostics are cached per task and settings so that reset(seed) is reproducible
# (check_env compares observations) and each task's baseline runs once per process.
_BASELINE_CACHE: dict[tuple, tuple[dx.Diagnostics, GradeResult | None]] = {}


class _Resources:
    """What an env must release: its executor (the warm worker) and the workdir it created.
    Held apart from the env so that a ``weakref.finalize`` on the env can release them."""

    def __init__(self, workdir: Path | None) -> None:
        self.workdir = workdir
        self.executor: Executor | None = None

    def release(self) -> None:
        if self.executor is not None:
            self.executor.close()
            self.executor = None
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None


class MLEEnv(gym.Env):
    """An ML-engineering task: improve a solution program by sending diffs.

    ## Description
    The agent edits a solution (``solution.py`` and any files it adds) that trains on a task's
    labelled data and writes predictions for a dev split and a test split. Every action is a
    unified diff; the environment applies it, runs the program in a sandbox, grades the dev
    predictions and returns structured diagnostics. Test labels never leave the environment:
    the test score appears only in ``info["final"]`` at the end of the episode.

    ## Action Space
    ``Text``: a unified diff against the current node's files (git-style ``a/`` ``b/`` prefixes or
    none; several files; new files; deletions), or ``submit`` / ``submit <node_id>`` to end the
    episode with the best node (default) or the named one. Prose around the diff, markdown fences,
    CRLF and a missing final newline are cleaned up; a diff that does not apply changes nothing
    and comes back as ``patch_failed``.

    ## Observation Space
    ``Dict`` with ``task`` (description and solution contract), ``code`` (the current editable
    source, files concatenated under ``### path`` headers), ``feedback`` (markdown diagnostics),
    ``status`` (``Discrete(7)`` indexing ``diagnostics.STATUSES``), ``node_id``, ``dev_score`` and
    ``best_dev_score`` (the worst possible value, +-inf, while there is none), ``runtime_s``,
    ``steps_left`` and ``time_left_s`` (inf without a time budget). Text fields hold printable
    ASCII (other characters become ``?``); the full files and diagnostics are in ``info`` and in
    ``env.unwrapped.tree``. In ``AsyncVectorEnv`` pass ``shared_memory=False`` (gymnasium's
    shared memory cannot carry text; with it the vector refuses to start rather than show stale
    text).

    ## Rewards
    Default ``"improvement"``: the gain in the best dev score, normalised so that the baseline's
    dev score is 0 and the leaderboard's gold threshold is 1, minus 0.01 for a step whose status is
    not ``ok``. ``"dev_score"``: the step's own normalised dev score (-1 on failure).
    ``"ladder"`` (for RL): ``patch_failed`` < ``syntax_error`` < ``runtime_error`` / ``timeout`` /
    ``memory_exceeded`` < ``invalid_submission`` < ``ok``, an ``ok`` step earning its normalised
    dev score (``gome_env.rewards``). Or pass a callable ``reward(diagnostics, context) -> float``.
    Rewards read the dev split only.

    ## Starting State
    ``reset`` lays out a fresh workspace, runs the task's baseline once (cached per task and
    settings, so ``reset(seed=s)`` is reproducible) and returns its observation: node 0, the root.

    ## Episode End
    ``terminated`` when the action is ``submit``; ``truncated`` when ``max_steps`` steps or
    ``time_budget_s`` seconds (wall clock from the first step) are spent. At the end
    ``info["final"]`` holds the submitted node, its dev and test scores, ``valid_submission``,
    ``medal``, ``above_median`` and the thresholds, by MLE-bench's rule.

    ## Arguments
    ``task`` (id or TaskSpec), ``max_steps=20``, ``time_budget_s=None``, ``step_timeout_s=None``
    (the task's default), ``memory_limit_mb=4096``, ``workdir=None`` (a fresh temporary folder),
    ``reward="improvement"``, ``sandbox="auto"`` (``bwrap`` where it works, else ``subprocess``),
    ``threads=2``, ``diagnostics="full"`` (``standard``, ``minimal``: how much the feedback shows),
    ``render_mode=None`` or ``"ansi"``, ``executor="warm"`` (a worker inside the same sandbox with
    numpy, pandas and scikit-learn imported forks a fresh child per step; steps run cold while it
    starts, or if it cannot start or dies) or ``"cold"`` (a fresh ``python solution.py`` per step),
    ``allow_drift=False`` (prepared data that differ from the task's pinned ``data.sha256`` raise
    ``DataDriftError`` when the env is made; True grades against the stale board with a warning).

    ## Version History
    * v0: initial version.
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 1}

    def __init__(
        self,
        task: str | TaskSpec,
        max_steps: int = 20,
        time_budget_s: float | None = None,
        step_timeout_s: float | None = None,
        memory_limit_mb: int | None = 4096,
        workdir: str | Path | None = None,
        reward: str | RewardFn = "improvement",
        sandbox: str = "auto",
        threads: int = 2,
        diagnostics: str = "full",
        render_mode: str | None = None,
        executor: str = "warm",
        allow_drift: bool = False,
    ) -> None:
        self.allow_drift = allow_drift
        self.spec_task = load_spec(task) if isinstance(task, str) else task
        if not isinstance(max_steps, int) or max_steps < 1:
            raise ValueError(f"max_steps must be a positive int, got {max_steps!r}")
        if time_budget_s is not None and time_budget_s <= 0:
            raise ValueError(f"time_budget_s must be positive or None, got {time_budget_s!r}")
        if isinstance(reward, str) and reward not in REWARDS:
            raise ValueError(f"unknown reward {reward!r}; valid rewards: {', '.join(REWARDS)} or a callable")
        if diagnostics not in DETAIL_LEVELS:
            raise ValueError(f"unknown diagnostics level {diagnostics!r}; valid levels: {', '.join(DETAIL_LEVELS)}")
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(f"unknown render_mode {render_mode!r}; valid modes: {self.metadata['render_modes']}")
        if sandbox not in SANDBOXES:
            raise ValueError(f"unknown sandbox {sandbox!r}; valid sandboxes: {', '.join(SANDBOXES)}")
        self.max_steps = max_steps
        self.time_budget_s = time_budget_s
        limits = Limits(timeout_s=step_timeout_s or self.spec_task.step_timeout_s, memory_mb=memory_limit_mb, threads=threads)
        self.reward_fn: RewardFn = REWARDS[reward] if isinstance(reward, str) else reward
        self.detail = diagnostics
        self.render_mode = render_mode
        self.sandbox, self.sandbox_note = make_sandbox(sandbox)
        self._own_workdir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix=f"gome-{self.spec_task.id}-")).resolve()
        # What the env holds outside Python (the warm worker, a temporary workdir) is released by
        # close(), or when the env is garbage-collected, or when this __init__ fails below.
        self._resources = _Resources(self.workdir if self._own_workdir else None)
        self._release = weakref.finalize(self, self._resources.release)
        try:
            self._init_task(executor, max_steps, limits)
        except BaseException:
            self._release()
            raise

    def _init_task(self, executor: str, max_steps: int, limits: Limits) -> None:
        self.workspace = self.workdir / "workspace"
        self.prepared = prepare(self.spec_task, allow_drift=self.allow_drift)
        self._executor = Executor(self.sandbox, self.workspace, self.prepared.public, limits, mode=executor)
        self._resources.executor = self._executor
        self._evaluator = Evaluator(self.spec_task, self.prepared, self.sandbox, self._executor, self.workspace, self.detail)
        self.leaderboard = Leaderboard.from_csv(self.spec_task.leaderboard_path, self.spec_task.higher_is_better)
        listing = ", ".join(sorted(p.name + ("/" if p.is_dir() else "") for p in self.prepared.public.iterdir())[:40])
        description = self.spec_task.description.strip()
        heading = "" if description.startswith("# ") else f"# {self.spec_task.title}\n\n"
        self.task_text = f"{heading}{description}\n\n{SOLUTION_CONTRACT}\nFiles in `data/`: {listing}\n"

        self._worst = self.spec_task.metric.direction.worst
        self.observation_space = observation_space(max_steps, len(dx.STATUSES))
        self.action_space = spaces.Text(200_000, min_length=0, charset=CHARSET)

        self.tree = Tree(self.spec_task.higher_is_better)
        self.current_id = 0
        self._test_scores: dict[int, GradeResult] = {}  # private: never in an observation or per-step info
        self._steps = 0
        self._started_at: float | None = None
        self._done = False
        self._baseline_score: float | None = None

    # ------------------------------------------------------------------ public API

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        super().reset(seed=seed)
        self.tree = Tree(self.spec_task.higher_is_better)
        self._test_scores = {}
        self._steps = 0
        self._started_at = None
        self._done = False
        files = {SOLUTION: self.spec_task.baseline_source}
        key = (self.spec_task.id, self.spec_task.source_checksum(), self.sandbox.name, self.limits, self.detail, files[SOLUTION])
        if key in _BASELINE_CACHE:
            diagnostics, test = _BASELINE_CACHE[key]
        else:
            diagnostics, test = self._evaluator.evaluate(files, patch=None, timeout_s=self.spec_task.baseline_timeout_s)
            if diagnostics["status"] == "ok":  # a failure (a timeout on a busy machine, say) is retried next reset
                _BASELINE_CACHE[key] = (diagnostics, test)
        score = diagnostics["dev_score"]
        diagnostics = dataclasses.replace(diagnostics, sandbox_note=self.sandbox_note, node_id=0, parent_id=None,
                                          is_best=score is not None, best_dev_score=score)
        root = self.tree.add(None, 0, "", files, diagnostics)
        self._test_scores[root.id] = test
        # Reward normalisation needs a baseline: a failed baseline counts as the leaderboard's worst score.
        worst_on_board = self.spec_task.metric.direction.sorted(self.leaderboard.scores)[-1]
        self._baseline_score = root.dev_score if root.dev_score is not None else worst_on_board
        self.current_id = root.id
        return self._observation(root), self._info(root)

    def step(self, action: str) -> tuple[dict, float, bool, bool, dict]:
        if self._done:
            raise RuntimeError("the episode has ended: call reset() before step()")
        if self._started_at is None:
            self._started_at = time.monotonic()
        submitted = self._parse_submit(action)
        if submitted is not None:
            node = self.tree[self.current_id]
            self._done = True
            info = self._info(node)
            info["final"] = self.final(submitted)
            return self._observation(node), 0.0, True, False, info

        self._steps += 1
        parent = self.tree[self.current_id]
        previous_best = self._best_score()
        files, patch = apply_diff(self.tree.files(parent.id), action)
        diagnostics, test = self._evaluator.evaluate(files, patch=patch.as_dict(), timeout_s=self.limits.timeout_s)
        node = self.tree.add(parent.id, self._steps, action if isinstance(action, str) else "", files, diagnostics)
        self._test_scores[node.id] = test
        self.current_id = node.id
        self._finish_diagnostics(node, previous_best)

        reward = float(self.reward_fn(node.diagnostics, self.reward_context(previous_best)))
        truncated = self._steps >= self.max_steps or self.time_left_s() <= 0
        info = self._info(node)
        if truncated:
            self._done = True
            info["final"] = self.final()
        return self._observation(node), reward, False, truncated, info

    @property
    def limits(self) -> Limits:
        """The per-step resource limits. The executor owns them: setting ``env.limits`` (e.g. to
        ``dataclasses.replace(env.limits, max_processes=32)``) sets what every later run gets."""
        return self._executor.limits

    @limits.setter
    def limits(self, value: Limits) -> None:
        self._executor.limits = value

    @property
    def executor(self) -> Executor:
        """The step runner (``wait_ready(timeout)`` waits for the warm worker)."""
        return self._executor

    def executor_status(self) -> ExecutorStats:
        """Warm and cold run counts, worker starts and losses, the worker's state and the limits."""
        return self._executor.status()

    def checkout(self, node_id: int) -> tuple[dict, dict]:
        """Make ``node_id`` the current node (nothing is re-run) and return its observation and info."""
        node = self.tree[node_id]
        self.current_id = node.id
        return self._observation(node), self._info(node)

    def files(self, node_id: int | None = None) -> dict[str, str]:
        """The editable files of a node (default: the current one)."""
        return self.tree.files(self.current_id if node_id is None else node_id)

    def best_node(self) -> Node:
        return self.tree.best() or self.tree.root

    def time_left_s(self) -> float:
        if self.time_budget_s is None:
            return math.inf
        if self._started_at is None:
            return float(self.time_budget_s)
        return max(0.0, self.time_budget_s - (time.monotonic() - self._started_at))

    @property
    def steps_left(self) -> int:
        return max(0, self.max_steps - self._steps)

    def final(self, node_id: int | None = None) -> FinalReport:
        """The episode's result: the chosen node (default: best dev score) graded on the private test.
        Only once the episode has ended (test scores never guide an episode in progress)."""
        if not self._done:
            raise RuntimeError("final() is available once the episode has ended (submit, or a spent budget)")
        node = self.tree[node_id] if node_id is not None else self.best_node()
        return final_report(
            task=self.spec_task.id, node_id=node.id, dev_score=node.dev_score, test=self._test_scores.get(node.id),
            baseline_dev_score=self.tree.root.dev_score, baseline_test=self._test_scores.get(self.tree.root.id),
            leaderboard=self.leaderboard, steps=self._steps, nodes=len(self.tree),
            higher_is_better=self.spec_task.higher_is_better,
        )

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        node = self.tree[self.current_id]
        return (
            f"{self.spec_task.env_id} | node {node.id} (parent {node.parent_id}) | step {self._steps}/{self.max_steps}\n"
            f"{self._feedback(node)}\n"
        )

    def close(self) -> None:
        """Stop the warm worker and remove the temporary workdir (if the env made it)."""
        if getattr(self, "_release", None) is not None:
            self._release()

    # ------------------------------------------------------------------ one evaluation

    # ------------------------------------------------------------------ helpers

    def _best_score(self) -> float | None:
        best = self.tree.best()
        return best.dev_score if best else None

    def reward_context(self, previous_best: float | None = None) -> dict:
        """What a reward function gets besides the diagnostics (``gome_env.rewards``): the best dev
        score before the step, the baseline's dev score (the leaderboard's worst when the baseline
        failed), the gold threshold and the metric's direction. Dev figures only."""
        return {
            "previous_best": previous_best,
            "baseline": self._baseline_score,
            "gold": self.leaderboard.thresholds.gold,
            "higher_is_better": self.spec_task.higher_is_better,
        }

    def _finish_diagnostics(self, node: Node, previous_best: float | None) -> None:
        d = node.diagnostics
        metric = self.spec_task.metric
        d["node_id"], d["parent_id"] = node.id, node.parent_id
        d["is_best"] = d["status"] == "ok" and metric.direction.better(d["dev_score"], previous_best)
        d["best_dev_score"] = self._best_score()

    def _parse_submit(self, action: Any) -> int | None | bool:
        """``None`` for a diff; else the node id to submit (-1 meaning the best)."""
        if not isinstance(action, str):
            return None
        words = action.strip().split()
        if not words or words[0].lower() != SUBMIT or len(words) > 2:
            return None
        if len(words) == 2:
            try:
                node_id = int(words[1])
            except ValueError:
                return None
            return node_id if node_id in self.tree.nodes else None
        return self.best_node().id

    def _feedback(self, node: Node) -> str:
        return dx.render_feedback(node.diagnostics, self.detail)

    def _code(self, node: Node) -> str:
        files = self.tree.files(node.id)
        if list(files) == [SOLUTION]:
            return files[SOLUTION]
        return "\n".join(f"### {path}\n{text}" for path, text in sorted(files.items()))

    def _observation(self, node: Node) -> dict:
        return make_observation(
            task=self.task_text, code=self._code(node), feedback=self._feedback(node), status=dx.STATUSES.index(node.status),
            node_id=node.id, dev_score=node.dev_score, best_dev_score=self._best_score(),
            runtime_s=((node.diagnostics.get("execution") or {}).get("runtime_s")) or 0.0, steps_left=self.steps_left,
            time_left_s=self.time_left_s(), worst=self._worst,
        )

    def _info(self, node: Node) -> dict:
        d = copy.deepcopy(node.diagnostics)  # callers keep and may modify what they get
        d.best_dev_score = self._best_score()
        return {"diagnostics": d, "node_id": node.id, "steps_left": self.steps_left}
