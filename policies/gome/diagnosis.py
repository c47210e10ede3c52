"""GOME's gradient: a structured diagnosis of the trace's best solution, and the choice of one
hypothesis (RD-Agent's ``DSProposalV2ExpGen``, ``rdagent/scenarios/data_science/proposal/exp_gen/proposal.py``).

One model call per trace (batched across traces) reads the best solution, its diagnostics, the
previous trial's feedback and the trace's history, and returns JSON::

    {"problems": [{"problem": ..., "label": "scenario" | "feedback", "evidence": ...,
                   "hypothesis": ..., "expected_effect": ..., "alignment": 1-10, "impact": 1-10,
                   "novelty": 1-10, "feasibility": 1-10, "risk_reward": 1-10}]}

Where the backend supports it the output is constrained to ``DIAGNOSIS_SCHEMA``; otherwise the
JSON is found in the text. ``parse_diagnosis`` validates it (a hypothesis is required; a missing
or unreadable score counts 0, as in RD-Agent's ``compute_top_scores``). This single call is this
project's extension (``diagnosis_calls="combined"``); the reference's three calls are in
``problems.py``.

``select_hypothesis`` is RD-Agent's ``compute_top_scores`` + ``select_hypothesis``: the top
``top_k`` (5) by the weighted score (alignment 0.2, impact 0.4, novelty 0.2, feasibility 0.1,
risk-reward 0.1), then one drawn from a pool where a scenario problem counts
``scenario_multiplier`` times and a feedback problem ``3 - scenario_multiplier`` times (the
multiplier falls from 3 to 0 as the trace's experiments accumulate), the draw made as RD-Agent
makes it (``draw="md5"``: an md5 hash of the ranked candidates and their scores, modulo the pool's
size) or with the episode's seeded RNG (``draw="rng"``, an extension). This project's extensions,
off by default: ``score_proportional`` (weights also in proportion to the weighted score) and
similarity weighting (momentum: similarity to remembered successes raises a weight, similarity
to failures lowers it).
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from dataclasses import asdict, dataclass, field

from gome_env.records import deprecated_as_dict

from policies import prompts
from policies.gome.jsoncall import JSONOutcome, request_json
from policies.gome.memory import FailureMemory, SuccessMemory

__all__ = [
    "WEIGHTS", "DIAGNOSIS_SCHEMA", "Hypothesis", "DiagnosisError", "parse_diagnosis", "fallback_hypotheses",
    "diagnosis_prompt", "select_hypothesis", "selection_weights", "request_diagnoses", "scenario_multiplier", "DRAWS",
    "md5_index",
]
DRAWS = ("md5", "rng")

WEIGHTS = {"alignment": 0.2, "impact": 0.4, "novelty": 0.2, "feasibility": 0.1, "risk_reward": 0.1}
TEXT_FIELDS = ("problem", "evidence", "hypothesis", "expected_effect")
LABELS = ("scenario", "feedback")

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
                    "label": {"type": "string", "enum": list(LABELS)},
                    **{k: {"type": "integer", "minimum": 1, "maximum": 10} for k in WEIGHTS},
                },
                "required": list(TEXT_FIELDS) + list(WEIGHTS),
            },
        }
    },
    "required": ["problems"],
}

EXAMPLE = (
    '{"problems": [{"problem": "...", "label": "scenario", "evidence": "...", "hypothesis": "...", "expected_effect": "...", '
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
    label: str = ""  # "scenario" (a problem of the task, data or code) or "feedback" (shown by experiments)
    node_id: int | None = None  # the node to edit; None: the trace's best
    component: str = ""  # RD-Agent's component tag (separate calls only)

    @property
    def weighted_score(self) -> float:
        """The reference implementation's score: the weighted sum of the five 1-10 scores (a
        missing one counts 0, as in RD-Agent)."""
        return sum(w * self.scores.get(k, 0.0) for k, w in WEIGHTS.items())

    @property
    def text(self) -> str:
        return f"{self.problem} {self.hypothesis}"

    def describe(self) -> str:
        component = f"Component: {self.component}\n" if self.component else ""
        return (f"Problem: {self.problem}\nEvidence: {self.evidence}\n{component}Hypothesis: {self.hypothesis}\n"
                f"Expected effect: {self.expected_effect}")

    def to_dict(self) -> dict:
        return {**asdict(self), "weighted_score": self.weighted_score}

    as_dict = deprecated_as_dict


def _json_objects(text: str):
    decoder = json.JSONDecoder()
    for match in re.finditer(r"[\[{]", text):
        try:
            value, _ = decoder.raw_decode(text, match.start())
        except json.JSONDecodeError:
            continue
        yield value


def _score(value) -> float:
    """RD-Agent's reading of a score: its float, or 0 when missing or unreadable (not clipped)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def _label(value) -> str:
    word = str(value or "").strip().lower()
    return next((label for label in LABELS if word.startswith(label)), "")


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
                problem=str(item.get("problem") or "").strip(),
                evidence=str(item.get("evidence") or "").strip(),
                hypothesis=hyp,
                expected_effect=str(item.get("expected_effect") or "").strip(),
                scores={k: _score(raw.get(k)) for k in WEIGHTS},
                label=_label(item.get("label")),
            ))
        if out:
            return sorted(out, key=lambda h: -h.weighted_score)[:max_problems]
    raise DiagnosisError(f"no JSON problem list with a non-empty 'hypothesis' was found; answer with JSON only, like {EXAMPLE}")


GENERIC = (
    ("The model may be too simple for the data.", "Replace the model with a stronger learner suited to the data (e.g. gradient boosting or a random forest).", "higher dev score"),
    ("Features are used raw.", "Add simple feature engineering or scaling of the inputs.", "better generalisation"),
    ("Hyperparameters are untuned defaults.", "Tune the main hyperparameters of the model.", "a modest gain"),
)


def fallback_hypotheses(diagnostics: dict, node_id: int | None = None) -> list[Hypothesis]:
    """Hypotheses to use when the diagnosis cannot be parsed: when ``diagnostics`` (those of
    node ``node_id``, the trace's last experiment) say the run failed, one hypothesis to fix that
    failure, applied to that same node; else generic improvements of the trace's best."""
    if diagnostics.get("status", "ok") != "ok":
        reason = str(diagnostics.get("reason") or diagnostics["status"])
        return [Hypothesis("The last run failed.", reason, f"Fix the cause of: {reason}", "a valid run",
                           source="fallback", label="feedback", node_id=node_id)]
    return [Hypothesis(p, "fallback: the diagnosis could not be parsed", h, e, source="fallback") for p, h, e in GENERIC]


def diagnosis_prompt(task_text: str, sections: list[str], cfg) -> list[dict]:
    """The diagnosis conversation for one trace: the task, the given ``sections`` (best solution,
    its diagnostics, the previous feedback, the history, the siblings' hypotheses) and the JSON
    answer format."""
    parts = ["# Task\n" + prompts.clip(task_text, cfg.max_task_chars), *[s for s in sections if s]]
    parts.append(
        f"# Instructions\nList up to {cfg.max_problems} problems that limit the dev score. Label each \"scenario\" (a "
        "problem of the task, the data or the code) or \"feedback\" (a problem the experiments so far have shown). For "
        "each give the evidence (from the diagnostics or the code), a hypothesis (one concrete change to the code), "
        "its expected effect, and scores from 1 to 10 for alignment, impact, novelty, feasibility and risk_reward. "
        f"Answer with JSON only, like:\n{EXAMPLE}"
    )
    return [{"role": "system", "content": prompts.SYSTEM}, {"role": "user", "content": "\n\n".join(parts)}]


def scenario_multiplier(decisions: list[bool]) -> int:
    """RD-Agent's ``scen_prob_multiplier`` from a trace's experiments (accepted or not): 3 at the
    start, falling to 0 as (3 x accepted + 2 x rejected) / 2 grows by 4s."""
    accepted = sum(1 for d in decisions if d)
    weighted = (accepted * 3 + (len(decisions) - accepted) * 2) // 2
    return max(0, 3 - weighted // 4)


def selection_weights(hypotheses: list[Hypothesis], multiplier: int = 3, score_proportional: bool = False,
                      success: SuccessMemory | None = None, failure: FailureMemory | None = None,
                      momentum_weight: float = 1.0, failure_penalty: float = 0.5) -> list[float]:
    """Each candidate's draw weight: its count in RD-Agent's pool (a scenario problem
    ``multiplier``, a feedback problem ``3 - multiplier``, an unlabelled one 1; all 1 when that
    leaves nothing), times, with the extensions, its weighted score (``score_proportional``),
    ``1 + momentum_weight x similarity to successes`` (``success``) and
    ``1 - failure_penalty x similarity to failures`` (``failure``)."""
    pool = [float(multiplier if h.label == "scenario" else 3 - multiplier if h.label == "feedback" else 1) for h in hypotheses]
    if not any(pool):
        pool = [1.0] * len(hypotheses)
    out = []
    for h, w in zip(hypotheses, pool):
        if score_proportional:
            w *= h.weighted_score
        if success is not None:
            w *= 1.0 + momentum_weight * success.momentum(h.text)
        if failure is not None:
            w *= max(0.05, 1.0 - failure_penalty * failure.similarity(h.text))
        out.append(w)
    if not any(out):
        out = [1.0] * len(hypotheses)
    return out


def md5_index(top: list[Hypothesis], weights: list[float]) -> int:
    """RD-Agent's reproducible draw: an index pool in which candidate j appears ``weights[j]``
    times (whole counts), and the md5 hash of the ranked candidates and their weighted scores,
    modulo the pool's size, picks from it (the same candidates always give the same pick)."""
    pool = [j for j, w in enumerate(weights) for _ in range(max(0, round(w)))] or list(range(len(top)))
    text = "\n".join(f"{' '.join((h.problem or h.hypothesis).split())}    {h.weighted_score:.6g}" for h in top)
    return pool[int.from_bytes(hashlib.md5(text.encode()).digest(), "big") % len(pool)]


def select_hypothesis(hypotheses: list[Hypothesis], rng: random.Random, top_k: int = 5, multiplier: int = 3,
                      draw: str = "md5", **extensions) -> tuple[Hypothesis, list[float]]:
    """RD-Agent's choice: the ``top_k`` by weighted score (the earliest among ties), then one
    drawn by ``selection_weights`` (``extensions``: its keyword options), with RD-Agent's md5 draw
    (``draw="md5"``, the reference; it needs whole-count weights, so the weighting extensions
    draw with ``rng``) or ``rng`` (``draw="rng"``). Returns the pick and the weights of the
    candidates considered."""
    if draw not in DRAWS:
        raise ValueError(f"unknown draw {draw!r}; valid draws: {', '.join(DRAWS)}")
    top = sorted(hypotheses, key=lambda h: -h.weighted_score)[:top_k]
    weights = selection_weights(top, multiplier, **extensions)
    whole = all(float(w).is_integer() for w in weights)
    if draw == "md5" and whole:
        return top[md5_index(top, weights)], weights
    return rng.choices(top, weights=weights)[0], weights


def request_diagnoses(episode, conversations: list[list[dict]], cfg) -> list[JSONOutcome]:
    """All traces' diagnoses in one batched call (JSON-constrained where the backend can); the
    unparseable ones re-asked together up to ``cfg.max_parse_retries`` times. Each outcome's
    ``value`` is the list of hypotheses, or None."""
    return request_json(episode, conversations, cfg, parse=lambda text: parse_diagnosis(text, cfg.max_problems),
                        kind="diagnose", max_tokens=cfg.diagnosis_max_tokens, schema=DIAGNOSIS_SCHEMA)
