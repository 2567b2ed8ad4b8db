"""The build cache on disk: input-file digests, validation results and rendered cells by key.

Layout under ``settings.cache_dir`` (a folder CI saves and restores as a whole)::

    validation/<validation-key>/validation.json   a reusable validation result (+ engine.log)
    render/<render-key>/                          a cell's finished files, manifest included
    cells/<cell-id>.json                          the last build of a cell: its input parts,
                                                  keys, status and since when

Entries are written atomically and never changed in place, so concurrent jobs (one per cell)
can share one cache folder.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from builder.core.catalog_model import Catalog
from builder.core.keys import InputDigests, suite_paths
from builder.core.plain import dumps
from builder.effects import fs
from builder.errors import OutputError

_GLOB_CHARS = frozenset("*?[")


def input_digests(root: Path, templates_dir: Path, catalog: Catalog) -> InputDigests:
    """Hash the template files and the data files each suite names."""
    return InputDigests(
        templates=_tree_digest(templates_dir),
        suite_data={
            name: _paths_digest(root, suite_paths(suite)) for name, suite in catalog.suites.items()
        },
        calibration=calibration_digest(root),
    )


def calibration_digest(root: Path) -> str:
    """Hash of the project's calibration/ folder (the data recipes may name for quantizers)."""
    return _tree_digest(root / "calibration")


def _tree_digest(folder: Path, root: Path | None = None) -> str:
    files = sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []
    return _files_digest(files, root or folder)


def _files_digest(files: list[Path], root: Path) -> str:
    h = hashlib.sha256()
    for path in files:
        h.update(path.relative_to(root).as_posix().encode() + b"\0")
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def _paths_digest(root: Path, values: list[str]) -> str:
    """Hash the project files named by ``values``; values that name none are ignored."""
    base = root.resolve()
    files: set[Path] = set()
    for value in values:
        if not value or len(value) > 255 or "\n" in value or value.startswith("/"):
            continue
        try:
            if _GLOB_CHARS & set(value):
                matches = list(base.glob(value))
            else:
                path = (base / value).resolve()
                matches = [path] if path.exists() else []
        except (OSError, ValueError):
            continue
        for match in matches:
            resolved = match.resolve()
            if not resolved.is_relative_to(base) or resolved == base:
                continue
            if resolved.is_dir():
                files.update(p for p in resolved.rglob("*") if p.is_file())
            elif resolved.is_file():
                files.add(resolved)
    return _files_digest(sorted(files), base) if files else ""


def load_record(cache_dir: Path, cell_id: str) -> dict[str, Any] | None:
    """The record of the last build of a cell, or None."""
    return fs.read_json(cache_dir / "cells" / f"{cell_id}.json")


def save_record(cache_dir: Path, cell_id: str, record: Mapping[str, Any]) -> None:
    # Not fsynced: a lost record only costs the reuse message (the next run says "build").
    fs.write_atomic(cache_dir / "cells" / f"{cell_id}.json", dumps(record).encode(), durable=False)


def load_validation(cache_dir: Path, key: str) -> tuple[dict[str, Any], dict[str, bytes]] | None:
    """A cached validation result and the files saved with it (engine log, suites' files)."""
    folder = cache_dir / "validation" / key
    data = fs.read_json(folder / "validation.json")
    if data is None:
        return None
    files = {
        p.name: p.read_bytes()
        for p in folder.iterdir()
        if p.is_file() and p.name != "validation.json"
    }
    return data, files


def save_validation(
    cache_dir: Path, key: str, validation: Mapping[str, Any], files: Mapping[str, bytes]
) -> None:
    """Keep a validation and its files; names are flat (no folders)."""
    payload = {"validation.json": dumps(validation).encode(), **files}
    fs.write_dir_atomic(cache_dir / "validation" / key, payload, modes={})


def render_path(cache_dir: Path, key: str) -> Path:
    return cache_dir / "render" / key


def has_render(cache_dir: Path, key: str) -> bool:
    return (render_path(cache_dir, key) / "manifest.json").is_file()


def load_render(cache_dir: Path, key: str) -> dict[str, bytes]:
    """The files of a cached rendered cell, by name."""
    folder = render_path(cache_dir, key)
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def save_render(
    cache_dir: Path, key: str, payload: Mapping[str, bytes], modes: Mapping[str, int]
) -> None:
    # Not fsynced: a render entry is checked against its manifest before it is used.
    fs.write_dir_atomic(render_path(cache_dir, key), payload, modes=modes, durable=False)


def same_files(target: Path, cache_dir: Path, key: str) -> bool:
    """Whether ``target`` already holds the cached render ``key`` (compared by manifest)."""
    try:
        current = (target / "manifest.json").read_bytes()
        cached = (render_path(cache_dir, key) / "manifest.json").read_bytes()
    except OSError:
        return False
    return current == cached


def read_cell_folder(folder: Path) -> dict[str, bytes]:
    """The files of one cell folder, by name (a cell folder is flat)."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def parse_json(files: Mapping[str, bytes], folder: Path) -> dict[str, Any]:
    """validation.json of a cell folder's files."""
    try:
        data = json.loads(files["validation.json"])
    except (KeyError, ValueError):
        data = None
    if not isinstance(data, dict):
        msg = f"{folder}: validation.json is missing or not a JSON object"
        raise OutputError(msg)
    return data


def manifest_problem(files: Mapping[str, bytes]) -> str:
    """Why the files do not match their manifest.json ("" when they do)."""
    try:
        listed = json.loads(files["manifest.json"])["files"]
    except (KeyError, ValueError, TypeError):
        return "manifest.json is missing or has no files list"
    names = set(files) - {"manifest.json"}
    if set(listed) != names:
        return f"files {sorted(names)} do not match the manifest's {sorted(listed)}"
    for name in sorted(names):
        if hashlib.sha256(files[name]).hexdigest() != listed[name].get("sha256"):
            return f"{name} does not match its sha256 in manifest.json"
    return ""


ENGINE_VERSIONS = "engine-versions.json"


def engine_versions(cache_dir: Path) -> dict[str, str]:
    """Engine versions found inside images, by ``<engine> in <image>`` (builder.core.matrix
    names the key); nothing when none was found yet."""
    data = fs.read_json(cache_dir / ENGINE_VERSIONS) or {}
    return {
        str(k): str(v["version"])
        for k, v in data.items()
        if isinstance(v, dict) and v.get("version")
    }


def save_engine_version(cache_dir: Path, key: str, record: Mapping[str, Any]) -> None:
    """Keep the version found for ``key`` (one file; the caller holds the lock on out/)."""
    data = fs.read_json(cache_dir / ENGINE_VERSIONS) or {}
    if data.get(key) != dict(record):
        data[key] = dict(record)
        fs.write_atomic(cache_dir / ENGINE_VERSIONS, dumps(data).encode())
