"""GOME: gradient-based optimisation of an ML solution by structured reasoning.

The pieces (each its own module, each testable alone):

- gradient (``diagnosis.py``): a structured diagnosis of the current best -> problems with
  evidence and hypotheses with expected effects and scores;
- momentum (``memory.py``): a success memory of accepted hypotheses and their gains, decayed by
  ``beta`` each round, fed into hypothesis selection and prompts; a failure memory;
- update (``update.py``): implement the chosen hypothesis on the current best, debug a failed
  run at most ``max_debug`` times, accept when the dev score improves;
- multi-trace (``traces.py``): ``num_traces`` traces advance together, their model calls of a
  round phase batched, sharing success memory every ``sync_interval`` rounds.

Ablation switches (``GOMEConfig``):

- ``momentum=False``: no success memory: accepted hypotheses are not remembered, prompts show only
  what failed (as the reference's ``enable_success_memory`` off) and selection ignores momentum;
- ``num_traces`` (K): how many traces; K=1 is a single optimisation run;
- ``sync_interval``: rounds between success-memory all-reduces (0: never share);
- ``diagnostics``: ``full`` / ``standard`` / ``minimal``: how rich the feedback in the diagnosis,
  update and debug prompts is (``gome_env.diagnostics.render_feedback``; ``minimal`` also leaves
  the execution output out of debug prompts);
- ``merge``: when the step budget is down to K steps, merge the two best traces' solutions with
  one model call instead of another round.
"""

from __future__ import annotations

from dataclasses import dataclass

from policies import prompts
from policies.base import ConfigError, Episode, Policy, PolicyConfig
from policies.edits import EditRequest, request_edits
from policies.gome.memory import FailureMemory, SuccessMemory
from policies.gome.traces import Trace, run_round

__all__ = ["GOMEConfig", "GOMEPolicy"]


@dataclass
class GOMEConfig(PolicyConfig):
    """GOME's settings. Ablation switches: ``momentum``, ``num_traces``, ``sync_interval``,
    ``diagnostics``, ``merge``. ``beta``: momentum decay per round; ``momentum_weight`` and
    ``failure_penalty``: how much similarity to successes / failures raises / lowers a
    hypothesis's sampling weight; ``max_problems``: problems per diagnosis; ``top_k``:
    candidates sampled among; ``max_debug``: debug attempts per failed run; ``min_gain``:
    smallest dev-score gain that is accepted."""

    num_traces: int = 2
    momentum: bool = True
    beta: float = 0.9
    memory_capacity: int = 20
    momentum_weight: float = 1.0
    failure_penalty: float = 0.5
    sync_interval: int = 2
    max_problems: int = 5
    top_k: int = 5
    max_debug: int = 2
    min_gain: float = 0.0
    merge: bool = False
    diagnosis_max_tokens: int = 768

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.num_traces < 1 or self.sync_interval < 0 or self.max_debug < 0 or self.top_k < 1 or self.max_problems < 1:
            raise ConfigError("need num_traces >= 1, sync_interval >= 0, max_debug >= 0, top_k >= 1 and max_problems >= 1")
        if not 0.0 <= self.beta <= 1.0:
            raise ConfigError(f"beta must be in [0, 1], got {self.beta}")


class GOMEPolicy(Policy):
    """GOME: diagnose (gradient), remember what worked (momentum), edit the best (update), in K
    parallel traces (multi-trace)."""

    name = "gome"
    Config = GOMEConfig

    def __init__(self, model=None, **config) -> None:
        super().__init__(model, **config)
        self.traces: list[Trace] = []

    def run(self, episode: Episode) -> None:
        cfg = self.config
        root = episode.tree.root
        self.traces = [
            Trace(i, root.id, root.dev_score, SuccessMemory(cfg.beta, cfg.memory_capacity), FailureMemory(cfg.memory_capacity))
            for i in range(cfg.num_traces)
        ]
        round_no = 0
        while True:
            if cfg.merge and cfg.num_traces >= 2 and episode.steps_left <= cfg.num_traces and self.merge(episode):
                return
            run_round(episode, self.traces, cfg, round_no)
            round_no += 1

    def merge(self, episode: Episode) -> bool:
        """Merge the best solutions of the two best traces with one model call (one step).
        False, with no step taken, when there are not two distinct bests to merge."""
        cfg = self.config
        sign = 1 if episode.higher_is_better else -1
        bests = {t.best_id: t.best_score for t in self.traces if t.best_score is not None}
        top = sorted(bests, key=lambda i: -sign * bests[i])[:2]
        if len(top) < 2:
            return False
        a, b = top
        scores = (f"({episode.metric_name} {bests[a]})", f"({episode.metric_name} {bests[b]})")
        messages = prompts.merge_prompt(episode.task_text, episode.files(a), episode.files(b), cfg, scores)
        (outcome,) = request_edits(episode, [EditRequest(messages, episode.files(a), "whole", "merge")], config=cfg)
        episode.step(outcome.diff, a, kind="merge", trace=-1, calls=outcome.calls, parse_ok=outcome.ok, note={"merged": [a, b]})
        return True

    @property
    def rounds(self) -> int:
        """Rounds played (a round cut short by the budget counts once it ran something)."""
        return max((t.rounds for t in self.traces), default=0)

    def summary(self) -> dict:
        return {"rounds": self.rounds, "traces": [t.summary() for t in self.traces]}
