"""GOME's gradient: a structured diagnosis of the current best solution.

One model call per trace (batched across traces) reads the environment's diagnostics of the
trace's best solution and of its last experiment, and returns JSON::

    {"problems": [{"problem": ..., "evidence": ..., "hypothesis": ..., "expected_effect": ...,
                   "alignment": 1-10, "impact": 1-10, "novelty": 1-10,
                   "feasibility": 1-10, "risk_reward": 1-10}]}

Where the backend supports it the output is constrained to ``DIAGNOSIS_SCHEMA``; otherwise the
JSON is found in the text. ``parse_diagnosis`` validates it (a hypothesis is required; missing
scores count 5; scores are clipped to 1-10). Each hypothesis gets the reference
implementation's weighted score (alignment 0.2, impact 0.4, novelty 0.2, feasibility 0.1,
risk-reward 0.1); ``select_hypothesis`` samples among the top ``top_k`` in proportion to it,
adjusted by momentum (similarity to successes) and by the failure memory.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import asdict, dataclass, field

from policies import prompts
from policies.gome.memory import FailureMemory, SuccessMemory

__all__ = [
    "WEIGHTS", "DIAGNOSIS_SCHEMA", "Hypothesis", "DiagnosisError", "parse_diagnosis", "fallback_hypotheses",
    "diagnosis_prompt", "select_hypothesis", "selection_weights", "request_diagnoses", "DiagnosisOutcome",
]

WEIGHTS = {"alignment": 0.2, "impact": 0.4, "novelty": 0.2, "feasibility": 0.1, "risk_reward": 0.1}
TEXT_FIELDS = ("problem", "evidence", "hypothesis", "expected_effect")

DIAGNOSIS_SCHEMA = {
    "type": "object",
    "properties": {
        "problems": {
            "type": "array",
            "minItems": 1,
            "maxItems": 5,
            "items": {
                "type": "object",
                "properties": {
                    **{k: {"type": "string"} for k in TEXT_FIELDS},
                    **{k: {"type": "integer", "minimum": 1, "maximum": 10} for k in WEIGHTS},
                },
                "required": list(TEXT_FIELDS) + list(WEIGHTS),
            },
        }
    },
    "required": ["problems"],
}

EXAMPLE = (
    '{"problems": [{"problem": "...", "evidence": "...", "hypothesis": "...", "expected_effect": "...", '
    '"alignment": 7, "impact": 8, "novelty": 5, "feasibility": 9, "risk_reward": 6}]}'
)


class DiagnosisError(ValueError):
    """The diagnosis answer holds no valid JSON problem list; the message goes back to the model."""


@dataclass
class Hypothesis:
    """One diagnosed problem and the change proposed for it (a component of the gradient)."""

    problem: str
    evidence: str
    hypothesis: str
    expected_effect: str
    scores: dict[str, float] = field(default_factory=lambda: dict.fromkeys(WEIGHTS, 5.0))
    source: str = "model"  # or "fallback" when the diagnosis could not be parsed

    @property
    def weighted_score(self) -> float:
        """The reference implementation's score: weighted mean of the five 1-10 scores."""
        return sum(w * self.scores.get(k, 5.0) for k, w in WEIGHTS.items())

    @property
    def text(self) -> str:
        return f"{self.problem} {self.hypothesis}"

    def describe(self) -> str:
        return (f"Problem: {self.problem}\nEvidence: {self.evidence}\nHypothesis: {self.hypothesis}\n"
                f"Expected effect: {self.expected_effect}")

    def as_dict(self) -> dict:
        return {**asdict(self), "weighted_score": self.weighted_score}


def _json_objects(text: str):
    decoder = json.JSONDecoder()
    for match in re.finditer(r"[\[{]", text):
        try:
            value, _ = decoder.raw_decode(text, match.start())
        except json.JSONDecodeError:
            continue
        yield value


def _score(value) -> float:
    try:
        return float(min(10.0, max(1.0, float(value))))
    except (TypeError, ValueError):
        return 5.0


def parse_diagnosis(text: str, max_problems: int = 5) -> list[Hypothesis]:
    """Validated hypotheses from a diagnosis answer, best weighted score first."""
    for value in _json_objects(text or ""):
        items = value.get("problems") if isinstance(value, dict) else value
        if isinstance(value, dict) and items is None and "hypothesis" in value:
            items = [value]
        if not isinstance(items, list):
            continue
        out = []
        for item in items:
            if not isinstance(item, dict):
                continue
            hyp = str(item.get("hypothesis") or "").strip()
            if not hyp:
                continue
            raw = item.get("scores") if isinstance(item.get("scores"), dict) else item
            out.append(Hypothesis(
                problem=str(item.get("problem") or "").strip()[:500],
                evidence=str(item.get("evidence") or "").strip()[:500],
                hypothesis=hyp[:800],
                expected_effect=str(item.get("expected_effect") or "").strip()[:300],
                scores={k: _score(raw.get(k, 5)) for k in WEIGHTS},
            ))
        if out:
            return sorted(out, key=lambda h: -h.weighted_score)[:max_problems]
    raise DiagnosisError(f"no JSON problem list with a non-empty 'hypothesis' was found; answer with JSON only, like {EXAMPLE}")


GENERIC = (
    ("The model may be too simple for the data.", "Replace the model with a stronger learner suited to the data (e.g. gradient boosting or a random forest).", "higher dev score"),
    ("Features are used raw.", "Add simple feature engineering or scaling of the inputs.", "better generalisation"),
    ("Hyperparameters are untuned defaults.", "Tune the main hyperparameters of the model.", "a modest gain"),
)


def fallback_hypotheses(diagnostics: dict) -> list[Hypothesis]:
    """Hypotheses to use when the diagnosis cannot be parsed: fix the failure if the last run
    failed, else generic improvements."""
    if diagnostics.get("status", "ok") != "ok":
        reason = diagnostics.get("reason") or diagnostics["status"]
        return [Hypothesis("The last run failed.", str(reason)[:300], f"Fix the cause of: {str(reason)[:200]}", "a valid run", source="fallback")]
    return [Hypothesis(p, "fallback: the diagnosis could not be parsed", h, e, source="fallback") for p, h, e in GENERIC]


def diagnosis_prompt(task_text: str, files: dict[str, str], best_diag: dict, last: tuple[str, dict] | None,
                     success: str, failure: str, cfg) -> list[dict]:
    """The diagnosis conversation for one trace: task, best code, its diagnostics, the last
    experiment, the memories, and the JSON answer format."""
    parts = [
        "# Task\n" + prompts.clip(task_text, cfg.max_task_chars),
        "# Current best solution\n" + prompts.code_block(files, cfg.max_code_chars),
        "# Its diagnostics\n" + prompts.feedback(best_diag, cfg.diagnostics, cfg.max_feedback_chars),
    ]
    if last is not None:
        tried, diag = last
        parts.append(f"# Last experiment\nTried: {tried}\n" + prompts.feedback(diag, cfg.diagnostics, cfg.max_feedback_chars // 2))
    if success:
        parts.append("# What worked (accepted changes, strongest first)\n" + success)
    if failure:
        parts.append("# What did not work\n" + failure)
    parts.append(
        f"# Instructions\nList up to {cfg.max_problems} problems that limit the dev score. For each give the problem, "
        "the evidence (from the diagnostics or the code), a hypothesis (one concrete change to the code), its expected "
        "effect, and scores from 1 to 10 for alignment, impact, novelty, feasibility and risk_reward. "
        f"Answer with JSON only, like:\n{EXAMPLE}"
    )
    return [{"role": "system", "content": prompts.SYSTEM}, {"role": "user", "content": "\n\n".join(parts)}]


def selection_weights(hypotheses: list[Hypothesis], success: SuccessMemory | None, failure: FailureMemory | None,
                      momentum_weight: float = 1.0, failure_penalty: float = 0.5) -> list[float]:
    """Sampling weight of each hypothesis: weighted score x (1 + momentum_weight x similarity to
    successes) x (1 - failure_penalty x similarity to failures). ``success=None`` turns momentum off."""
    out = []
    for h in hypotheses:
        w = h.weighted_score
        if success is not None:
            w *= 1.0 + momentum_weight * success.momentum(h.text)
        if failure is not None:
            w *= max(0.05, 1.0 - failure_penalty * failure.similarity(h.text))
        out.append(w)
    return out


def select_hypothesis(hypotheses: list[Hypothesis], rng: random.Random, success: SuccessMemory | None,
                      failure: FailureMemory | None, top_k: int = 5, momentum_weight: float = 1.0,
                      failure_penalty: float = 0.5) -> tuple[Hypothesis, list[float]]:
    """Weighted sampling among the ``top_k`` best by selection weight; returns the pick and the
    weights of the candidates considered."""
    weights = selection_weights(hypotheses, success, failure, momentum_weight, failure_penalty)
    ranked = sorted(zip(weights, range(len(hypotheses))), key=lambda x: -x[0])[:top_k]
    pick = rng.choices([i for _, i in ranked], weights=[w for w, _ in ranked])[0]
    return hypotheses[pick], [w for w, _ in ranked]


@dataclass
class DiagnosisOutcome:
    """The hypotheses one trace's diagnosis produced (None when every attempt failed) and the
    exchanges (first answer and retries)."""

    hypotheses: list[Hypothesis] | None
    calls: list = field(default_factory=list)
    error: str | None = None


def request_diagnoses(episode, conversations: list[list[dict]], cfg) -> list[DiagnosisOutcome]:
    """All traces' diagnoses in one batched call (JSON-constrained where the backend can), the
    unparseable ones re-asked together up to ``cfg.max_parse_retries`` times."""
    outcomes = [DiagnosisOutcome(None) for _ in conversations]
    convs = [list(c) for c in conversations]
    pending = list(range(len(convs)))
    for attempt in range(cfg.max_parse_retries + 1):
        if not pending:
            break
        exchanges = episode.chat(
            [convs[i] for i in pending], kind="diagnose" if attempt == 0 else "diagnose_retry",
            temperature=cfg.temperature, top_p=cfg.top_p, max_tokens=cfg.diagnosis_max_tokens,
            json_schema=DIAGNOSIS_SCHEMA,
        )
        still = []
        for i, ex in zip(pending, exchanges):
            outcomes[i].calls.append(ex)
            try:
                outcomes[i].hypotheses = parse_diagnosis(ex.answer, cfg.max_problems)
            except DiagnosisError as exc:
                ex.error = outcomes[i].error = str(exc)
                episode.parse_failures += 1
                convs[i] = list(conversations[i]) + [
                    {"role": "assistant", "content": prompts.clip(ex.answer, 1500)},
                    {"role": "user", "content": f"Your answer could not be used: {exc}"},
                ]
                still.append(i)
        pending = still
    return outcomes
