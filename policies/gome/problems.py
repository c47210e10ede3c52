"""RD-Agent's diagnosis as three calls (``diagnosis_calls="separate"``, the reference default):
``DSProposalV2ExpGen.identify_scenario_problem``, ``identify_feedback_problem`` and
``hypothesis_gen`` (microsoft/RD-Agent ``rdagent/scenarios/data_science/proposal/exp_gen/proposal.py``
and ``prompts_v2.yaml``: ``scenario_problem``, ``feedback_problem``, ``hypothesis_gen``,
``output_format``), written in this project's words with the same sections.

Per trace and round, as ``identify_problem`` decides from the trace's multiplier: the
**scenario-problem** call (the scenario and the SOTA) when the multiplier is above 0, the
**feedback-problem** call (the scenario, the history and the SOTA) when it is below 3, then one
**hypothesis** call (the scenario, the history, the SOTA and the identified challenges) that
proposes a hypothesis per challenge and scores it on the five criteria. Each phase is one batched
call over the traces that need it. A challenge keeps its label (scenario / feedback) for RD-Agent's
draw (``diagnosis.select_hypothesis``).
"""

from __future__ import annotations


from policies.gome.diagnosis import WEIGHTS, DiagnosisError, Hypothesis
from policies.gome.history import render_siblings
from policies.gome.jsoncall import JSONOutcome, json_objects, request_json
from policies.gome.sections import DiagnosisInput, fitted, history_text

__all__ = ["PROBLEMS_SCHEMA", "HYPOTHESES_SCHEMA", "COMPONENTS", "parse_problems", "parse_hypotheses",
           "scenario_problem_prompt", "feedback_problem_prompt", "hypothesis_prompt", "request_separate"]

COMPONENTS = ("DataLoadSpec", "FeatureEng", "Model", "Ensemble", "Workflow")
ROLE = ("You are a Kaggle grandmaster and an expert machine-learning engineer, with deep knowledge of statistics, "
        "machine learning and competition practice.")
LOOP = ("The user improves a competition solution one experiment at a time. Each experiment modifies the current "
        "best solution (the SOTA); if it scores better it becomes the new SOTA, otherwise it is a failed experiment.")
PROBLEMS_SCHEMA = {
    "type": "object",
    "properties": {"problems": {"type": "array", "minItems": 1, "maxItems": 5, "items": {
        "type": "object",
        "properties": {"caption": {"type": "string"}, "problem": {"type": "string"}, "reason": {"type": "string"}},
        "required": ["caption", "problem", "reason"]}}},
    "required": ["problems"],
}
HYPOTHESES_SCHEMA = {
    "type": "object",
    "properties": {"hypotheses": {"type": "array", "minItems": 1, "maxItems": 5, "items": {
        "type": "object",
        "properties": {"caption": {"type": "string"}, "reason": {"type": "string"},
                       "component": {"type": "string", "enum": list(COMPONENTS)}, "hypothesis": {"type": "string"},
                       **{k: {"type": "integer", "minimum": 1, "maximum": 10} for k in WEIGHTS}},
        "required": ["caption", "reason", "component", "hypothesis", *WEIGHTS]}}},
    "required": ["hypotheses"],
}
PROBLEM_FORMAT = (
    "### Output format\nAt most five challenges, fewer but better: the most valuable ones not explored recently, each "
    "relevant to the target metric. Answer with JSON only, like:\n"
    '{"problems": [{"caption": "short name of the challenge", "problem": "the challenge in at most three sentences", '
    '"reason": "why it is a problem, from the feedback or the materials given, in at most two sentences"}]}'
)
HYPOTHESIS_FORMAT = (
    "## Final output format\nOne entry per challenge, its caption exactly as given. Answer with JSON only, like:\n"
    '{"hypotheses": [{"caption": "the challenge\'s caption", "reason": "from the challenge to the hypothesis, in at '
    'most two sentences", "component": "one of ' + ", ".join(COMPONENTS) + '", "hypothesis": "one or two sentences: '
    'the exact change and its expected effect", "alignment": 1-10, "impact": 1-10, "novelty": 1-10, '
    '"feasibility": 1-10, "risk_reward": 1-10}]}'
)


ANSWER = "Answer with JSON only, in the output format given in the instructions."


def _siblings(inp: DiagnosisInput, what: str) -> str:
    text = render_siblings(inp.siblings)
    return f"\n\n### Diversity to your siblings\n{text} Your {what} must differ from theirs." if text else ""


def _user(inp: DiagnosisInput, history: str | None, challenges: str = "") -> str:
    parts = ["# Scenario Description\n" + inp.task_text]
    if history is not None:
        parts.append("# Previous Experiments and Feedbacks\n" + history_text(inp, history))
    parts.append("# Current SOTA Implementation\n" + "\n\n".join("#" + section for section in inp.sota))  # its sub-sections
    if challenges:
        parts.append("# Identified Challenges\n" + challenges)
    parts.append(ANSWER)
    return "\n\n".join(parts)


def scenario_problem_prompt(inp: DiagnosisInput) -> list[dict]:
    """RD-Agent's ``scenario_problem``: key challenges of the task itself, from the scenario and the SOTA."""
    focus = ("- SOTA alignment analysis: compare the current SOTA with the data's properties and the domain, and "
             "name the gaps that hold the score back." if inp.has_sota else
             "- Scenario first: there is no SOTA yet, so the first challenge is a reasonable baseline that addresses "
             "the task and its metric directly, simple enough to run to completion.")
    system = (
        f"{ROLE}\n{LOOP}\n\nYou are given the scenario and the current SOTA with its feedback. Identify the key "
        "challenges (core problems) for succeeding in this task and improving its metric; fewer but better "
        "(two or three critical ones).\n\n### Core analysis dimensions\n- Gap identification: what do known "
        "successful approaches to such tasks address that the solution does not?\n- Domain-implementation "
        f"coherence: where does the approach ignore a constraint or a nuance of the domain?\n{focus}"
        f"{_siblings(inp, 'challenges')}\n\n## Key challenges\nLabel each by its nature: dataset-driven (from the "
        "data's structure or statistics: imbalance, dimensionality, data types, missing values, skew, outliers) or "
        "domain-informed (from knowledge of the task's domain).\n\n### Specification for each challenge\n1. Specific "
        "and fine-grained, not vague.\n2. Technical or methodological: a design problem, not a simple runtime bug.\n"
        f"3. Strictly aimed at improving the target metric.\n\n{PROBLEM_FORMAT}"
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": _user(inp, None)}]


def feedback_problem_prompt(inp: DiagnosisInput, history: str) -> list[dict]:
    """RD-Agent's ``feedback_problem``: key learnings and unresolved challenges from the experiments so far."""
    system = (
        f"{ROLE}\n{LOOP}\n\nYou are given the scenario, the experiments so far with their feedback (oldest first) and "
        "the current SOTA. Extract the key learnings and unresolved challenges that should guide the next "
        "experiments.\n\n## Key learnings and unresolved challenges\n### Definition\nSpecific technical or "
        "methodological observations, persistent issues or patterns in the experiments or the SOTA, taken from the "
        "feedback, the code or the history.\n\n### Guidelines for identification\n1. Feedback analysis: explicit "
        "issues and suggestions; gaps the feedback implies; time or memory limits hit (always a critical "
        "challenge).\n2. Implementation review: suboptimal features, model, hyperparameters, ensembling or "
        "validation; implementation issues that keep blocking a result.\n3. Trace history: errors or poor outcomes "
        "that recur; fixes that only partly worked; promising directions hinted at but not explored; unaddressed "
        "inefficiencies.\n\n### Specification for each learning or challenge\n1. Specific, actionable and backed by "
        "evidence from the feedback, the code or the history.\n2. A technical or methodological problem to solve.\n"
        "3. Stated clearly.\n4. Addressing it should plausibly improve the metric or let the run finish.\n5. Strictly "
        f"aimed at improving the target metric.{_siblings(inp, 'challenges')}\n\n{PROBLEM_FORMAT}"
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": _user(inp, history)}]


def _challenges(problems: list[dict]) -> str:
    return "\n\n".join(f"## {i}. {p['caption']}\n{p['problem']}" for i, p in enumerate(problems, 1))


def hypothesis_prompt(inp: DiagnosisInput, history: str, problems: list[dict]) -> list[dict]:
    """RD-Agent's ``hypothesis_gen``: one hypothesis per identified challenge, then its evaluation."""
    components = ("DataLoadSpec (loading the data, types), FeatureEng (model-agnostic features), Model (building, "
                  "tuning or removing a model), Ensemble (combining models' predictions), Workflow (the pipeline "
                  "end to end, e.g. the submission's format)")
    system = (
        f"{ROLE}\n{LOOP}\n\nYou are given the scenario, the experiments so far with their feedback, the current SOTA "
        "and a list of identified challenges.\n\n# Task 1: Hypothesis proposal\nFor each distinct challenge propose "
        "one specific, testable hypothesis that improves the SOTA (or establishes a first one).\n## 1.1 Steps\n1. "
        "Understand the challenge: its root cause and its effect on the metric; if earlier experiments touched it, "
        "offer something new or correctly implemented; if experiments keep failing (time, memory, loading, "
        "submission format), propose a direct fix.\n2. Make it actionable: remove or replace weak models, name the "
        "tuning method, spell out the exact fix of a data or format error.\n## 1.2 Guidelines\n1. Specific and "
        "decisive: one exact change, no alternatives, no 'for example', 'consider', 'try' or 'explore'.\n2. "
        "Testable: state the expected improvement.\n3. Aligned with the current SOTA and with one identified "
        "challenge.\n4. One core idea: several edits only when they form one change.\n\n# Task 2: Hypothesis "
        f"evaluation\n1. Give each hypothesis one component tag: {components}.\n2. Score each from 1 (worst) to 10 "
        "(best) on: alignment (how directly it addresses its challenge), impact (the expected gain), novelty "
        "(1 when it repeats an earlier experiment, unless that one failed from a trivial bug), feasibility (how "
        "easily it can be implemented and run to completion within the limits) and risk_reward (the balance of "
        "gain and risk). A hypothesis that credibly fixes a critical challenge that made experiments fail scores "
        f"high on impact and risk_reward.{_siblings(inp, 'hypotheses')}\n\n{HYPOTHESIS_FORMAT}"
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": _user(inp, history, _challenges(problems))}]


# ---------------------------------------------------------------------- parsing




def _items(value: dict, key: str) -> list[tuple[str, dict]]:
    """``(caption, item)`` pairs from ``{key: [...]}`` or RD-Agent's ``{caption: {...}}`` form."""
    listed = value.get(key)
    if isinstance(listed, list):
        return [(str(it.get("caption") or it.get("problem") or "").strip(), it) for it in listed if isinstance(it, dict)]
    return [(str(k).strip(), v) for k, v in value.items() if isinstance(v, dict)]


def parse_problems(text: str, label: str, max_problems: int = 5) -> list[dict]:
    """The challenges in an answer, each ``{"caption", "problem", "reason", "label"}``."""
    for value in json_objects(text):
        out = []
        for caption, item in _items(value, "problems"):
            problem = " ".join(str(item.get("problem") or "").split())
            if caption and problem:
                out.append({"caption": caption, "problem": problem,
                            "reason": " ".join(str(item.get("reason") or item.get("evidence") or "").split()),
                            "label": label})
        if out:
            return out[:max_problems]
    raise DiagnosisError('no JSON list of challenges was found; answer with JSON only, like {"problems": [{"caption": '
                         '"...", "problem": "...", "reason": "..."}]}')


def _score(item: dict, key: str) -> float:
    """A score as RD-Agent reads it: a missing or unreadable one counts 0."""
    evaluation = item.get("evaluation") if isinstance(item.get("evaluation"), dict) else {}
    names = (key, f"{key}_score", "risk_reward_balance_score" if key == "risk_reward" else f"{key}_score")
    for source in (item, evaluation):
        for name in names:
            if name in source:
                try:
                    return float(source[name])
                except (TypeError, ValueError):
                    return 0.0
    return 0.0


def parse_hypotheses(text: str, problems: list[dict], max_problems: int = 5) -> list[Hypothesis]:
    """The scored hypotheses in an answer, matched to ``problems`` by caption (else by order),
    best weighted score first."""
    by_caption = {p["caption"].lower(): p for p in problems}
    for value in json_objects(text):
        pairs = _items(value, "hypotheses") if "hypotheses" in value else _items(value, "problems")
        out = []
        for i, (caption, item) in enumerate(pairs):
            hyp = " ".join(str(item.get("hypothesis") or "").split())
            if not hyp:
                continue
            problem = by_caption.get(caption.lower()) or (problems[i] if i < len(problems) else {})
            out.append(Hypothesis(problem=problem.get("problem", caption), evidence=problem.get("reason", ""),
                                  hypothesis=hyp, expected_effect=" ".join(str(item.get("reason") or "").split()),
                                  scores={k: _score(item, k) for k in WEIGHTS}, label=problem.get("label", ""),
                                  component=str(item.get("component") or "")))
        if out:
            return sorted(out, key=lambda h: -h.weighted_score)[:max_problems]
    raise DiagnosisError(f"no JSON list of hypotheses was found; {HYPOTHESIS_FORMAT.split(chr(10), 1)[1]}")


# ---------------------------------------------------------------------- the calls


def request_separate(episode, inputs: list[DiagnosisInput], cfg) -> list[JSONOutcome]:
    """RD-Agent's three calls for every trace's input, each phase one batched call over the
    traces that need it; each outcome's ``value`` is the list of hypotheses (None when no
    challenge or no hypothesis could be parsed) and ``calls`` every exchange it cost."""
    outcomes = [JSONOutcome() for _ in inputs]
    problems: list[list[dict]] = [[] for _ in inputs]
    size = cfg.diagnosis_max_tokens

    def phase(indices: list[int], build, parse, kind: str, schema: dict) -> list:
        if not indices:
            return []
        convs = [build(i) for i in indices]
        results = request_json(episode, convs, cfg, parse=parse, kind=kind, max_tokens=size, schema=schema)
        for i, r in zip(indices, results):
            outcomes[i].calls.extend(r.calls)
            outcomes[i].error = r.error
        return results

    scen = [i for i, inp in enumerate(inputs) if inp.multiplier > 0]
    for i, r in zip(scen, phase(scen, lambda i: scenario_problem_prompt(inputs[i]),
                                lambda t: parse_problems(t, "scenario", cfg.max_problems), "problems_scenario",
                                PROBLEMS_SCHEMA)):
        problems[i] += r.value or []
    fb = [i for i, inp in enumerate(inputs) if inp.multiplier < 3]
    for i, r in zip(fb, phase(fb, lambda i: fitted(episode, lambda h: feedback_problem_prompt(inputs[i], h),
                                                   inputs[i].history, size),
                              lambda t: parse_problems(t, "feedback", cfg.max_problems), "problems_feedback",
                              PROBLEMS_SCHEMA)):
        problems[i] += r.value or []
    ask = [i for i in range(len(inputs)) if problems[i]]
    for i, r in zip(ask, phase(ask, lambda i: fitted(episode, lambda h: hypothesis_prompt(inputs[i], h, problems[i]),
                                                     inputs[i].history, size),
                               [lambda t, i=i: parse_hypotheses(t, problems[i], cfg.max_problems) for i in ask],
                               "hypotheses", HYPOTHESES_SCHEMA)):
        outcomes[i].value = r.value
    return outcomes
