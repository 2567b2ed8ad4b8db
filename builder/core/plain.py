"""Plain data: stable JSON text and digests, and frozen dataclasses as plain data made once
per object: rendering and content keys ask
for the same catalog entry thousands of times in a large matrix, and ``dataclasses.asdict``
deep-copies on every call.

The results are shared, so callers must not change them (templates run in Jinja's
immutable sandbox; hashing only reads).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

_MAX = 4096
_dicts: dict[int, tuple[object, dict[str, Any]]] = {}
_digests: dict[int, tuple[object, str]] = {}


def dumps(data: object) -> str:
    """Stable JSON text for files: sorted keys, two-space indent, final newline."""
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def digest(data: object) -> str:
    """sha256 of the canonical JSON text of ``data``."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def as_dict(obj: Any) -> dict[str, Any]:
    """``dataclasses.asdict(obj)``, computed once per object (frozen objects only)."""
    hit = _dicts.get(id(obj))
    if hit is not None and hit[0] is obj:
        return hit[1]
    if len(_dicts) >= _MAX:
        _dicts.clear()
    data = dataclasses.asdict(obj)
    # Keeping ``obj`` alive keeps its id from being reused by another object.
    _dicts[id(obj)] = (obj, data)
    return data


def digest_of(obj: Any) -> str:
    """The content digest of a frozen dataclass, computed once per object."""
    hit = _digests.get(id(obj))
    if hit is not None and hit[0] is obj:
        return hit[1]
    if len(_digests) >= _MAX:
        _digests.clear()
    value = digest(as_dict(obj))
    _digests[id(obj)] = (obj, value)
    return value
