"""Wrappers: record trajectories as JSONL for later training or analysis."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Mapping

import gymnasium as gym

__all__ = ["RecordTrajectory"]


def _plain(record: Mapping | None) -> dict | None:
    """An info record (``Diagnostics``, ``FinalReport``) as the plain dict JSON needs."""
    if record is None:
        return None
    return record.to_dict() if hasattr(record, "to_dict") else dict(record)


class RecordTrajectory(gym.Wrapper):
    """Append one JSON line per step (and per reset) to ``path``: the action (diff), the
    diagnostics, the reward, the end flags, ``final`` when the episode ends, and timing."""

    def __init__(self, env: gym.Env, path: str | Path) -> None:
        super().__init__(env)
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._episode = -1

    def _write(self, record: dict) -> None:
        with open(self.path, "a") as handle:
            handle.write(json.dumps(record, default=str) + "\n")

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        self._episode += 1
        self._write({"event": "reset", "episode": self._episode, "time": time.time(), "diagnostics": _plain(info.get("diagnostics"))})
        return obs, info

    def step(self, action):
        start = time.monotonic()
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._write(
            {
                "event": "step",
                "episode": self._episode,
                "time": time.time(),
                "step_wall_s": round(time.monotonic() - start, 4),
                "action": action,
                "reward": reward,
                "terminated": terminated,
                "truncated": truncated,
                "diagnostics": _plain(info.get("diagnostics")),
                "final": _plain(info.get("final")),
            }
        )
        return obs, reward, terminated, truncated, info
