"""Content-addressed snapshots: identical content is stored once across all nodes.

Files are cut into chunks at content-defined line boundaries (a line whose hash ends in four zero
bits closes a chunk), so a one-line edit, even one that shifts every later line, creates one new
chunk, not a new copy of the file. A snapshot is a mapping ``path -> tuple of chunk keys``; a
file seen before (in any node) is not chunked again and its snapshots share one key tuple.
"""

from __future__ import annotations

import hashlib
import sys
import zlib

__all__ = ["BlobStore", "Snapshot"]

Snapshot = dict[str, tuple[str, ...]]
_MASK = 0xF  # about one boundary every 16 lines
_MAX_LINES = 64


class BlobStore:
    """An in-memory chunk store with reference-free dedupe (chunks are never deleted)."""

    def __init__(self) -> None:
        self._chunks: dict[str, bytes] = {}
        self._files: dict[bytes, tuple[str, ...]] = {}  # whole-file digest -> its chunk keys

    def _put(self, text: str) -> str:
        data = text.encode()
        key = sys.intern(hashlib.blake2b(data, digest_size=12).hexdigest())
        if key not in self._chunks:
            self._chunks[key] = zlib.compress(data, 6)
        return key

    def put_file(self, text: str) -> tuple[str, ...]:
        digest = hashlib.blake2b(text.encode(), digest_size=16).digest()
        keys = self._files.get(digest)
        if keys is None:
            keys = self._files[digest] = self._chunk(text)
        return keys

    def _chunk(self, text: str) -> tuple[str, ...]:
        keys, chunk, count = [], [], 0
        for line in text.splitlines(keepends=True):
            chunk.append(line)
            count += 1
            if (zlib.crc32(line.encode()) & _MASK) == 0 or count >= _MAX_LINES:
                keys.append(self._put("".join(chunk)))
                chunk, count = [], 0
        if chunk or not keys:
            keys.append(self._put("".join(chunk)))
        return tuple(keys)

    def get_file(self, keys: tuple[str, ...]) -> str:
        return "".join(zlib.decompress(self._chunks[k]).decode() for k in keys)

    def put(self, files: dict[str, str]) -> Snapshot:
        return {path: self.put_file(text) for path, text in sorted(files.items())}

    def get(self, snapshot: Snapshot) -> dict[str, str]:
        return {path: self.get_file(keys) for path, keys in snapshot.items()}

    @property
    def nbytes(self) -> int:
        """Bytes held by the chunks (compressed)."""
        return sum(len(v) for v in self._chunks.values())

    @staticmethod
    def snapshot_nbytes(snapshot: Snapshot) -> int:
        """Bytes a snapshot adds on its own: its paths and chunk keys (as stored, serialised)."""
        return sum(len(path.encode()) + 24 * len(keys) for path, keys in snapshot.items())

    def __len__(self) -> int:
        return len(self._chunks)
