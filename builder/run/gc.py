"""``builder gc``: remove build-cache entries and variants no current cell refers to.

The current cells are the full plan of the project (every recipe, the catalog as composed
with the command's overrides). Kept: each current cell's build record, the validation and
render its record names and its current validation key, and the variant it serves. Runs
under out/'s lock, so it never races a release, and never follows a link (fs).
Tool environments (the quantizers' converters and venvs) are shared by every project of
the user, so they are looked at only with ``tools``: then those no quantizer of this
project's current cells uses are removed too (another project may still want one; it is
made again when needed).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

from builder.core.gc import KINDS, Entry, size_text, unreferenced
from builder.effects import build_cache, fs, variants
from builder.effects.quantizers import REGISTRY as QUANTIZERS
from builder.session import Session


def folders(session: Session, *, tools: bool = False) -> dict[str, Path]:
    """Where each kind of entry lives (the shared tool environments only with ``tools``)."""
    cache = session.cache_dir
    where = {
        "cells": cache / "cells",
        "validation": cache / "validation",
        "render": cache / "render",
        "variants": session.out_dir / ".cache" / "variants",
    }
    if tools:
        where["tools"] = variants.default_tools_dir()
    return where


def tool_names(session: Session) -> set[str]:
    """The tool environments the quantizers of the current cells use (by folder name)."""
    names = set()
    for resolved in session.cells.values():
        conf = resolved.variant.quantizer
        module = QUANTIZERS.get(str(conf["module"])) if conf else None
        name_of = getattr(module, "tool_dir_name", None)
        if name_of is not None:
            names.add(str(name_of(conf)))
    return names


def referenced(session: Session) -> dict[str, set[str]]:
    """The names of the entries current cells refer to, by kind."""
    names: dict[str, set[str]] = {kind: set() for kind in KINDS}
    for cell_id, resolved in session.cells.items():
        names["cells"].add(cell_id)
        names["validation"].add(resolved.keys.validation_key)
        names["variants"].add(resolved.variant.key)
        record = build_cache.load_record(session.cache_dir, cell_id) or {}
        for kind, field in (("validation", "validation_key"), ("render", "render_key")):
            if isinstance(record.get(field), str):
                names[kind].add(record[field])
    names["tools"] = tool_names(session)
    return names


def entries(where: dict[str, Path]) -> Iterator[tuple[Entry, Path]]:
    """Every entry on disk (temporary and recovery siblings left to fs.recover)."""
    for kind, folder in where.items():
        fs.refuse_links(folder)
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            fs.refuse_links(path)
            if path.name.startswith("."):
                continue
            name = path.stem if kind == "cells" else path.name
            size = fs.tree_size(path) if path.is_dir() else path.stat().st_size
            yield Entry(kind=kind, name=name, size=size, mtime=path.stat().st_mtime), path


def collect(session: Session, *, dry_run: bool, keep: int, tools: bool = False) -> Iterator[str]:
    """Remove (or with ``dry_run`` list) what no current cell refers to; lines to print."""
    verb = "would remove" if dry_run else "removed"
    doomed = []
    for entry in sweep(session, dry_run=dry_run, keep=keep, tools=tools):
        doomed.append(entry)
        yield f"{verb} {entry.kind}/{entry.name} ({size_text(entry.size)})"
    total = sum(e.size for e in doomed)
    what = "would free" if dry_run else "freed"
    yield f"{what} {size_text(total)} ({total:,} bytes) in {len(doomed)} entries"


def sweep(session: Session, *, dry_run: bool, keep: int, tools: bool = False) -> Iterator[Entry]:
    """Remove (or with ``dry_run`` only find) what no current cell refers to, one entry at a
    time (each yielded once it is gone), under out/'s lock."""
    where = folders(session, tools=tools)
    with fs.exclusive_lock(session.out_dir):
        found = dict(entries(where))
        paths = {(e.kind, e.name): p for e, p in found.items()}
        for entry in unreferenced(found, referenced(session), keep):
            if not dry_run:
                _remove(paths[(entry.kind, entry.name)])
            yield entry


def _remove(path: Path) -> None:
    fs.refuse_links(path)
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink()
