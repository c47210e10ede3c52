"""``GomeReward``: a reward function for TRL's ``GRPOTrainer(reward_funcs=...)``.

Each completion is parsed into a diff with the edit parser the policies share (``gome_env.patching.edits.parse_edit``)
against the files of its row's ``node_id`` and the whole batch is stepped through an ``EnvPool``
of its row's task, branching from that node: one new node and one float per completion. An
answer that holds no usable edit is stepped as it is (the environment's own diff cleaning gets a
last try; it almost always comes back ``patch_failed``), so every completion makes exactly one
node. Rows that carry an ``options`` column (letter -> diff, see ``gome_env.rl.options``) pick
their diff by the first option letter of the completion instead.

The reward is the environment's (default ``reward="ladder"``: dev split only). Per call it logs,
through TRL's ``log_metric`` hook, the share of each status (``gome/status_<status>``), the share
of unusable answers (``gome/parse_failures``), the mean dev score of the ``ok`` steps
(``gome/dev_score``) and the mean reward (``gome/reward``).
"""

from __future__ import annotations

import collections
import math
from typing import Any, Callable, Sequence

from gome_env.diagnostics import STATUSES
from gome_env.patching.edits import EditError, parse_edit
from gome_env.pool import EnvPool, resolve_task

__all__ = ["GomeReward", "completion_text"]


def completion_text(completion: Any) -> str:
    """The text of a TRL completion: a string, or a list of chat messages (their contents joined)."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        return str(completion.get("content") or "")
    if isinstance(completion, (list, tuple)):
        return "".join(completion_text(m) for m in completion if not isinstance(m, dict) or m.get("role", "assistant") == "assistant")
    return "" if completion is None else str(completion)


def _column(values: Any, n: int, default: Any) -> list:
    if values is None:
        return [default] * n
    if isinstance(values, (list, tuple)):
        return list(values)
    return [values] * n


class GomeReward:
    """``GomeReward(task=None, pool_size=2, edit_form="auto", **env_kwargs)``: call it as TRL does,
    ``reward(prompts=..., completions=..., task=[...], node_id=[...], log_metric=...)``.

    ``task``: the default task for rows without a ``task`` column (a name such as ``"digits"``,
    a Gymnasium id ``"gome/digits-v0"`` or a ``TaskSpec``). ``env_kwargs`` go to each task's
    ``EnvPool`` (``reward`` defaults to ``"ladder"``). Picklable: the pools (warm workers) are
    made on first use in each process and are not pickled; ``close()`` stops them. ``last``
    holds the last call's per-completion records (node id, status, dev score, reward)."""

    def __init__(self, task: Any = None, *, pool_size: int = 2, edit_form: str = "auto", **env_kwargs: Any) -> None:
        self.task = task
        self.pool_size = pool_size
        self.edit_form = edit_form
        self.env_kwargs = {"reward": "ladder", **env_kwargs}
        self.__name__ = "gome_reward"  # TRL names the reward's log columns after it
        self.pools: dict[str, EnvPool] = {}
        self.last: list[dict] = []

    # pickling (TRL and multiprocessing may copy reward functions): settings only, no live workers
    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["pools"], state["last"] = {}, []
        return state

    def spec(self, task: Any):
        """The ``TaskSpec`` of a task name (the default ``TaskSpec``, when its id is named)."""
        default = self.task
        if not isinstance(task, str) and task is not None:
            return resolve_task(task)
        if default is not None and not isinstance(default, str) and task in (default.id, default.env_id):
            return default
        return resolve_task(task)

    def pool(self, task: Any) -> EnvPool:
        """The pool of ``task`` (made and reset on first use)."""
        spec = self.spec(task)
        key = spec.id
        if key not in self.pools:
            pool = EnvPool(spec, size=self.pool_size, **self.env_kwargs)
            pool.reset()
            self.pools[key] = pool
        return self.pools[key]

    def __call__(self, prompts: Sequence | None = None, completions: Sequence = (), task: Any = None,
                 node_id: Any = None, options: Any = None, log_metric: Callable[[str, float], None] | None = None,
                 **_: Any) -> list[float]:
        n = len(completions)
        tasks = _column(task if task is not None else self.task, n, None)
        if any(t is None for t in tasks):
            raise ValueError("GomeReward needs a task: a `task` dataset column or GomeReward(task=...)")
        nodes = _column(node_id, n, 0)
        choices = _column(options, n, None)
        texts = [completion_text(c) for c in completions]
        rewards: list[float] = [math.nan] * n
        records: list[dict] = [{} for _ in range(n)]
        by_task: dict[str, list[int]] = collections.defaultdict(list)
        for i, t in enumerate(tasks):
            by_task[self.spec(t).id].append(i)
        for key, indices in by_task.items():
            pool = self.pool(tasks[indices[0]])
            actions, parsed = [], []
            for i in indices:
                diff, ok = self._diff(pool, int(nodes[i]), texts[i], choices[i])
                actions.append((int(nodes[i]), diff))
                parsed.append(ok)
            for i, ok, (_, reward, info) in zip(indices, parsed, pool.step_many(actions)):
                d = info["diagnostics"]
                rewards[i] = float(reward)
                records[i] = {"task": key, "node_id": info["node_id"], "parent_id": info.get("parent_id"),
                              "status": d["status"], "dev_score": d.get("dev_score"), "reward": float(reward), "parsed": ok}
        self.last = records
        if log_metric is not None:
            self._log(log_metric, records)
        return rewards

    def close(self) -> None:
        """Stop every pool's workers."""
        for pool in self.pools.values():
            pool.close()
        self.pools.clear()

    # ------------------------------------------------------------------ helpers

    def _diff(self, pool: EnvPool, node_id: int, text: str, choices: Any) -> tuple[str, bool]:
        """The diff to step and whether the completion held a usable edit."""
        if choices:
            from gome_env.rl.options import pick_option

            diff = pick_option(text, choices)
            return (diff, True) if diff is not None else (text, False)
        if node_id not in pool.tree.nodes:
            return text, False  # the pool reports the unknown node as a status
        try:
            return parse_edit(text, pool.files(node_id), form=self.edit_form).diff, True
        except EditError:
            return text, False

    @staticmethod
    def _log(log_metric: Callable[[str, float], None], records: list[dict]) -> None:
        n = max(1, len(records))
        counts = collections.Counter(r["status"] for r in records)
        for status in STATUSES:
            log_metric(f"gome/status_{status}", counts.get(status, 0) / n)
        log_metric("gome/parse_failures", sum(not r["parsed"] for r in records) / n)
        scores = [r["dev_score"] for r in records if r["status"] == "ok" and r["dev_score"] is not None]
        if scores:
            log_metric("gome/dev_score", sum(scores) / len(scores))
        log_metric("gome/reward", sum(r["reward"] for r in records) / n)
