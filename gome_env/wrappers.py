"""Wrappers: record trajectories as JSONL for later training or analysis."""

from __future__ import annotations

import json
import time
from pathlib import Path

import gymnasium as gym

from gome_env.records import plain

__all__ = ["RecordTrajectory"]


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
            handle.write(json.dumps(plain(record, unknown=str)) + "\n")

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        self._episode += 1
        self._write({"event": "reset", "episode": self._episode, "time": time.time(), "diagnostics": plain(info.get("diagnostics"))})
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
                "diagnostics": plain(info.get("diagnostics")),
                "final": plain(info.get("final")),
            }
        )
        return obs, reward, terminated, truncated, info
