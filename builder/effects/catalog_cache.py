"""A cache of composed catalogs: Hydra composing conf/ and typing each entry is most of the
time of a command that has little else to do (a no-op release, `plan`, a per-cell CI job).

The typed :class:`~builder.core.catalog_model.Catalog` is kept by a key over everything it is made of:
every file under conf/, the overrides, the builder's own source and the Hydra and OmegaConf
versions. A catalog whose files use interpolations (``${...}``, which may read the
environment) is never cached. The cache lives in the user's cache folder
(``$XDG_CACHE_HOME/llm-release-builder``, ``~/.cache`` by default) and is written by the
same user that reads it; set ``BUILDER_CATALOG_CACHE=0`` to bypass it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path

import builder
from builder.core.catalog_model import Catalog
from builder.effects import fs
from builder.errors import OutputError


def cached(conf_dir: Path, overrides: Sequence[str], make: Callable[[], Catalog]) -> Catalog:
    """The catalog ``make()`` composes, from the cache when its inputs are unchanged."""
    if os.environ.get("BUILDER_CATALOG_CACHE") == "0":
        return make()
    key = _key(conf_dir, overrides)
    if key is None:
        return make()
    path = _folder() / f"{key}.pickle"
    try:
        # Our own file in the user's cache folder (see the module docstring).
        found = pickle.loads(path.read_bytes())
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError):
        found = None
    if isinstance(found, Catalog):
        return found
    catalog = make()
    # A cache that cannot be written only costs time.
    with contextlib.suppress(OutputError):
        fs.write_atomic(path, pickle.dumps(catalog, protocol=pickle.HIGHEST_PROTOCOL))
    return catalog


def _folder() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "llm-release-builder" / "catalog"


def _key(conf_dir: Path, overrides: Sequence[str]) -> str | None:
    h = hashlib.sha256()
    h.update(_code_digest().encode())
    for override in overrides:
        if "${" in override:
            return None
        h.update(b"override\0" + override.encode() + b"\0")
    try:
        files = sorted(p for p in conf_dir.resolve().rglob("*") if p.is_file())
        for path in files:
            data = path.read_bytes()
            if b"${" in data:
                return None
            h.update(path.relative_to(conf_dir.resolve()).as_posix().encode() + b"\0")
            h.update(hashlib.sha256(data).digest())
    except OSError:
        return None
    return h.hexdigest()


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
