"""AIRA-dojo's operator prompts (draft, improve, debug, crossover) and memories, section by section
(facebookresearch/aira-dojo ``src/dojo/configs/solver/operators/mlebench/aira_operators/*.yaml``,
filled by ``core/solvers/operators/{draft,improve,debug,crossover}.py``; the memories are
``core/solvers/operators/memory.py``: ``simple_memory`` and the ancestral ``debug_memory``), in
this project's words. Used by MCTS, evolutionary search and greedy with ``operators="aira"``.

The MLE-bench settings leave ``use_complexity`` off, so the draft and improve prompts' complexity
paragraphs are never shown; neither are they here. What the project's protocol adds is rendered by
the shared functions of ``policies.prompts``: the task brief (``task_section``: the task, its data
preview, runtime limit and packages, which AIRA gives as DATA OVERVIEW, the timeout and COMPUTE),
the code (``code_block``), each node's feedback (``node_feedback``), the output
(``execution_output``), the baseline under ``start="baseline"`` and the answer's form
(``FORMAT_INSTRUCTIONS``: the environment takes edits).
"""

from __future__ import annotations

from typing import Callable

from policies import prompts
from policies.context import fit_prompt
from policies.edits import FORMAT_INSTRUCTIONS, EditRequest

Memory = str | list[str]  # a rendered memory, or its entries (oldest first) to fit to the context window

__all__ = ["INTRO", "DRAFT_GOAL", "IMPROVE_GOAL", "DEBUG_INTRO", "CROSSOVER_INTRO", "CONSTRAINTS", "NO_MEMORY", "SEPARATOR",
           "node_summary", "join_summaries", "fit_memory", "simple_memory", "ancestral_memory", "sibling_plans", "draft_request", "improve_request", "debug_request", "crossover_request"]

NO_MEMORY = "(No memory available.)"  # memory.py: what an empty memory renders as
SEPARATOR = "\n-------------------------------\n"

INTRO = ("You are a Kaggle Grandmaster taking part in a high-stakes competition. Weigh the task description, "
         "the size and format of the data available and the compute resources.")
DRAFT_GOAL = (
    "Your goal: EXACTLY ONE IDEA and ONE CODE IMPLEMENTATION of it, different from the ideas explored before, "
    "that uses the resources available and is likely to perform strongly in the competition. Be specific about "
    "every step: data processing and feature engineering, the model and how it is optimised, and the evaluation "
    "(USE 5-FOLD CROSS-VALIDATION). You MUST GIVE the idea/plan in natural language and the CODE in Python, and "
    "neither may involve exploratory data analysis."
)
IMPROVE_GOAL = (
    "Your goal: EXACTLY ONE IDEA and ONE CODE IMPLEMENTATION of it, different from the ideas explored before, "
    "that improves an existing solution to the task. Be specific about every step of the improvement: data "
    "processing and feature engineering, the model and how it is optimised, and the evaluation (USE 5-FOLD "
    "CROSS-VALIDATION). You MUST GIVE the improvement idea/plan in natural language and the CODE in Python, and "
    "neither may involve exploratory data analysis."
)
DEBUG_INTRO = (
    "You are a Kaggle Grandmaster fixing bugs in a solution for a high-stakes competition. Review the earlier "
    "debugging attempts, the buggy code and its output, the task and data details and the compute resources. "
    "Do not change the solution's core idea or method: only fix the bugs in the code."
)
CROSSOVER_INTRO = (
    "You are a Kaggle Grandmaster taking part in a high-stakes competition. Your goal is to combine two solutions "
    "developed earlier so that performance on the task goes up. Weigh the task description, both solutions, the "
    "data and the compute resources, devise a plan to merge or integrate them, then implement it."
)
CONSTRAINTS = (
    "Mind the running time: the solution must finish within the time limit in the task's Limits section.",
    "Prefer vectorised operations to Python loops on large datasets.",
    "Use `torch.optim.AdamW` (recommended), not the deprecated `AdamW` of `transformers`.",
    "Use the `lightgbm.early_stopping(stopping_rounds=...)` callback instead of the deprecated "
    "`early_stopping_rounds` argument of `lightgbm.train()`.",
    "With `timm` models, do not add a dataset name such as `cifar` before or after the model name (deprecated).",
    "Keep the standard output as clean as you can.",
)
DATA = "**DATA**: the data is already prepared in the read-only `data/` folder. Do not unzip anything."
COMPUTE = ("**COMPUTE**: the machine and the installed packages are given in the task's Limits and Packages "
           "sections; there is no internet access, so use those packages.")
PLAN_GUIDE = (
    "Start by making sure you understand the task, the data, the compute resources and the idea. Then write a "
    "detailed implementation plan that guides you step by step, and reflect on it so that the implementation is "
    "efficient and faithful to the idea and meets every requirement (the evaluation score is printed, the "
    "predictions are written in the right format and place, ...). On large datasets avoid for loops: load data "
    "and engineer features efficiently."
)


def _script_requirements(form: str) -> str:
    what = "a **SINGLE** Markdown code block holding a **SELF-CONTAINED** Python script" if form in ("whole", "auto") \
        else "an edit of the solution (in the form below) whose result is a **SELF-CONTAINED** Python script"
    return (f"**RESPONSE FORMAT FOR IMPLEMENTATION**: give {what} that:\n1. implements the idea **END-TO-END**;\n"
            "2. **PRINTS THE 5-FOLD CROSS-VALIDATION** score of the evaluation metric;\n"
            "3. **WRITES THE PREDICTIONS** exactly where and how the task describes (they are graded).")


def _answer_format(header: str, form: str) -> str:
    return f"Format your answer as follows: the heading `# {header}`, then the idea/plan, then the code.\n{FORMAT_INSTRUCTIONS[form]}"


def _bullets(items) -> str:
    return "\n".join(f"- {item}" for item in items)


def _block(title: str, text: str) -> str:
    return f"# {title}\n````\n{text.strip() or NO_MEMORY}\n````"


def _messages(intro: str, sections: list[str]) -> list[dict]:
    return [{"role": "system", "content": intro}, {"role": "user", "content": "\n\n".join(s for s in sections if s)}]


def node_summary(plan: str, analysis: str, metric, *, debug: bool, buggy: bool) -> str:
    """AIRA's ``get_node_summary``: "Design:" (or "Debug plan:" for a debug node), then for a good
    node its results and validation metric, for a buggy one its analysis."""
    text = f"{'Debug plan' if debug else 'Design'}: {plan}\n"
    if not buggy:
        return text + f"Results: {analysis}\nValidation Metric: {metric}"
    return text + f"Analysis: {analysis}"


def join_summaries(summaries: list[str]) -> str:
    """The summaries, whole, separated by AIRA's rule ("" when none)."""
    return SEPARATOR.join(summaries)


def fit_memory(episode, build: Callable[[str], EditRequest], memory: Memory, max_tokens: int, noun: str) -> EditRequest:
    """``build(memory_text)``; when ``memory`` is a list of entries they are kept whole, the
    oldest left out (marked) only as far as the prompt must shrink to fit the model's context
    window with ``max_tokens`` of answer (``policies.context.fit_prompt``)."""
    if isinstance(memory, str):
        return build(memory)
    made: list[EditRequest] = []

    def conversation(text: str) -> list[dict]:
        made.append(build(text))
        return made[-1].messages

    fit_prompt(episode.model, conversation, list(memory), max_tokens=max_tokens, noun=noun, sep=SEPARATOR)
    return made[-1]  # fit_prompt builds its answer last


def _plan(plans: dict[int, str], node_id: int) -> str:
    return " ".join(plans.get(node_id, "").split()) or "(no plan given)"


def simple_memory(tree, plans: dict[int, str], reflector, debug_ids: set[int] = frozenset()) -> list[str]:
    """AIRA's ``simple_memory`` (``include_buggy_nodes: false``): an entry for every good node the
    model made (one with a plan), oldest first, whole: design, results (the analysis) and
    validation metric."""
    good = [n for n in tree if n.id in plans and not reflector.is_buggy(n) and n.dev_score is not None]
    return [node_summary(_plan(plans, n.id), reflector.analysis_of(n), n.dev_score, debug=n.id in debug_ids, buggy=False)
            for n in good]


def ancestral_memory(tree, node_id: int, plans: dict[int, str], reflector, debug_ids: set[int] = frozenset()) -> list[str]:
    """AIRA's ``debug_memory`` (``ancestral_memory``, until the last good ancestor): an entry for
    each attempt of the buggy chain that ends at ``node_id``, oldest first: its plan and analysis."""
    chain = []
    node = tree[node_id]
    while node is not None and not node.is_root and reflector.is_buggy(node):
        if node.id in plans:
            chain.insert(0, node_summary(_plan(plans, node.id), reflector.analysis_of(node), None,
                                         debug=node.id in debug_ids, buggy=True))
        node = tree[node.parent_id] if node.parent_id is not None else None
    return chain


def sibling_plans(tree, plans: dict[int, str], siblings: list[int]) -> str:
    """This project's extension (MCTS ``sibling_memory``): the plans of an expansion's earlier
    children, whatever their status, so that children are different ideas even when some fail."""
    if not siblings:
        return ""
    return "Ideas already tried from this node:\n" + "\n".join(
        f"- sibling {i} ({tree[i].status}): {_plan(plans, i)}" for i in siblings)


def draft_request(episode, cfg, memory: Memory) -> EditRequest:
    """AIRA's draft: goal, TASK DESCRIPTION, PREVIOUSLY EXPLORED IDEAS, (the baseline), CONSTRAINTS,
    DATA, COMPUTE, the request to differ, RESPONSE FORMAT, the plan guide and the answer's layout."""
    root = episode.tree.root
    files = episode.files(root.id)
    base = ""
    if getattr(cfg, "start", "baseline") == "baseline":
        base = prompts.baseline_section(files, root.diagnostics, cfg, prompts.score_line(episode.metric_name, root.dev_score))
    differ = ("Consider the ideas explored before and make sure yours addresses a DIFFERENT ASPECT OF THE SOLUTION, "
              "but keep the EVALUATION CONSISTENT. Brainstorm possible approaches and WHY THEY ARE LIKELY TO BE "
              "EFFECTIVE AND RAISE THE PERFORMANCE on this task, data and compute. Remember: the first idea should be "
              "simple and easy to implement, the last ones more complex and sophisticated.")

    def build(text: str) -> EditRequest:
        sections = [DRAFT_GOAL, prompts.task_section(episode.task_text, cfg), base,
                    _block("PREVIOUSLY EXPLORED IDEAS", text), "**CONSTRAINTS**:\n" + _bullets(CONSTRAINTS), DATA, COMPUTE,
                    differ, _script_requirements("whole"), PLAN_GUIDE, _answer_format("Idea to implement", "whole")]
        return EditRequest(_messages(INTRO, sections), files, "whole", "draft")

    return fit_memory(episode, build, memory, cfg.max_tokens, "ideas")


def improve_request(episode, node_id: int, cfg, memory: Memory, kind: str = "improve") -> EditRequest:
    """AIRA's improve: goal, TASK DESCRIPTION, PREVIOUS SOLUTION (code, terminal output and the
    node's feedback), PREVIOUSLY EXPLORED IMPROVEMENT IDEAS, CONSTRAINTS, DATA, COMPUTE, the request
    to differ, RESPONSE FORMAT, the plan guide and the answer's layout."""
    node = episode.tree[node_id]
    files = episode.files(node_id)
    previous = (f"# PREVIOUS SOLUTION ({prompts.score_line(episode.metric_name, node.dev_score)})\n## Code\n"
                f"{prompts.code_block(files, cfg.max_code_chars)}\n## Terminal output\n```\n"
                f"{prompts.execution_output(node.diagnostics, cfg.max_output_chars)}\n```\n"
                f"## Feedback on this solution\n{prompts.node_feedback(node.diagnostics, cfg)}")
    differ = ("Consider the ideas explored before and make sure your improvement is a DIFFERENT IMPROVEMENT OF THE "
              "SOLUTION, but keep the EVALUATION CONSISTENT. Brainstorm possible improvements and WHY THEY ARE LIKELY "
              "TO BE EFFECTIVE AND RAISE THE PERFORMANCE on this task, data and compute.")

    def build(text: str) -> EditRequest:
        sections = [IMPROVE_GOAL, prompts.task_section(episode.task_text, cfg), previous,
                    _block("PREVIOUSLY EXPLORED IMPROVEMENT IDEAS", text), "**CONSTRAINTS**:\n" + _bullets(CONSTRAINTS),
                    DATA, COMPUTE, differ, _script_requirements(cfg.edit_form), PLAN_GUIDE,
                    _answer_format("Improvement Idea to implement", cfg.edit_form)]
        return EditRequest(_messages(INTRO, sections), files, cfg.edit_form, kind)

    return fit_memory(episode, build, memory, cfg.max_tokens, "ideas")


def debug_request(episode, node_id: int, cfg, memory: Memory) -> EditRequest:
    """AIRA's debug: introduction, Task Description, Previous debugging attempts (the ancestral
    memory), Buggy Implementation, Execution Output (Error) and the node's feedback, Instructions,
    Other remarks, the brainstorm and the answer's layout."""
    node = episode.tree[node_id]
    files = episode.files(node_id)
    output = ("" if cfg.diagnostics == "minimal" else
              f"# Execution Output (Error)\n```\n{prompts.execution_output(node.diagnostics, cfg.max_output_chars)}\n```")
    single = "a single complete Python code block" if cfg.edit_form in ("whole", "auto") else "one edit (in the form below)"
    instructions = (
        "# Instructions\n- **Do NOT** change the core method or the idea behind it. Only fix the bugs.\n"
        "- Give your bug-fix plan clearly in 3-5 short sentences.\n"
        f"- Then give {single} that:\n  - implements the fix fully;\n"
        "  - computes and clearly prints the evaluation metric on a validation set (5-FOLD CV if it suits);\n"
        "  - writes the predictions exactly where and how the task describes;\n"
        "  - is self-contained and runs as it is (the whole bug-free solution).\n"
        "- **Important reminders:** do **NOT** leave out any part of the code; always write the test predictions "
        "where the task says: grading depends on them.")
    remarks = ("# Other remarks\n- There is no internet access: models and data must come from the machine.\n"
               "- When a model is not found in `timm`, `print(timm.list_models())` can help; do not add a dataset "
               "name such as `cifar` before or after a `timm` model name (deprecated).")
    closing = ("Brainstorm ways to fix the bug and WHY THEY ARE LIKELY TO FIX IT in this implementation. If you see "
               "other bugs further on, fix them too. Write a bug-fix plan that guides your reasoning step by step, and "
               "reflect on it so that every requirement is met.\n" + _answer_format("Bug Fix Plan", cfg.edit_form))

    def build(text: str) -> EditRequest:
        sections = [prompts.task_section(episode.task_text, cfg), _block("Previous debugging attempts", text),
                    f"# Buggy Implementation\n{prompts.code_block(files, cfg.max_code_chars)}", output,
                    f"# Feedback on this implementation\n{prompts.node_feedback(node.diagnostics, cfg)}",
                    instructions, remarks, closing]
        return EditRequest(_messages(DEBUG_INTRO, sections), files, cfg.edit_form, "debug")

    return fit_memory(episode, build, memory, cfg.max_tokens, "attempts")


def crossover_request(episode, a_id: int, b_id: int, cfg, memory: str = "", kind: str = "crossover") -> EditRequest:
    """AIRA's crossover: introduction, TASK DESCRIPTION, (PREVIOUSLY EXPLORED CROSSOVER IDEAS only
    when a memory is given: AIRA gives none), PREVIOUS SOLUTION 1 and 2 (code and feedback),
    INSTRUCTIONS, CONSTRAINTS, DATA, COMPUTE, the plan guide, RESPONSE FORMAT and the layout. The
    edit applies to ``a_id``'s files and is a whole program."""
    half = max(200, cfg.max_code_chars // 2)

    def solution(n: int, node_id: int) -> str:
        node = episode.tree[node_id]
        return (f"# PREVIOUS SOLUTION {n} ({prompts.score_line(episode.metric_name, node.dev_score)})\n## Code\n"
                f"{prompts.code_block(episode.files(node_id), half)}\n## Feedback on solution {n}\n"
                f"{prompts.node_feedback(node.diagnostics, cfg)}")

    instructions = (
        "# INSTRUCTIONS\nYour main task:\n1. Propose a **Crossover Plan** in natural language: how to combine "
        "Solution 1 and Solution 2.\n2. Give a **Python implementation** of that plan.\nConsider any ideas explored "
        "before (the MEMORY section). Brainstorm how the two solutions can be combined well and **WHY THIS CROSSOVER "
        "IS LIKELY TO BE EFFECTIVE** and raise the performance on this task, data and compute. Keep the evaluation "
        "consistent (5-FOLD CROSS-VALIDATION unless the task calls for something else).")
    files_a = episode.files(a_id)
    sections = [prompts.task_section(episode.task_text, cfg),
                _block("PREVIOUSLY EXPLORED CROSSOVER/COMBINATION IDEAS", memory) if memory.strip() else "",
                solution(1, a_id), solution(2, b_id), instructions, "**CONSTRAINTS**:\n" + _bullets(CONSTRAINTS), DATA,
                COMPUTE, PLAN_GUIDE, _script_requirements("whole"), _answer_format("Crossover Plan", "whole")]
    return EditRequest(_messages(CROSSOVER_INTRO, sections), files_a, "whole", kind)
