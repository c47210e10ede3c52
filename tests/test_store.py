"""Content-addressed snapshots: shared content is stored once; sizes are accounted for."""

from __future__ import annotations

from gome_env.store import BlobStore
from gome_env.tree import Tree


def _source(n_lines: int = 1500) -> str:
    return "".join(f"feature_{i} = data['col_{i % 37}'] * {i} + {i % 11}\n" for i in range(n_lines))


def test_round_trip_and_identical_files_stored_once():
    store = BlobStore()
    text = _source()
    first = store.put({"solution.py": text, "copy.py": text, "empty.py": ""})
    size = store.nbytes
    second = store.put({"solution.py": text})
    assert store.get(first) == {"solution.py": text, "copy.py": text, "empty.py": ""}
    assert second["solution.py"] is first["solution.py"] == first["copy.py"]
    assert store.nbytes == size


def test_one_line_edit_adds_about_one_chunk():
    store = BlobStore()
    text = _source()
    base = store.put_file(text)
    before = store.nbytes
    lines = text.splitlines(keepends=True)
    lines[700] = "feature_700 = 0  # changed\n"
    edited = store.put_file("".join(lines))
    lines.insert(10, "import math\n")  # an insertion shifts every later line
    shifted = store.put_file("".join(lines))
    assert store.get_file(edited).splitlines()[700] == "feature_700 = 0  # changed"
    assert len(set(edited) - set(base)) == 1
    assert len(set(shifted) - set(edited)) <= 2
    assert store.nbytes - before < 3 * 1024


def test_tree_nbytes_for_a_thousand_one_line_edits():
    tree = Tree(higher_is_better=True)
    text = _source(1500)
    assert len(text) > 50_000
    diagnostics = {"status": "ok", "dev_score": 0.5, "execution": {"stdout_head": "done\n", "stderr_head": ""}}
    tree.add(None, 0, "", {"solution.py": text}, diagnostics)
    lines = text.splitlines(keepends=True)
    for step in range(1, 1001):
        i = (step * 7919) % len(lines)
        lines[i] = f"feature_{i} = {step}\n"
        tree.add(step - 1, step, f"--- a/solution.py\n+++ b/solution.py\n@@ -{i + 1} +{i + 1} @@\n-x\n+y\n", {"solution.py": "".join(lines)}, diagnostics)
    sizes = tree.nbytes()
    assert sizes["total"] == sizes["chunks"] + sizes["snapshots"] + sizes["nodes"]
    assert sizes["total"] < 5_000_000
    assert tree.files(1000)["solution.py"] == "".join(lines)
