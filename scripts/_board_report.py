"""What ``scripts/build_leaderboards.py`` reports per task, and the table it writes into ``envs/README.md``."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from gome_env.grading.medals import MEDALS

__all__ = ["TaskReport", "readme_table", "new_user_counts", "write_readme_table", "count_range", "README", "START", "END"]

README = Path(__file__).resolve().parent.parent / "envs" / "README.md"
START = "<!-- leaderboard table: written by scripts/build_leaderboards.py -->"
END = "<!-- end of leaderboard table -->"
NEW_USER_NAMES = {"lightgbm": "LightGBM", "random-forest": "random forest", "catboost": "CatBoost", "xgboost": "XGBoost"}  # the table's words


@dataclass
class TaskReport:
    """One task's board: medal bands, the test metric's noise, and where its solution files land."""

    task: str
    metric: str
    higher_is_better: bool
    n: int
    gold: float
    silver: float
    bronze: float
    median: float
    best: float
    test_se: float
    gold_paired_se: float
    default_paired_se: float
    baseline: float | None
    baseline_medal: str
    default: float | None
    default_medal: str
    default_position: int | None
    default_percentile: float
    default_percentile_90: tuple[float, float]  # 5th-95th percentile over resamples of the test rows
    gold_ref: float | None
    gold_ref_medal: str
    gold_ref_position: int | None
    gold_margin: float
    new_user: dict
    new_user_percentile: dict
    gold_ref_s: float
    default_s: float
    build_s: float
    default_ok: bool
    gold_ok: bool
    perfect_gold_line: bool
    test_rows: int = 0
    total_rows: int = 0
    default_ok_share: float = float("nan")  # share of resamples of the test rows on which the default target holds
    gold_ok_share: float = float("nan")  # the same for the gold reference's target

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def band_in_se(self) -> float:
        """How many marginal standard errors separate the bronze and gold thresholds."""
        if not self.test_se or math.isnan(self.test_se):
            return float("nan")
        return abs(self.gold - self.bronze) / self.test_se


def _f(x: float | None) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{x:.5g}" if abs(x) < 100 else f"{x:.1f}"


def _range(pair) -> str:
    low, high = pair
    return "-" if low != low or high != high else f"{low:.2f}-{high:.2f}"


def count_range(shares: list[float], coverage: float = 0.9) -> tuple[float, int, int]:
    """How many of several independent targets hold, when each holds with its own probability
    (a Poisson-binomial count): the expected count and the central ``coverage`` range."""
    dist = np.array([1.0])
    for p in shares:
        dist = np.convolve(dist, [1 - p, p])
    cdf = np.cumsum(dist)
    tail = (1 - coverage) / 2
    low, high = int(np.searchsorted(cdf, tail - 1e-12)), int(np.searchsorted(cdf, 1 - tail - 1e-12))
    return float(np.dot(np.arange(len(dist)), dist)), low, high


def _share(x: float) -> str:
    return "-" if x != x else f"{100 * x:.0f}%"


def _exception(r: TaskReport) -> str | None:
    """Why a task misses a target, in the table's own figures (None when both hold)."""
    out = []
    if not r.default_ok:
        out.append(f"default solution {r.default_medal}, percentile {r.default_percentile:.3f}")
    if not r.gold_ok:
        out.append(f"gold reference {r.gold_ref_medal} (position {r.gold_ref_position}), "
                   f"{_f(r.gold_margin)} past the gold line against a paired SE of {_f(r.gold_paired_se)}")
    return "; ".join(out) or None


def _count_under_resampling(shares: list[float], opening: str) -> str:
    """The count of tasks that hold a target over resamples, when every task has its share."""
    if not shares or any(x != x for x in shares):
        return ""
    expected, low, high = count_range(shares)
    return f"{opening}{expected:.1f} expected, {low}-{high} in 90% of draws)"


def new_user_counts(reports: list[TaskReport]) -> tuple[dict[str, int], dict[str, int]]:
    """Per new-user model: on how many tasks it earns a medal, and gold (a run that failed earns neither)."""
    models = list(reports[0].new_user) if reports else []
    medals = {m: sum(r.new_user[m] in MEDALS for r in reports) for m in models}
    return medals, {m: sum(r.new_user[m] == "gold" for r in reports) for m in models}


def readme_table(reports: list[TaskReport]) -> str:
    """The markdown table of the targets, with a line per task that misses one."""
    lines = [
        "| id | metric | teams | bronze | silver | gold | baseline | default solution: score, medal (percentile; 90% interval; target held) "
        "| gold reference: score, medal (position) | gold margin / paired SE (target held) | new user: "
        + ", ".join(NEW_USER_NAMES.get(m, m) for m in (reports[0].new_user if reports else {})) + " (default settings) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in reports:
        arrow = "max" if r.higher_is_better else "min"
        ratio = r.gold_margin / r.gold_paired_se if r.gold_paired_se and r.gold_paired_se == r.gold_paired_se else float("nan")
        new = ", ".join(f"{r.new_user[m]} ({r.new_user_percentile[m]:.2f})" for m in r.new_user)
        lines.append(
            f"| `{r.task}` | {r.metric} ({arrow}) | {r.n} | {_f(r.bronze)} | {_f(r.silver)} | {_f(r.gold)} "
            f"| {_f(r.baseline)} {r.baseline_medal} | {_f(r.default)} **{r.default_medal}** ({r.default_percentile:.3f}; {_range(r.default_percentile_90)}; {_share(r.default_ok_share)}) "
            f"| {_f(r.gold_ref)} **{r.gold_ref_medal}** ({r.gold_ref_position}) | {_f(r.gold_margin)} / {_f(r.gold_paired_se)} = {ratio:.1f} ({_share(r.gold_ok_share)}) "
            f"| {new} |"
        )
    n = len(reports)
    default_met, gold_met = sum(r.default_ok for r in reports), sum(r.gold_ok for r in reports)
    medals, golds = new_user_counts(reports)
    default_noise = _count_under_resampling([r.default_ok_share for r in reports], " (over resamples of each task's test rows, where the medal lines move too: ")
    gold_noise = _count_under_resampling([r.gold_ok_share for r in reports], " (over the same resamples: ")
    lines += ["", f"Default solution at percentile 0.35-0.60 without a medal: **{default_met} of {n}** tasks{default_noise}. "
              f"Gold reference gold by more than one paired SE: **{gold_met} of {n}**{gold_noise}. "
              f"Gold lines at a perfect score: {sum(r.perfect_gold_line for r in reports)}. "
              "New user (the default template with another family's default settings; the target: no gold, medals on at most a third of the tasks): "
              + "; ".join(f"{NEW_USER_NAMES.get(m, m)} medals on {medals[m]} of {n}, gold on {golds[m]}" for m in medals) + "."]
    misses = [(r.task, _exception(r)) for r in reports if _exception(r)]
    if misses:
        lines += ["", "Tasks that miss a target (the reasons are in the text below the table):", ""]
        lines += [f"- `{task}`: {why}." for task, why in misses]
    return "\n".join(lines)


def write_readme_table(reports: list[TaskReport], readme: Path = README) -> None:
    """Replace the text between the table's markers in ``envs/README.md`` (appended when absent)."""
    text = readme.read_text()
    block = f"{START}\n{readme_table(reports)}\n{END}"
    if START in text and END in text:
        head, rest = text.split(START, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    readme.write_text(text)
