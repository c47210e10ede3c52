"""``GomeEnvironment``: the environment as tools, for ``GRPOTrainer(environment_factory=...)``.

TRL makes one instance per rollout (reused across batches), calls ``reset(**row)`` and appends
the string it returns to the last message of the row's prompt (as it is: no separator), exposes
the public methods as tools the model calls, and scores the rollout with ``get_reward()``. Here:

- ``reset(task, seed=0, node_id=0, prompt=None, tree=None, **row) -> str``: a fresh episode on
  the task's cached baseline (node 0), or from node ``node_id`` of the row's ``tree`` (a benchmark
  run's serialised tree, rebuilt with its code and diagnostics by ``gome_env.rl.trees``; dataset
  builders check the node exists with ``trees.check_rows``), and the text to append: a blank
  line (when the row's prompt has text),
  the tools and the patch budget, then the task, code and feedback within ``prompt_chars``,
  unless the row's prompt already holds them (a ``make_grpo_dataset`` row: its text names the
  task's first line and ``solution.py``);
- ``apply_patch(diff)``: one step from the current node (``max_patches`` per episode);
- ``read_file(path)``, ``checkout(node_id)``: read a file of the current node, move to a node;
- ``submit(node_id=None)``: choose the node the rollout is scored on (default: the best) and end
  the episode; ``get_reward()``: the ladder reward of that node (or, without a submit, of the
  current node): dev split only.

After the episode ends every tool raises ``ValueError`` (as TRL expects of a finished
environment). Test scores are never computed here: ``submit`` records the choice and does not
grade the private test split.

Each instance keeps one ``MLEEnv`` per task, and with it a warm worker process. TRL never closes
the instances it makes, so they are closed here: ``GomeEnvironment.close_all()`` stops the
workers of every live instance (``GRPOTrainer(callbacks=[GomeEnvironment.closing_callback()])``
calls it when training ends), an instance that is garbage-collected stops its own, and whatever
is left stops at interpreter exit.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from typing import Any, ClassVar

from gome_env.env import MLEEnv
from gome_env.pool import resolve_task
from gome_env.rewards import ladder_reward
from gome_env.rl import budget
from gome_env.rl.replies import node_reply, patch_reply, submit_reply
from gome_env.rl.trees import restore_tree, tree_data

__all__ = ["GomeEnvironment"]


def _close_envs(envs: dict[str, MLEEnv]) -> None:
    """Close every env of one instance (a module function: a finalizer must not hold the instance)."""
    for env in list(envs.values()):
        env.close()
    envs.clear()


def _prompt_text(prompt: Any) -> str:
    """The text of a row's prompt: a string, or the content of its last chat message (a string or
    a list of text parts)."""
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, (list, tuple)) and prompt and isinstance(prompt[-1], Mapping):
        content = prompt[-1].get("content")
        if isinstance(content, str):
            return content
        if isinstance(content, (list, tuple)):
            return "".join(str(part.get("text", "")) for part in content if isinstance(part, Mapping))
    return ""


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    half = max(0, limit // 2 - 20)
    return f"{text[:half]}\n[... {len(text) - 2 * half} characters cut ...]\n{text[-half:]}"


class GomeEnvironment:
    """An ML-engineering episode whose actions are tool calls (see the module docstring).

    Class attributes set the budgets (subclass to change them, or ``for_completion``):
    ``max_patches`` (steps per episode), ``prompt_chars`` (the reset prompt),
    ``completion_tokens`` (the trainer's ``max_completion_length``: each tool's answer is clipped
    to ``reply_tokens`` of it, see ``gome_env.rl.budget``), ``env_kwargs`` (for each task's
    ``MLEEnv``; one per instance and task, kept warm across episodes)."""

    max_patches = 4
    prompt_chars = 6000
    completion_tokens = budget.COMPLETION_TOKENS
    reply_share = budget.REPLY_SHARE
    env_kwargs: dict = {"step_timeout_s": None, "diagnostics": "standard"}
    _instances: ClassVar[weakref.WeakSet] = weakref.WeakSet()

    @classmethod
    def for_completion(cls, max_completion_length: int, **attributes: Any) -> type["GomeEnvironment"]:
        """A subclass whose tool replies fit a trainer's ``max_completion_length`` (pass
        ``GRPOConfig.max_completion_length``); ``attributes`` override other class attributes."""
        return type(cls.__name__, (cls,), {"completion_tokens": int(max_completion_length), **attributes})

    @property
    def reply_tokens(self) -> int:
        """The most tokens (estimated) one tool reply takes: ``reply_share`` of ``completion_tokens``."""
        return budget.reply_tokens(self.completion_tokens, self.reply_share)

    def __init__(self) -> None:
        self._envs: dict[str, MLEEnv] = {}
        self._env: MLEEnv | None = None
        self._done = True
        self._patches = 0
        self._submitted: int | None = None
        self._tree_cache: tuple[str | None, dict | None] = (None, None)
        # Stops this instance's workers when it is garbage-collected, else at interpreter exit.
        self._finalizer = weakref.finalize(self, _close_envs, self._envs)
        GomeEnvironment._instances.add(self)

    # ------------------------------------------------------------------ TRL's interface

    def reset(self, task: str = "digits", seed: int = 0, node_id: int = 0, prompt: Any = None, tree: Any = None,
              **row: Any) -> str:
        """Start an episode on ``task`` from node ``node_id`` (0: the baseline) of ``tree`` (the row's
        serialised tree, see ``gome_env.rl.trees``; None: the tree this instance built) and return
        the text TRL appends to the row's ``prompt`` (see the module docstring)."""
        spec = resolve_task(task)
        if spec.id not in self._envs:
            kwargs = {k: v for k, v in self.env_kwargs.items() if v is not None}
            self._envs[spec.id] = MLEEnv(spec, max_steps=self.max_patches + 1, **kwargs, grade_test=False)  # dev only
        self._env = self._envs[spec.id]
        # A row's tree is rebuilt afresh each episode (the episode adds nodes to it); without one,
        # node 0 starts afresh from the baseline and another node continues from that node of the
        # tree this env has built (MLEEnv.reset raises a clear ValueError for an unknown node).
        if tree:  # None or "" (a dataset column of rows with and without a tree): none
            options = {"tree": restore_tree(spec, self._tree_data(tree)), "node_id": int(node_id)}
        else:
            options = {"node_id": int(node_id)} if int(node_id) != 0 else None
        obs, _ = self._env.reset(seed=int(seed), options=options)
        self._done, self._patches, self._submitted = False, 0, None
        before = _prompt_text(prompt)
        head = ("\n\n" if before.strip() else "") + (
            f"Improve solution.py for this task. Tools: apply_patch(diff) runs a unified diff of solution.py, "
            f"read_file(path), checkout(node_id), submit(node_id). You may apply {self.max_patches} patches.")
        if self._holds_episode(before, obs["task"]):
            return head
        body = f"# Task\n{obs['task']}\n\n# solution.py (node {self._env.current_id})\n{obs['code']}\n\n# Feedback\n{obs['feedback']}"
        return head + "\n\n" + _clip(body, self.prompt_chars - len(head) - 2)

    def _tree_data(self, tree: Any) -> dict:
        """The row's tree in serialised form (a JSON text is parsed once per instance: TRL resets
        with the same row's text for each rollout)."""
        if not isinstance(tree, str):
            return tree_data(tree)
        if self._tree_cache[0] != tree:
            self._tree_cache = (tree, tree_data(tree))
        return self._tree_cache[1]

    @staticmethod
    def _holds_episode(prompt_text: str, task_text: str) -> bool:
        """Whether a row's prompt already shows the task and its code (it names the task text's
        first line and ``solution.py``)."""
        first = next((line.strip() for line in task_text.splitlines() if line.strip()), "")
        return bool(first) and first in prompt_text and "solution.py" in prompt_text

    def apply_patch(self, diff: str) -> str:
        """Apply a unified diff to the current solution, run it and report the result.

        Args:
            diff: A unified diff of solution.py (--- a/solution.py, +++ b/solution.py, @@ hunks).

        Returns:
            The new node's id, status, dev score and feedback.
        """
        env = self._live()
        if self._patches >= self.max_patches:
            self._done = True
            raise ValueError(f"the episode has ended: all {self.max_patches} patches are spent")
        self._patches += 1
        # step_diff: the text is always a diff, never the env's "submit" action (that is submit()).
        obs, _, _, _, info = env.step_diff(diff if isinstance(diff, str) else "")
        d = info["diagnostics"]
        left = self.max_patches - self._patches
        return budget.clip_tokens(patch_reply(info["node_id"], d["status"], d.get("dev_score"), left, obs["feedback"]),
                                  self.reply_tokens)

    def read_file(self, path: str) -> str:
        """Read a file of the current solution.

        Args:
            path: The file's path, e.g. solution.py.

        Returns:
            The file's text, or why it cannot be read.
        """
        files = self._live().files()
        if path not in files:
            return f"no file {path!r}; files: {', '.join(sorted(files))}"
        return budget.clip_tokens(files[path], self.reply_tokens)

    def checkout(self, node_id: int) -> str:
        """Make an earlier node the current one (nothing is re-run).

        Args:
            node_id: The node to continue from.

        Returns:
            The node's status and dev score, or why it cannot be checked out.
        """
        env = self._live()
        if not isinstance(node_id, int) or node_id not in env.tree.nodes:
            return f"no node {node_id!r}; nodes: 0..{len(env.tree) - 1}"
        env.checkout(node_id)
        node = env.tree[node_id]
        return node_reply(node.id, node.status, node.dev_score)

    def submit(self, node_id: int | None = None) -> str:
        """End the episode with a node (default: the best so far).

        Args:
            node_id: The node to submit; omit it for the best node.

        Returns:
            The submitted node and its dev score.
        """
        env = self._live()
        if node_id is None:
            node = env.best_node()
        elif isinstance(node_id, int) and node_id in env.tree.nodes:
            node = env.tree[node_id]
        else:
            return f"no node {node_id!r}; nodes: 0..{len(env.tree) - 1}"
        self._submitted, self._done = node.id, True
        return submit_reply(node.id, node.status, node.dev_score)

    def get_reward(self) -> float:
        """The ladder reward (dev split only) of the submitted node, else of the current node."""
        env = self._env
        if env is None:
            raise ValueError("get_reward() before reset()")
        node = env.tree[self._submitted if self._submitted is not None else env.current_id]
        return float(ladder_reward(node.diagnostics, env.reward_context()))

    # ------------------------------------------------------------------ housekeeping

    def _live(self) -> MLEEnv:
        if self._env is None or self._done:
            raise ValueError("the episode has ended: reset() starts a new one")
        return self._env

    def _close(self) -> None:
        """Stop this instance's warm workers (it can be reset again: a new env starts then; private
        so that TRL, which makes every public method a tool, does not offer it to the model)."""
        _close_envs(self._envs)
        self._env, self._done = None, True

    @classmethod
    def close_all(cls) -> int:
        """Stop the warm workers of every live instance of ``cls`` (TRL makes the instances and
        never closes them); returns how many instances held an env."""
        holding = [env for env in list(GomeEnvironment._instances) if isinstance(env, cls) and env._envs]
        for env in holding:
            env._close()
        return len(holding)

    @classmethod
    def closing_callback(cls):
        """A ``transformers.TrainerCallback`` that calls :meth:`close_all` when training ends:
        ``GRPOTrainer(environment_factory=GomeEnvironment, callbacks=[GomeEnvironment.closing_callback()])``."""
        from transformers import TrainerCallback

        class CloseEnvironments(TrainerCallback):
            def on_train_end(self, args, state, control, **kwargs):
                cls.close_all()

        return CloseEnvironments()
