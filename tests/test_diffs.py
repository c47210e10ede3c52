"""The diff parser and applier on its own: each strategy, each kind of file change, path checks and
the clean-up of a model's text. Pure functions: no sandbox, no environment."""

from __future__ import annotations

import pytest

from gome_env.patching.diffs import DiffError, apply_diff, check_path, clean_diff, make_diff, parse_diff

SRC = "import os\n\n\ndef main():\n    x = 1\n    y = 2\n    print(x + y)\n\n\nmain()\n"
FILES = {"solution.py": SRC}


def _apply(diff: str, files: dict[str, str] | None = None):
    return apply_diff(dict(FILES if files is None else files), diff)


# --------------------------------------------------------------------------- strategies


def test_exact_strategy_at_the_stated_line():
    diff = "--- a/solution.py\n+++ b/solution.py\n@@ -5,2 +5,2 @@\n     x = 1\n-    y = 2\n+    y = 3\n"
    new, result = _apply(diff)
    assert result.applied and result.strategy == "exact" and result.files == ["solution.py"]
    assert new["solution.py"] == SRC.replace("y = 2", "y = 3")


def test_shifted_strategy_finds_the_context_elsewhere():
    diff = "--- a/solution.py\n+++ b/solution.py\n@@ -1,2 +1,2 @@\n     x = 1\n-    y = 2\n+    y = 3\n"
    new, result = _apply(diff)
    assert result.applied and result.strategy == "shifted"
    assert new["solution.py"] == SRC.replace("y = 2", "y = 3")


def test_shifted_strategy_takes_the_nearest_of_two_matches():
    src = "a = 1\nb = 2\n" + "pad\n" * 20 + "a = 1\nb = 2\n"
    diff = "--- a/f.py\n+++ b/f.py\n@@ -20,2 +20,2 @@\n a = 1\n-b = 2\n+b = 3\n"
    new, result = apply_diff({"f.py": src}, diff)
    assert result.strategy == "shifted"
    assert new["f.py"] == "a = 1\nb = 2\n" + "pad\n" * 20 + "a = 1\nb = 3\n"


def test_whitespace_strategy_ignores_indentation_and_trailing_blanks():
    diff = "--- a/solution.py\n+++ b/solution.py\n@@ -5,2 +5,2 @@\n x = 1   \n-y = 2\n+y = 3\n"
    new, result = _apply(diff)
    assert result.applied and result.strategy == "whitespace"
    assert new["solution.py"] == SRC.replace("y = 2", "y = 3")  # the file's own indentation is kept


def test_fuzzy_strategy_drops_a_context_line_that_does_not_match():
    diff = ("--- a/solution.py\n+++ b/solution.py\n@@ -4,4 +4,4 @@\n def main():\n     x = 1\n-    y = 2\n+    y = 3\n"
            "     print('this line is not in the file')\n")
    new, result = _apply(diff)
    assert result.applied and result.strategy == "fuzzy"
    assert new["solution.py"] == SRC.replace("y = 2", "y = 3")


def test_a_hunk_no_strategy_places_changes_nothing_and_is_reported():
    diff = ("--- a/solution.py\n+++ b/solution.py\n@@ -5,2 +5,2 @@\n     x = 1\n-    y = 2\n+    y = 3\n"
            "@@ -9,1 +9,1 @@\n-not in the file at all\n+z = 0\n")
    new, result = _apply(diff)
    assert not result.applied and new == FILES  # all or nothing: the first hunk is not kept
    assert result.rejected_hunks == [{"file": "solution.py", "hunk": 1, "header": "@@ -9 @@ not in the file at all",
                                      "expected": "not in the file at all"}]
    assert "under any strategy" in result.error


def test_hunk_header_without_numbers_is_placed_by_its_context():
    diff = "--- a/solution.py\n+++ b/solution.py\n@@ @@\n     x = 1\n-    y = 2\n+    y = 3\n"
    new, result = _apply(diff)
    assert result.applied and new["solution.py"] == SRC.replace("y = 2", "y = 3")


def test_miscounted_hunk_lengths_are_ignored():
    diff = "--- a/solution.py\n+++ b/solution.py\n@@ -5,9 +5,1 @@\n     x = 1\n-    y = 2\n+    y = 3\n"
    new, result = _apply(diff)
    assert result.applied and new["solution.py"] == SRC.replace("y = 2", "y = 3")


# --------------------------------------------------------------------------- re-indentation


def test_added_lines_are_reindented_to_the_files_indentation():
    # The model wrote the hunk without the function's indentation.
    diff = "--- a/solution.py\n+++ b/solution.py\n@@ -5,2 +5,3 @@\n x = 1\n+if x:\n+    x += 1\n y = 2\n"
    new, result = _apply(diff)
    assert result.strategy == "whitespace"
    assert "    x = 1\n    if x:\n        x += 1\n    y = 2\n" in new["solution.py"]


def test_added_lines_are_dedented_when_the_hunk_is_over_indented():
    src = "x = 1\ny = 2\n"
    diff = "--- a/f.py\n+++ b/f.py\n@@ -1,2 +1,3 @@\n     x = 1\n+    z = 3\n     y = 2\n"
    new, result = apply_diff({"f.py": src}, diff)
    assert result.strategy == "whitespace" and new["f.py"] == "x = 1\nz = 3\ny = 2\n"


# --------------------------------------------------------------------------- kinds of file change


def test_new_file():
    diff = "--- /dev/null\n+++ b/lib/util.py\n@@ -0,0 +1,2 @@\n+def f():\n+    return 1\n"
    new, result = _apply(diff)
    assert result.applied and new["lib/util.py"] == "def f():\n    return 1\n" and new["solution.py"] == SRC


def test_new_file_that_already_exists_is_refused():
    diff = "--- /dev/null\n+++ b/solution.py\n@@ -0,0 +1 @@\n+x = 1\n"
    new, result = _apply(diff)
    assert not result.applied and "already exists" in result.error and new == FILES


def test_deleted_file():
    files = {**FILES, "old.py": "x = 1\n"}
    diff = "--- a/old.py\n+++ /dev/null\n@@ -1 +0,0 @@\n-x = 1\n"
    new, result = _apply(diff, files)
    assert result.applied and new == FILES


def test_renamed_file_with_an_edit():
    files = {**FILES, "a.py": "x = 1\ny = 2\n"}
    diff = "diff --git a/a.py b/b.py\n--- a/a.py\n+++ b/b.py\n@@ -1,2 +1,2 @@\n x = 1\n-y = 2\n+y = 3\n"
    new, result = _apply(diff, files)
    assert result.applied and "a.py" not in new and new["b.py"] == "x = 1\ny = 3\n"


def test_multi_file_diff_applies_every_file_or_none():
    files = {**FILES, "b.py": "b = 1\n"}
    good = ("--- a/solution.py\n+++ b/solution.py\n@@ -5 +5 @@\n-    x = 1\n+    x = 5\n"
            "--- a/b.py\n+++ b/b.py\n@@ -1 +1 @@\n-b = 1\n+b = 2\n")
    new, result = _apply(good, files)
    assert result.applied and result.files == ["b.py", "solution.py"]
    assert new["b.py"] == "b = 2\n" and "x = 5" in new["solution.py"]
    bad = good.replace("-b = 1", "-b = 99")
    new, result = _apply(bad, files)
    assert not result.applied and new == files and result.rejected_hunks[0]["file"] == "b.py"


def test_patching_a_missing_file_names_the_editable_ones():
    new, result = _apply("--- a/nope.py\n+++ b/nope.py\n@@ -1 +1 @@\n-a\n+b\n")
    assert not result.applied and "nope.py does not exist" in result.error and "solution.py" in result.error


def test_a_file_cannot_become_a_folder():
    new, result = _apply("--- /dev/null\n+++ b/solution.py/x.py\n@@ -0,0 +1 @@\n+x = 1\n")
    assert not result.applied and "is a file" in result.error


def test_missing_newline_marker_is_ignored():
    diff = "--- a/f.py\n+++ b/f.py\n@@ -1 +1 @@\n-x = 1\n\\ No newline at end of file\n+x = 2\n\\ No newline at end of file\n"
    new, result = apply_diff({"f.py": "x = 1"}, diff)
    assert result.applied and new["f.py"] == "x = 2\n"


def test_make_diff_round_trips_edits_new_and_deleted_files():
    old = {"solution.py": SRC, "gone.py": "a = 1\n"}
    new = {"solution.py": SRC.replace("x = 1", "x = 10"), "added.py": "b = 2\n"}
    result_files, result = apply_diff(old, make_diff(old, new))
    assert result.applied and result.strategy == "exact" and result_files == new


# --------------------------------------------------------------------------- structure the parser refuses


@pytest.mark.parametrize("diff, words", [
    ("", "empty"),
    ("please make it better", "no file header"),
    ("--- a/solution.py\n+++ b/solution.py\n", "no hunks"),
    ("--- /dev/null\n+++ /dev/null\n@@ -0,0 +1 @@\n+x\n", "/dev/null on both sides"),
    ("diff --git a/l b/l\nnew file mode 120000\n--- /dev/null\n+++ b/l\n@@ -0,0 +1 @@\n+/etc/passwd\n", "symlinks"),
    ("diff --git a/x.bin b/x.bin\nBinary files a/x.bin and b/x.bin differ\n", "binary"),
    ("--- a/solution.py\n+++ b/solution.py\n@@ -1 +1 @@\n-x\0\n+y\n", "NUL"),
])
def test_unusable_diffs_are_refused_with_a_reason(diff, words):
    new, result = _apply(diff)
    assert not result.applied and words in result.error and new == FILES


def test_bytes_that_are_not_utf8_are_refused():
    new, result = _apply(b"--- a/solution.py\n+++ b/solution.py\n@@ -1 +1 @@\n-\xff\n+x\n")
    assert not result.applied and "UTF-8" in result.error


def test_hunk_before_any_file_header_is_an_error():
    with pytest.raises(DiffError, match="hunk header before any file header"):
        parse_diff("@@ -1 +1 @@\n-a\n+b\n")


# --------------------------------------------------------------------------- path checks


@pytest.mark.parametrize("path, words", [
    ("/etc/passwd", "absolute"),
    ("C:/x.py", "absolute"),
    ("../outside.py", "leave the workspace"),
    ("lib/../../outside.py", "leave the workspace"),
    ("data/train.csv", "read-only"),
    ("submission/dev.csv", "read-only"),
    ("lib/", "not a file path"),
    (".", "not a file path"),
    ("bad\x01name.py", "control characters"),
    ("x" * 300 + ".py", "too long"),
    ("", "empty file path"),
])
def test_path_checks_refuse(path, words):
    with pytest.raises(DiffError, match=words):
        check_path(path, ("data/", "submission/"))


def test_path_checks_normalise_what_they_allow():
    assert check_path("lib/./util.py", ("data/",)) == "lib/util.py"
    assert check_path("database.py", ("data/",)) == "database.py"  # only the folder is protected


def test_a_diff_touching_a_protected_path_changes_nothing():
    new, result = _apply("--- /dev/null\n+++ b/data/extra.csv\n@@ -0,0 +1 @@\n+a,b\n")
    assert not result.applied and "read-only" in result.error and new == FILES


# --------------------------------------------------------------------------- cleaning a model's text


def test_crlf_line_ends_are_converted():
    diff = "--- a/solution.py\r\n+++ b/solution.py\r\n@@ -5,2 +5,2 @@\r\n     x = 1\r\n-    y = 2\r\n+    y = 3\r\n"
    new, result = _apply(diff)
    assert result.applied and "converted CRLF line ends" in result.notes
    assert "\r" not in new["solution.py"]


def test_the_diff_is_taken_out_of_markdown_fences_and_prose():
    diff = ("Here is my change:\n\n```diff\n--- a/solution.py\n+++ b/solution.py\n@@ -5,2 +5,2 @@\n     x = 1\n"
            "-    y = 2\n+    y = 3\n```\n\nThis should help.")
    new, result = _apply(diff)
    assert result.applied and "took the diff out of markdown fences" in result.notes
    assert new["solution.py"] == SRC.replace("y = 2", "y = 3")


def test_prose_before_the_first_header_is_dropped():
    text, notes = clean_diff("I will edit it.\n--- a/f.py\n+++ b/f.py\n@@ -1 +1 @@\n-a\n+b")
    assert text.startswith("--- a/f.py") and text.endswith("+b\n") and "dropped text before the first file header" in notes


def test_several_fenced_blocks_are_joined():
    diff = ("```diff\n--- a/a.py\n+++ b/a.py\n@@ -1 +1 @@\n-a = 1\n+a = 2\n```\nand\n"
            "```diff\n--- a/b.py\n+++ b/b.py\n@@ -1 +1 @@\n-b = 1\n+b = 2\n```\n")
    new, result = apply_diff({"a.py": "a = 1\n", "b.py": "b = 1\n"}, diff)
    assert result.applied and new == {"a.py": "a = 2\n", "b.py": "b = 2\n"}


def test_paths_without_git_prefixes_and_with_timestamps():
    diff = "--- solution.py\t2024-01-01 00:00:00\n+++ solution.py\t2024-01-01 00:00:01\n@@ -5 +5 @@\n-    x = 1\n+    x = 2\n"
    new, result = _apply(diff)
    assert result.applied and "x = 2" in new["solution.py"]
