"""Short warm-up edits: a few-line change of node 0's model, as a unified diff.

A warm-up whose only edits are whole-file diffs (node 0 -> ``default_solution.py``, 2-3k
characters) teaches a 135M model to start a long diff it never closes into a parseable
``apply_patch`` call. These edits are the size a first step usually is: one line of the
solution's ``model = Estimator(...).fit(...)`` changed (and, for a new estimator, its import on
the line above), each a real diff of node 0's code:

- ``toward-default``: the estimator the task's default solution uses
  (``HistGradientBoostingClassifier``/``Regressor`` with ``random_state=0``);
- ``random-forest``: a random forest of 200 trees, a common leaderboard entry;
- ``hyperparameter``: one setting of the current estimator changed (a numeric keyword argument
  doubled, else a known setting of the estimator added, e.g. ``C=10.0``).

``short_edits(source)`` returns ``(label, new source)`` pairs; ``short_diffs(files)`` the diffs.
Nothing here runs code: the warm-up applies the diffs through the environment for the real replies.
"""

from __future__ import annotations

import re

__all__ = ["short_edits", "short_diffs", "estimator_call", "KNOWN_SETTINGS"]

KNOWN_SETTINGS: dict[str, tuple[str, str]] = {
    "LogisticRegression": ("C", "10.0"),
    "GaussianNB": ("var_smoothing", "1e-3"),
    "LinearRegression": ("positive", "True"),
    "Ridge": ("alpha", "10.0"),
    "KNeighborsClassifier": ("n_neighbors", "3"),
    "KNeighborsRegressor": ("n_neighbors", "10"),
}
"""A setting to add to an estimator that is called without numeric keyword arguments."""

_CALL = re.compile(r"(?P<est>[A-Z]\w*)\((?P<args>[^()]*)\)")
_NUMBER_KW = re.compile(r"\b(?P<key>[a-z_]\w*)=(?P<value>\d+(?:\.\d+)?(?:e-?\d+)?)\b")


def estimator_call(source: str) -> tuple[int, re.Match] | None:
    """The line index of the first ``model = ...fit(`` line and the match of the last
    ``Estimator(args)`` call before its ``.fit(`` (None when the code has no such line)."""
    for index, line in enumerate(source.splitlines()):
        if line.lstrip().startswith("model = ") and ".fit(" in line:
            head = line[: line.index(".fit(")]
            calls = list(_CALL.finditer(head))
            if calls:
                return index, calls[-1]
    return None


def _is_regressor(name: str) -> bool:
    return name.endswith("Regressor") or (name.endswith("Regression") and name != "LogisticRegression") or name == "Ridge"


def _doubled(value: str) -> str:
    if re.fullmatch(r"\d+", value):
        return str(int(value) * 2)
    return repr(float(value) * 2)


def _with_line(source: str, index: int, new_lines: list[str]) -> str:
    lines = source.splitlines(keepends=True)
    ending = "\n" if lines[index].endswith("\n") else ""
    lines[index: index + 1] = [line + "\n" for line in new_lines[:-1]] + [new_lines[-1] + ending]
    return "".join(lines)


def short_edits(source: str) -> list[tuple[str, str]]:
    """``(label, new source)`` for each short edit of ``source``'s model line (see the module
    docstring); empty when the code has no ``model = Estimator(...).fit(...)`` line."""
    found = estimator_call(source)
    if found is None:
        return []
    index, call = found
    line = source.splitlines()[index]
    indent = line[: len(line) - len(line.lstrip())]
    name, args = call.group("est"), call.group("args")
    kind = "Regressor" if _is_regressor(name) else "Classifier"

    def swap(module: str, estimator: str, arguments: str) -> str:
        new_line = line[: call.start()] + f"{estimator}({arguments})" + line[call.end():]
        return _with_line(source, index, [f"{indent}from sklearn.{module} import {estimator}", new_line])

    edits = []
    if name != f"HistGradientBoosting{kind}":
        edits.append(("toward-default", swap("ensemble", f"HistGradientBoosting{kind}", "random_state=0")))
    if name != f"RandomForest{kind}":
        edits.append(("random-forest", swap("ensemble", f"RandomForest{kind}", "n_estimators=200, random_state=0")))
    number = _NUMBER_KW.search(args)
    if number is not None:
        new_args = args[: number.start("value")] + _doubled(number.group("value")) + args[number.end("value"):]
    elif name in KNOWN_SETTINGS:
        key, value = KNOWN_SETTINGS[name]
        new_args = f"{args}, {key}={value}" if args.strip() else f"{key}={value}"
    else:
        new_args = None
    if new_args is not None:
        new_line = line[: call.start("args")] + new_args + line[call.end("args"):]
        edits.append(("hyperparameter", _with_line(source, index, [new_line])))
    return edits


def short_diffs(files: dict[str, str], max_chars: int | None = None) -> list[tuple[str, str]]:
    """``(label, diff)`` from ``files`` (node 0's) for each short edit of its ``solution.py``."""
    from gome_env.patching.diffs import make_diff

    out = []
    for label, new in short_edits(files.get("solution.py", "")):
        diff = make_diff(files, {**files, "solution.py": new})
        if max_chars is None or len(diff) <= max_chars:
            out.append((label, diff))
    return out
