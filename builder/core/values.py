"""Checks on recipe values that a pattern alone cannot make: engine arguments against the
engines they are for, host paths inside any argument value, generation arguments, and the
card's description. Each returns ``(key path, message)`` pairs; :mod:`builder.core.recipes`
turns them into located problems.
"""

from __future__ import annotations

import posixpath
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import PurePosixPath

from builder.core.catalog_model import Catalog
from builder.core.engines import REGISTRY as ENGINES
from builder.core.engines import EngineModule, argument_problems
from builder.core.model import GEN_KWARGS, AccuracySpec, Recipe, ScalarValue
from builder.errors import ConfigError
from builder.text import shown

# A path-like part of a value: a "/" (a host path, or "//host" of a URL) or "~" (a home
# folder) that starts a value or follows any character a path name cannot hold, so
# `name=/x`, `{"k": "/x"}`, `a,/x`, `a+/x`, `file:///x` and `[/x]` are all found; a "/"
# inside a name (`Qwen/Qwen3-8B`, `a/b`) is a relative name, not a host path.
_PATH_PART = re.compile(r"(?:^|(?<=[^A-Za-z0-9_.~/-]))([/~][A-Za-z0-9_.~/-]*)")
# Markdown a description must not hold: images (a remote image is a tracking beacon in
# every page that shows the card), links (``javascript:``), reference definitions.
_CARD_MARKUP = re.compile(r"!\[|\]\(|\]\s*:|\]\[")
_SCHEMES = re.compile(r"(?i)\b(?:javascript|vbscript|data|file)\s*:")
# More engine arguments than any engine has are not a configuration; checking each against
# hundreds of names (with a did-you-mean) would only cost time.
MAX_ARGS = 256
# A line starting "1." or "1)" is an ordered list item.
_LIST_MARKER = re.compile(r"[0-9]{1,9}[.)](?:\s|$)")


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


def gen_kwargs_problems(spec: AccuracySpec) -> Iterator[tuple[str, str]]:
    """Generation arguments are one ``k=v,k=v`` string to lm-eval: values must have the
    type lm-eval reads (and stay inside their pair, which the pattern sees to)."""
    if len(spec.gen_kwargs) > MAX_ARGS:
        yield "validate.accuracy.gen_kwargs", f"sets {len(spec.gen_kwargs):,}; at most {MAX_ARGS}"
        return
    for key, value in sorted(spec.gen_kwargs.items()):
        path = f"validate.accuracy.gen_kwargs.{key}"
        kind = GEN_KWARGS.get(key)
        if kind is None:
            continue
        expected, low, high = kind
        if expected == "int" and (isinstance(value, bool) or not isinstance(value, int)):
            yield path, f"expected an integer, got {shown(value)}"
        elif expected == "float" and (
            isinstance(value, bool) or not isinstance(value, int | float)
        ):
            yield path, f"expected a number, got {shown(value)}"
        elif expected == "bool" and not isinstance(value, bool):
            yield path, f"expected true or false, got {shown(value)}"
        elif expected != "bool" and not low <= float(value) <= high:
            yield path, f"must be between {low:g} and {high:g}, got {shown(value)}"


def description_problems(text: str) -> Iterator[str]:
    """What the description pattern cannot say: no Markdown images or links, no script
    URLs, no leading list marker, no invisible Unicode tag or format characters."""
    if _LIST_MARKER.match(text):
        yield "must not start with a list marker (1. or 1))"
    if _CARD_MARKUP.search(text):
        yield "must not hold Markdown images or links (![..](..), [..](..), [..]: ..)"
    if _SCHEMES.search(text):
        yield "must not hold javascript:, vbscript:, data: or file: links"
    invisible = sorted({f"U+{ord(c):04X}" for c in text if unicodedata.category(c) == "Cf"})
    if invisible:
        yield f"must not hold invisible formatting characters ({', '.join(invisible[:5])})"


def axis_problems(names: Iterable[str], axis: str) -> Iterator[tuple[str, str]]:
    """Names listed twice on one axis (found in one pass: an axis may be long)."""
    seen: set[str] = set()
    reported: set[str] = set()
    for name in names:
        if name in seen and name not in reported:
            reported.add(name)
            yield f"matrix.{axis}", f"{shown(name)} is listed more than once"
        seen.add(name)


# A commit id: what a Hub revision must be for its weights to be the ones validated.
_COMMIT = re.compile(r"[0-9a-f]{40}")


def source_fields(recipe: Recipe) -> Iterator[tuple[str, str]]:
    """(key path, source) for every model source a recipe names: the model's, its
    adapter's and each variant's."""
    yield "model.source", recipe.model.source
    if recipe.model.adapter is not None:
        yield "model.adapter.source", recipe.model.adapter.source
    for name, variant in sorted(recipe.variants.items()):
        if variant.source is not None:
            yield f"variants.{name}.source", variant.source


def unpinned_sources(recipe: Recipe) -> Iterator[tuple[str, str]]:
    """(key path, message) for every Hub source not pinned to a commit: a branch or tag
    (``@main``, ``@v1``) or no revision at all moves when upstream pushes, so the weights
    published may not be the ones validated."""
    for key, source in source_fields(recipe):
        kind, _, rest = source.partition("://")
        if kind not in ("huggingface", "modelscope"):
            continue
        revision = rest.partition("@")[2]
        if is_commit(revision):
            continue
        moving = f"revision {shown(revision)}" if revision else "no revision (the default branch)"
        yield key, f"{shown(source)} names {moving}, which moves; pin a 40-hex commit id"


def is_commit(revision: str) -> bool:
    """Whether a Hub revision is a full commit id (which never moves)."""
    return bool(_COMMIT.fullmatch(revision))
