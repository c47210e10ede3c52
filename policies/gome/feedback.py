"""GOME's post-experiment feedback, as RD-Agent's data-science loop asks for it
(microsoft/RD-Agent ``rdagent/scenarios/data_science/dev/feedback.py`` and the ``exp_feedback``
prompt in ``dev/prompts.yaml``).

After an experiment runs cleanly, the model sees the best solution so far (its code and dev
score), the hypothesis, the diff from the best to the new code, the new run's diagnostics, the
two scores with the metric's direction, and the previous trial's feedback, and answers JSON::

    {"Code Change Summary": ..., "Observations": ..., "Feedback for Hypothesis": ...,
     "Replace Best Result": "yes" | "no", "Reasoning": ...}

``Replace Best Result`` is the acceptance decision; the summary and the reasoning go into the
trace's history, which the next round's diagnosis sees. RD-Agent's rule that the first valid
result always replaces the best is applied here without asking (``first_valid``), and a run that
failed gets no call (``failed_run``: RD-Agent records the exception as the feedback).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from policies import prompts
from policies.gome.jsoncall import JSONOutcome, json_objects, request_json

__all__ = ["FEEDBACK_SCHEMA", "Feedback", "parse_feedback", "feedback_prompt", "comparison_line", "request_feedbacks"]

TEXT_KEYS = ("Code Change Summary", "Observations", "Feedback for Hypothesis", "Reasoning")
DECISION_KEY = "Replace Best Result"
FEEDBACK_SCHEMA = {
    "type": "object",
    "properties": {**{k: {"type": "string"} for k in TEXT_KEYS}, DECISION_KEY: {"type": "string", "enum": ["yes", "no"]}},
    "required": [*TEXT_KEYS, DECISION_KEY],
}
EXAMPLE = ('{"Code Change Summary": "...", "Observations": "...", "Feedback for Hypothesis": "...", '
           '"Replace Best Result": "yes or no", "Reasoning": "..."}')


@dataclass
class Feedback:
    """The feedback on one experiment; ``decision``: replace the trace's best with it.
    ``source``: ``model`` (the model's answer), ``rule`` (no usable answer, or ``accept="score"``:
    the dev-score rule decided), ``first_valid`` or ``failed_run``."""

    decision: bool
    code_change_summary: str = ""
    observations: str = ""
    hypothesis_evaluation: str = ""
    reasoning: str = ""
    source: str = "model"

    def to_dict(self) -> dict:
        return asdict(self)


def _yes(value) -> bool | None:
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word.startswith(("yes", "true")):
        return True
    if word.startswith(("no", "false")):
        return False
    return None


def _key(name) -> str:
    return re.sub(r"[^a-z]", "", str(name).lower())


DECISION_ALIASES = ("replacebestresult", "replacebest", "decision")


def parse_feedback(text: str) -> Feedback:
    """The feedback in an answer; ValueError (with a message for the model) when it holds no
    JSON object with a yes/no ``Replace Best Result``."""
    for value in json_objects(text):
        keys = {_key(k): v for k, v in value.items()}
        decision = next((_yes(keys[k]) for k in DECISION_ALIASES if k in keys and _yes(keys[k]) is not None), None)
        if decision is None:
            continue
        get = lambda k: " ".join(str(keys.get(_key(k), "")).split())  # noqa: E731
        return Feedback(decision, get("Code Change Summary"), get("Observations"), get("Feedback for Hypothesis"), get("Reasoning"))
    raise ValueError(f'no JSON object with "{DECISION_KEY}": "yes" or "no" was found; answer with JSON only, like {EXAMPLE}')


def comparison_line(metric: str, current: float | None, best: float | None, higher_is_better: bool) -> str:
    """RD-Agent's ``cur_vs_sota_score`` sentence."""
    direction = "higher" if higher_is_better else "lower"
    return f"The current {metric} is {current}, while the best so far is {best}. In this task, {direction} is better."


def feedback_prompt(task_text: str, best_files: dict[str, str] | None, best_score: float | None, hypothesis: str,
                    diff: str, diagnostics: dict, comparison: str, previous: str, cfg) -> list[dict]:
    """The feedback conversation for one experiment (RD-Agent's ``exp_feedback`` prompt, cut to size)."""
    best = ("No previous complete experiment available." if best_files is None
            else f"{prompts.code_block(best_files, cfg.max_code_chars // 2)}\nDev score: {best_score}")
    parts = [
        "# Scenario Description\n" + prompts.clip(task_text, cfg.max_task_chars),
        "## SOTA Solution\n" + best,
        "## Current Solution\nThe experiment was designed based on the following hypothesis:\n" + hypothesis,
        "Modified code according to the hypothesis (the diff from the SOTA):\n```diff\n"
        + prompts.clip(diff, cfg.max_code_chars // 2) + "\n```",
        "### Final Results of the Current Solution\n" + prompts.feedback(diagnostics, cfg.diagnostics, cfg.max_feedback_chars),
        "### Comparison with the SOTA\n" + comparison,
        "## Feedback of the previous experiment\n" + (previous or "There has not been any experiment yet."),
        "# Step-by-step analysis\nAnalyse the experiment against the SOTA step by step. The environment has already "
        "checked the submission's format. Check that the validation matches the task's evaluation (no leakage, the "
        "same metric, the same prediction path for validation and test). Then compare the results: if the current "
        "dev score is clearly worse, do not replace the SOTA; if clearly better, replace it; if similar, replace it "
        "only when the code is sounder (less overfitting, no leakage, simpler or faster). Answer with JSON only, like:\n"
        f"{EXAMPLE}\n\"Code Change Summary\": the main changes made to the code; \"Observations\": the scores and "
        "notable patterns in at most three sentences; \"Feedback for Hypothesis\": confirm or refute it in at most "
        "two sentences; \"Reasoning\": why the experiment succeeded or failed, in at most three sentences.",
    ]
    return [{"role": "system", "content": prompts.SYSTEM}, {"role": "user", "content": "\n\n".join(parts)}]


def request_feedbacks(episode, conversations: list[list[dict]], cfg) -> list[JSONOutcome]:
    """Every experiment's feedback in one batched call (JSON-constrained where the backend can),
    unusable answers re-asked together up to ``cfg.max_parse_retries`` times."""
    if not conversations:
        return []
    return request_json(episode, conversations, cfg, parse=parse_feedback, kind="feedback",
                        max_tokens=cfg.feedback_max_tokens, schema=FEEDBACK_SCHEMA)
