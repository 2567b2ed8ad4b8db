"""Checks on recipe values that a pattern alone cannot make: engine arguments against the
engines they are for. Each returns ``(key path, message)`` pairs; :mod:`builder.core.recipes`
turns them into located problems.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from builder.core.catalog_model import Catalog
from builder.core.engines import REGISTRY as ENGINES
from builder.core.engines import EngineModule, argument_problems
from builder.core.model import Recipe, ScalarValue
from builder.errors import ConfigError

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
    """Engine arguments no engine of theirs takes, of the wrong type, set by the builder, or
    loading code."""
    for path, args, engines in serve_blocks(recipe):
        if len(args) > MAX_ARGS:
            yield path, f"sets {len(args):,} engine arguments; at most {MAX_ARGS}"
            continue
        modules = _modules(engines, catalog)
        for key, message in argument_problems(args, modules):
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
