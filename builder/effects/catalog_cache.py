"""A cache of composed catalogs: Hydra composing conf/ and typing each entry is most of the
time of a command that has little else to do (a no-op release, `plan`, a per-cell CI job).

The typed :class:`~builder.core.catalog_model.Catalog` is kept by a key over everything it is made of:
every file under conf/, the overrides, the builder's own source and the Hydra and OmegaConf
versions. A catalog whose files use interpolations (``${...}``, which may read the
environment) is never cached. The cache lives in the user's cache folder
(``$XDG_CACHE_HOME/llm-release-builder``, ``~/.cache`` by default); set
``BUILDER_CATALOG_CACHE=0`` to bypass it.

An entry is JSON, never a pickle: anything running as the same user (a model's remote code
during validation) can write that folder, and loading a pickle runs code. An entry records
its key, the digest of every input file and the overrides; it is used only when all of them
match what is on disk now, and when every field has its declared type (it is rebuilt field
by field, never by calling anything the file names). The worst a planted entry can do is
what an edit of conf/ could, and it is checked the same way (:func:`check_references`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import typing
from collections.abc import Callable, Sequence
from dataclasses import asdict, fields, is_dataclass
from functools import cache
from pathlib import Path

import builder
from builder.core.catalog import check_references
from builder.core.catalog_model import Catalog
from builder.effects import fs
from builder.errors import BuilderError, OutputError

FORMAT = 1
# A catalog of every chip, engine and quantization is tens of kilobytes; a larger entry is
# not ours.
MAX_ENTRY_BYTES = 16 << 20


def cached(conf_dir: Path, overrides: Sequence[str], make: Callable[[], Catalog]) -> Catalog:
    """The catalog ``make()`` composes, from the cache when its inputs are unchanged."""
    if os.environ.get("BUILDER_CATALOG_CACHE") == "0":
        return make()
    inputs = _inputs(conf_dir, overrides)
    if inputs is None:
        return make()
    key = hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()
    path = _folder() / f"{key}.json"
    found = _read(path, key, inputs, conf_dir)
    if found is not None:
        return found
    catalog = make()
    entry = {"format": FORMAT, "key": key, "inputs": inputs, "catalog": asdict(catalog)}
    # A cache that cannot be written only costs time.
    with contextlib.suppress(OutputError):
        fs.write_atomic(path, json.dumps(entry, sort_keys=True).encode())
    return catalog


def _read(path: Path, key: str, inputs: dict[str, object], conf_dir: Path) -> Catalog | None:
    """The entry at ``path`` when it is one of ours for exactly these inputs, else None."""
    try:
        with path.open("rb") as stream:
            data = stream.read(MAX_ENTRY_BYTES + 1)
        entry = json.loads(data) if len(data) <= MAX_ENTRY_BYTES else None
    except (OSError, ValueError):
        return None
    if not isinstance(entry, dict) or (entry.get("format"), entry.get("key")) != (FORMAT, key):
        return None
    if entry.get("inputs") != inputs:
        return None
    try:
        catalog: Catalog = _build(Catalog, entry.get("catalog"))
        check_references(catalog, conf_dir)
    except (TypeError, ValueError, BuilderError):
        return None
    return catalog


def _build(kind: object, data: object) -> typing.Any:
    """``data`` (parsed JSON) as a value of type ``kind``: dataclasses field by field, and
    every str, int, float, bool, list and dict checked; TypeError when anything differs."""
    if isinstance(kind, type) and is_dataclass(kind):
        hints = typing.get_type_hints(kind)
        names = {f.name for f in fields(kind)}
        if not isinstance(data, dict) or set(data) != names:
            raise TypeError(kind.__name__)
        return kind(**{name: _build(hints[name], data[name]) for name in names})
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin is list and isinstance(data, list):
        return [_build(args[0], item) for item in data]
    if origin is dict and isinstance(data, dict):
        return {_build(args[0], k): _build(args[1], v) for k, v in data.items()}
    if kind is float and isinstance(data, int | float) and not isinstance(data, bool):
        return float(data)
    if kind in (str, bool) and type(data) is kind:
        return data
    if kind is int and type(data) is int:
        return data
    msg = f"{kind}: {type(data).__name__}"
    raise TypeError(msg)


def _folder() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "llm-release-builder" / "catalog"


def _inputs(conf_dir: Path, overrides: Sequence[str]) -> dict[str, object] | None:
    """What the catalog is made of: the code, the overrides and each conf/ file's digest
    (None when any of them uses interpolations, or conf/ cannot be read)."""
    if any("${" in override for override in overrides):
        return None
    files: dict[str, str] = {}
    try:
        root = conf_dir.resolve()
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            data = path.read_bytes()
            if b"${" in data:
                return None
            files[path.relative_to(root).as_posix()] = hashlib.sha256(data).hexdigest()
    except OSError:
        return None
    return {"code": _code_digest(), "overrides": list(overrides), "files": files}


@cache
def _code_digest() -> str:
    """The builder's source and the versions of what composes and types the catalog."""
    import hydra
    import omegaconf

    h = hashlib.sha256(f"{hydra.__version__}\0{omegaconf.__version__}\0".encode())
    package = Path(builder.__file__).parent
    for path in sorted(package.rglob("*.py")):
        h.update(path.relative_to(package).as_posix().encode() + b"\0")
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()
