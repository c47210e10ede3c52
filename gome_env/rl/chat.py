"""A tool-capable ChatML chat template for small ChatML models (the bundled SmolLM2 among them).

TRL 1.16's ``GRPOTrainer(environment_factory=...)`` checks three things of the tokenizer's chat
template: it renders a whole tool conversation (``supports_tool_calling``), TRL recognises it and
can parse the model's tool calls from it (``add_response_schema``), and it is prefix-preserving.
SmolLM2-Instruct's own template renders no tool calls, so TRL refuses it. SmolLM2 already speaks
ChatML (``<|im_start|>role\\n ... <|im_end|>``, both special tokens of its vocabulary), which is
exactly what TRL's own Qwen2.5 template writes; that template adds tools the Hermes way (a
``<tools>`` list in the system turn, ``<tool_call>{json}</tool_call>`` in the assistant's turn,
``<tool_response>`` in a user turn), all in plain text the tokenizer already has. So
``tool_tokenizer(folder)`` loads the model's tokenizer with TRL's ``qwen2_5_chat_template``
verbatim (TRL recognises it by equality) and ``SYSTEM_MESSAGE`` opens every conversation, so the
template's fallback ``You are Qwen, created by Alibaba Cloud`` line never appears.

The folder is an argument: ``gome_env`` does not know where the bundled model lives (scripts get
it from ``policies.models``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["SYSTEM_MESSAGE", "tool_chat_template", "tool_tokenizer", "template_checks", "system_turn", "tool_call"]

SYSTEM_MESSAGE = ("You are an ML engineer improving a solution to a machine-learning task. Call the tools to read the "
                  "code, apply a unified diff to solution.py and submit the best node.")
"""The system turn of every tool conversation (without one the template names the model Qwen)."""


def tool_chat_template() -> str:
    """TRL's Qwen2.5 ChatML template with tool calls, exactly as TRL ships it (TRL matches it by equality)."""
    from trl.chat_template_utils import qwen2_5_chat_template

    return qwen2_5_chat_template


def tool_tokenizer(folder: str | Path) -> Any:
    """The tokenizer of the model in ``folder`` with the tool-capable ChatML template set.

    Raises ``ValueError`` when the tokenizer lacks ChatML's ``<|im_start|>``/``<|im_end|>`` tokens
    (the template would then be spelled out in pieces the model never learnt)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    vocab = tokenizer.get_vocab()
    missing = [t for t in ("<|im_start|>", "<|im_end|>") if t not in vocab]
    if missing:
        raise ValueError(f"{folder}: the tokenizer has no ChatML token(s) {', '.join(missing)}; "
                         "the tool template fits ChatML models only")
    tokenizer.chat_template = tool_chat_template()
    return tokenizer


def template_checks(tokenizer: Any) -> dict[str, bool]:
    """TRL's three checks of a tool-calling template, by TRL's own functions: ``tool_calling``,
    ``response_schema`` (TRL can set a parser for it), ``prefix_preserving``."""
    import copy

    from trl.chat_template_utils import add_response_schema, is_chat_template_prefix_preserving, supports_tool_calling

    try:
        add_response_schema(copy.deepcopy(tokenizer))
        known = True
    except ValueError:
        known = False
    return {"tool_calling": bool(supports_tool_calling(tokenizer)), "response_schema": known,
            "prefix_preserving": bool(is_chat_template_prefix_preserving(tokenizer))}


def system_turn(content: str = SYSTEM_MESSAGE) -> dict[str, str]:
    """The system message that opens a tool conversation."""
    return {"role": "system", "content": content}


def tool_call(name: str, **arguments: Any) -> dict[str, Any]:
    """An assistant turn that calls one tool (the chat-message form TRL and the template use)."""
    return {"role": "assistant", "content": "",
            "tool_calls": [{"type": "function", "function": {"name": name, "arguments": arguments}}]}
