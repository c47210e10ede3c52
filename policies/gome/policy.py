"""GOME: gradient-based optimisation of an ML solution by structured reasoning, built on
RD-Agent's data-science loop (microsoft/RD-Agent, ``rdagent/scenarios/data_science/``).

The pieces (each its own module, each testable alone):

- gradient (``diagnosis.py``): a structured diagnosis of the trace's best -> labelled problems
  with evidence and hypotheses scored 1-10 on five criteria; RD-Agent's top-5 draw picks one;
- update (``update.py``): implement the hypothesis on the trace's best, debug a failed run at
  most ``max_debug`` times;
- feedback (``feedback.py``): RD-Agent's post-experiment feedback (observations, code-change
  summary, reasoning, replace-best decision); the decision is the acceptance;
- history and momentum (``history.py``, ``memory.py``): the trace's experiments with their
  code-change summaries and feedback, shown to the next round; with the success memory on
  (``enable_success_memory``, the GOME paper's momentum switch) accepted experiments and their
  scores are shown, with it off only the failed ones;
- multi-trace (``traces.py``): ``num_traces`` traces advance together, their model calls of a
  round phase batched, asked at the start to differ from each other, sharing success memory
  every ``sync_interval`` rounds.

Switches (``GOMEConfig``), reference behaviour by default:

- ``enable_success_memory`` (alias ``momentum``), ``num_traces`` (K), ``sync_interval``,
  ``cross_trace_diversity``, ``diagnostics`` (``full`` / ``standard`` / ``minimal``), ``merge``
  (merge the two best traces when the step budget is down to K steps);
- ``accept``: ``feedback`` (RD-Agent: the feedback's replace-best decision) or ``score`` (no
  feedback call; the dev score must improve by more than ``min_gain``);
- ``diagnosis_calls``: ``separate`` (RD-Agent: a scenario-problem call, a feedback-problem call
  and a hypothesis call, as its multiplier decides) or ``combined`` (this project's extension:
  one call lists the problems with their hypotheses and scores);
- ``draw``: ``md5`` (RD-Agent's hashed pool) or ``rng`` (the episode's seeded RNG, an extension);
- ``max_debug``: fixes of a failed run (10, CoSTEER's ``coder_max_loop``);
- sampling: ``temperature=0.5`` (RD-Agent's ``chat_temperature``, ``rdagent/oai/llm_conf.py``),
  ``top_p=1.0`` (RD-Agent sets none: the API's default);
- this project's extensions, off by default: ``similarity_weighting`` (selection weighted by
  word-overlap similarity to remembered successes, decayed by ``beta`` per round, and to
  failures), ``score_proportional`` (selection weights in proportion to the weighted score).

docs/POLICIES.md lists each mechanism and default against the reference.
"""

from __future__ import annotations

from dataclasses import dataclass

from policies import prompts
from policies.base import ConfigError, Episode, Policy, PolicyConfig
from policies.edits import request_edits
from policies.gome.diagnosis import DRAWS
from policies.gome.memory import FailureMemory, SuccessMemory
from policies.gome.traces import Trace, run_round

__all__ = ["GOMEConfig", "GOMEPolicy"]


@dataclass
class GOMEConfig(PolicyConfig):
    """GOME's settings (see the module docstring). ``max_problems``: problems per diagnosis;
    ``top_k``: candidates drawn among (RD-Agent: 5); ``max_debug``: debug attempts per failed
    run; ``min_gain``: smallest dev-score gain the score rule accepts; ``diagnosis_max_tokens`` /
    ``feedback_max_tokens``: answer sizes of the JSON calls (each diagnosis call, the feedback);
    ``memory_capacity``: success and failure entries kept (None: all, the default). Extension settings: ``beta`` (decay per round; 1.0 = none),
    ``momentum_weight``, ``failure_penalty``. ``momentum``: the old name of
    ``enable_success_memory`` (when given, it wins)."""

    temperature: float = 0.5
    top_p: float = 1.0
    num_traces: int = 2
    enable_success_memory: bool = True
    momentum: bool | None = None
    cross_trace_diversity: bool = True
    accept: str = "feedback"
    sync_interval: int = 2
    max_problems: int = 5
    top_k: int = 5
    max_debug: int = 10
    min_gain: float = 0.0
    diagnosis_calls: str = "separate"
    draw: str = "md5"
    merge: bool = False
    diagnosis_max_tokens: int = 768
    feedback_max_tokens: int = 384
    memory_capacity: int | None = None
    similarity_weighting: bool = False
    score_proportional: bool = False
    beta: float = 1.0
    momentum_weight: float = 1.0
    failure_penalty: float = 0.5

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.momentum is not None:
            self.enable_success_memory = bool(self.momentum)
        self.momentum = self.enable_success_memory
        if self.num_traces < 1 or self.sync_interval < 0 or self.max_debug < 0 or self.top_k < 1 or self.max_problems < 1:
            raise ConfigError("need num_traces >= 1, sync_interval >= 0, max_debug >= 0, top_k >= 1 and max_problems >= 1")
        if not 0.0 <= self.beta <= 1.0:
            raise ConfigError(f"beta must be in [0, 1], got {self.beta}")
        if self.accept not in ("feedback", "score"):
            raise ConfigError(f"unknown accept rule {self.accept!r}; valid rules: feedback, score")
        if self.diagnosis_calls not in ("separate", "combined"):
            raise ConfigError(f"unknown diagnosis_calls {self.diagnosis_calls!r}; valid: separate, combined")
        if self.draw not in DRAWS:
            raise ConfigError(f"unknown draw {self.draw!r}; valid draws: {', '.join(DRAWS)}")


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
        scratch = getattr(cfg, "start", "baseline") == "scratch"
        best_id, best_score = (None, None) if scratch else (root.id, root.dev_score)
        self.traces = [
            Trace(i, best_id, best_score, SuccessMemory(cfg.beta, cfg.memory_capacity), FailureMemory(cfg.memory_capacity))
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
        direction = episode.direction
        bests = {t.best_id: t.best_score for t in self.traces if t.best_id is not None and t.best_score is not None}
        top = sorted(bests, key=lambda i: (-direction.sign * bests[i], i))[:2]
        if len(top) < 2:
            return False
        a, b = top
        (outcome,) = request_edits(episode, [prompts.crossover_request(episode, a, b, cfg, kind="merge")], config=cfg)
        episode.apply(outcome, a, kind="merge", trace=-1, note={"merged": [a, b]})
        return True

    @property
    def rounds(self) -> int:
        """Rounds played (a round cut short by the budget counts once it ran something)."""
        return max((t.rounds for t in self.traces), default=0)

    def summary(self) -> dict:
        return {"rounds": self.rounds, "traces": [t.summary() for t in self.traces]}
