"""Tool calling with TRL: the completion budget the tool replies fit, the tool-capable ChatML
template, well-formed calls, and (slow) one real ``GRPOTrainer(environment_factory=...)`` update
with the bundled model after a short warm-up."""

from __future__ import annotations

import functools
import math
import os

import pytest

from models_fixtures import smollm2_dir  # noqa: F401 (the converted model, shared with the suite)

pytest.importorskip("trl")
pytest.importorskip("datasets")

os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")

from gome_env.rl import GomeEnvironment  # noqa: E402
from gome_env.rl.budget import REPLY_SHARE, clip_tokens, estimate_tokens  # noqa: E402
from gome_env.rl.chat import SYSTEM_MESSAGE, template_checks, tool_call, tool_tokenizer  # noqa: E402
from gome_env.rl.toolcalls import call_problem, environment_tools, play, tool_row  # noqa: E402
from gome_env.rl.warmup import WarmupExample, sft_rows, stop  # noqa: E402

TOOL_TURN = 24  # tokens the template wraps around one tool reply (the user turn and <tool_response> tags), rounded up


def _tokens(tokenizer, text: str) -> int:
    return len(tokenizer(text, add_special_tokens=False).input_ids)


def test_tool_replies_fit_the_trainers_completion_budget(smollm2_dir, tmp_path):  # noqa: F811
    from gome_env.rl.trl_utils import cpu_grpo_config

    tokenizer = tool_tokenizer(smollm2_dir)
    default = cpu_grpo_config(tmp_path).max_completion_length
    for env_cls, budget in ((GomeEnvironment, default), (GomeEnvironment.for_completion(256), 256)):
        env = env_cls()
        try:
            env.reset(task="digits")
            replies = [env.read_file(path="solution.py"), env.apply_patch(diff="not a diff")]
        finally:
            stop(env)
        assert env.reply_tokens == int(budget * REPLY_SHARE)  # derived from the trainer's budget, not set apart
        for reply in replies:
            used = _tokens(tokenizer, reply)
            assert used <= env.reply_tokens, (budget, used, reply)
            assert used + TOOL_TURN < budget  # TRL keeps the reply: it fits the completion budget
    assert "Gaussian" in replies[0] and "[... cut ...]" in replies[0]  # 256 tokens: head and tail of the file


def test_the_token_estimate_bounds_the_real_count_and_the_clip_keeps_it(smollm2_dir):  # noqa: F811
    tokenizer = tool_tokenizer(smollm2_dir)
    texts = [open(f"envs/{t}/{f}").read() for t in ("digits", "spam") for f in ("baseline.py", "description.md")]
    texts.append("dev score 0.8105812345, 1234567 rows, 3.14e-05 " * 40)  # digits: one token each
    for text in texts:
        assert _tokens(tokenizer, text) <= estimate_tokens(text)
        clipped = clip_tokens(text, 50)
        assert estimate_tokens(clipped) <= 50 and _tokens(tokenizer, clipped) <= 50
        assert clipped[:10] == text[:10]


def test_the_chatml_tool_template_passes_trls_checks_on_smollm2(smollm2_dir):  # noqa: F811
    from transformers import AutoTokenizer

    own = AutoTokenizer.from_pretrained(smollm2_dir)
    tokenizer = tool_tokenizer(smollm2_dir)
    assert template_checks(tokenizer) == {"tool_calling": True, "response_schema": True, "prefix_preserving": True}
    assert not template_checks(own)["tool_calling"]  # SmolLM2's own template renders no tool call: TRL refuses it
    messages = [{"role": "system", "content": SYSTEM_MESSAGE}, {"role": "user", "content": "hi"},
                tool_call("read_file", path="solution.py"), {"role": "tool", "name": "read_file", "content": "x = 1"}]
    env = GomeEnvironment()
    text = tokenizer.apply_chat_template(messages, tools=environment_tools(env), tokenize=False, add_generation_prompt=True)
    assert "Qwen" not in text and SYSTEM_MESSAGE in text and '"name": "apply_patch"' in text
    ids = tokenizer.apply_chat_template(messages, tools=environment_tools(env), tokenize=True, add_generation_prompt=True,
                                        return_dict=False)
    start, end = (tokenizer.convert_tokens_to_ids(t) for t in ("<|im_start|>", "<|im_end|>"))
    assert ids.count(start) == 5 and ids.count(end) == 4  # ChatML's own special tokens, one id each, as SmolLM2 learnt them


def test_call_problem_checks_the_tool_and_the_argument_types():
    env = GomeEnvironment()
    call = lambda name, **a: tool_call(name, **a)["tool_calls"][0]  # noqa: E731
    assert call_problem(call("checkout", node_id=3), env) is None
    assert call_problem(call("submit"), env) is None
    assert call_problem(call("read_file", path="solution.py"), env) is None
    assert "not integer" in call_problem(call("checkout", node_id="3"), env)
    assert "missing ['diff']" in call_problem(call("apply_patch"), env)
    assert "unknown ['file']" in call_problem(call("read_file", path="a", file="b"), env)
    assert "unknown tool" in call_problem(call("reset"), env)
    assert call_problem({"function": {"name": "submit", "arguments": "{}"}}, env) == "arguments are not an object"


def test_short_warmup_edits_are_small_real_diffs_of_every_tasks_node_0():
    """The warm-up's short edits (#24: whole-file diffs taught a diff the model never closed): on
    every task whose baseline fits a model in one line, each edit is a few-line diff that applies
    to node 0 and leaves code that compiles."""
    from pathlib import Path

    from gome_env.patching.diffs import apply_diff
    from gome_env.rl.smalledits import short_diffs

    tasks = sorted(p.parent.name for p in Path("envs").glob("*/baseline.py"))
    covered = 0
    for task in tasks:
        node0 = {"solution.py": Path(f"envs/{task}/baseline.py").read_text()}
        edits = short_diffs(node0)
        covered += bool(edits)
        for label, diff in edits:
            changed = [line for line in diff.splitlines()[3:] if line[:1] in "+-" and line[:3] not in ("+++", "---")]
            assert len(diff) < 700 and len(changed) <= 3, (task, label, diff)
            files, patch = apply_diff(node0, diff)
            assert patch.applied and files["solution.py"] != node0["solution.py"], (task, label)
            compile(files["solution.py"], f"{task}:{label}", "exec")
        if task in ("digits", "hpc-jobs"):  # the default warm-up tasks: all three kinds of edit
            assert [label for label, _ in edits] == ["toward-default", "random-forest", "hyperparameter"], task
    assert covered >= len(tasks) - 1  # elec-demand's baseline fits no model


@pytest.mark.slow
def test_one_real_grpo_update_with_environment_factory(smollm2_dir, tmp_path, monkeypatch):  # noqa: F811
    """A few SFT steps on one played conversation (the warm-up in small), then one real GRPO
    update whose rollouts call the tools; what the environment saw is recorded on the class."""
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM
    from trl import GRPOTrainer, SFTConfig, SFTTrainer

    from gome_env.rl.trl_utils import cpu_grpo_config

    completion = 160
    env_cls = GomeEnvironment.for_completion(completion, prompt_chars=400)
    row = {**tool_row("digits"), "note": "any column"}
    env = env_cls()
    try:
        messages = play(env, row, [("checkout", {"node_id": 0}), ("submit", {"node_id": 0})])
    finally:
        stop(env)
    assert messages[-1]["content"].startswith("submitted node 0: ok")
    tokenizer = tool_tokenizer(smollm2_dir)
    model = AutoModelForCausalLM.from_pretrained(smollm2_dir, dtype=torch.float32)
    rows = sft_rows([WarmupExample("digits", "scripted", messages)], tokenizer, env_cls())
    sft = SFTTrainer(model=model, processing_class=tokenizer, train_dataset=Dataset.from_list(rows * 8),
                     args=SFTConfig(output_dir=str(tmp_path / "sft"), use_cpu=True, bf16=False, per_device_train_batch_size=1,
                                    num_train_epochs=1, learning_rate=2e-4, lr_scheduler_type="constant", save_strategy="no",
                                    report_to="none", disable_tqdm=True, max_length=None, seed=0))
    sft.train()

    seen: dict[str, list] = {"reset": [], "calls": [], "rewards": []}

    def record(name):
        method = getattr(GomeEnvironment, name)

        @functools.wraps(method)
        def wrapper(self, *args, **kwargs):
            result = method(self, *args, **kwargs)
            if name == "reset":
                seen["reset"].append(kwargs)
            elif name == "get_reward":
                seen["rewards"].append(result)
            else:
                seen["calls"].append((name, kwargs))
            return result

        monkeypatch.setattr(GomeEnvironment, name, wrapper)

    for name in ("reset", "apply_patch", "read_file", "checkout", "submit", "get_reward"):
        record(name)
    made = []
    generations = 2
    args = cpu_grpo_config(tmp_path / "grpo", num_generations=generations, per_device_train_batch_size=generations,
                           max_completion_length=completion, max_steps=1, max_tool_calling_iterations=2)
    trainer = GRPOTrainer(model=sft.model, processing_class=tokenizer, args=args, train_dataset=Dataset.from_list([row]),
                          environment_factory=lambda: made.append(env_cls()) or made[-1])
    try:
        trainer.train()
    finally:
        for instance in made:
            stop(instance)
    assert len(seen["reset"]) == generations  # one reset per rollout, with every column of the row
    assert all(kwargs == row for kwargs in seen["reset"])
    assert seen["calls"], "no rollout called a tool"
    for name, kwargs in seen["calls"]:
        assert name in ("checkout", "submit", "read_file", "apply_patch")
        if "node_id" in kwargs:  # parsed by TRL with the tool's schema: an integer, not the text "0"
            assert isinstance(kwargs["node_id"], int)
    assert len(seen["rewards"]) == generations and all(math.isfinite(r) for r in seen["rewards"])
    logged = [e for e in trainer.state.log_history if "reward" in e]
    assert len(logged) == 1 and logged[0]["tools/call_frequency"] > 0
