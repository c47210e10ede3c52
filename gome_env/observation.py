"""The observation: its Gymnasium space and how a node becomes one.

Text fields (``task``, ``code``, ``feedback``) hold printable ASCII only (other characters become
``?``) and are cut to their limits; scores are one-element float arrays, the worst possible value
(+-inf) standing for "none yet".
"""

from __future__ import annotations

import re
import string
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.error import CustomSpaceError
from gymnasium.vector.utils import create_shared_memory

from gome_env.constants import SOLUTION

__all__ = ["CHARSET", "TEXT_LIMITS", "ObservationText", "code_text", "fit_text", "observation_space", "make_observation"]

CHARSET = frozenset(string.printable)
TEXT_LIMITS = {"task": 20_000, "code": 100_000, "feedback": 20_000}


class ObservationText(spaces.Text):
    """``Text`` for the observation's task, code and feedback fields.

    ``AsyncVectorEnv``'s default shared memory cannot carry text: it reads a ``Text`` field once,
    when the vector is built, so every later observation would show stale characters. Vectorising
    this space with shared memory therefore fails loudly (``shared_memory=False`` works)."""


@create_shared_memory.register(ObservationText)
def _no_shared_text(space: ObservationText, n: int = 1, ctx: Any = None) -> None:
    raise CustomSpaceError(
        "gome_env observations hold text (task, code, feedback), which gymnasium's shared memory "
        "reads only once; use AsyncVectorEnv(..., shared_memory=False), or "
        "gym.make_vec(..., vectorization_mode='async', vector_kwargs={'shared_memory': False})"
    )


_OUTSIDE_CHARSET = re.compile("[^" + re.escape("".join(sorted(CHARSET))) + "]")


def fit_text(value: str, field: str) -> str:
    """``value`` in the Text space's charset (others become ``?``), cut to the field's limit."""
    limit = TEXT_LIMITS[field]
    clean = _OUTSIDE_CHARSET.sub("?", value)
    return clean if len(clean) <= limit else clean[: limit - 40] + "\n[... cut to fit the observation ...]\n"


def code_text(files: dict[str, str]) -> str:
    """The observation's ``code``: ``solution.py`` alone, else every file under a ``### path`` header."""
    if list(files) == [SOLUTION]:
        return files[SOLUTION]
    return "\n".join(f"### {path}\n{text}" for path, text in sorted(files.items()))


def observation_space(max_steps: int, n_statuses: int) -> spaces.Dict:
    """The ``Dict`` space of an env with ``max_steps`` steps and ``n_statuses`` statuses."""
    def number(low: float) -> spaces.Box:
        return spaces.Box(low, np.inf, shape=(1,), dtype=np.float64)

    return spaces.Dict(
        {
            "task": ObservationText(TEXT_LIMITS["task"], min_length=0, charset=CHARSET),
            "code": ObservationText(TEXT_LIMITS["code"], min_length=0, charset=CHARSET),
            "feedback": ObservationText(TEXT_LIMITS["feedback"], min_length=0, charset=CHARSET),
            "status": spaces.Discrete(n_statuses),
            "node_id": spaces.Box(0, np.iinfo(np.int64).max, shape=(1,), dtype=np.int64),
            "dev_score": number(-np.inf),
            "best_dev_score": number(-np.inf),
            "runtime_s": number(0),
            "steps_left": spaces.Discrete(max_steps + 1),
            "time_left_s": number(0),
        }
    )


def make_observation(*, task: str, code: str, feedback: str, status: int, node_id: int, dev_score: float | None,
                     best_dev_score: float | None, runtime_s: float, steps_left: int, time_left_s: float,
                     worst: float) -> dict:
    """One observation; a missing score shows as ``worst``."""
    def score(value: float | None) -> np.ndarray:
        return np.array([worst if value is None else value], dtype=np.float64)

    return {
        "task": fit_text(task, "task"),
        "code": fit_text(code, "code"),
        "feedback": fit_text(feedback, "feedback"),
        "status": status,
        "node_id": np.array([node_id], dtype=np.int64),
        "dev_score": score(dev_score),
        "best_dev_score": score(best_dev_score),
        "runtime_s": np.array([runtime_s], dtype=np.float64),
        "steps_left": steps_left,
        "time_left_s": np.array([time_left_s], dtype=np.float64),
    }
