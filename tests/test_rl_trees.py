"""Rows carry their tree: ``GomeEnvironment.reset(node_id=k, tree=...)`` restores node k of a
recorded tree with its code and diagnostics, dataset builders refuse a node the tree lacks, and
``export_sft.py --tool-calls`` writes rows that carry their run's tree (#24)."""

from __future__ import annotations

import json

import pytest

from gome_env.patching.diffs import make_diff
from gome_env.rewards import ladder_reward
from gome_env.rl import GomeEnvironment
from gome_env.rl.trees import check_rows, restore_tree, tree_json, tree_rows

pytest.importorskip("datasets")


def _edit(code: str, old: str, new: str) -> str:
    assert old in code
    return make_diff({"solution.py": code}, {"solution.py": code.replace(old, new)})


@pytest.fixture(scope="module")
def recorded():
    """A real digits tree: 1 ok (var_smoothing 1e-2), 2 patch_failed, 3 ok (1e-1, from node 1);
    and the instance that played it (``env``: the tests reset it with rows, as TRL reuses one)."""
    env = GomeEnvironment()
    try:
        env.reset(task="digits")
        code = env.read_file("solution.py")
        assert env.apply_patch(_edit(code, "GaussianNB()", "GaussianNB(var_smoothing=1e-2)")).startswith("node 1: ok")
        assert env.apply_patch("not a diff").startswith("node 2: patch_failed")
        env.checkout(1)
        node1 = env.read_file("solution.py")
        assert env.apply_patch(_edit(node1, "var_smoothing=1e-2", "var_smoothing=1e-1")).startswith("node 3: ok")
        tree = env._env.tree
        yield {"data": tree.to_dict(), "files": {k: tree.files(k)["solution.py"] for k in tree.nodes},
               "context": env._env.reward_context(), "env": env}
    finally:
        env._close()


def test_reset_restores_any_node_of_the_rows_tree_with_its_code_and_diagnostics(recorded, tmp_path):
    data, env = recorded["data"], GomeEnvironment()  # a fresh instance: nothing of the played tree in it
    try:
        prompt = env.reset(task="digits", node_id=3, tree=tree_json(data))
        assert env._env.current_id == 3 and "(node 3)" in prompt
        assert env.read_file("solution.py") == recorded["files"][3] and "var_smoothing=1e-1" in recorded["files"][3]
        restored = env._env.tree
        for node in data["nodes"]:  # the recorded diagnostics come back as they were
            assert (restored[node["id"]].status, restored[node["id"]].dev_score) == (node["status"], node["dev_score"])
        assert restored[2].parent_id == 1 and restored.files(2) == restored.files(1)  # a failed patch changed nothing
        assert env.get_reward() == ladder_reward(data["nodes"][3]["diagnostics"], recorded["context"])
        assert env.checkout(node_id=1) == f"node 1: ok, dev score {data['nodes'][1]['dev_score']}"
        env.checkout(node_id=3)
        assert env.apply_patch("not a diff").startswith("node 4: patch_failed")
        assert env._env.tree[4].parent_id == 3
        env.reset(task="digits", node_id=1, tree=tree_json(data))  # each episode rebuilds the row's tree
        assert len(env._env.tree) == 4 and env._env.current_id == 1
        record = tmp_path / "run.json"  # a run record (runs.jsonl's line) saved to a file
        record.write_text(json.dumps({"run_key": "k", "record": {"tree": data}}))
        env.reset(task="digits", node_id=3, tree=str(record))
        assert env.read_file("solution.py") == recorded["files"][3]
    finally:
        env._close()


def test_dataset_builders_refuse_a_node_that_is_not_in_the_rows_tree(recorded):
    from gome_env.rl.dataset import make_tool_dataset
    from gome_env.rl.toolcalls import tool_row

    data = recorded["data"]
    rows = tree_rows("digits", data)
    assert [row["node_id"] for row in rows] == [0, 1, 3]  # the ok nodes
    assert check_rows(rows) == 3
    with pytest.raises(ValueError, match=r"row 1 \(task 'digits', node 9\): node 9 is not in the row's tree \(ids 0\.\.3\)"):
        check_rows([rows[0], {**rows[0], "node_id": 9}])
    with pytest.raises(ValueError, match="row 0 .*node 2 needs the row's tree"):
        make_tool_dataset([tool_row("digits", node_id=2)])
    with pytest.raises(ValueError, match="not in the row's tree"):
        make_tool_dataset([{**rows[0], "node_id": 5}])
    stale = json.loads(json.dumps(data))
    stale["nodes"][3]["diff"] = stale["nodes"][3]["diff"].replace("var_smoothing=1e-2", "var_smoothing=7")
    with pytest.raises(ValueError, match="node 3's diff no longer applies to node 1"):
        restore_tree("digits", stale)
    dataset = make_tool_dataset([tool_row("digits"), rows[2]])  # with and without a tree
    assert dataset.column_names == ["prompt", "task", "seed", "node_id", "tree"] and dataset[0]["tree"] == ""
    env = recorded["env"]
    env.reset(**dataset[0])
    assert env._env.current_id == 0 and len(env._env.tree) == 1
    env.reset(**dataset[1])  # as TRL resets: every column of the row
    assert env._env.current_id == 3 and env.read_file("solution.py") == recorded["files"][3]


def test_tool_call_export_rows_carry_their_runs_tree(recorded, tmp_path):
    from scripts.export_sft import main

    data = recorded["data"]
    runs = tmp_path / "runs"
    runs.mkdir()
    key = "gome/m/digits/seed0/h"
    record = {"final": {"node_id": 3, "baseline_dev_score": data["nodes"][0]["dev_score"]}, "tree": data}
    steps = [{"run_key": key, "attempt": "a1", "task": "digits", "policy": "gome", "model": "m", "seed": 0,
              "node_id": n["id"], "parent_id": n["parent_id"], "step": n["id"], "status": n["status"],
              "dev_score": n["dev_score"], "diff": n["diff"], "diagnostics": n["diagnostics"]} for n in data["nodes"][1:]]
    (runs / "runs.jsonl").write_text(json.dumps({"run_key": key, "attempt": "a1", "status": "ok", "record": record}) + "\n")
    (runs / "steps.jsonl").write_text("".join(json.dumps(s) + "\n" for s in steps))
    main([str(runs), "--tool-calls"])
    line = json.loads((runs / "sft" / "tool_calls.jsonl").read_text())
    assert json.loads(line["tree"]) == json.loads(tree_json(data))
    rows = [json.loads(text) for text in (runs / "sft" / "tool_rows.jsonl").read_text().splitlines()]
    assert [(r["run_key"], r["task"], r["node_id"]) for r in rows] == [(key, "digits", k) for k in (0, 1, 3)]
    env = recorded["env"]
    env.reset(**{k: v for k, v in rows[2].items() if k != "run_key"})
    assert env.read_file("solution.py") == recorded["files"][3]
    record["tree"] = json.loads(json.dumps(data))
    record["tree"]["nodes"][1]["diff"] = "--- a/solution.py\n+++ b/solution.py\n@@ -1 +1 @@\n-no such line\n+x\n"
    (runs / "runs.jsonl").write_text(json.dumps({"run_key": key, "attempt": "a1", "status": "ok", "record": record}) + "\n")
    with pytest.raises(ValueError, match=f"^run {key}: node 1's diff no longer applies to node 0"):
        main([str(runs), "--tool-calls"])
