"""GOME's multi-trace execution (the distributed optimisation of the analogy), one round at a time.

K traces are K optimisation runs over branches of one environment's node tree: each has its own
best solution (its "SOTA": node 0 under ``start="baseline"``, none under ``start="scratch"``),
history of experiments and memories. A round advances every trace by one experiment, each
phase's model calls sent as **one batch**:

1. gradient: the diagnoses (RD-Agent's scenario-problem, feedback-problem and hypothesis calls
   by default, ``problems.py``; or one combined call, ``diagnosis.py``), from the best code and
   its diagnostics, the previous trial's feedback and the whole history; at round 0 the traces diagnose one after another, each asked to differ from the
   hypotheses the earlier ones chose: RD-Agent's cross-trace diversity; later, a trace that has
   accepted nothing yet still sees its siblings' latest hypotheses);
2. selection: RD-Agent's top-k draw (``diagnosis.select_hypothesis``);
3. update: the implementations, each run from its trace's best (a fallback fix of a failed run
   from that failed node);
4. debug: failed runs debugged together, at most ``max_debug`` attempts;
5. feedback: RD-Agent's post-experiment feedback on every clean run (``feedback.py``); its
   replace-best decision is the acceptance (``update.accepts``) and its code-change summary and
   reasoning go into the history the next round sees.

Every ``sync_interval`` rounds the traces share their success memories (``all_reduce``). The
final answer is the best node across traces (the environment's best).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gome_env.patching.diffs import make_diff
from gome_env.grading.direction import Direction

from policies import prompts
from policies.base import Episode, Stop
from policies.edits import EditRequest, request_edits
from policies.gome.diagnosis import Hypothesis, fallback_hypotheses, request_diagnoses, scenario_multiplier, select_hypothesis
from policies.gome.feedback import Feedback, comparison_line, feedback_prompt, request_feedbacks
from policies.gome.history import Experiment, history_entries, render_last_feedback
from policies.gome.jsoncall import JSONOutcome
from policies.gome.memory import FailureMemory, SuccessMemory
from policies.gome.problems import request_separate
from policies.gome.sections import DiagnosisInput, combined_conversation, diagnosis_input, fitted, solution_sections
from policies.gome.update import accepts, implement_prompt, success_gain

__all__ = ["Trace", "all_reduce", "run_round"]


@dataclass
class Trace:
    """One optimisation trace: its best node (None before a first success under
    ``start="scratch"``), its experiments and its memories."""

    id: int
    best_id: int | None
    best_score: float | None
    success: SuccessMemory
    failure: FailureMemory
    experiments: list[Experiment] = field(default_factory=list)
    last_hypothesis: str = ""
    rounds: int = 0
    accepted: int = 0
    pending_calls: list = field(default_factory=list)  # feedback exchanges, attached to the next step

    @property
    def last_id(self) -> int | None:
        """The node of the latest experiment that made one."""
        return next((e.node_id for e in reversed(self.experiments) if e.node_id is not None), None)

    def summary(self) -> dict:
        return {
            "id": self.id, "best_id": self.best_id, "best_score": self.best_score, "rounds": self.rounds,
            "accepted": self.accepted, "success_memory": self.success.to_list(), "failure_memory": self.failure.to_list(),
            "history": [e.to_dict() for e in self.experiments],
        }


def all_reduce(traces: list[Trace]) -> None:
    """Share success memory: every trace ends up with the union of all traces' entries."""
    if len(traces) < 2:
        return
    pooled = SuccessMemory(traces[0].success.beta, traces[0].success.capacity)
    for t in traces:
        pooled.merge(t.success)
    for t in traces:
        t.success.merge(pooled)


# ---------------------------------------------------------------------- diagnosis


def _siblings(t: Trace, traces: list[Trace], cfg) -> list[str]:
    """The other traces' latest hypotheses while ``t`` has accepted nothing (RD-Agent's
    ``InjectUntilSOTAGainedStrategy``)."""
    if not cfg.cross_trace_diversity or t.accepted:
        return []
    return [o.last_hypothesis for o in traces if o is not t and o.last_hypothesis]


def _diagnose(episode: Episode, inputs: list[DiagnosisInput], cfg) -> list[JSONOutcome]:
    """The traces' diagnoses: RD-Agent's three calls (``diagnosis_calls="separate"``) or this
    project's single call (``"combined"``), each phase batched over the traces."""
    if cfg.diagnosis_calls == "separate":
        return request_separate(episode, inputs, cfg)
    return request_diagnoses(episode, [combined_conversation(episode, inp, cfg) for inp in inputs], cfg)


def _choose(episode: Episode, t: Trace, hypotheses: list[Hypothesis] | None, cfg) -> Hypothesis:
    if not hypotheses:
        last = t.last_id
        hypotheses = fallback_hypotheses(episode.tree[last].diagnostics, last) if last is not None else fallback_hypotheses({})
    ext = dict(score_proportional=cfg.score_proportional)
    if cfg.similarity_weighting:
        ext.update(success=t.success if cfg.enable_success_memory else None, failure=t.failure,
                   momentum_weight=cfg.momentum_weight, failure_penalty=cfg.failure_penalty)
    multiplier = scenario_multiplier([e.decision for e in t.experiments])
    pick, _ = select_hypothesis(hypotheses, episode.rng, cfg.top_k, multiplier, draw=cfg.draw, **ext)
    return pick


# ---------------------------------------------------------------------- one round


def run_round(episode: Episode, traces: list[Trace], cfg, round_no: int) -> None:
    """Advance every trace by one diagnose -> select -> update (-> debug) -> feedback -> accept cycle."""
    direction = episode.direction
    root = episode.tree.root.id

    # 1-2. gradient and selection (one after another at round 0 for cross-trace diversity)
    def inp(t: Trace, siblings: list[str]) -> DiagnosisInput:
        return diagnosis_input(episode, t, cfg, siblings, scenario_multiplier([e.decision for e in t.experiments]))

    if round_no == 0 and cfg.cross_trace_diversity and len(traces) > 1:
        diagnoses, chosen = [], []
        for t in traces:
            (d,) = _diagnose(episode, [inp(t, [h.hypothesis for h in chosen])], cfg)
            diagnoses.append(d)
            chosen.append(_choose(episode, t, d.value, cfg))
    else:
        diagnoses = _diagnose(episode, [inp(t, _siblings(t, traces, cfg)) for t in traces], cfg)
        chosen = [_choose(episode, t, d.value, cfg) for t, d in zip(traces, diagnoses)]
    for t, h in zip(traces, chosen):
        t.last_hypothesis = h.hypothesis

    # 3. update: one batched implementation call, each run from its base
    requests, bases = [], []
    for t, h in zip(traces, chosen):
        base = h.node_id if h.node_id is not None else t.best_id
        new = base is None
        form = "whole" if new else cfg.edit_form
        failed = history_entries(t.experiments, episode.metric_name, failed_only=True)
        sota = solution_sections(episode, base, cfg, "Current SOTA implementation")

        def build(history: str, sota=sota, h=h, form=form, new=new, failed=failed) -> list[dict]:
            extra = [f"# Previous failed experiments and feedback\n{history}"] if failed else []
            return implement_prompt(episode.task_text, sota + extra, h, cfg, form, new)

        files = episode.files(root if new else base)
        kind = "draft" if new else "implement"  # a new solution from the task text alone (start="scratch")
        requests.append(EditRequest(fitted(episode, build, failed, cfg.max_tokens), files, form, kind))
        bases.append(root if new else base)
    results: list[int | None] = [None] * len(traces)
    tried = [False] * len(traces)  # an answer came back (usable or not)
    plans, errors = [""] * len(traces), [""] * len(traces)
    feedbacks: list[Feedback | None] = [None] * len(traces)
    stopped: Stop | None = None
    try:
        for i, outcome in enumerate(request_edits(episode, requests, config=cfg)):
            t, h = traces[i], chosen[i]
            note = {"round": round_no, "hypothesis": h.to_dict(), "momentum": t.success.velocity, "base": bases[i]}
            calls, t.pending_calls = t.pending_calls + diagnoses[i].calls, []
            node = episode.apply(outcome, bases[i], kind=requests[i].kind, trace=t.id, calls=calls, note=note)
            tried[i], errors[i] = True, outcome.error or ""
            if node is not None:
                results[i], plans[i] = node.id, outcome.edit.plan

        # 4. bounded debug loop, batched over the traces whose run failed
        for attempt in range(cfg.max_debug):
            buggy = [i for i, r in enumerate(results) if r is not None and episode.tree[r].is_buggy]
            if not buggy:
                break
            for i, outcome in zip(buggy, request_edits(episode, [prompts.debug_request(episode, results[i], cfg) for i in buggy], config=cfg)):
                note = {"round": round_no, "debug_attempt": attempt + 1}
                fixed = episode.apply(outcome, results[i], kind="debug", trace=traces[i].id, note=note)
                results[i] = fixed.id if fixed is not None else results[i]

        # 5. post-experiment feedback, batched over the clean runs
        feedbacks = _feedbacks(episode, traces, chosen, results, plans, cfg, direction)
    except Stop as stop:  # the budget ran out mid-round: still account for the runs made
        stopped = stop

    # 6. accept, remember, record
    for i, (t, h, r) in enumerate(zip(traces, chosen, results)):
        if r is None:
            if tried[i]:  # the answer could not be used: nothing ran, the history says so
                t.rounds += 1
                t.experiments.append(Experiment(round_no, None, bases[i], h.problem, h.hypothesis, "unusable_answer", None,
                                                False, "", errors[i][:300], "failed_run"))
            continue
        node = episode.tree[r]
        fb = feedbacks[i] or _rule_feedback(node, t, plans[i], cfg, direction)
        accepted = accepts(node.dev_score, t.best_score, direction, buggy=node.is_buggy, min_gain=cfg.min_gain,
                           decision=fb.decision if fb.source in ("model", "first_valid") else None)
        t.success.decay()
        t.rounds += 1
        if accepted:
            gain = success_gain(node.dev_score, t.best_score, direction)
            if cfg.enable_success_memory:
                t.success.add(h.hypothesis, max(gain, 0.0), node.dev_score, node.id, t.id, round_no)
            t.best_id, t.best_score = node.id, node.dev_score
            t.accepted += 1
        else:
            t.failure.add(h.hypothesis, node.status, node.dev_score, node.diagnostics.get("reason") or "", node.id, t.id, round_no)
        t.experiments.append(Experiment(round_no, node.id, bases[i], h.problem, h.hypothesis, node.status, node.dev_score,
                                        accepted, fb.code_change_summary, fb.reasoning, fb.source))
    if stopped is not None:
        raise stopped

    # 7. all-reduce of the success memories
    if cfg.sync_interval > 0 and (round_no + 1) % cfg.sync_interval == 0:
        all_reduce(traces)


def _rule_feedback(node, t: Trace, plan: str, cfg, direction: Direction) -> Feedback:
    """The feedback when the model gives none: a failed run, or the dev-score rule."""
    if node.is_buggy:
        reason = node.diagnostics.get("reason") or node.status
        return Feedback(False, " ".join(plan.split())[:300], reasoning=f"[Run failed] {node.status}: {reason}", source="failed_run")
    decision = accepts(node.dev_score, t.best_score, direction, buggy=False, decision=None, min_gain=cfg.min_gain)
    why = f"decided by the dev-score rule: {node.dev_score} against the best {t.best_score}"
    return Feedback(decision, " ".join(plan.split())[:300], reasoning=why, source="rule")


def _feedbacks(episode: Episode, traces: list[Trace], chosen: list[Hypothesis], results: list[int | None],
               plans: list[str], cfg, direction: Direction) -> list[Feedback | None]:
    """RD-Agent's feedback for every clean run (one batched call); failed runs and
    ``accept="score"`` get the rule's feedback."""
    out: list[Feedback | None] = [None] * len(traces)
    asks, convs = [], []
    for i, (t, h, r) in enumerate(zip(traces, chosen, results)):
        if r is None:
            continue
        node = episode.tree[r]
        if node.is_buggy or cfg.accept == "score":
            out[i] = _rule_feedback(node, t, plans[i], cfg, direction)
            continue
        valid_best = t.best_id if t.best_score is not None else None
        previous = render_last_feedback(t.experiments[-1] if t.experiments else None)
        before = episode.files(valid_best if valid_best is not None else (t.best_id if t.best_id is not None else episode.tree.root.id))
        diff = make_diff(before, episode.files(r))
        comparison = comparison_line(episode.metric_name, node.dev_score, t.best_score, direction.higher_is_better)
        convs.append(feedback_prompt(episode.task_text, episode.files(valid_best) if valid_best is not None else None,
                                     t.best_score, h.describe(), diff, node.diagnostics, comparison, previous, cfg))
        asks.append(i)
    for i, outcome in zip(asks, request_feedbacks(episode, convs, cfg)):
        t = traces[i]
        t.pending_calls = list(outcome.calls)
        if outcome.ok:
            fb = outcome.value
            if t.best_score is None:  # RD-Agent: the first valid result always replaces the best
                fb.decision, fb.source = True, "first_valid"
            out[i] = fb
        else:
            out[i] = _rule_feedback(episode.tree[results[i]], t, plans[i], cfg, direction)
    return out
