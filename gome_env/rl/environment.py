"""``GomeEnvironment``: the environment as tools, for ``GRPOTrainer(environment_factory=...)``.

TRL makes one instance per rollout (reused across batches), calls ``reset(**row)`` and appends
the string it returns to the row's prompt, exposes the public methods as tools the model calls,
and scores the rollout with ``get_reward()``. Here:

- ``reset(task, seed=0, node_id=0, **row) -> str``: a fresh episode on the task's cached
  baseline (node 0) and a compact prompt: task, code, feedback within ``prompt_chars``;
- ``apply_patch(diff)``: one step from the current node (``max_patches`` per episode);
- ``read_file(path)``, ``checkout(node_id)``: read a file of the current node, move to a node;
- ``submit(node_id=None)``: choose the node the rollout is scored on (default: the best) and end
  the episode; ``get_reward()``: the ladder reward of that node (or, without a submit, of the
  current node): dev split only.

After the episode ends every tool raises ``ValueError`` (as TRL expects of a finished
environment). Test scores are never computed here: ``submit`` records the choice and does not
grade the private test split.
"""

from __future__ import annotations

from typing import Any

from gome_env.env import MLEEnv
from gome_env.pool import resolve_task
from gome_env.rewards import ladder_reward
from gome_env.rl import budget
from gome_env.rl.replies import node_reply, patch_reply, submit_reply

__all__ = ["GomeEnvironment"]


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

    # ------------------------------------------------------------------ TRL's interface

    def reset(self, task: str = "digits", seed: int = 0, node_id: int = 0, **row: Any) -> str:
        """Start an episode on ``task`` from node ``node_id`` (0: the baseline) and return the prompt."""
        spec = resolve_task(task)
        if spec.id not in self._envs:
            kwargs = {k: v for k, v in self.env_kwargs.items() if v is not None}
            self._envs[spec.id] = MLEEnv(spec, max_steps=self.max_patches + 1, **kwargs)
        self._env = self._envs[spec.id]
        obs, _ = self._env.reset(seed=int(seed))
        if int(node_id) not in self._env.tree.nodes:
            raise ValueError(f"node {node_id} does not exist: an episode starts from node 0 (the baseline)")
        self._done, self._patches, self._submitted = False, 0, None
        head = (f"Improve solution.py for this task. Tools: apply_patch(diff) runs a unified diff of solution.py, "
                f"read_file(path), checkout(node_id), submit(node_id). You may apply {self.max_patches} patches.\n\n")
        body = f"# Task\n{obs['task']}\n\n# solution.py (node 0)\n{obs['code']}\n\n# Feedback\n{obs['feedback']}"
        return head + _clip(body, self.prompt_chars - len(head))

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
        obs, _, _, _, info = env.step(diff if isinstance(diff, str) else "")
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
        """Stop the warm workers (TRL does not close environments; they also stop at exit)."""
        for env in self._envs.values():
            env.close()
        self._envs.clear()
        self._env, self._done = None, True
