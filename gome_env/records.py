"""Typed records that cross module boundaries, readable like the dicts they replace.

Each record is a dataclass (attribute access, a fixed set of fields, ``to_dict()`` for JSON) that
also answers mapping-style reads (``rec["status"]``, ``rec.get(k)``, ``k in rec``, iteration over
its keys, ``dict(rec)``), so code written against the old dicts keeps working.

A record is deliberately *not* a ``dict`` subclass: Gymnasium's vector envs merge plain-dict infos
key by key into arrays (and fail when a key is None in one env and a dict in another), while any
other object is kept whole per env (``infos["diagnostics"][i]``). The price: ``json.dumps(rec)``
raises ``TypeError``; use ``json.dumps(rec.to_dict())`` or ``json.dumps(rec, default=jsonable)``.

``to_dict()`` is every record's serialiser (``as_dict()`` is a deprecated alias, for one release),
and :func:`plain` is the one JSON normaliser (``jsonable`` is it as a ``json.dumps`` hook).
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any, Callable, Iterator

__all__ = ["MappingRecord", "Embedding", "jsonable", "plain", "flat_fields", "flat_dict", "deprecated_as_dict"]


def _record_dict(value: Any) -> dict | None:
    """A record's own plain form: its ``to_dict()`` (a dataclass that has one), else its fields (any
    other dataclass); None for anything else."""
    if isinstance(value, type) or not dataclasses.is_dataclass(value):
        return None
    if callable(getattr(value, "to_dict", None)):
        return value.to_dict()
    return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}


def plain(value: Any, *, nonfinite: Callable[[float], Any] | None = None, unknown: Callable[[Any], Any] | None = None) -> Any:
    """THE JSON normaliser: ``value`` as plain dicts, lists, strings, numbers, booleans and None.

    Records and dataclasses become dicts (through their ``to_dict()`` where they have one),
    mappings dicts (keys JSON cannot take become strings), lists, tuples and sets lists, numpy scalars and arrays Python
    numbers and lists, paths strings. NaN and infinities (not strict JSON) are kept, or passed to
    ``nonfinite`` when given (``str``: ``"nan"``; ``lambda _: None``: null). Any other value is kept
    as it is, or passed to ``unknown`` (e.g. ``repr``) when given."""
    again = lambda v: plain(v, nonfinite=nonfinite, unknown=unknown)  # noqa: E731
    key = lambda k: k if k is None or isinstance(k, (str, int, float)) else str(k)  # noqa: E731  (keys JSON takes)
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return nonfinite(value) if nonfinite is not None and not math.isfinite(value) else value
    record = _record_dict(value)
    if record is not None:
        return {key(k): again(v) for k, v in record.items()}
    if isinstance(value, Mapping):
        return {key(k): again(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [again(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return [again(v) for v in sorted(value, key=repr)]
    if isinstance(value, PurePath):
        return str(value)
    if hasattr(value, "tolist") and type(value).__module__.startswith("numpy"):  # numpy scalars and arrays
        return again(value.tolist())
    return unknown(value) if unknown is not None else value


def jsonable(value: Any, unknown: Callable[[Any], Any] | None = None) -> Any:
    """A ``default=`` for ``json.dumps`` that accepts records, dataclasses, numpy values, paths and
    sets: ``json.dumps(info, default=jsonable)``. Other types raise ``TypeError`` (naming the type)
    unless ``unknown`` converts them (``functools.partial(jsonable, unknown=repr)``)."""
    out = plain(value, unknown=unknown)
    if out is value:
        raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")
    return out


def flat_fields(cls: type) -> list[str]:
    """The field names of a dataclass as :func:`flat_dict` writes them: the fields of each record
    named in ``cls._embedded`` take its place, in their own order."""
    names = []
    for f in dataclasses.fields(cls):
        if f.name in getattr(cls, "_embedded", ()):
            names += flat_fields(_embedded_type(cls, f.name))
        else:
            names.append(f.name)
    return names


def _embedded_type(cls: type, name: str) -> type:
    field = next(f for f in dataclasses.fields(cls) if f.name == name)
    if field.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        return type(field.default_factory())  # type: ignore[misc]
    return type(field.default)


def flat_dict(record: Any) -> dict[str, Any]:
    """A dataclass as one flat dict: its own fields, and the fields of each record it embeds
    (``_embedded``: field names whose record reads as part of this one) in that field's place."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(record):
        value = getattr(record, f.name)
        if f.name in getattr(type(record), "_embedded", ()):
            out.update(flat_dict(value) if dataclasses.is_dataclass(value) else dict(value))
        else:
            out[f.name] = value
    return out


def deprecated_as_dict(self: Any) -> dict:
    """``as_dict()``: the old name of ``to_dict()`` (deprecated; it goes in the next release)."""
    warnings.warn(f"{type(self).__name__}.as_dict() is deprecated: use to_dict()", DeprecationWarning, stacklevel=2)
    return self.to_dict()


def _field_names(cls: type) -> frozenset[str]:
    return frozenset(f.name for f in dataclasses.fields(cls))


class Embedding:
    """Mixin for dataclasses that embed other records (``_embedded``: the names of the fields that
    hold them): an embedded record's fields read, and are set, as the outer record's own
    (``final.medal`` for ``final.rank.medal``; setting one replaces the embedded record, which may
    be frozen). :func:`flat_dict` and :func:`flat_fields` give the flat row."""

    _embedded: tuple[str, ...] = ()

    def __getattr__(self, name: str) -> Any:
        """An embedded record's field, read as this record's own (only called when ``name`` is
        not an attribute of this record)."""
        for holder in type(self)._embedded:
            inner = self.__dict__.get(holder)
            if inner is not None and name in _field_names(type(inner)):
                return getattr(inner, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        for holder in type(self)._embedded:  # an embedded field: a new embedded record (it may be frozen)
            inner = self.__dict__.get(holder)
            if inner is not None and name in _field_names(type(inner)):
                object.__setattr__(self, holder, dataclasses.replace(inner, **{name: value}))
                return
        object.__setattr__(self, name, value)


class MappingRecord(Embedding):
    """Mixin for dataclasses (declare them with ``eq=False``): access by key, as for a dict of the
    fields (``rec[k]``, ``rec.get(k)``, ``k in rec``, iteration, ``rec[k] = v`` and ``update`` for
    existing fields), and ``==`` against another record or a plain dict.

    ``_optional`` names fields that count as absent (``k in rec`` False, ``rec.get(k)`` the
    default, left out of ``to_dict()``) while they are None: keys the old dicts did not always have.
    ``_embedded`` names fields that hold another record whose fields read as this record's own
    (``rec["medal"]``, ``rec.medal`` and a flat ``to_dict()`` for an embedded ``Rank``), so one
    type declares them and every report that shows them embeds it."""

    _optional: tuple[str, ...] = ()

    def _present(self) -> list[str]:
        out: list[str] = []
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            if f.name in self._embedded:
                out += flat_fields(type(getattr(self, f.name)))
            elif not (f.name in self._optional and getattr(self, f.name) is None):
                out.append(f.name)
        return out

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
        if not isinstance(key, str) or key not in (_field_names(type(self)) - set(self._embedded)) | set(self._present()):
            raise KeyError(f"{type(self).__name__} has no field {key!r}")
        setattr(self, key, value)

    def update(self, **fields: Any) -> None:
        """Set several fields by name, as ``dict.update`` would."""
        for key, value in fields.items():
            self[key] = value

    def to_dict(self) -> dict[str, Any]:
        """The record as plain, JSON-serialisable dicts and lists (embedded records flattened)."""
        return {k: plain(v) for k, v in self.items()}

    as_dict = deprecated_as_dict


Mapping.register(MappingRecord)  # isinstance(rec, Mapping) holds; isinstance(rec, dict) does not
