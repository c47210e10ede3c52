"""Helpers shared by the fixture builders: sizes, tiny PNGs, zips, balanced labels."""

from __future__ import annotations

import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

N, M = 50, 20  # labelled train rows, test rows
WORDS = ["storm", "night", "dream", "house", "sea", "ghost", "road", "fire"]


def png(pixels: np.ndarray) -> bytes:
    """A grayscale 8-bit PNG of ``pixels`` (2-D uint8)."""
    raw = b"".join(b"\x00" + row.tobytes() for row in pixels.astype(np.uint8))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", pixels.shape[1], pixels.shape[0], 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


TINY = png(np.arange(16).reshape(4, 4) * 16)


def put_files(folder: Path, names) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(TINY)


def zip_files(path: Path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def binary(n: int, rng, offset: int = 0) -> np.ndarray:
    """Balanced 0/1 labels in random order (both classes in any sizeable subset)."""
    return rng.permutation((np.arange(n) + offset) % 2)


def texts(rng, n: int) -> list[str]:
    return [" ".join(rng.choice(WORDS, 5)) for _ in range(n)]


def split_rows(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    return frame.iloc[:N].reset_index(drop=True), frame.iloc[N:].reset_index(drop=True)


def onehot(frame: pd.DataFrame, id_col: str, label: str, classes: list[str]) -> pd.DataFrame:
    out = frame[[id_col]].copy()
    for c in classes:
        out[c] = (frame[label] == c).astype(int)
    return out
