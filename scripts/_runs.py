"""Runs, run keys and the append-only JSONL store behind the benchmark's resume.

Output folder layout (all JSONL files are append-only; one JSON object per line)::

    runs.jsonl              one line per finished run attempt (status "ok" or "failed")
    steps.jsonl             every step of every finished run attempt, tagged with run_key + attempt
    partial/<run_id>.<attempt>.jsonl
                            the steps of a run still in progress, one line per step as it finishes
    partial/*.abandoned     the steps of an attempt that was interrupted (kept for inspection,
                            never counted)
    results.csv/.parquet, summary.csv/.parquet   the tables (rewritten at the end of every command)

Every run line also says what the run was graded against and how it ran: ``pins_sha256`` (the task's
pinned data, ``gome_env.tasks.pins.pins_digest``), ``data_drift`` (prepared files that differed from the
pins: only ever non-zero with ``--allow-drift``), ``default_test_score`` (the task's default solution on
those pins, ``envs/<id>/witnesses.json``; None without one) and ``confinement`` (whether the sandbox
kept the run's code from the private answers, ``gome_env.isolation.confine``); and ``backend``: the served
endpoint a ``--serve`` run reached its model through, None when the run loaded the model itself).

A run is identified by its key ``policy/model/task/seed<s>/<config_hash>``; the hash covers the
budgets and the policy and environment settings, so a changed budget is a different run.

Resume: a run counts as done when runs.jsonl holds a line for its key whose status is "ok".
Failed runs (the episode raised, or it stopped with an error) are retried by the next command.
An interrupted run restarts cleanly from step 0 with a new attempt id; the interrupted attempt's
steps stay in ``partial/`` renamed ``.abandoned`` and never reach steps.jsonl, so no step is
counted twice. Committing a finished attempt appends its run line, then its steps, then deletes
its partial file; ``RunStore.recover`` completes a commit that was cut between those writes.

A run whose worker was lost (``lost: true`` on its run line: a dead worker process or Ray node) is
retried within the same command (``--retries``): the lost attempt is committed as a failed attempt
with the steps it had streamed, and the next attempt starts from step 0. Only the latest attempt
of a run counts (``RunStore.steps``), so the lost attempt's steps are kept but never counted.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import time
import uuid
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Iterable, Iterator

from gome_env.records import jsonable, plain

__all__ = [
    "RunSpec", "RunStore", "SUITES", "resolve_tasks", "make_specs", "read_jsonl", "dumps", "run_facts",
    "check_pins", "OK", "FAILED",
]

OK, FAILED = "ok", "failed"
_JSONABLE = partial(jsonable, unknown=repr)  # numpy values, paths, sets and records; anything else by repr

# Named task suites for --tasks. "smoke" is the embedded default: the two quickest tasks.
SUITES: dict[str, tuple[str, ...] | None] = {
    "smoke": ("digits", "italy-power"),
    "all": None,  # every task folder under envs/
}
MODALITY_SUITES = ("tabular", "image", "text", "time-series")


def resolve_tasks(value: str, envs_dir: Path | None = None) -> list[str]:
    """Task ids from a comma-separated list of ids and suite names (smoke, all, or a modality)."""
    from gome_env.tasks.task import ENVS_DIR, load_spec, task_ids

    folder = Path(envs_dir) if envs_dir else ENVS_DIR
    known = task_ids(folder)
    out: list[str] = []
    for item in (p.strip() for p in value.split(",")):
        if not item:
            continue
        if item in SUITES:
            ids = SUITES[item]
            out.extend(known if ids is None else ids)
        elif item in MODALITY_SUITES:
            out.extend(t for t in known if load_spec(t, folder).modality == item)
        elif item in known:
            out.append(item)
        else:
            raise ValueError(
                f"unknown task or suite {item!r}; tasks: {', '.join(known) or '(none)'}; "
                f"suites: {', '.join([*SUITES, *MODALITY_SUITES])}"
            )
    return list(dict.fromkeys(out))


def check_pins(tasks: Iterable[str], envs_dir: Path | None = None, allow_drift: bool = False) -> dict[str, str | None]:
    """Prepare every task and compare its data with its pins before any run: drift raises
    ``DataDriftError`` (naming the task and the files) unless ``allow_drift``. Returns each task's
    :func:`~gome_env.tasks.pins.pins_digest`."""
    from gome_env.tasks.task import ENVS_DIR, load_spec, pins_digest, prepare

    out = {}
    for task in tasks:
        spec = load_spec(task, Path(envs_dir) if envs_dir else ENVS_DIR)
        prepare(spec, allow_drift=allow_drift)
        out[task] = pins_digest(spec)
    return out


def run_facts(env: Any) -> dict:
    """What a run line records about an environment (see the module docstring)."""
    from gome_env.tasks.task import pins_digest
    from gome_env.tasks.witnesses import current_witnesses

    spec = env.spec_task
    witnesses = current_witnesses(spec)
    return {"pins_sha256": pins_digest(spec), "data_drift": len(env.prepared.pin_mismatches()),
            "default_test_score": witnesses.default_score if witnesses else None,
            "confinement": env.sandbox.confinement(env.workspace).to_dict()}


def _pins_of(spec: "RunSpec") -> str | None:
    """The task's pins digest, for a run that failed before its environment existed."""
    from gome_env.tasks.task import ENVS_DIR, load_spec, pins_digest

    try:
        return pins_digest(load_spec(spec.task, Path(spec.envs_dir) if spec.envs_dir else ENVS_DIR))
    except (OSError, ValueError):
        return None


def dumps(obj: Any) -> str:
    """One JSONL line (no newline); numpy values, paths and sets are converted."""
    return json.dumps(obj, default=_JSONABLE, separators=(",", ":"))


def read_jsonl(path: Path) -> Iterator[dict]:
    """The objects of a JSONL file; a torn line (a writer killed mid-write) is skipped."""
    if not path.exists():
        return
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            line = line.strip()
            if not line:
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(obj, dict):
                yield obj


@dataclass(frozen=True)
class RunSpec:
    """One run: a policy with a model on a task with a seed, under a budget."""

    policy: str
    model: str
    task: str
    seed: int
    steps: int
    time_budget_s: float | None = None
    token_budget: int | None = None
    policy_config: dict = field(default_factory=dict)
    env_config: dict = field(default_factory=dict)
    envs_dir: str | None = None  # where the task folder lives (None: the package's envs/)
    backend: str | None = None  # the spec the worker loads instead of `model` (a served endpoint,
    # `--serve`: openai:URL#NAME); how the run reached its model, not part of its key

    def config(self) -> dict:
        """What the config hash covers."""
        return {
            "steps": self.steps,
            "time_budget_s": self.time_budget_s,
            "token_budget": self.token_budget,
            "policy_config": self.policy_config,
            "env_config": self.env_config,
        }

    @property
    def config_hash(self) -> str:
        return hashlib.sha256(json.dumps(self.config(), sort_keys=True, default=str).encode()).hexdigest()[:10]

    @property
    def key(self) -> str:
        return f"{self.policy}/{self.model}/{self.task}/seed{self.seed}/{self.config_hash}"

    @property
    def run_id(self) -> str:
        """A file-name-safe id: readable prefix plus a hash of the key."""
        slug = re.sub(r"[^A-Za-z0-9]+", "-", f"{self.policy}-{self.model}-{self.task}-s{self.seed}").strip("-")[:80]
        return f"{slug}-{hashlib.sha256(self.key.encode()).hexdigest()[:10]}"

    def labels(self) -> dict:
        return {"run_key": self.key, "run_id": self.run_id, "policy": self.policy, "model": self.model,
                "task": self.task, "seed": self.seed, "config_hash": self.config_hash}

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "RunSpec":
        return cls(**d)


def make_specs(
    policies: Iterable[str],
    models: Iterable[str],
    tasks: Iterable[str],
    seeds: int,
    steps: int,
    time_budget_s: float | None = None,
    token_budget: int | None = None,
    policy_config: dict[str, dict] | None = None,
    env_config: dict | None = None,
    envs_dir: str | None = None,
    first_seed: int = 0,
) -> list[RunSpec]:
    """The grid policy x model x task x seed. ``policy_config`` maps a policy name (or ``"*"``,
    for every policy) to its settings."""
    policy_config = policy_config or {}
    specs = []
    for model in models:
        for seed in range(first_seed, first_seed + seeds):
            for task in tasks:
                for policy in policies:
                    cfg = {**policy_config.get("*", {}), **policy_config.get(policy, {})}
                    specs.append(RunSpec(policy, model, task, seed, steps, time_budget_s, token_budget,
                                         cfg, dict(env_config or {}), envs_dir))
    unique: dict[str, RunSpec] = {}  # a name given twice (--policies gome,gome) is one run, counted once
    for spec in specs:
        unique.setdefault(spec.key, spec)
    return list(unique.values())


class _Appender:
    """Appends whole lines to a file, repairing a torn last line first, with an fsync per write."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists() and path.stat().st_size:
            with open(path, "rb") as handle:
                handle.seek(-1, os.SEEK_END)
                torn = handle.read(1) != b"\n"
            if torn:
                with open(path, "ab") as handle:
                    handle.write(b"\n")

    def write(self, lines: list[str]) -> None:
        if not lines:
            return
        data = ("\n".join(lines) + "\n").encode("utf-8")
        with open(self.path, "ab") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())


class RunStore:
    """The output folder of a benchmark. One process (the driver) writes it."""

    def __init__(self, out: str | Path) -> None:
        self.out = Path(out)
        self.partial_dir = self.out / "partial"
        self.partial_dir.mkdir(parents=True, exist_ok=True)
        self.runs_path = self.out / "runs.jsonl"
        self.steps_path = self.out / "steps.jsonl"
        self._runs = _Appender(self.runs_path)
        self._steps = _Appender(self.steps_path)
        self._partials: dict[tuple[str, str], _Appender] = {}
        self._closed: set[tuple[str, str]] = set()

    # ---------------------------------------------------------------- reading

    def run_lines(self) -> list[dict]:
        return list(read_jsonl(self.runs_path))

    def latest_runs(self) -> dict[str, dict]:
        """The last line per run key (a later success replaces an earlier failure)."""
        latest: dict[str, dict] = {}
        for line in self.run_lines():
            latest[line["run_key"]] = line
        return latest

    def done_keys(self) -> set[str]:
        return {k for k, line in self.latest_runs().items() if line.get("status") == OK}

    def steps(self, committed_only: bool = True) -> list[dict]:
        """Step lines of the attempts that runs.jsonl names as the latest of their run."""
        lines = list(read_jsonl(self.steps_path))
        if not committed_only:
            return lines
        current = {(k, r["attempt"]) for k, r in self.latest_runs().items()}
        return [s for s in lines if (s.get("run_key"), s.get("attempt")) in current]

    # ---------------------------------------------------------------- recovery

    def _partial_path(self, run_id: str, attempt: str) -> Path:
        return self.partial_dir / f"{run_id}.{attempt}.jsonl"

    def recover(self) -> dict[str, int]:
        """Finish commits cut short and set interrupted attempts aside. Returns counts."""
        committed = {(r["run_key"], r["attempt"]) for r in self.run_lines()}
        with_steps = {(s.get("run_key"), s.get("attempt")) for s in read_jsonl(self.steps_path)}
        counts = {"completed_commits": 0, "abandoned": 0}
        for path in sorted(self.partial_dir.glob("*.jsonl")):
            lines = list(read_jsonl(path))
            ident = (lines[0].get("run_key"), lines[0].get("attempt")) if lines else None
            if ident in committed:
                if ident not in with_steps:
                    self._steps.write([dumps(s) for s in lines])
                    counts["completed_commits"] += 1
                path.unlink()
            else:
                path.rename(path.with_suffix(".abandoned"))
                counts["abandoned"] += 1
        return counts

    # ---------------------------------------------------------------- writing

    @staticmethod
    def new_attempt() -> str:
        return uuid.uuid4().hex[:12]

    def append_step(self, spec: RunSpec, attempt: str, step: dict) -> None:
        """Stream one finished step of an attempt in progress to its partial file."""
        ident = (spec.key, attempt)
        if ident in self._closed:  # a late step of an attempt already committed
            return
        appender = self._partials.get(ident)
        if appender is None:
            appender = self._partials[ident] = _Appender(self._partial_path(spec.run_id, attempt))
        appender.write([dumps(_finite(self.step_line(spec, attempt, step)))])

    @staticmethod
    def step_line(spec: RunSpec, attempt: str, step: dict) -> dict:
        return {**spec.labels(), "attempt": attempt, **step}

    def commit(self, spec: RunSpec, attempt: str, result: dict) -> dict:
        """Record a finished attempt: run line, then its steps, then drop its partial file."""
        ident = (spec.key, attempt)
        self._closed.add(ident)
        self._partials.pop(ident, None)
        record = result.get("record")
        steps = result.get("steps") or []
        path = self._partial_path(spec.run_id, attempt)
        if not steps and result.get("lost"):  # the worker died with them: the steps it streamed
            steps = list(read_jsonl(path))
        facts = result.get("facts") or {}
        run_line = {
            **spec.labels(),
            "attempt": attempt,
            "status": result["status"],
            "lost": bool(result.get("lost")),
            "error": result.get("error"),
            "traceback": result.get("traceback"),
            "config": spec.config(),
            "backend": spec.backend,
            "n_steps": len(steps),
            "host": result.get("host") or socket.gethostname(),
            "worker_wall_s": result.get("worker_wall_s"),
            "finished_at": time.time(),
            "pins_sha256": facts.get("pins_sha256") or _pins_of(spec),
            "data_drift": facts.get("data_drift"),
            "default_test_score": facts.get("default_test_score"),
            "confinement": facts.get("confinement"),
            "record": {k: v for k, v in record.items() if k != "steps"} if record else None,
        }
        self._runs.write([dumps(_finite(run_line))])
        self._steps.write([dumps(_finite(self.step_line(spec, attempt, s))) for s in steps])
        if path.exists():
            path.unlink()
        return run_line


def _finite(obj: Any) -> Any:
    """``obj`` as plain JSON with NaN and +-inf floats (not valid JSON) as None."""
    return plain(obj, nonfinite=lambda _: None)
