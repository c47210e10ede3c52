"""Structured diagnostics: what ran, what failed and why, the dev score, and an error analysis.

Everything here is a pure function of a run's outputs, so it is easy to test and to read. The
result is a :class:`Diagnostics` record (``info["diagnostics"]``; ``to_dict()`` for JSON) and a
concise markdown rendering of it (``obs["feedback"]``) ready for a prompt.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from gome_env.grading.grader import answer_ids, row_ids
from gome_env.records import MappingRecord
from gome_env.step_records import SHOWN_CHARS, ErrorAnalysis, Execution, PatchInfo, QuickCopy, Resources, Submission
from gome_env.tasks.task import TaskSpec

__all__ = ["Diagnostics", "STATUSES", "parse_exception", "extract_warnings", "error_analysis", "render_feedback", "check_syntax", "head_tail"]

STATUSES = ("ok", "patch_failed", "syntax_error", "runtime_error", "timeout", "memory_exceeded", "invalid_submission")

_FRAME_RE = re.compile(r'^  File "(?P<file>[^"]+)", line (?P<line>\d+)(?:, in (?P<func>.+))?$')
_EXC_RE = re.compile(r"^(?P<type>[A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning|Fault)?)(?::\s?(?P<msg>.*))?$")
_WARNING_RE = re.compile(r"^(?:(?P<file>[^:\n]+):(?P<line>\d+): )?(?P<cat>\w*Warning): (?P<msg>.+)$", re.M)


@dataclass(eq=False)
class Diagnostics(QuickCopy, MappingRecord):
    """What one step did (``info["diagnostics"]``, ``node.diagnostics``): a typed record whose parts
    are typed too (``gome_env.step_records``: ``d.execution.runtime_s``). For one release it also
    reads like the dict it replaces (``d["status"]``, ``d.get("reason")``, ``d["execution"]["runtime_s"]``).
    Made by ``Evaluator.evaluate`` and finished (ids, ``is_best``, ``best_dev_score``) by
    ``gome_env.commit.commit`` before the node holding it enters the tree; not changed after.

    A vector env keeps it whole per env (``infos["diagnostics"][i]``; see ``gome_env.records``).
    ``json.dumps(d)`` raises TypeError: use ``json.dumps(d.to_dict())``."""

    status: str = "ok"  # one of STATUSES
    dev_score: float | None = None
    metric: str = ""
    higher_is_better: bool = True
    patch: PatchInfo | None = None  # applied, strategy, files, rejected_hunks, error, notes
    execution: Execution | None = None  # return code, signal, time, memory, output head/tail, exception, executor
    submission: Submission | None = None  # valid, problems
    error_analysis: ErrorAnalysis | None = None  # per-class or residual summaries (detail "full")
    warnings: list[dict] = field(default_factory=list)  # category, message, count
    resources: Resources | None = None  # runtime, timeout, peak memory and output against their limits
    sandbox: str = ""
    reason: str | None = None  # why the status is not ok, in one line
    node_id: int | None = None
    parent_id: int | None = None
    is_best: bool = False
    best_dev_score: float | None = None
    sandbox_note: str | None = None  # the root's only: which sandbox was chosen and why

    _optional = ("sandbox_note",)
    _PARTS = ("patch", "execution", "submission", "error_analysis", "resources")

    def __getitem__(self, key: str) -> Any:
        """The old dict view, for one release: a typed part read by key comes back as its plain
        dict (``dict(d)`` stays JSON-ready); read it by attribute for the typed part."""
        value = super().__getitem__(key)
        return value.to_dict() if key in self._PARTS and isinstance(value, MappingRecord) else value

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default


def head_tail(text: str, n: int = SHOWN_CHARS) -> str:
    """The first and last ``n`` characters of ``text``."""
    if len(text) <= 2 * n:
        return text
    return f"{text[:n]}\n[... {len(text) - 2 * n} characters cut ...]\n{text[-n:]}"


def check_syntax(files: dict[str, str]) -> dict | None:
    """The first syntax error among the Python files, as an exception record, or None."""
    for path, source in sorted(files.items()):
        if not path.endswith(".py"):
            continue
        try:
            ast.parse(source, filename=path)
        except (RecursionError, MemoryError, ValueError, UnicodeError) as exc:  # too deep, too big, NUL bytes
            return {"type": type(exc).__name__, "message": f"the parser gave up: {exc}"[:300], "file": path,
                    "line": None, "source_line": None, "offset": None}
        except SyntaxError as exc:
            lines = source.splitlines()
            line = exc.lineno or 0
            return {
                "type": type(exc).__name__,
                "message": exc.msg,
                "file": path,
                "line": line,
                "source_line": lines[line - 1].rstrip() if 0 < line <= len(lines) else None,
                "offset": exc.offset,
            }
    return None


def parse_exception(stderr: str, files: dict[str, str], workspace: str | None = None) -> dict | None:
    """The last Python traceback in stderr: type, message, and the innermost frame in the agent's own files."""
    lines = stderr.splitlines()
    starts = [i for i, ln in enumerate(lines) if ln.startswith("Traceback (most recent call last)")]
    if not starts:
        return None
    body = lines[starts[-1] + 1 :]
    frames: list[dict] = []
    exc_type, message = None, ""
    for i, line in enumerate(body):
        match = _FRAME_RE.match(line)
        if match:
            frames.append({"file": match["file"], "line": int(match["line"]), "func": match["func"]})
            continue
        if not line.startswith(" ") and line.strip():
            em = _EXC_RE.match(line.strip())
            if em:
                exc_type = em["type"]
                message = "\n".join([em["msg"] or "", *[ln for ln in body[i + 1 :] if ln.strip()]]).strip()
                break
    if exc_type is None:
        return None

    def local(path: str) -> str | None:
        if workspace and path.startswith(workspace.rstrip("/") + "/"):
            path = path[len(workspace.rstrip("/")) + 1 :]
        return path if path in files else None

    own = [f for f in frames if local(f["file"])]
    frame = own[-1] if own else (frames[-1] if frames else None)
    record = {"type": exc_type, "message": message[:1000], "file": None, "line": None, "source_line": None, "in_library": not own}
    if frame:
        rel = local(frame["file"])
        record["file"] = rel or frame["file"]
        record["line"] = frame["line"]
        if rel:
            src = files[rel].splitlines()
            if 0 < frame["line"] <= len(src):
                record["source_line"] = src[frame["line"] - 1].strip()
    return record


def extract_warnings(stderr: str, limit: int = 8) -> list[dict]:
    """Distinct warnings the run printed (e.g. ConvergenceWarning), most frequent first."""
    counts: dict[tuple[str, str], int] = {}
    for match in _WARNING_RE.finditer(stderr):
        key = (match["cat"], match["msg"].strip()[:200])
        counts[key] = counts.get(key, 0) + 1
    ranked = sorted(counts.items(), key=lambda kv: -kv[1])[:limit]
    return [{"category": cat, "message": msg, "count": n} for (cat, msg), n in ranked]


def error_analysis(spec: TaskSpec, submission: pd.DataFrame, answers: pd.DataFrame, max_classes: int = 10) -> dict:
    """Where the dev predictions go wrong: per-class precision/recall and confused pairs for
    classification, a residual summary and the worst segments for regression. Aggregates only:
    no individual dev label is revealed."""
    idc = spec.id_column
    if len(spec.target_columns) > 1:
        return {"kind": "multi-target", "note": "per-column analysis is not available for multi-column answers"}
    # Align the (already validated) submission to the answers' order.
    positions = row_ids(submission, idc).get_indexer(answer_ids(answers, idc))
    sub = submission.iloc[positions]
    y_true = answers[spec.target].to_numpy()
    kind = spec.metric.kind
    if kind == "value":
        return _regression_analysis(y_true.astype(float), sub[spec.prediction_columns[0]].to_numpy(dtype=float))
    if kind == "probability" and len(spec.prediction_columns) > 1:
        columns = np.array(spec.prediction_columns)
        p = columns[sub[list(spec.prediction_columns)].to_numpy(dtype=float).argmax(axis=1)]
        t = y_true.astype(str)
    elif kind == "probability":
        p = (sub[spec.prediction_columns[0]].to_numpy(dtype=float) >= 0.5).astype(int).astype(str)
        t = y_true.astype(float).astype(int).astype(str)
    else:
        p = sub[spec.prediction_columns[0]].to_numpy().astype(str)
        t = y_true.astype(str)
    return _classification_analysis(t, p, max_classes)


def _regression_analysis(y_true: np.ndarray, y_pred: np.ndarray) -> dict:
    resid = y_pred - y_true
    order = np.argsort(y_true, kind="stable")
    segments = []
    for q, rows in enumerate(np.array_split(order, min(4, len(order)))):
        segments.append(
            {
                "segment": f"target quartile {q + 1}",
                "target_range": [round(float(y_true[rows].min()), 4), round(float(y_true[rows].max()), 4)],
                "mean_error": round(float(resid[rows].mean()), 4),
                "rmse": round(float(np.sqrt((resid[rows] ** 2).mean())), 4),
            }
        )
    segments.sort(key=lambda seg: -seg["rmse"])
    return {
        "kind": "regression",
        "residual_mean": round(float(resid.mean()), 4),
        "residual_std": round(float(resid.std()), 4),
        "abs_error_p50_p90_max": [round(float(v), 4) for v in np.quantile(np.abs(resid), [0.5, 0.9, 1.0])],
        "worst_segments": segments[:3],
    }


def _classification_analysis(t: np.ndarray, p: np.ndarray, max_classes: int) -> dict:
    classes, support = np.unique(t, return_counts=True)
    ranked = classes[np.argsort(-support, kind="stable")]
    per_class = []
    for c in ranked[:max_classes]:
        is_t, is_p = t == c, p == c
        tp, predicted, actual = int((is_t & is_p).sum()), int(is_p.sum()), int(is_t.sum())
        per_class.append(
            {
                "class": str(c),
                "support": actual,
                "precision": round(tp / predicted, 4) if predicted else 0.0,
                "recall": round(tp / actual, 4) if actual else 0.0,
            }
        )
    wrong = t != p
    pairs, counts = np.unique(np.char.add(np.char.add(t[wrong], "\x1f"), p[wrong]), return_counts=True)
    top = np.argsort(-counts, kind="stable")[:5]
    confused = [pairs[i].split("\x1f") + [int(counts[i])] for i in top]
    return {
        "kind": "classification",
        "accuracy_at_argmax": round(float((~wrong).mean()), 4),
        "per_class": per_class,
        "classes_not_shown": max(0, len(classes) - max_classes),
        "most_confused": [{"true": a, "predicted": b, "count": n} for a, b, n in confused],
    }


def _read_view(d: Mapping[str, Any]) -> Mapping[str, Any]:
    """Typed diagnostics as a read-only dict of their fields, each part its own field dict (no
    copy, none of the mapping protocol's cost); a plain dict as it is."""
    if not isinstance(d, Diagnostics):
        return d
    view = dict(vars(d))
    for key in Diagnostics._PARTS:
        if view[key] is not None and not isinstance(view[key], dict):
            view[key] = vars(view[key])
    return view


def render_feedback(d: Mapping[str, Any], detail: str = "full") -> str:
    """Markdown for a prompt. ``detail``: ``full``, ``standard`` (no error analysis or warnings)
    or ``minimal`` (status and scores only): the diagnostics-richness ablation."""
    d = _read_view(d)
    score = d.get("dev_score")
    best = d.get("best_dev_score")
    lines = [f"## Step result: `{d['status']}`"]
    lines.append(f"- dev score: {score if score is not None else 'n/a'} (best so far: {best if best is not None else 'n/a'}"
                 f"{', new best' if d.get('is_best') else ''}; {d.get('metric', '')}, {'higher' if d.get('higher_is_better') else 'lower'} is better)")
    if detail == "minimal":
        return "\n".join(lines)
    patch = d.get("patch") or {}
    if patch:
        if patch.get("applied"):
            lines.append(f"- patch: applied ({patch.get('strategy')}) to {', '.join(patch.get('files') or []) or 'no files'}")
        elif patch.get("error"):
            lines.append(f"- patch: NOT applied: {patch['error']}")
            for hunk in (patch.get("rejected_hunks") or [])[:3]:
                lines.append(f"  - rejected hunk {hunk['hunk']} in {hunk['file']}: expected to find:\n```\n{hunk['expected']}\n```")
    ex = d.get("execution") or {}
    exc = ex.get("exception")
    if ex:
        lines.append(f"- run: return code {ex.get('returncode')}, {ex.get('runtime_s')} s, peak memory {ex.get('peak_memory_mb')} MB")
    if exc:
        where = f"{exc.get('file')}:{exc.get('line')}" if exc.get("file") else "unknown location"
        lines.append(f"- exception: `{exc['type']}: {exc.get('message', '')[:300]}` at {where}")
        if exc.get("source_line"):
            lines.append(f"  - failing line: `{exc['source_line']}`")
    if d.get("reason"):
        lines.append(f"- reason: {d['reason']}")
    sub = d.get("submission") or {}
    if sub and not sub.get("valid", True):
        lines.append(f"- submission invalid: {'; '.join(sub.get('problems') or [])}")
    if detail == "full":
        for w in (d.get("warnings") or [])[:3]:
            lines.append(f"- warning ({w['count']}x): {w['category']}: {w['message'][:200]}")
        ea = d.get("error_analysis")
        if ea and ea.get("kind") == "classification":
            weak = sorted(ea["per_class"], key=lambda c: c["recall"])[:3]
            lines.append("- weakest classes (recall): " + ", ".join(f"{c['class']}={c['recall']}" for c in weak))
            if ea["most_confused"]:
                lines.append("- most confused: " + ", ".join(f"{c['true']}->{c['predicted']} ({c['count']})" for c in ea["most_confused"][:3]))
        elif ea and ea.get("kind") == "regression":
            lines.append(f"- residuals: mean {ea['residual_mean']}, std {ea['residual_std']}; worst segment: "
                         + ", ".join(f"{s['segment']} (rmse {s['rmse']})" for s in ea["worst_segments"][:2]))
    if ex and d["status"] != "ok":
        tail = (ex.get("stderr_tail") or ex.get("stderr_head") or ex.get("stdout_tail") or ex.get("stdout_head") or "")[-800:]
        if tail.strip():
            lines.append(f"- output tail:\n```\n{tail.strip()}\n```")
    return "\n".join(lines)
