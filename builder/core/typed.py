"""Typed reading of plain data into frozen dataclasses, and JSON Schema from the same types.

One description of a recipe (the dataclasses in :mod:`builder.core.model`) drives both the
checks with file/line errors and the JSON Schema editors use, so the two cannot drift.
Field metadata may carry ``doc`` (a description) and ``pattern`` (a regex a string must
match in full: the guard for values that reach shell lines, paths and Dockerfiles).
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

from builder.core.yamlsafe import Data, Located
from builder.errors import Problem, did_you_mean
from builder.text import shown

T = TypeVar("T")

_SCALAR_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}


def _describe(tp: Any) -> str:
    origin = get_origin(tp)
    if tp in _SCALAR_NAMES:
        return _SCALAR_NAMES[tp]
    if tp is type(None):
        return "null"
    if dataclasses.is_dataclass(tp):
        return "a mapping"
    if origin in (list, tuple):
        return "a list"
    if origin is dict:
        return "a mapping"
    if origin in (Union, types.UnionType):
        return " or ".join(_describe(a) for a in get_args(tp))
    return str(tp)


def _type_name(value: Data) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return f"the number {shown(value)}"
    if isinstance(value, str):
        return f"the string {shown(value)}"
    if isinstance(value, list):
        return "a list"
    return "a mapping"


class Reader:
    """Reads one located document, collecting every problem instead of stopping at the first."""

    def __init__(self, doc: Located) -> None:
        self.doc = doc
        self.problems: list[Problem] = []

    def problem(self, path: str, message: str) -> None:
        self.problems.append(Problem(loc=self.doc.loc(path), key=path, message=message))

    def read(
        self,
        tp: Any,
        value: Data,
        path: str,
        pattern: str | None = None,
        value_pattern: str | None = None,
    ) -> Any:
        """``value`` as type ``tp``; on a mismatch, record a problem and return None.

        ``pattern``: what strings (or a mapping's keys) must match; ``value_pattern``: what a
        mapping's string values must match.
        """
        origin = get_origin(tp)
        if origin in (Union, types.UnionType):
            return self._union(tp, value, path, pattern)
        if dataclasses.is_dataclass(tp):
            return self._dataclass(typing.cast(type, tp), value, path)
        if origin in (list, tuple):
            return self._sequence(tp, value, path, pattern)
        if origin is dict:
            return self._mapping(tp, value, path, pattern, value_pattern)
        return self._scalar(tp, value, path, pattern)

    def _union(self, tp: Any, value: Data, path: str, pattern: str | None) -> Any:
        args = get_args(tp)
        if value is None and type(None) in args:
            return None
        for arg in args:
            if arg is not type(None) and _accepts(arg, value):
                return self.read(arg, value, path, pattern)
        self.problem(path, f"expected {_describe(tp)}, got {_type_name(value)}")
        return None

    def _scalar(self, tp: Any, value: Data, path: str, pattern: str | None) -> Any:
        if not _accepts(tp, value):
            self.problem(path, f"expected {_describe(tp)}, got {_type_name(value)}")
            return None
        if tp is float:
            value = float(typing.cast(float, value))
        if pattern is not None and isinstance(value, str) and not re.fullmatch(pattern, value):
            self.problem(path, f"{shown(value)} is not allowed here; it must match {pattern}")
        return value

    def _sequence(self, tp: Any, value: Data, path: str, pattern: str | None) -> Any:
        if not isinstance(value, list):
            self.problem(path, f"expected a list, got {_type_name(value)}")
            return ()
        (item_tp, *_) = get_args(tp)
        items = [self.read(item_tp, v, f"{path}[{i}]", pattern) for i, v in enumerate(value)]
        return tuple(items) if get_origin(tp) is tuple else items

    def _mapping(
        self, tp: Any, value: Data, path: str, key_pattern: str | None, value_pattern: str | None
    ) -> Any:
        """A free-form mapping; for these, a field's ``pattern`` applies to the keys."""
        if not isinstance(value, dict):
            self.problem(path, f"expected a mapping, got {_type_name(value)}")
            return {}
        _, value_tp = get_args(tp)
        for key in value:
            if key_pattern is not None and not re.fullmatch(key_pattern, key):
                self.problem(_join(path, key), f"key {shown(key)} must match {key_pattern}")
        return {k: self.read(value_tp, v, _join(path, k), value_pattern) for k, v in value.items()}

    def _dataclass(self, cls: type, value: Data, path: str) -> Any:
        if not isinstance(value, dict):
            self.problem(path, f"expected a mapping, got {_type_name(value)}")
            return None
        hints = get_type_hints(cls)
        fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
        for key in value:
            if key not in fields:
                hint = did_you_mean(key, fields)
                allowed = ", ".join(fields)
                self.problem(_join(path, key), f"unknown key; expected one of {allowed}{hint}")
        kwargs: dict[str, Any] = {}
        for name, fld in fields.items():
            if name in value:
                pattern = fld.metadata.get("pattern")
                values = fld.metadata.get("value_pattern")
                kwargs[name] = self.read(
                    hints[name], value[name], _join(path, name), pattern, values
                )
            elif _required(fld):
                self.problem(path or name, f"missing required key {name!r}")
        if any(v is None and not _optional(hints[k]) for k, v in kwargs.items()):
            return None
        try:
            return cls(**kwargs)
        except TypeError:
            return None


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _required(fld: dataclasses.Field[Any]) -> bool:
    return fld.default is dataclasses.MISSING and fld.default_factory is dataclasses.MISSING


def _optional(tp: Any) -> bool:
    return get_origin(tp) in (Union, types.UnionType) and type(None) in get_args(tp)


def _accepts(tp: Any, value: Data) -> bool:
    """Whether ``value`` has the right shape for ``tp`` (bool is never an int here)."""
    if tp is bool:
        return isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if tp is str:
        return isinstance(value, str)
    if dataclasses.is_dataclass(tp) or get_origin(tp) is dict:
        return isinstance(value, dict)
    if get_origin(tp) in (list, tuple):
        return isinstance(value, list)
    return False


def read_document(cls: type[T], doc: Located) -> tuple[T | None, list[Problem]]:
    """Read a whole document as ``cls``; returns the object (None if unusable) and problems."""
    reader = Reader(doc)
    obj = reader.read(cls, doc.data, "")
    return (obj if not reader.problems else None), reader.problems


def json_schema(cls: type, *, title: str, schema_id: str) -> dict[str, Any]:
    """A JSON Schema (draft 2020-12) for documents read as ``cls``."""
    definitions: dict[str, Any] = {}
    root = _schema_for(cls, definitions)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": schema_id,
        "title": title,
        **root,
        "$defs": dict(sorted(definitions.items())),
    }


def _schema_for(tp: Any, defs: dict[str, Any]) -> dict[str, Any]:
    origin = get_origin(tp)
    scalar = {str: "string", int: "integer", float: "number", bool: "boolean"}
    if tp in scalar:
        return {"type": scalar[tp]}
    if tp is type(None):
        return {"type": "null"}
    if origin in (Union, types.UnionType):
        return {"anyOf": [_schema_for(a, defs) for a in get_args(tp)]}
    if origin in (list, tuple):
        return {"type": "array", "items": _schema_for(get_args(tp)[0], defs)}
    if origin is dict:
        return {"type": "object", "additionalProperties": _schema_for(get_args(tp)[1], defs)}
    if dataclasses.is_dataclass(tp):
        name = typing.cast(type, tp).__name__
        if name not in defs:
            defs[name] = {}  # placeholder first: recursion-safe
            defs[name] = _object_schema(typing.cast(type, tp), defs)
        return {"$ref": f"#/$defs/{name}"}
    msg = f"no JSON Schema for type {tp!r}"
    raise TypeError(msg)


def _object_schema(cls: type, defs: dict[str, Any]) -> dict[str, Any]:
    hints = get_type_hints(cls)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for fld in dataclasses.fields(cls):
        prop = _schema_for(hints[fld.name], defs)
        if "pattern" in fld.metadata:
            prop = _with_pattern(prop, f"^(?:{fld.metadata['pattern']})$")
        if "value_pattern" in fld.metadata:
            values = _with_pattern(prop["additionalProperties"], _anchored(fld, "value_pattern"))
            prop = {**prop, "additionalProperties": values}
        if "doc" in fld.metadata:
            prop = {"description": fld.metadata["doc"], **prop}
        properties[fld.name] = prop
        if _required(fld):
            required.append(fld.name)
    schema: dict[str, Any] = {"type": "object", "additionalProperties": False}
    if cls.__doc__:
        schema["description"] = " ".join(cls.__doc__.split())
    schema["properties"] = properties
    if required:
        schema["required"] = required
    return schema


def _anchored(fld: dataclasses.Field[Any], key: str) -> str:
    return f"^(?:{fld.metadata[key]})$"


def _with_pattern(prop: dict[str, Any], pattern: str) -> dict[str, Any]:
    """Attach ``pattern`` where the reader applies it: strings, list items, mapping keys."""
    if prop.get("type") == "array":
        return {**prop, "items": _with_pattern(prop["items"], pattern)}
    if prop.get("type") == "object":
        return {**prop, "propertyNames": {"pattern": pattern}}
    if "anyOf" in prop:
        return {"anyOf": [_with_pattern(p, pattern) for p in prop["anyOf"]]}
    if prop.get("type") == "string":
        return {**prop, "pattern": pattern}
    return prop
