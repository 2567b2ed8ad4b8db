"""Checks on recipe values that a pattern alone cannot make: engine arguments against the
engines they are for, and host paths inside any argument value. Each returns ``(key path, message)`` pairs; :mod:`builder.core.recipes`
turns them into located problems.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import PurePosixPath

from builder.core.catalog_model import Catalog
from builder.core.engines import REGISTRY as ENGINES
from builder.core.engines import EngineModule, argument_problems
from builder.core.model import Recipe, ScalarValue
from builder.errors import ConfigError
from builder.text import shown

# A path-like part of a value: a "/" (a host path, or "//host" of a URL) or "~" (a home
# folder) that starts a value or follows any character a path name cannot hold, so
# `name=/x`, `{"k": "/x"}`, `a,/x`, `a+/x`, `file:///x` and `[/x]` are all found; a "/"
# inside a name (`Qwen/Qwen3-8B`, `a/b`) is a relative name, not a host path.
_PATH_PART = re.compile(r"(?:^|(?<=[^A-Za-z0-9_.~/-]))([/~][A-Za-z0-9_.~/-]*)")
# More engine arguments than any engine has are not a configuration; checking each against
# hundreds of names (with a did-you-mean) would only cost time.
MAX_ARGS = 256


def serve_blocks(recipe: Recipe) -> Iterator[tuple[str, Mapping[str, ScalarValue], list[str]]]:
    """Each set of engine arguments (its key path) with the engines it is for: the recipe's
    ``serve`` goes to every engine of the recipe, an override's to those its selector names."""
    engines = list(
        dict.fromkeys([*recipe.matrix.engine, *(i.engine or "" for i in recipe.include)])
    )
    engines = [e for e in engines if e]
    yield "serve", recipe.serve, engines
    for i, override in enumerate(recipe.overrides):
        chosen = [override.select.engine] if override.select.engine else engines
        yield f"overrides[{i}].serve", override.serve, chosen


def serve_problems(recipe: Recipe, catalog: Catalog) -> Iterator[tuple[str, str]]:
    """Engine arguments no engine of theirs takes, of the wrong type, set by the builder,
    loading code or naming host paths outside ``settings.local_model_roots``."""
    roots = catalog.settings.local_model_roots
    for path, args, engines in serve_blocks(recipe):
        if len(args) > MAX_ARGS:
            yield path, f"sets {len(args):,} engine arguments; at most {MAX_ARGS}"
            continue
        modules = _modules(engines, catalog)
        for key, message in argument_problems(args, modules):
            yield f"{path}.{key}", message
        for key, value in sorted(args.items()):
            for message in host_path_problems(value, roots):
                yield f"{path}.{key}", message


def _modules(engines: Sequence[str], catalog: Catalog) -> dict[str, EngineModule]:
    """Engine name -> its module, for the names the catalog knows (the others are
    reported as unknown engines elsewhere)."""
    found: dict[str, EngineModule] = {}
    for name in engines:
        conf = catalog.engines.get(name)
        if conf is None:
            continue
        try:
            found[name] = ENGINES.get(conf.module or name)
        except ConfigError:
            continue  # the session's plugin check names the conf/ line
    return found


def host_path_problems(value: ScalarValue, roots: Sequence[str]) -> Iterator[str]:
    """A message for each host path (or URL) inside ``value`` that is not under ``roots``:
    ``/etc/x``, ``name=/etc/x``, ``{"path": "/etc/x"}``, ``file:///etc/x``, ``~/.ssh``."""
    if not isinstance(value, str):
        return
    allowed = [PurePosixPath(posixpath.normpath(r)) for r in roots]
    for match in _PATH_PART.finditer(value):
        part = match.group(1)
        if part.startswith("/") and not part.startswith("//"):
            where = PurePosixPath(posixpath.normpath(part))
            if any(where.is_relative_to(root) for root in allowed):
                continue
        listed = ", ".join(str(r) for r in allowed) or "none"
        yield (
            f"{shown(part)} is a host path (or URL) outside settings.local_model_roots "
            f"(allowed: {listed})"
        )
