"""From model text to the unified diff the environment takes, and asking the model for edits.

The parser (``parse_edit`` and its rules) lives in ``gome_env.patching.edits`` and is re-exported
here; this module adds the requests: ``EditRequest``, ``EditOutcome`` and ``request_edits``.

The edit forms (``whole``, ``search_replace``, ``diff``, ``auto``) and what makes an answer
unusable are documented in :mod:`gome_env.patching.edits`.

``request_edits`` asks for a batch of edits in one model call, sends unusable answers back with
the reason (at most ``max_parse_retries`` times, the retries of a batch batched again) and counts
every unusable answer in ``episode.parse_failures``. An outcome with no usable edit has no diff:
``episode.apply`` records it and runs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# The parser itself is one definition shared with the RL reward (gome_env.rl): gome_env.patching.edits.
from gome_env.patching.edits import (
    FORMAT_INSTRUCTIONS, FORMS, Edit, EditError, detect_form, extract_code, parse_edit, truncation_error, unclosed_fence,
)

__all__ = [
    "FORMS", "Edit", "EditError", "EditRequest", "EditOutcome", "parse_edit", "request_edits", "extract_code",
    "FORMAT_INSTRUCTIONS", "truncation_error", "unclosed_fence", "detect_form", "retry_message",
]


@dataclass
class EditRequest:
    """One edit to ask for: the conversation, the files it edits and the form expected."""

    messages: list[dict]
    files: dict[str, str]
    form: str = "whole"
    kind: str = "edit"


@dataclass
class EditOutcome:
    """What came of an EditRequest: the edit (None when every attempt failed), every exchange
    (first answer and retries) and the last error."""

    edit: Edit | None
    calls: list = field(default_factory=list)
    error: str | None = None
    stopped: str | None = None  # "steps" / "tokens": never asked for, the budget could not take it

    @property
    def diff(self) -> str:
        """The edit's diff; "" when no attempt could be used (an unusable answer never becomes a
        diff: ``episode.apply`` runs nothing for it)."""
        return self.edit.diff if self.edit is not None else ""

    @property
    def ok(self) -> bool:
        return self.edit is not None


def retry_message(error: str, form: str) -> dict:
    return {"role": "user", "content": f"Your answer could not be used: {error}\n{FORMAT_INSTRUCTIONS[form]}"}


def request_edits(episode, requests: list[EditRequest], *, config, stop: list[str] | None = None) -> list[EditOutcome]:
    """Ask for ``requests`` in one batched model call; re-ask the unusable ones (batched again) up
    to ``config.max_parse_retries`` times, as far as the token budget allows. Returns one
    EditOutcome per request. Only the first ``episode.affordable(...)`` requests are asked for
    when the step or token budget cannot take them all (each batched member is a step); the
    others come back with ``stopped`` set, and ``episode.apply`` raises Stop for them."""
    outcomes = [EditOutcome(None) for _ in requests]
    if requests:
        keep = max(1, episode.affordable([r.messages for r in requests], config.max_tokens))
        reason = "steps" if keep >= episode.steps_left else "tokens"
        for out in outcomes[keep:]:
            out.stopped = reason
        requests = requests[:keep]
    conversations = [list(r.messages) for r in requests]
    pending = list(range(len(requests)))
    for attempt in range(config.max_parse_retries + 1):
        if attempt and pending:  # retries only as far as the token budget goes
            pending = pending[: episode.affordable([conversations[i] for i in pending], config.max_tokens)]
        if not pending:
            break
        kind = requests[pending[0]].kind if attempt == 0 else f"{requests[pending[0]].kind}_retry"
        exchanges = episode.chat(
            [conversations[i] for i in pending], kind=kind, temperature=config.temperature,
            top_p=config.top_p, max_tokens=config.max_tokens, stop=stop,
        )
        still = []
        for i, ex in zip(pending, exchanges):
            req = requests[i]
            ex.kind = req.kind if attempt == 0 else f"{req.kind}_retry"  # a batch may mix kinds
            outcomes[i].calls.append(ex)
            try:
                cut = truncation_error(ex.answer, ex.finish_reason, config.max_tokens)
                if cut is not None:
                    raise EditError(cut)
                outcomes[i].edit = parse_edit(ex.answer, req.files, req.form)
            except EditError as exc:
                ex.error = outcomes[i].error = str(exc)
                episode.parse_failures += 1
                answer = ex.answer if len(ex.answer) <= 1500 else ex.answer[:700] + "\n[...]\n" + ex.answer[-700:]
                conversations[i] = list(req.messages) + [{"role": "assistant", "content": answer}, retry_message(str(exc), req.form)]
                still.append(i)
        pending = still
    return outcomes
