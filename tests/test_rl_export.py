"""scripts/export_sft.py: benchmark trajectories -> chat-format SFT data (steps that improved dev)."""

from __future__ import annotations

import csv
import json

import pytest

from models_fixtures import smollm2_dir  # noqa: F401 (the converted model, shared with the suite)
from scripts.export_sft import main

PROMPT = [{"role": "system", "content": "sys"}, {"role": "user", "content": "improve it"}]


def _step(node, parent, status, score, attempt="a1", key="gome/m/digits/seed0/h", answer="```python\nx\n```"):
    return {"run_key": key, "attempt": attempt, "task": "digits", "policy": "gome", "model": "m", "seed": 0, "node_id": node,
            "parent_id": parent, "status": status, "dev_score": score, "prompt": PROMPT, "answer": answer,
            "diagnostics": {"status": status, "higher_is_better": True}}


def _write(path, lines):
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))


def test_export_keeps_the_steps_that_beat_their_parent_on_dev(tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    record = {"final": {"baseline_dev_score": 0.5, "test_score": 0.99}}
    _write(runs / "runs.jsonl", [
        {"run_key": "gome/m/digits/seed0/h", "attempt": "a0", "status": "failed", "record": None},
        {"run_key": "gome/m/digits/seed0/h", "attempt": "a1", "status": "ok", "record": record},
        {"run_key": "greedy/m/digits/seed0/h", "attempt": "b1", "status": "failed", "record": record},
    ])
    _write(runs / "steps.jsonl", [
        _step(1, 0, "ok", 0.7, attempt="a0"),  # an earlier attempt: never counted
        _step(1, 0, "ok", 0.6),  # beats the baseline (0.5): kept
        _step(2, 1, "ok", 0.55),  # worse than its parent (0.6)
        _step(3, 0, "runtime_error", None),
        _step(4, 2, "ok", 0.58, answer="better"),  # beats its parent (0.55): kept
        _step(5, 0, "ok", 0.9, answer=None),  # no answer (a replayed diff): nothing to learn from
        _step(1, 0, "ok", 0.8, attempt="b1", key="greedy/m/digits/seed0/h"),  # a failed run
    ])
    main([str(runs)])
    lines = [json.loads(line) for line in (runs / "sft" / "sft.jsonl").read_text().splitlines()]
    assert [line["messages"][-1]["content"] for line in lines] == ["```python\nx\n```", "better"]
    assert lines[0]["messages"][:2] == PROMPT and lines[0]["messages"][-1]["role"] == "assistant"
    assert set(lines[0]) == {"messages"}
    rows = list(csv.DictReader(open(runs / "sft" / "steps.csv")))
    assert [(r["node_id"], r["parent_dev_score"]) for r in rows] == [("1", "0.5"), ("4", "0.55")]
    main([str(runs), "--all-ok", "--out", str(tmp_path / "all")])
    assert len((tmp_path / "all" / "sft.jsonl").read_text().splitlines()) == 3  # nodes 1, 2, 4

    datasets = pytest.importorskip("datasets")
    data = datasets.load_dataset("json", data_files=str(runs / "sft" / "sft.jsonl"), split="train")
    assert len(data) == 2 and data.column_names == ["messages"]
    assert datasets.load_from_disk(str(runs / "sft" / "dataset"))[1]["messages"][-1]["content"] == "better"
    trl_utils = pytest.importorskip("trl.data_utils")
    assert trl_utils.is_conversational(data[0])  # what SFTTrainer checks to apply the chat template


def test_tool_call_form_is_the_conversation_gome_environment_would_have(tmp_path, smollm2_dir):  # noqa: F811
    """--tool-calls: every finished run as GomeEnvironment's tool conversation (real reset prompt,
    a checkout where a step branches, the environment's replies rebuilt from the records)."""
    pytest.importorskip("trl")
    from gome_env.rl.chat import tool_tokenizer

    runs = tmp_path / "runs"
    runs.mkdir()
    key = "gome/m/digits/seed0/h"
    _write(runs / "runs.jsonl", [{"run_key": key, "attempt": "a1", "status": "ok",
                                  "record": {"final": {"node_id": 1, "baseline_dev_score": 0.81, "test_score": 0.123456}}}])
    steps = [_step(1, 0, "ok", 0.85), _step(2, 0, "patch_failed", None), _step(3, 1, "runtime_error", None)]
    for i, step in enumerate(steps, 1):
        step.update(step=i, diff=f"--- a/solution.py\n+++ b/solution.py\n@@ -1 +1 @@\n-x\n+y{i}\n")
    _write(runs / "steps.jsonl", steps)
    main([str(runs), "--all-ok", "--tool-calls"])
    lines = [json.loads(line) for line in (runs / "sft" / "tool_calls.jsonl").read_text().splitlines()]
    assert len(lines) == 1
    line = lines[0]
    assert (line["run_key"], line["task"], line["steps"]) == (key, "digits", 3)
    assert sorted(t["function"]["name"] for t in line["tools"]) == ["apply_patch", "checkout", "read_file", "submit"]
    messages = line["messages"]
    assert [m["role"] for m in messages[:2]] == ["system", "user"] and "GaussianNB" in messages[1]["content"]
    calls = [(m["tool_calls"][0]["function"]["name"], m["tool_calls"][0]["function"]["arguments"])
             for m in messages if m["role"] == "assistant"]
    assert calls == [("apply_patch", {"diff": steps[0]["diff"]}), ("checkout", {"node_id": 0}),
                     ("apply_patch", {"diff": steps[1]["diff"]}), ("checkout", {"node_id": 1}),
                     ("apply_patch", {"diff": steps[2]["diff"]}), ("submit", {"node_id": 1})]
    replies = [m["content"] for m in messages if m["role"] == "tool"]
    assert replies[0].startswith("node 1: ok, dev score 0.85; 2 patches left\n## Step result: `ok`")
    assert replies[1] == "node 0: ok, dev score 0.81" and replies[3] == "node 1: ok, dev score 0.85"
    assert replies[4].startswith("node 3: runtime_error, dev score None; 0 patches left")
    assert replies[-1] == "submitted node 1: ok, dev score 0.85"
    assert "0.123456" not in json.dumps(line)  # the test score never enters the data
    tokenizer = tool_tokenizer(smollm2_dir)  # the template TRL uses renders it as is
    text = tokenizer.apply_chat_template(messages, tools=line["tools"], tokenize=False)
    assert text.count("<|im_start|>assistant") == 6 and text.count("<tool_response>") == 6
