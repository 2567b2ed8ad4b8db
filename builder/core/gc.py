"""What ``builder gc`` removes: cache entries no current cell refers to.

Pure: the effects layer lists the entries (kind, name, size, when last written) and says
which names the current plan refers to; this decides. ``keep`` keeps that many of the most
recently written unreferenced entries of each kind (a branch switched back to soon finds
its cache).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

KINDS = ("cells", "validation", "render", "variants", "tools")


@dataclass(frozen=True, kw_only=True)
class Entry:
    """One cache entry: a cell's build record, a cached validation or render, a variant,
    a quantizer's tool environment."""

    kind: str
    name: str
    size: int
    mtime: float


def unreferenced(
    entries: Iterable[Entry], referenced: Mapping[str, AbstractSet[str]], keep: int = 0
) -> list[Entry]:
    """The entries to remove, by kind then name: those whose name no current cell refers
    to, less the ``keep`` most recently written of each kind."""
    removable: list[Entry] = []
    for kind in KINDS:
        names = referenced.get(kind, set())
        stale = [e for e in entries if e.kind == kind and e.name not in names]
        stale.sort(key=lambda e: (-e.mtime, e.name))
        removable.extend(sorted(stale[max(keep, 0) :], key=lambda e: e.name))
    return removable


def size_text(size: int) -> str:
    """Bytes as a person reads them: 512 B, 1.5 KiB, 12.0 MiB, 3.2 GiB."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"
