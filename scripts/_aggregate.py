"""Tables from run lines: one row per run (``results.csv``), the figures per policy x model
(``summary.csv``) and paired comparisons between policies (``pairs.csv``), aggregated as
MLE-bench does.

**Complete seeds only.** A seed counts for a policy x model only when it has a run (finished or
failed) on every task of the benchmark (the tasks any run in the table covers, or ``tasks``);
the seeds are those any run in the table used.
``incomplete="drop"`` (default) leaves the other seeds out; ``"pad"`` keeps them and counts each
missing run as a failed one (no submission, no medal, percentile 0, normalised score -1). The
summary says which seeds were kept, dropped or padded, with the count of tasks per seed.

**Mean ± SE over tasks.** Each figure is first a rate (or a mean) over the seeds within one task,
then mean ± standard error over the tasks (sample standard deviation / sqrt(tasks); blank with one
task): runs on the same task share its difficulty, so tasks, not runs, are the independent units
(docs/STATISTICS.md). The per-run figures are defined in :mod:`scripts._figures`.

**Paired comparisons.** Two policies with the same model are compared on the (task, seed) runs
both have: each task's mean difference over its seeds, then the mean over tasks with a Student-t
95% interval and p over tasks (:func:`scripts._stats.cluster_mean`), and the tasks won / lost /
tied. Fewer than two tasks, or no variation between them, is "insufficient data" (no interval).
Rates are in percentage points.
"""

from __future__ import annotations

import math
from itertools import combinations
from typing import Iterable, Sequence

import pandas as pd

from scripts._figures import RUN_COLUMNS, RunFigures, direction_of, is_medal, normalised_score, on_scale, run_figures
from scripts._stats import cluster_mean, sem, task_means

__all__ = [
    "FIGURES", "SCORES", "PAIR_FIGURES", "run_table", "complete_seeds", "summary_table", "paired_table",
    "format_summary", "format_pairs", "format_spend", "sem", "normalised_score", "is_medal", "steps_table",
    "RUN_COLUMNS", "split_unconfined", "format_left_out",
]

# (column in the run table, label in the printed table): rates in % of runs, the headline first
FIGURES: list[tuple[str, str]] = [
    ("improved", "improved %"),
    ("any_medal", "any medal %"),
    ("made_valid", "made valid %"),
    ("valid_submission", "valid %"),
    ("above_median", "above median %"),
    ("gold", "gold %"),
    ("silver", "silver %"),
    ("bronze", "bronze %"),
]
# bounded and unbounded scores, as means
SCORES: list[tuple[str, str]] = [("percentile", "percentile"), ("normalised_score", "norm. score"),
                                 ("norm_vs_default", "vs default")]
# what the paired comparisons compare: (column, label, scale)
PAIR_FIGURES: list[tuple[str, str, float]] = [
    ("improved", "improved (pp)", 100.0), ("any_medal", "any medal (pp)", 100.0),
    ("percentile", "percentile", 1.0), ("normalised_score", "norm. score", 1.0),
]
PAIR_COLUMNS = ["status", "n_tasks", "n_runs", "mean_diff", "ci_low", "ci_high", "p", "wins", "losses", "ties",
                "reason"]
NUMERIC = ["percentile", "normalised_score", "norm_vs_default", "default_test_score", "data_drift", "test_score",
           "dev_score", "baseline_test_score", "dev_minus_test",
           "dev_test_gap", "submitted_node", "model_calls", "prompt_tokens", "completion_tokens", "model_s",
           "env_s", "wall_s"]


def run_table(run_lines: Iterable[dict], step_lines: Iterable[dict] | None = None) -> pd.DataFrame:
    """One row per run line (pass the latest line per run key); columns :data:`RUN_COLUMNS`."""
    tokens: dict[tuple[str, str], list[int]] = {}
    for s in step_lines or ():
        t = tokens.setdefault((s.get("run_key"), s.get("attempt")), [0, 0, 0])
        t[0] += int(s.get("prompt_tokens") or 0)
        t[1] += int(s.get("completion_tokens") or 0)
        t[2] += 1
    lines = list(run_lines)
    rows = [run_figures(line, tokens.get((line.get("run_key"), line.get("attempt")))).to_dict() for line in lines]
    frame = pd.DataFrame(rows, columns=RUN_COLUMNS)
    frame["spend"] = [_spend(line) for line in lines]  # equal spend (tokens:N) or step-matched (steps:N)
    frame["token_budget"] = [(line.get("config") or {}).get("token_budget") for line in lines]
    return _typed(frame)


def _spend(line: dict) -> str:
    """The run's budget label (``policies.presets.spend_label``) from its line's config."""
    from policies.presets import spend_label

    config = line.get("config") or {}
    return spend_label(config.get("steps"), config.get("token_budget"))


def split_unconfined(runs: pd.DataFrame, count_unconfined: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(counted, left_out)``: runs whose code ran where it could read the private answers
    (``unconfined``) are left out of the figures unless ``count_unconfined``."""
    if count_unconfined or runs.empty:
        return runs, runs.iloc[0:0]
    mask = runs["unconfined"].fillna(False).astype(bool)
    return runs[~mask].reset_index(drop=True), runs[mask].reset_index(drop=True)


def format_left_out(left_out: pd.DataFrame) -> str:
    """The line that says how many unconfined runs the figures leave out ("" when none)."""
    if left_out.empty:
        return ""
    counts = left_out.groupby(["policy", "model"], dropna=False).size()
    per = ", ".join(f"{policy} / {model}: {n}" for (policy, model), n in counts.items())
    why = "; ".join(sorted({str(w) for w in left_out["unconfined_why"].dropna()})[:2])
    return (f"{len(left_out)} unconfined run(s) left out of these figures ({per}): their code could read the private "
            f"answers ({why or 'subprocess sandbox not running it as another user'}); --count-unconfined counts them")


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    for col in NUMERIC:
        frame[col] = pd.to_numeric(frame[col], errors="coerce")
    return frame.sort_values(["policy", "model", "task", "seed"], kind="stable").reset_index(drop=True)


def _coverage_text(per_seed: dict, n_tasks: int) -> str:
    return " ".join(f"s{seed}:{count}/{n_tasks}" for seed, count in sorted(per_seed.items()))


def complete_seeds(runs: pd.DataFrame, by: Sequence[str] = ("policy", "model"), incomplete: str = "drop",
                   tasks: Iterable[str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(rows, coverage)``: the rows of complete seeds (with padded rows for ``"pad"``), and one
    coverage row per group: ``tasks``, ``tasks_per_seed`` ("s0:2/2 s1:1/2"), the seeds ``kept``,
    ``dropped`` and ``padded``, ``runs_dropped`` and ``runs_padded``."""
    if incomplete not in ("drop", "pad"):
        raise ValueError(f"incomplete must be 'drop' or 'pad', got {incomplete!r}")
    by = list(by)
    expected = sorted(set(tasks) if tasks is not None else set(runs["task"].dropna()))
    runs = runs[runs["task"].isin(expected)]
    all_seeds = sorted(set(runs["seed"].dropna()))
    kept, coverage = [], []
    for keys, group in runs.groupby(by, sort=True, dropna=False):
        keys = keys if isinstance(keys, tuple) else (keys,)
        labels = dict(zip(by, keys))
        per_seed = {seed: set() for seed in all_seeds}  # a seed another group ran counts here too
        per_seed.update({seed: set(g["task"]) for seed, g in group.groupby("seed")})
        full = [s for s, have in per_seed.items() if len(have) == len(expected)]
        partial = [s for s in per_seed if s not in full]
        pads = []
        if incomplete == "pad":
            for seed in partial:
                for task in sorted(set(expected) - per_seed[seed]):
                    pads.append({**RunFigures(policy=None, model=None, task=task, seed=seed, status="missing",
                                              padded=True, error="no run: padded as a failed run").to_dict(),
                                 **labels})
            kept.append(group)
        else:
            kept.append(group[group["seed"].isin(full)])
        if pads:
            kept.append(pd.DataFrame(pads, columns=list(dict.fromkeys([*RUN_COLUMNS, *labels]))))
        coverage.append({**labels, "tasks": len(expected),
                         "tasks_per_seed": _coverage_text({s: len(t) for s, t in per_seed.items()}, len(expected)),
                         "seeds_kept": " ".join(map(str, sorted(full if incomplete == "drop" else per_seed))),
                         "seeds_dropped": " ".join(map(str, sorted(partial))) if incomplete == "drop" else "",
                         "seeds_padded": " ".join(map(str, sorted(partial))) if incomplete == "pad" else "",
                         "runs_dropped": int(group["seed"].isin(partial).sum()) if incomplete == "drop" else 0,
                         "runs_padded": len(pads)})
    kept = [k for k in kept if len(k)]
    rows = pd.concat(kept, ignore_index=True) if kept else runs.iloc[0:0]
    return _typed(rows), pd.DataFrame(coverage)


def _key(keys) -> tuple:
    keys = keys if isinstance(keys, tuple) else (keys,)
    return tuple(str(k) for k in keys)


def summary_table(runs: pd.DataFrame, by: tuple[str, ...] = ("policy", "model"), incomplete: str = "drop",
                  tasks: Iterable[str] | None = None) -> pd.DataFrame:
    """Per group: ``<figure>_mean`` and ``<figure>_sem`` (rates in percent, scores as they are;
    the standard error over tasks of each task's mean over its complete seeds), the coverage
    columns of :func:`complete_seeds`, run and failure counts, ``not_confined`` (runs whose
    sandbox was not bwrap), ``norm_flagged`` (runs without a normalised score), the mean
    dev-minus-test gap and the cost per run."""
    by = list(by)
    if runs.empty:
        return pd.DataFrame(columns=[*by, "runs", "seeds", "tasks", "failed"])
    rows_used, coverage = complete_seeds(runs, by, incomplete, tasks)
    used = {_key(k): g for k, g in rows_used.groupby(by, sort=True, dropna=False)}
    present = {_key(k): g for k, g in runs.groupby(by, sort=True, dropna=False)}
    out = []
    for cov in coverage.to_dict("records"):
        labels = {k: cov[k] for k in by}
        group = used.get(_key(tuple(labels.values())), rows_used.iloc[0:0])
        all_runs = present.get(_key(tuple(labels.values())), runs.iloc[0:0])
        per_seed = group.groupby("seed")
        row = {**labels, "runs": len(group), "seeds": per_seed.ngroups, "failed": int((group["status"] != "ok").sum()),
               "incomplete": incomplete, **{k: v for k, v in cov.items() if k not in by}}
        per_task = group.groupby("task")
        for col, _ in FIGURES:
            rates = per_task[col].mean() * 100.0 if len(group) else pd.Series(dtype=float)
            row[f"{col}_mean"], row[f"{col}_sem"] = float(rates.mean()), sem(rates)
        for col in ("percentile", "normalised_score", "norm_vs_default", "dev_test_gap"):
            means = per_task[col].mean() if len(group) else pd.Series(dtype=float)
            row[f"{col}_mean"], row[f"{col}_sem"] = float(means.mean()), sem(means)
        sandboxes = all_runs["sandbox"].fillna("")
        row["not_confined"] = int(all_runs["unconfined"].fillna(False).astype(bool).sum())
        row["sandboxes"] = " ".join(sorted({s for s in sandboxes if s}))
        row["norm_flagged"] = int((group["norm_flag"].fillna("") != "").sum())
        row["norm_flagged_tasks"] = " ".join(sorted(set(group.loc[group["norm_flag"].fillna("") != "", "task"])))
        row["default_flagged"] = int((group["default_flag"].fillna("") != "").sum())
        row["default_flagged_tasks"] = " ".join(sorted(set(group.loc[group["default_flag"].fillna("") != "", "task"])))
        row["spend"] = " ".join(sorted({str(v) for v in all_runs.get("spend", pd.Series(dtype=str)).dropna()}))
        row["steps_mean"] = float(group["steps"].mean())
        row["tokens_mean"] = float((group["prompt_tokens"].fillna(0) + group["completion_tokens"].fillna(0)).mean())
        for col in ("model_calls", "model_s", "env_s", "wall_s"):
            row[f"{col}_mean"] = float(group[col].mean())
        out.append(row)
    return pd.DataFrame(out)


def paired_table(runs: pd.DataFrame, by: Sequence[str] = ("model",), figures=PAIR_FIGURES,
                 incomplete: str = "drop", tasks: Iterable[str] | None = None) -> pd.DataFrame:
    """Every pair of policies (alphabetical: ``a`` before ``b``) within each ``by`` group, on the
    (task, seed) runs both have among their complete seeds: ``status`` ("ok" or "insufficient"),
    ``n_tasks``, ``n_runs``, ``mean_diff`` of a - b (mean over tasks of each task's mean),
    ``ci_low``/``ci_high`` and ``p`` (Student t over tasks), ``wins``/``losses``/``ties`` (tasks)
    and ``reason`` (why insufficient)."""
    by = list(by)
    columns = [*by, "a", "b", "figure", *PAIR_COLUMNS]
    if runs.empty:
        return pd.DataFrame(columns=columns)
    used, _ = complete_seeds(runs, ["policy", *by], incomplete, tasks)
    out = []
    for keys, group in used.groupby(by, sort=True):
        keys = keys if isinstance(keys, tuple) else (keys,)
        for a, b in combinations(sorted(group["policy"].unique()), 2):
            left = group[group["policy"] == a].set_index(["task", "seed"])
            right = group[group["policy"] == b].set_index(["task", "seed"])
            units = left.index.intersection(right.index).sort_values()
            for col, label, scale in figures:
                xa = left.loc[units, col].astype(float).to_numpy() * scale
                xb = right.loc[units, col].astype(float).to_numpy() * scale
                labels = [str(t) for t, _ in units]
                res = cluster_mean(xa - xb, labels)
                means, _ = task_means(xa - xb, labels)
                wlt = {"wins": int((means > 0).sum()), "losses": int((means < 0).sum()), "ties": int((means == 0).sum())}
                out.append({**dict(zip(by, keys)), "a": a, "b": b, "figure": label, "status": res.status,
                            "n_tasks": res.n_tasks, "n_runs": res.n_runs, "mean_diff": res.estimate,
                            "ci_low": res.ci_low, "ci_high": res.ci_high, "p": res.p, **wlt, "reason": res.reason})
    return pd.DataFrame(out, columns=columns)


def _pm(mean: float, err: float, digits: int = 1) -> str:
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "-"
    if err is None or math.isnan(err):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {err:.{digits}f}"


def _notes(summary: pd.DataFrame, by: Sequence[str]) -> list[str]:
    notes = []
    for row in summary.to_dict("records"):
        name = " / ".join(str(row[c]) for c in by)
        how = f"complete seeds only ({row.get('incomplete', 'drop')}): {name}: tasks per seed {row.get('tasks_per_seed', '')}"
        if row.get("seeds_dropped"):
            how += f"; dropped seed(s) {row['seeds_dropped']} ({row['runs_dropped']} run(s) not counted)"
        if row.get("seeds_padded"):
            how += f"; padded seed(s) {row['seeds_padded']} with {row['runs_padded']} failed run(s)"
        notes.append(how)
        if row.get("default_flagged"):
            notes.append(f"vs default: {name}: {row['default_flagged']} run(s) left out (no default-solution score "
                         f"for the run's pinned data, or the default reaches gold) on {row.get('default_flagged_tasks', '')}")
        if row.get("norm_flagged"):
            notes.append(f"norm. score: {name}: {row['norm_flagged']} run(s) left out (baseline reaches gold, or no "
                         f"baseline test score) on {row.get('norm_flagged_tasks', '')}")
    unconfined = [(" / ".join(str(r[c]) for c in by), r) for r in summary.to_dict("records") if r.get("not_confined")]
    for name, row in unconfined:
        notes.append(f"WARNING: {name}: {row['not_confined']} unconfined run(s) counted (--count-unconfined; "
                     f"sandbox: {row.get('sandboxes', '?')}): their code could read the private answers")
    return notes


def format_summary(summary: pd.DataFrame, by: tuple[str, ...] = ("policy", "model")) -> str:
    """The printed table (mean ± SE over tasks, complete seeds only), then notes on the seeds
    kept, flagged normalised scores and unconfined runs."""
    if summary.empty:
        return "(no finished runs)"
    by = [c for c in by if c in summary.columns]
    out = summary[by].copy()
    if "spend" in summary:
        out["spend"] = summary["spend"]
    out["runs"], out["seeds"], out["failed"] = summary["runs"], summary["seeds"], summary["failed"]
    for col, label in FIGURES:
        out[label] = [_pm(m, s) for m, s in zip(summary[f"{col}_mean"], summary[f"{col}_sem"])]
    for col, label in SCORES:
        out[label] = [_pm(m, s, 3) for m, s in zip(summary[f"{col}_mean"], summary[f"{col}_sem"])]
    if "dev_test_gap_mean" in summary:
        out["dev-test gap"] = [_pm(m, float("nan"), 3) for m in summary["dev_test_gap_mean"]]
    out["tokens/run"] = summary["tokens_mean"].round(0).astype("Int64")
    out["wall s/run"] = summary["wall_s_mean"].round(1)
    notes = _notes(summary, by) if "tasks_per_seed" in summary else []
    notes.insert(0, "± = standard error over tasks (each task's mean over its seeds; blank with one task)")
    return out.to_string(index=False) + ("\n" + "\n".join(notes) if notes else "")


def format_spend(runs: pd.DataFrame) -> str:
    """The tokens each run used (prompt + completion of every call), against its budget, with
    why it stopped: one line per run."""
    if runs.empty:
        return "tokens per run: (no runs)"
    lines = ["tokens used per run (prompt + completion of every model call):"]
    for r in runs.to_dict("records"):
        used = (r.get("prompt_tokens") or 0) + (r.get("completion_tokens") or 0)
        used = 0 if used != used else int(used)  # NaN: no usage recorded
        budget = r.get("token_budget")
        of = f" of {int(budget):,} ({used / budget:.1%})" if budget == budget and budget else ""
        calls = r.get("model_calls")
        calls = "?" if calls is None or calls != calls else int(calls)
        lines.append(f"  {r['policy']} / {r['model']} / {r['task']} / seed {r['seed']}: {used:,} tokens{of}, "
                     f"{calls} calls, {r['steps']} steps, stopped by {r.get('stopped_by') or r.get('status')}  "
                     f"[{r.get('spend', '')}]")
    return "\n".join(lines)


def format_pairs(pairs: pd.DataFrame) -> str:
    """The paired comparisons, one line per (group, pair, figure)."""
    if pairs.empty:
        return "paired comparisons: fewer than two policies on the same runs"
    head = ("paired comparisons (a - b on the same task and seed, averaged within each task, then over tasks; "
            "95% t-interval and p over tasks; tasks won/lost/tied):")
    lines = [head]
    fixed = {"a", "b", "figure", *PAIR_COLUMNS}
    for r in pairs.to_dict("records"):
        group = " / ".join(str(v) for k, v in r.items() if k not in fixed)
        name = f"  {group}: {r['a']} - {r['b']}  {r['figure']}:"
        if not r["n_runs"]:
            lines.append(f"{name} no shared runs")
            continue
        k = 1 if "(pp)" in r["figure"] else 3
        counts = f"tasks={r['n_tasks']} runs={r['n_runs']}  W/L/T {r['wins']}/{r['losses']}/{r['ties']}"
        if r["status"] != "ok":
            lines.append(f"{name} {r['mean_diff']:+.{k}f} (insufficient data: {r['reason']})  {counts}")
            continue
        lines.append(f"{name} {r['mean_diff']:+.{k}f} [{r['ci_low']:+.{k}f}, {r['ci_high']:+.{k}f}]  "
                     f"p={r['p']:.3g}  {counts}")
    return "\n".join(lines)


def steps_table(step_lines: Iterable[dict], run_lines: Iterable[dict]) -> pd.DataFrame:
    """One row per step with cumulative tokens and the run's best dev score so far, normalised as
    the reward is (0 = the baseline's dev score, 1 = the gold threshold; clipped at -1; NaN where
    the baseline reaches gold)."""
    finals = {}
    for line in run_lines:
        record = line.get("record") or {}
        finals[(line["run_key"], line["attempt"])] = (record.get("final") or {}, record.get("tree"))
    rows = []
    cumulative: dict[tuple, int] = {}
    for s in sorted(step_lines, key=lambda s: (s.get("run_key"), s.get("attempt"), s.get("step", 0))):
        ident = (s.get("run_key"), s.get("attempt"))
        final, tree = finals.get(ident, ({}, None))
        used = int(s.get("prompt_tokens") or 0) + int(s.get("completion_tokens") or 0)
        cumulative[ident] = cumulative.get(ident, 0) + used
        best = s.get("best_dev_score")
        gold = (final.get("thresholds") or {}).get("gold")
        base = final.get("baseline_dev_score")
        norm = on_scale(best, base, gold, direction_of(final, tree))
        rows.append({
            "run_key": s.get("run_key"), "policy": s.get("policy"), "model": s.get("model"), "task": s.get("task"),
            "seed": s.get("seed"), "step": s.get("step"), "status": s.get("status"), "kind": s.get("kind"),
            "dev_score": s.get("dev_score"), "best_dev_score": best, "best_normalised": norm,
            "tokens": used, "cumulative_tokens": cumulative[ident],
        })
    return pd.DataFrame(rows)
