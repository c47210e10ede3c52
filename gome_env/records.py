"""Typed records that cross module boundaries, readable like the dicts they replace.

Each record is a dataclass (attribute access, a fixed set of fields, ``to_dict()`` for JSON) that
also answers mapping-style reads (``rec["status"]``, ``rec.get(k)``, ``k in rec``, iteration over
its keys, ``dict(rec)``), so code written against the old dicts keeps working.

A record is deliberately *not* a ``dict`` subclass: Gymnasium's vector envs merge plain-dict infos
key by key into arrays (and fail when a key is None in one env and a dict in another), while any
other object is kept whole per env (``infos["diagnostics"][i]``). The price: ``json.dumps(rec)``
raises ``TypeError``; use ``json.dumps(rec.to_dict())`` or ``json.dumps(rec, default=jsonable)``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Iterator

__all__ = ["MappingRecord", "jsonable", "plain"]


def plain(value: Any) -> Any:
    """``value`` with every record and dataclass inside turned into plain dicts and lists."""
    if isinstance(value, MappingRecord):
        return value.to_dict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def jsonable(value: Any) -> Any:
    """A ``default=`` for ``json.dumps`` that accepts records: ``json.dumps(info, default=jsonable)``."""
    if isinstance(value, MappingRecord) or (dataclasses.is_dataclass(value) and not isinstance(value, type)):
        return plain(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


class MappingRecord:
    """Mixin for dataclasses (declare them with ``eq=False``): access by key, as for a dict of the
    fields (``rec[k]``, ``rec.get(k)``, ``k in rec``, iteration, ``rec[k] = v`` and ``update`` for
    existing fields), and ``==`` against another record or a plain dict.

    ``_optional`` names fields that count as absent (``k in rec`` False, ``rec.get(k)`` the
    default, left out of ``to_dict()``) while they are None: keys the old dicts did not always have."""

    _optional: tuple[str, ...] = ()

    def _present(self) -> list[str]:
        return [f.name for f in dataclasses.fields(self)  # type: ignore[arg-type]
                if not (f.name in self._optional and getattr(self, f.name) is None)]

    def keys(self) -> list[str]:
        return self._present()

    def values(self) -> list[Any]:
        return [getattr(self, k) for k in self._present()]

    def items(self) -> list[tuple[str, Any]]:
        return [(k, getattr(self, k)) for k in self._present()]

    def __getitem__(self, key: str) -> Any:
        if isinstance(key, str) and key in self._present():
            return getattr(self, key)
        raise KeyError(key)

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key) if isinstance(key, str) and key in self._present() else default

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key in self._present()

    def __iter__(self) -> Iterator[str]:
        return iter(self._present())

    def __len__(self) -> int:
        return len(self._present())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, MappingRecord):
            return self.to_dict() == other.to_dict()
        if isinstance(other, dict):
            return self.to_dict() == plain(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable, like the dicts it replaces

    def __setitem__(self, key: str, value: Any) -> None:
        """Set a field by name (a record has a fixed set of keys: an unknown one is a KeyError)."""
        if not isinstance(key, str) or key not in {f.name for f in dataclasses.fields(self)}:  # type: ignore[arg-type]
            raise KeyError(f"{type(self).__name__} has no field {key!r}")
        setattr(self, key, value)

    def update(self, **fields: Any) -> None:
        """Set several fields by name, as ``dict.update`` would."""
        for key, value in fields.items():
            self[key] = value

    def to_dict(self) -> dict[str, Any]:
        """The record as plain, JSON-serialisable dicts and lists."""
        return {k: plain(v) for k, v in self.items()}

    as_dict = to_dict  # the name some serialisers look for


Mapping.register(MappingRecord)  # isinstance(rec, Mapping) holds; isinstance(rec, dict) does not
