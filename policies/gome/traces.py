"""GOME's multi-trace execution (the distributed optimisation of the analogy).

K traces are K optimisation runs over branches of one environment's node tree: each has its own
current best (its "SOTA", starting at the baseline), success memory and failure memory. A round
advances every trace by one update, with each phase's model calls sent as **one batch**:

1. gradient: all K diagnoses in one call;
2. selection: each trace samples a hypothesis (momentum-aware);
3. update: all K implementations in one call, then each is run from its trace's best;
4. debug: the failed runs are debugged together (one call per debug attempt, at most
   ``max_debug`` attempts);
5. accept: the trace's success memory decays by ``beta`` (a round has passed); its best moves
   when the dev score improves, and the hypothesis goes to the success memory (weight = its gain)
   or to the failure memory. An entry accepted ``t`` rounds ago thus weighs ``gain * beta**t``.

Every ``sync_interval`` rounds the traces share their success memories (``all_reduce``). The
final answer is the best node across traces (the environment's best).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from policies.base import Episode, Stop
from policies.edits import EditRequest, request_edits
from policies import prompts
from policies.gome.diagnosis import Hypothesis, diagnosis_prompt, fallback_hypotheses, request_diagnoses, select_hypothesis
from policies.gome.memory import FailureMemory, SuccessMemory
from policies.gome.update import implement_prompt, improves

__all__ = ["Trace", "all_reduce", "run_round"]


@dataclass
class Trace:
    """One optimisation trace: its best node so far, its last experiment and its memories."""

    id: int
    best_id: int
    best_score: float | None
    success: SuccessMemory
    failure: FailureMemory
    last_id: int | None = None
    last_hypothesis: str = ""
    rounds: int = 0
    accepted: int = 0
    history: list[dict] = field(default_factory=list)

    def summary(self) -> dict:
        return {
            "id": self.id, "best_id": self.best_id, "best_score": self.best_score, "rounds": self.rounds,
            "accepted": self.accepted, "success_memory": self.success.to_list(), "failure_memory": self.failure.to_list(),
            "history": self.history,
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


def _memories(trace: Trace, cfg, metric: str) -> tuple[str, str]:
    half = cfg.max_memory_chars // 2
    success = trace.success.render(metric, half) if cfg.momentum else ""
    return success, trace.failure.render(metric, half)


def run_round(episode: Episode, traces: list[Trace], cfg, round_no: int) -> None:
    """Advance every trace by one diagnose -> select -> update (-> debug) -> accept cycle."""
    metric = episode.metric_name

    # 1. gradient: one batched diagnosis call
    conversations = []
    for t in traces:
        best = episode.tree[t.best_id]
        last = None
        if t.last_id is not None and t.last_id != t.best_id:
            last = (t.last_hypothesis, episode.tree[t.last_id].diagnostics)
        success, failure = _memories(t, cfg, metric)
        conversations.append(diagnosis_prompt(episode.task_text, episode.files(t.best_id), best.diagnostics, last, success, failure, cfg))
    diagnoses = request_diagnoses(episode, conversations, cfg)

    # 2. selection (momentum-aware)
    chosen: list[Hypothesis] = []
    for t, d in zip(traces, diagnoses):
        hyps = d.hypotheses or fallback_hypotheses(episode.tree[t.last_id if t.last_id is not None else t.best_id].diagnostics)
        pick, _ = select_hypothesis(
            hyps, episode.rng, t.success if cfg.momentum else None, t.failure,
            cfg.top_k, cfg.momentum_weight, cfg.failure_penalty,
        )
        chosen.append(pick)

    # 3. update: one batched implementation call, then run each from its trace's best
    requests = []
    for t, h in zip(traces, chosen):
        best = episode.tree[t.best_id]
        success, failure = _memories(t, cfg, metric)
        files = episode.files(t.best_id)
        messages = implement_prompt(episode.task_text, files, h, best.diagnostics, success, failure, cfg, f"{metric} {best.dev_score}")
        requests.append(EditRequest(messages, files, cfg.edit_form, "implement"))
    results: list[int | None] = [None] * len(traces)
    stopped: Stop | None = None
    try:
        for i, (t, h, d, outcome) in enumerate(zip(traces, chosen, diagnoses, request_edits(episode, requests, config=cfg))):
            note = {"round": round_no, "hypothesis": h.as_dict(), "momentum": t.success.velocity}
            node = episode.step(outcome.diff, t.best_id, kind="implement", trace=t.id, calls=d.calls + outcome.calls, parse_ok=outcome.ok, note=note)
            results[i] = node.id

        # 4. bounded debug loop, batched over the traces whose run failed
        for attempt in range(cfg.max_debug):
            buggy = [i for i, r in enumerate(results) if r is not None and episode.tree[r].is_buggy]
            if not buggy:
                break
            requests = [prompts.debug_request(episode, results[i], cfg) for i in buggy]
            for i, outcome in zip(buggy, request_edits(episode, requests, config=cfg)):
                note = {"round": round_no, "debug_attempt": attempt + 1}
                results[i] = episode.step(outcome.diff, results[i], kind="debug", trace=traces[i].id, calls=outcome.calls, parse_ok=outcome.ok, note=note).id
    except Stop as stop:  # the budget ran out mid-round: still account for the runs made
        stopped = stop

    # 5. a round has passed: momentum decays, then accept or remember the failure
    for t, h, r in zip(traces, chosen, results):
        if r is None:
            continue
        t.success.decay()
        node = episode.tree[r]
        t.rounds += 1
        t.last_id, t.last_hypothesis = node.id, h.hypothesis
        accepted = not node.is_buggy and improves(node.dev_score, t.best_score, episode.higher_is_better, cfg.min_gain)
        if accepted:
            gain = episode.gain(node.dev_score, t.best_score)
            if cfg.momentum:
                t.success.add(h.hypothesis, gain, node.dev_score, node.id, t.id, round_no)
            t.best_id, t.best_score = node.id, node.dev_score
            t.accepted += 1
        else:
            t.failure.add(h.hypothesis, node.status, node.dev_score, node.diagnostics.get("reason") or "", node.id, t.id, round_no)
        t.history.append({"round": round_no, "node_id": node.id, "status": node.status, "dev_score": node.dev_score,
                          "accepted": accepted, "hypothesis": h.hypothesis[:300], "source": h.source})
    if stopped is not None:
        raise stopped

    # 6. all-reduce of the success memories
    if cfg.sync_interval > 0 and (round_no + 1) % cfg.sync_interval == 0:
        all_reduce(traces)
