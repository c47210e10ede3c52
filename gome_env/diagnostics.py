"""Structured diagnostics: what ran, what failed and why, the dev score, and an error analysis.

Everything here is a pure function of a run's outputs, so it is easy to test and to read. The
result is a small JSON-serialisable dict (``info["diagnostics"]``) and a concise markdown
rendering of it (``obs["feedback"]``) ready for a prompt.
"""

from __future__ import annotations

import ast
import re

import numpy as np
import pandas as pd

from gome_env.task import TaskSpec

__all__ = ["STATUSES", "parse_exception", "extract_warnings", "error_analysis", "render_feedback", "check_syntax", "head_tail"]

STATUSES = ("ok", "patch_failed", "syntax_error", "runtime_error", "timeout", "memory_exceeded", "invalid_submission")
SHOWN_CHARS = 2500  # of output shown at each end, as AIDE does

_FRAME_RE = re.compile(r'^  File "(?P<file>[^"]+)", line (?P<line>\d+)(?:, in (?P<func>.+))?$')
_EXC_RE = re.compile(r"^(?P<type>[A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning|Fault)?)(?::\s?(?P<msg>.*))?$")
_WARNING_RE = re.compile(r"^(?:(?P<file>[^:\n]+):(?P<line>\d+): )?(?P<cat>\w*Warning): (?P<msg>.+)$", re.M)


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
    merged = answers.merge(submission, on=idc, suffixes=("_true", ""))
    y_true = merged[f"{spec.target}_true"] if f"{spec.target}_true" in merged else merged[spec.target]
    kind = spec.metric.kind
    if kind == "value":
        y_pred = merged[spec.prediction_columns[0]].astype(float)
        resid = y_pred.to_numpy() - y_true.astype(float).to_numpy()
        quantiles = pd.qcut(y_true.astype(float).rank(method="first"), q=min(4, len(merged)), labels=False)
        segments = []
        for q in sorted(set(quantiles)):
            mask = (quantiles == q).to_numpy()
            segments.append(
                {
                    "segment": f"target quartile {int(q) + 1}",
                    "target_range": [round(float(y_true[mask].min()), 4), round(float(y_true[mask].max()), 4)],
                    "mean_error": round(float(resid[mask].mean()), 4),
                    "rmse": round(float(np.sqrt((resid[mask] ** 2).mean())), 4),
                }
            )
        segments.sort(key=lambda s: -s["rmse"])
        return {
            "kind": "regression",
            "residual_mean": round(float(resid.mean()), 4),
            "residual_std": round(float(resid.std()), 4),
            "abs_error_p50_p90_max": [round(float(v), 4) for v in np.quantile(np.abs(resid), [0.5, 0.9, 1.0])],
            "worst_segments": segments[:3],
        }
    if kind == "probability" and len(spec.prediction_columns) > 1:
        probs = merged[list(spec.prediction_columns)].astype(float)
        y_pred = probs.idxmax(axis=1).astype(str)
    elif kind == "probability":
        y_pred = (merged[spec.prediction_columns[0]].astype(float) >= 0.5).astype(int).astype(str)
    else:
        y_pred = merged[spec.prediction_columns[0]].astype(str)
    t = y_true.astype(str).to_numpy()
    if kind == "probability" and len(spec.prediction_columns) == 1:
        t = pd.Series(y_true).astype(float).astype(int).astype(str).to_numpy()
    p = y_pred.to_numpy()
    classes = pd.Series(t).value_counts().index.tolist()
    per_class = []
    for c in classes[:max_classes]:
        tp = int(((t == c) & (p == c)).sum())
        predicted, actual = int((p == c).sum()), int((t == c).sum())
        per_class.append(
            {
                "class": c,
                "support": actual,
                "precision": round(tp / predicted, 4) if predicted else 0.0,
                "recall": round(tp / actual, 4) if actual else 0.0,
            }
        )
    confused = pd.Series(list(zip(t[t != p], p[t != p]))).value_counts().head(5)
    return {
        "kind": "classification",
        "accuracy_at_argmax": round(float((t == p).mean()), 4),
        "per_class": per_class,
        "classes_not_shown": max(0, len(classes) - max_classes),
        "most_confused": [{"true": a, "predicted": b, "count": int(n)} for (a, b), n in confused.items()],
    }


def render_feedback(d: dict, detail: str = "full") -> str:
    """Markdown for a prompt. ``detail``: ``full``, ``standard`` (no error analysis or warnings)
    or ``minimal`` (status and scores only): the diagnostics-richness ablation."""
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
