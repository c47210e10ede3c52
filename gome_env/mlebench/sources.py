"""Where a competition's leaderboard and ``config.yaml`` are found, and what the config names.

MLE-bench keeps both in its package (``mlebench/competitions/<id>/``), not in the data folder.
They are looked up, in order, in: the ``leaderboard=`` CSV path (the leaderboard only); the
``registry=`` folder (laid out like ``mlebench/competitions/``, or a clone of the repository); the
installed ``mlebench`` package; and the competition folder itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Sources", "find_sources", "read_config", "installed_registry_dir"]

LFS_POINTER = b"version https://git-lfs"


@dataclass(frozen=True)
class Sources:
    """What was found for one competition; ``answers``/``sample_submission``/``gold_submission``
    are paths from its config (None when the config does not name them)."""

    leaderboard: Path
    config: Path | None = None
    answers: Path | None = None
    sample_submission: Path | None = None
    gold_submission: Path | None = None
    searched: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict:
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in self.__dict__.items()}


def installed_registry_dir() -> Path | None:
    """``mlebench/competitions`` of the installed ``mlebench`` package, if importable."""
    try:
        from mlebench.registry import registry  # type: ignore[import-not-found]

        return Path(registry.get_competitions_dir())
    except Exception:  # noqa: BLE001 - absent or broken: the lookup goes on
        return None


def _registry_entry(registry: Path, competition_id: str) -> Path:
    """``registry/<id>``, or ``registry/mlebench/competitions/<id>`` for a clone of the repository."""
    for candidate in (registry / competition_id, registry / "mlebench" / "competitions" / competition_id):
        if candidate.is_dir():
            return candidate
    return registry / competition_id


def _check_leaderboard(path: Path) -> Path:
    with open(path, "rb") as handle:
        if handle.read(len(LFS_POINTER)) == LFS_POINTER:
            raise ValueError(
                f"{path} is a Git LFS pointer, not the leaderboard: run `git lfs pull` in the MLE-bench clone"
            )
    return path


def read_config(path: Path) -> dict:
    """A competition's ``config.yaml`` (PyYAML when installed, else a reader for its simple layout)."""
    text = path.read_text()
    try:
        import yaml  # type: ignore[import-untyped]

        return yaml.safe_load(text) or {}
    except ImportError:
        pass
    config: dict = {}
    section: dict | None = None
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith(("#", "-")):
            continue
        key, _, value = line.strip().partition(":")
        value = value.strip().strip("\"'")
        if not line.startswith(" "):
            section = None
            if value:
                config[key] = value
            else:
                section = config.setdefault(key, {})
        elif section is not None and value:
            section[key] = value
    return config


def _data_path(competition_dir: Path, relative: str | None) -> Path | None:
    """A config path (``<id>/prepared/...``, relative to MLE-bench's data folder) under this folder."""
    if not relative:
        return None
    parts = Path(relative).parts
    inside = Path(*parts[1:]) if parts and parts[0] == competition_dir.name else Path(relative)
    return competition_dir / inside


def find_sources(competition_dir: Path, leaderboard: str | Path | None = None, registry: str | Path | None = None) -> Sources:
    """The leaderboard and config of the competition in ``competition_dir`` (see the module docstring)."""
    competition_id = competition_dir.name
    places: list[tuple[str, Path | None]] = []
    if registry is not None:
        places.append((f"registry={registry}", _registry_entry(Path(registry).expanduser(), competition_id)))
    installed = installed_registry_dir()
    places.append(("the installed mlebench package", installed / competition_id if installed else None))
    places.append(("the competition folder", competition_dir))
    searched = [f"leaderboard={leaderboard}" if leaderboard else "leaderboard= (not given)"]
    searched += [f"{name}: {folder / 'leaderboard.csv'}" if folder else f"{name} (not importable)" for name, folder in places]

    board: Path | None = None
    if leaderboard is not None:
        board = Path(leaderboard).expanduser()
        if not board.is_file():
            raise ValueError(f"leaderboard={leaderboard}: no such file")
    config: Path | None = None
    for _, folder in places:
        if folder is None:
            continue
        if board is None and (folder / "leaderboard.csv").is_file():
            board = folder / "leaderboard.csv"
        if config is None and (folder / "config.yaml").is_file():
            config = folder / "config.yaml"
    if board is None:
        raise ValueError(
            f"no leaderboard for {competition_id!r}; looked in: " + "; ".join(searched)
            + ". Pass leaderboard=CSV, or registry=FOLDER (a clone of openai/mle-bench, or a folder laid out like"
            " mlebench/competitions/), or install mlebench, or copy its leaderboard.csv into the competition folder"
        )
    dataset = (read_config(config).get("dataset") or {}) if config else {}
    return Sources(
        leaderboard=_check_leaderboard(board),
        config=config,
        answers=_data_path(competition_dir, dataset.get("answers")),
        sample_submission=_data_path(competition_dir, dataset.get("sample_submission")),
        gold_submission=_data_path(competition_dir, dataset.get("gold_submission")),
        searched=tuple(searched),
    )
