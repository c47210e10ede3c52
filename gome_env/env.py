"""``MLEEnv``: an MLE task as a Gymnasium environment whose action is a code diff.

One step, top to bottom (``MLEEnv.step``; ``docs/ARCHITECTURE.md`` has the picture):

1. ``submit``?  -> the episode ends with the chosen node graded on the private test split;
2. ``apply_diff`` the action to the current node's files (all-or-nothing);
3. ``Evaluator.evaluate(files, patch) -> Outcome`` (``gome_env.evaluation``): ``patch_failed``,
   ``syntax_error`` (nothing is run), else the files are laid out and ``python solution.py`` runs
   in the sandbox -> ``timeout``, ``memory_exceeded``, ``runtime_error``; else the dev predictions
   are graded (the test predictions too, kept out of every observation, unless ``grade_test`` is
   off) -> ``invalid_submission`` or ``ok`` with a dev score;
4. ``commit(tree, outcome, context, reward_fn)`` (``gome_env.commit``): the diagnostics get their
   ids, ``is_best`` and best score, the node enters the tree, the reward is computed once;
5. render the observation and info.
"""

from __future__ import annotations

import copy
import math
import numbers
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
from gymnasium import spaces

from gome_env import diagnostics as dx
from gome_env.commit import Committed, commit
from gome_env.constants import DETAIL_LEVELS, SOLUTION, SUBMIT
from gome_env.patching.diffs import apply_diff
from gome_env.evaluation import Outcome
from gome_env.runner import StepRunner
from gome_env.isolation.executor import Executor, ExecutorStats
from gome_env.final import FinalReport, final_report
from gome_env.grading.grader import GradeResult
from gome_env.grading.medals import Leaderboard
from gome_env.observation import CHARSET, code_text, make_observation, observation_space
from gome_env.isolation.procio import Limits
from gome_env.rewards import REWARDS, RewardContext, RewardFn
from gome_env.isolation.sandbox import SANDBOXES, make_sandbox
from gome_env.tasks.task import SOLUTION_CONTRACT, TaskSpec, load_spec, prepare
from gome_env.tree import Node, Tree

__all__ = ["MLEEnv", "RewardContext", "RewardFn", "REWARDS", "SUBMIT"]

# Baseline outcomes are cached per task and settings so that reset(seed) is reproducible
# (check_env compares observations) and each task's baseline runs once per process.
_BASELINE_CACHE: dict[tuple, Outcome] = {}


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
    and comes back as ``patch_failed``. ``step_diff(diff)`` takes a step whose text is always a
    diff (``submit`` then is a diff that does not apply): for callers that relay a model's text.

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
    ``reset(options={"node_id": n})`` with ``n != 0`` starts a new episode from node ``n`` of the
    tree the env holds, keeping the tree (``options={"tree": tree, "node_id": n}``: from node ``n``,
    default 0, of that ``Tree``, which the env adopts); a node that is not there is a
    ``ValueError`` and changes nothing.

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
    ``grade_test=True`` (off: the test predictions are checked for validity but never scored, and
    ``final()`` has no test score: what training paths such as ``EnvPool`` and ``GomeEnvironment`` use).

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
        grade_test: bool = True,
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
        self.grade_test = bool(grade_test)
        limits = Limits(timeout_s=step_timeout_s or self.spec_task.step_timeout_s, memory_mb=memory_limit_mb, threads=threads)
        self.reward_fn: RewardFn = REWARDS[reward] if isinstance(reward, str) else reward
        self.detail = diagnostics
        self.render_mode = render_mode
        self.sandbox, self.sandbox_note = make_sandbox(sandbox)
        self.prepared = prepare(self.spec_task, allow_drift=self.allow_drift)
        # The workdir, the warm worker and the evaluator; released by close(), or when the env is
        # garbage-collected, or when this __init__ fails below.
        self.runner = StepRunner(self.spec_task, self.prepared, self.sandbox, limits, mode=executor, detail=self.detail,
                                 grade_test=self.grade_test, workdir=workdir)
        self.workdir, self.workspace = self.runner.workdir, self.runner.workspace
        try:
            self._init_task(max_steps)
        except BaseException:
            self.runner.close()
            raise

    def _init_task(self, max_steps: int) -> None:
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
        options = options or {}
        tree, node_id = options.get("tree"), options.get("node_id", 0)
        if tree is not None or node_id != 0:  # a new episode from a node of a tree already built
            node = self._restore(tree if tree is not None else self.tree, node_id)
        else:
            self.tree, self._test_scores, self._steps = Tree(self.spec_task.higher_is_better), {}, 0
            node = self._commit(self._baseline(), parent_id=None, sandbox_note=self.sandbox_note).node
        self._steps, self._started_at, self._done = 0, None, False
        # Reward normalisation needs a baseline: a failed baseline counts as the leaderboard's worst score.
        worst_on_board = self.spec_task.metric.direction.sorted(self.leaderboard.scores)[-1]
        self._baseline_score = self.tree.root.dev_score if self.tree.root.dev_score is not None else worst_on_board
        self.current_id = node.id
        return self.observe(node.id)

    def step(self, action: str) -> tuple[dict, float, bool, bool, dict]:
        """``submit`` / ``submit <id>`` ends the episode; any other action is a diff (``step_diff``)."""
        submitted = self._parse_submit(action)
        if submitted is None:
            return self.step_diff(action)
        node = self.tree[self._live().current_id]
        self._done = True
        obs, info = self.observe(node.id)
        info["final"] = self.final(submitted)
        return obs, 0.0, True, False, info

    def step_diff(self, diff: str) -> tuple[dict, float, bool, bool, dict]:
        """One step whose action is a diff, never a submit (``"submit"`` is a diff that does not
        apply): for callers that relay a model's text, such as ``GomeEnvironment.apply_patch``."""
        parent = self.tree[self._live().current_id]
        self._steps += 1
        files, patch = apply_diff(self.tree.files(parent.id), diff)
        outcome = self.runner.evaluator.evaluate(files, patch)
        step = self._commit(outcome, parent_id=parent.id, diff=diff if isinstance(diff, str) else "")
        self.current_id = step.node_id
        truncated = self._steps >= self.max_steps or self.time_left_s() <= 0
        obs, info = self.observe(step.node_id)
        if truncated:
            self._done = True
            info["final"] = self.final()
        return obs, step.reward, False, truncated, info

    @property
    def limits(self) -> Limits:
        """The per-step resource limits. The executor owns them: setting ``env.limits`` (e.g. to
        ``dataclasses.replace(env.limits, max_processes=32)``) sets what every later run gets."""
        return self.runner.executor.limits

    @limits.setter
    def limits(self, value: Limits) -> None:
        self.runner.executor.limits = value

    @property
    def executor(self) -> Executor:
        """The step runner (``wait_ready(timeout)`` waits for the warm worker)."""
        return self.runner.executor

    def executor_status(self) -> ExecutorStats:
        """Warm and cold run counts, worker starts and losses, the worker's state and the limits."""
        return self.runner.executor.status()

    def checkout(self, node_id: int) -> tuple[dict, dict]:
        """Make ``node_id`` the current node (nothing is re-run) and return its observation and info."""
        self.current_id = self.tree[node_id].id
        return self.observe(node_id)

    def observe(self, node_id: int) -> tuple[dict, dict]:
        """A node's observation and info, as a step to it returned them (the current node stays)."""
        node = self.tree[node_id]
        info = {"diagnostics": copy.deepcopy(node.diagnostics),  # callers keep and may modify what they get
                "node_id": node.id, "parent_id": node.parent_id, "steps_left": self.steps_left}
        return self._observation(node), info


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
        if getattr(self, "runner", None) is not None:
            self.runner.close()

    # ------------------------------------------------------------------ helpers

    def _best_score(self) -> float | None:
        best = self.tree.best()
        return best.dev_score if best else None

    def reward_context(self, previous_best: float | None = None) -> RewardContext:
        """What a reward function gets besides the diagnostics (``gome_env.rewards.RewardContext``):
        ``previous_best`` (the best dev score before the step), the baseline's dev score (the
        leaderboard's worst when the baseline failed), the gold threshold and the metric's
        direction. Dev figures only."""
        return RewardContext(previous_best=previous_best, baseline=self._baseline_score, gold=self.leaderboard.thresholds.gold,
                             higher_is_better=self.spec_task.higher_is_better)

    def _commit(self, outcome: Outcome, *, parent_id: int | None, diff: str = "", **extra: object) -> Committed:
        """Commit an outcome as the newest node (``gome_env.commit``) and keep its private test grade."""
        reward_fn = self.reward_fn if parent_id is not None else None  # a reset earns no reward
        step = commit(self.tree, outcome, self.reward_context(self._best_score()), reward_fn, parent_id=parent_id,
                      step=self._steps, diff=diff, **extra)
        self._test_scores[step.node_id] = outcome.test
        return step

    def _baseline(self) -> Outcome:
        """The baseline's outcome, run once per task and settings (a failed one is retried)."""
        source = self.spec_task.baseline_source
        key = (self.spec_task.id, self.spec_task.source_checksum(), self.sandbox.name, self.limits, self.detail,
               self.grade_test, source)
        if key not in _BASELINE_CACHE:
            outcome = self.runner.evaluator.evaluate({SOLUTION: source}, None, timeout_s=self.spec_task.baseline_timeout_s)
            if outcome.status != "ok":  # a failure (a timeout on a busy machine, say) is retried next reset
                return outcome
            _BASELINE_CACHE[key] = outcome
        return _BASELINE_CACHE[key]

    def _restore(self, tree: Tree, node_id: object) -> Node:
        """Adopt ``tree`` (the env's own, or one a dataset row carries) at ``node_id``, or raise ValueError."""
        if not isinstance(tree, Tree):
            raise ValueError(f"options['tree'] must be a gome_env.tree.Tree, got {type(tree).__name__}")
        if tree.higher_is_better != self.spec_task.higher_is_better:
            raise ValueError("options['tree'] ranks scores the other way from this task's metric")
        if not isinstance(node_id, numbers.Integral) or isinstance(node_id, bool) or int(node_id) not in tree.nodes:
            known = f"ids 0..{len(tree) - 1}" if len(tree) else "the tree is empty: reset() without a node first"
            raise ValueError(f"cannot start from node {node_id!r}: it is not in the tree ({known})")
        if tree is not self.tree:
            self.tree, self._test_scores = tree, {}  # another tree's nodes have no test grades here
        return tree[int(node_id)]

    def _live(self) -> "MLEEnv":
        """This env, once it is ready for a step (the clock starts at the first one)."""
        if self._done or not self.tree.nodes:
            raise RuntimeError("the episode has ended: call reset() before step()")
        if self._started_at is None:
            self._started_at = time.monotonic()
        return self

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

    def _observation(self, node: Node) -> dict:
        return make_observation(
            task=self.task_text, code=code_text(self.tree.files(node.id)), feedback=self._feedback(node),
            status=dx.STATUSES.index(node.status),
            node_id=node.id, dev_score=node.dev_score, best_dev_score=self._best_score(),
            runtime_s=node.runtime_s, steps_left=self.steps_left,
            time_left_s=self.time_left_s(), worst=self._worst,
        )
