"""What ``scripts/build_leaderboards.py`` reports per task, and the table it writes into ``envs/README.md``."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = ["TaskReport", "readme_table", "write_readme_table", "README", "START", "END"]

README = Path(__file__).resolve().parent.parent / "envs" / "README.md"
START = "<!-- leaderboard table: written by scripts/build_leaderboards.py -->"
END = "<!-- end of leaderboard table -->"


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
    baseline: float | None
    baseline_medal: str
    default: float | None
    default_medal: str
    default_position: int | None
    gold_ref: float | None
    gold_ref_medal: str
    gold_ref_position: int | None
    gold_ref_s: float
    default_s: float
    build_s: float
    ok: bool
    test_rows: int = 0
    total_rows: int = 0

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def band_in_se(self) -> float:
        """How many standard errors separate the bronze and gold thresholds."""
        if not self.test_se or math.isnan(self.test_se):
            return float("nan")
        return abs(self.gold - self.bronze) / self.test_se


def _f(x: float | None) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{x:.5g}" if abs(x) < 100 else f"{x:.1f}"


def readme_table(reports: list[TaskReport]) -> str:
    """The markdown table, with a note per task whose medal bands sit inside the metric's noise."""
    lines = [
        "| id | metric | teams | bronze | silver | gold | test SE | gold-bronze / SE | baseline | default solution (position) | gold reference (position, s) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in reports:
        arrow = "max" if r.higher_is_better else "min"
        lines.append(
            f"| `{r.task}` | {r.metric} ({arrow}) | {r.n} | {_f(r.bronze)} | {_f(r.silver)} | {_f(r.gold)} | {_f(r.test_se)} "
            f"| {r.band_in_se:.1f} | {_f(r.baseline)} {r.baseline_medal} | {_f(r.default)} **{r.default_medal}** ({r.default_position}) "
            f"| {_f(r.gold_ref)} **{r.gold_ref_medal}** ({r.gold_ref_position}, {r.gold_ref_s:.0f} s) |"
        )
    narrow = [r for r in reports if r.band_in_se < 2]
    lines.append("")
    if not narrow:
        lines.append("On every task bronze to gold spans at least two standard errors of the test metric.")
        return "\n".join(lines)
    lines.append(
        "Bronze to gold spans less than two standard errors on the tasks below. The standard error shrinks "
        "with the square root of the test rows, so two standard errors would need the test split shown; "
        "where that exceeds the whole dataset no split can give it, and the test split stays as it is "
        "(a medal there is partly luck, as on a small Kaggle private leaderboard):"
    )
    lines.append("")
    for r in narrow:
        need = int(math.ceil(r.test_rows * (2 / r.band_in_se) ** 2)) if r.band_in_se > 0 else None
        verdict = "more rows than the dataset holds" if need is None or need > r.total_rows else "possible only by shrinking train"
        wanted = f"{need:,}" if need is not None else "infinitely many"
        lines.append(f"- `{r.task}`: {r.band_in_se:.1f} SE with {r.test_rows:,} test rows; two SE need about "
                     f"{wanted} of {r.total_rows:,} rows in all ({verdict}).")
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
