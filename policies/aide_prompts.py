"""AIDE's draft, improve and debug prompts, section by section (WecoAI/aideml ``aide/agent.py``:
``_draft``, ``_improve``, ``_debug``, ``_prompt_impl_guideline``, ``_prompt_resp_fmt``; the
memory is ``aide/journal.py``: ``Journal.generate_summary``), in this project's words.

Each prompt is the reference's: an introduction (here the system message), the task, the memory
(draft and improve), the node's code (improve, debug) and execution output (debug), then the
instructions: the response format, the operator's sketch guideline and the implementation
guideline. What the project's protocol adds is rendered by the shared functions of
``policies.prompts``: the task brief (``task_section``: the task with its data preview, runtime
limit and packages, which AIDE gives as "Data Overview" and "Installed Packages"), the code
(``code_block``), the node's feedback (``node_feedback``), the output (``execution_output``), the
baseline under ``start="baseline"`` (``baseline_section``) and the answer's form
(``FORMAT_INSTRUCTIONS``: the environment takes edits, ``policies/edits.py``).
"""

from __future__ import annotations

from policies import prompts
from policies.aira_prompts import Memory, fit_memory
from policies.edits import FORMAT_INSTRUCTIONS, EditRequest

__all__ = ["DRAFT_INTRO", "IMPROVE_INTRO", "DEBUG_INTRO", "DRAFT_GUIDELINE", "IMPROVE_GUIDELINE", "DEBUG_GUIDELINE",
           "implementation_guideline", "response_format", "journal_entries", "journal_summary", "draft_request", "improve_request",
           "debug_request", "SEPARATOR", "K_FOLD"]

K_FOLD = 5  # aideml aide/utils/config.yaml: agent.k_fold_validation
SEPARATOR = "\n-------------------------------\n"  # Journal.generate_summary's separator

DRAFT_INTRO = (
    "You are a Kaggle grandmaster taking part in a competition. To win it you must come up with an "
    "excellent and creative plan for a solution and then implement it in Python. The task is described below."
)
IMPROVE_INTRO = (
    "You are a Kaggle grandmaster taking part in a competition. Below is a solution developed earlier; "
    "improve it so that its (test-time) performance goes up. First outline in natural language a brief "
    "plan for how the solution can be improved, then implement that improvement in Python, starting "
    "from the earlier solution."
)
DEBUG_INTRO = (
    "You are a Kaggle grandmaster taking part in a competition. Your earlier solution has a bug: using "
    "the information below, revise it so that the bug is fixed. Answer with an implementation outline in "
    "natural language, followed by the code that implements the fix."
)
DRAFT_GUIDELINE = (
    "This first design should be fairly simple: no ensembling and no hyper-parameter optimisation.",
    "Take the Memory section into account: do not propose the same modelling solution again, but keep "
    "the evaluation the same.",
    "The sketch should be 3-5 sentences.",
    "Propose an evaluation metric that is sensible for this task.",
    "Do not suggest exploratory data analysis (EDA).",
    "The data is already prepared in the `data/` folder; there is nothing to unzip.",
)
IMPROVE_GUIDELINE = (
    "The sketch should be a brief natural-language description of how the earlier solution can be improved.",
    "Be very specific and propose exactly one actionable improvement.",
    "The improvement should be atomic, so that its effect can be measured by experiment.",
    "Take the Memory section into account when proposing it.",
    "The sketch should be 3-5 sentences.",
    "Do not suggest exploratory data analysis (EDA).",
)
DEBUG_GUIDELINE = (
    "Write a brief natural-language description (3-5 sentences) of how the problem in the earlier "
    "implementation can be fixed.",
    "Do not suggest exploratory data analysis (EDA).",
)


def implementation_guideline(form: str) -> tuple[str, ...]:
    """AIDE's implementation guideline, with the project's data, output and time-limit facts."""
    single = ("Your answer should hold a single code block." if form in ("whole", "auto")
              else "Your answer should hold one edit, in the form given below.")
    return (
        "The code should **implement the proposed solution** and **print the value of the evaluation "
        "metric computed on a hold-out validation set**.",
        "The code should be one self-contained Python program that runs as it is.",
        "Leave no part of the code out and do not stop before the program is complete.",
        single,
        "Mind the running time: the program must finish within the time limit in the task's Limits section.",
        "All the input data is in the read-only `data/` folder, as the task describes.",
        "**Write the predictions for the test data (and the dev data) exactly where and how the task describes.** "
        "This matters most: those files are what gets graded. Do not forget them.",
        "Temporary files may be written to the working directory.",
        f"Base the evaluation on {K_FOLD}-fold cross-validation, but only if that suits the task.",
    )


def response_format(form: str) -> str:
    """AIDE's response format, with the project's answer form."""
    return ("Your answer should be a brief outline of the proposed solution in natural language (3-5 sentences), "
            "followed by the code, with no other headings or text. " + FORMAT_INSTRUCTIONS[form])


def _bullets(items) -> str:
    return "\n".join(f"- {item}" for item in items)


def _instructions(form: str, guideline_name: str, guideline: tuple[str, ...]) -> str:
    return (f"# Instructions\n\n## Response format\n{response_format(form)}\n\n## {guideline_name}\n{_bullets(guideline)}"
            f"\n\n## Implementation guideline\n{_bullets(implementation_guideline(form))}")


def _memory(memory: str) -> str:
    return "# Memory\n" + (memory.strip() or "(no working solution yet)")


def _messages(intro: str, sections: list[str]) -> list[dict]:
    return [{"role": "system", "content": intro}, {"role": "user", "content": "\n\n".join(s for s in sections if s)}]


def journal_entries(rows: list[tuple[str, str, object]]) -> list[str]:
    """AIDE's ``Journal.generate_summary`` entries: for every good node ``(plan, analysis, metric)``,
    oldest first, its design, results and validation metric, whole."""
    return [f"Design: {plan}\nResults: {analysis}\nValidation Metric: {metric}" for plan, analysis, metric in rows]


def journal_summary(rows: list[tuple[str, str, object]]) -> str:
    """The journal summary's text: the entries separated by AIDE's rule."""
    return SEPARATOR.join(journal_entries(rows))


def draft_request(episode, cfg, memory: Memory) -> EditRequest:
    """AIDE's draft: introduction, task, memory, instructions (response format, solution sketch
    guideline, implementation guideline); the baseline's code and feedback under ``start="baseline"``."""
    root = episode.tree.root
    files = episode.files(root.id)
    base = ""
    if getattr(cfg, "start", "baseline") == "baseline":
        base = prompts.baseline_section(files, root.diagnostics, cfg, prompts.score_line(episode.metric_name, root.dev_score))

    def build(text: str) -> EditRequest:
        sections = [prompts.task_section(episode.task_text, cfg), base, _memory(text),
                    _instructions("whole", "Solution sketch guideline", DRAFT_GUIDELINE)]
        return EditRequest(_messages(DRAFT_INTRO, sections), files, "whole", "draft")

    return fit_memory(episode, build, memory, cfg.max_tokens, "good nodes")


def improve_request(episode, node_id: int, cfg, memory: Memory) -> EditRequest:
    """AIDE's improve: introduction, task, memory, instructions (response format, improvement sketch
    guideline, implementation guideline), the earlier solution's code (and its feedback)."""
    node = episode.tree[node_id]
    files = episode.files(node_id)
    score = prompts.score_line(episode.metric_name, node.dev_score)

    def build(text: str) -> EditRequest:
        sections = [prompts.task_section(episode.task_text, cfg), _memory(text),
                    _instructions(cfg.edit_form, "Solution improvement sketch guideline", IMPROVE_GUIDELINE),
                    f"# Previous solution ({score})\n## Code\n{prompts.code_block(files, cfg.max_code_chars)}",
                    f"## Feedback on this solution\n{prompts.node_feedback(node.diagnostics, cfg)}"]
        return EditRequest(_messages(IMPROVE_INTRO, sections), files, cfg.edit_form, "improve")

    return fit_memory(episode, build, memory, cfg.max_tokens, "good nodes")


def debug_request(episode, node_id: int, cfg) -> EditRequest:
    """AIDE's debug: introduction, task, the buggy implementation, its execution output (left out at
    the ``minimal`` diagnostics level) and feedback, instructions (response format, bugfix sketch
    guideline, implementation guideline)."""
    node = episode.tree[node_id]
    files = episode.files(node_id)
    output = ("" if cfg.diagnostics == "minimal" else
              f"# Execution output\n```\n{prompts.execution_output(node.diagnostics, cfg.max_output_chars)}\n```")
    sections = [prompts.task_section(episode.task_text, cfg),
                f"# Previous (buggy) implementation\n{prompts.code_block(files, cfg.max_code_chars)}", output,
                f"# Feedback on this implementation\n{prompts.node_feedback(node.diagnostics, cfg)}",
                _instructions(cfg.edit_form, "Bugfix improvement sketch guideline", DEBUG_GUIDELINE)]
    return EditRequest(_messages(DEBUG_INTRO, sections), files, cfg.edit_form, "debug")
