"""Read recipe files into typed :class:`Recipe` objects, checking them against the catalog.

Every problem names the file, line and key, what was expected and the closest valid name.
All problems of a file are collected, so a pull request author sees them in one go.
"""

from __future__ import annotations

import posixpath
import re
import string
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath

from builder.core import variants
from builder.core.catalog_model import Catalog
from builder.core.cells import LoadedRecipe
from builder.core.model import (
    DENIED_SERVE_ARGS,
    RELEASE_PLACEHOLDERS,
    RESERVED_SERVE_ARGS,
    Recipe,
    Selector,
    ValidateSpec,
)
from builder.core.typed import read_document
from builder.core.yamlsafe import Located, load_text
from builder.errors import Problem, RecipeError, SourceLoc, unknown_name

RECIPE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


def recipe_files(recipes_dir: Path) -> list[Path]:
    """The recipe files in a directory, sorted by name."""
    return sorted(p for p in recipes_dir.glob("*.y*ml") if p.suffix in (".yaml", ".yml"))


def load_recipe(path: Path, catalog: Catalog, *, display: str | None = None) -> LoadedRecipe:
    """Read and check one recipe; raises :class:`RecipeError` with every problem found."""
    file = display or str(path)
    name = path.stem
    if not RECIPE_NAME.fullmatch(name):
        loc = SourceLoc(file=file)
        msg = f"recipe file names must match {RECIPE_NAME.pattern} (they become cell ids)"
        raise RecipeError([Problem(loc=loc, key="", message=msg)])
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RecipeError([Problem(loc=SourceLoc(file=file), key="", message=str(exc))]) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        loc = SourceLoc(file=file, line=data[: exc.start].count(b"\n") + 1)
        message = f"not UTF-8: byte {data[exc.start]:#04x} at offset {exc.start}"
        raise RecipeError([Problem(loc=loc, key="", message=message)]) from None
    return parse_recipe(text, name=name, file=file, catalog=catalog)


def parse_recipe(text: str, *, name: str, file: str, catalog: Catalog) -> LoadedRecipe:
    """Check recipe ``text``; the pure core of :func:`load_recipe`."""
    doc = load_text(text, file)
    if not isinstance(doc.data, dict):
        raise RecipeError([Problem(loc=doc.loc(""), key="", message="expected a mapping")])
    recipe, problems = read_document(Recipe, doc)
    if recipe is None:
        raise RecipeError(problems)
    problems = list(semantic_problems(recipe, doc, catalog))
    if problems:
        raise RecipeError(problems)
    return LoadedRecipe(name=name, file=file, recipe=recipe, locs=doc.locs)


def semantic_problems(recipe: Recipe, doc: Located, catalog: Catalog) -> Iterable[Problem]:
    """Problems a schema cannot see: unknown catalog names, incomplete selectors, templates."""

    def problem(path: str, message: str) -> Problem:
        return Problem(loc=doc.loc(path), key=path, message=message)

    known: dict[str, Mapping[str, object]] = {
        "chip": catalog.chips,
        "quantization": catalog.quantizations,
        "engine": catalog.engines,
    }
    for path, message in (
        *_axis_problems(recipe, known),
        *_selector_problems(recipe, known),
        *_serve_problems(recipe),
    ):
        yield problem(path, message)
    yield from _local_source_problems(recipe.model.source, catalog, doc, "model.source")
    if recipe.model.adapter is not None:
        where = "model.adapter.source"
        yield from _local_source_problems(recipe.model.adapter.source, catalog, doc, where)
    for name, chosen in recipe.variants.items():
        if chosen.source:
            where = f"variants.{name}.source"
            yield from _local_source_problems(chosen.source, catalog, doc, where)
    for path, message in variants.recipe_problems(recipe, catalog):
        yield problem(path, message)
    for i, suite in enumerate(recipe.validate.suites):
        if suite not in catalog.suites:
            yield problem(f"validate.suites[{i}]", unknown_name("suite", suite, catalog.suites))
    for path, message in _range_problems(recipe.validate):
        yield problem(path, message)
    yield from _release_name_problems(recipe.release.name, doc)


def _axis_problems(
    recipe: Recipe, known: Mapping[str, Mapping[str, object]]
) -> Iterable[tuple[str, str]]:
    """(key path, message) for empty axes, unknown names and names listed twice."""
    for axis, names in (
        ("chip", recipe.matrix.chip),
        ("quantization", recipe.matrix.quantization),
        ("engine", recipe.matrix.engine),
    ):
        if not names:
            yield f"matrix.{axis}", "must list at least one name"
        for i, value in enumerate(names):
            if value not in known[axis]:
                yield f"matrix.{axis}[{i}]", unknown_name(axis, value, known[axis])
        for dup in sorted({n for n in names if names.count(n) > 1}):
            yield f"matrix.{axis}", f"{dup!r} is listed more than once"


def _selector_problems(
    recipe: Recipe, known: Mapping[str, Mapping[str, object]]
) -> Iterable[tuple[str, str]]:
    """Selectors (exclude, include, overrides, the reference) must name known cells; include
    and the reference must name a whole cell."""
    selectors: list[tuple[str, Selector]] = [
        *((f"exclude[{i}]", s) for i, s in enumerate(recipe.exclude)),
        *((f"include[{i}]", s) for i, s in enumerate(recipe.include)),
        *((f"overrides[{i}].select", o.select) for i, o in enumerate(recipe.overrides)),
    ]
    if recipe.validate.reference is not None:
        selectors.append(("validate.reference", recipe.validate.reference))
    for path, selector in selectors:
        for axis, value in selector.given().items():
            if value not in known[axis]:
                yield f"{path}.{axis}", unknown_name(axis, value, known[axis])
        if not selector.given():
            yield path, "must name at least one of chip, quantization, engine"
    for path, selector in selectors:
        needs_all = path.startswith("include") or path == "validate.reference"
        missing = [a for a in ("chip", "quantization", "engine") if a not in selector.given()]
        if needs_all and missing and selector.given():
            yield path, f"must name a whole cell; missing {', '.join(missing)}"


def _serve_problems(recipe: Recipe) -> Iterable[tuple[str, str]]:
    """Engine arguments the builder sets itself, or that load code or files of the host."""
    serve_args = [("serve", recipe.serve)]
    serve_args += [(f"overrides[{i}].serve", o.serve) for i, o in enumerate(recipe.overrides)]
    for path, args in serve_args:
        for key in sorted(set(args) & set(RESERVED_SERVE_ARGS)):
            yield f"{path}.{key}", "is set by the builder; a recipe cannot change it"
        for key in sorted(set(args) & set(DENIED_SERVE_ARGS)):
            yield f"{path}.{key}", "loads code or files of the host; not in recipes"


def _local_source_problems(
    source: str, catalog: Catalog, doc: Located, key: str
) -> Iterable[Problem]:
    """A file:// source must lie under one of settings.local_model_roots (set in conf/)."""
    if not source.startswith("file://"):
        return
    path = PurePosixPath(posixpath.normpath(source[len("file://") :]))
    roots = [PurePosixPath(posixpath.normpath(r)) for r in catalog.settings.local_model_roots]
    if not any(path.is_relative_to(root) for root in roots):
        allowed = ", ".join(str(r) for r in roots) or "none"
        message = f"{path} is outside settings.local_model_roots (allowed: {allowed})"
        yield Problem(loc=doc.loc(key), key=key, message=message)


def _range_problems(spec: ValidateSpec) -> Iterable[tuple[str, str]]:
    """Numbers the schema types but cannot bound: sample counts, tolerances, sweep points."""
    accuracy, perf = spec.accuracy, spec.perf
    bounds: list[tuple[str, float | None, float, float]] = [
        ("validate.accuracy.limit", accuracy.limit, 1, 1_000_000),
        ("validate.accuracy.num_fewshot", accuracy.num_fewshot, 0, 64),
        ("validate.accuracy.max_drop", accuracy.max_drop, 0, 1),
        ("validate.accuracy.confidence", accuracy.confidence, 0.5, 0.999),
        ("validate.perf.prompts_per_point", perf.prompts_per_point, 1, 1000),
        ("validate.perf.min_ratio", perf.min_ratio, 0, 1),
        # Fewer than three trials leave no spread to judge a ratio by.
        ("validate.perf.trials", perf.trials, 3, 100),
        ("validate.perf.confidence", perf.confidence, 0.5, 0.999),
    ]
    for i, scenario in enumerate(perf.scenarios):
        bounds.append((f"validate.perf.scenarios[{i}].input_len", scenario.input_len, 1, 1 << 20))
        bounds.append((f"validate.perf.scenarios[{i}].output_len", scenario.output_len, 1, 1 << 20))
    for i, level in enumerate(perf.concurrency):
        bounds.append((f"validate.perf.concurrency[{i}]", level, 1, 4096))
    for path, value, low, high in bounds:
        if value is not None and not low <= value <= high:
            yield path, f"must be between {low:g} and {high:g}, got {value:g}"
    if not accuracy.tasks:
        yield "validate.accuracy.tasks", "must list at least one task"
    if not perf.scenarios:
        yield "validate.perf.scenarios", "must list at least one scenario"
    if not perf.concurrency:
        yield "validate.perf.concurrency", "must list at least one level"


def _release_name_problems(template: str, doc: Located) -> Iterable[Problem]:
    """The release name is a format string with a fixed set of placeholders, nothing more."""
    path = "release.name"
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as exc:
        yield Problem(loc=doc.loc(path), key=path, message=f"invalid name template: {exc}")
        return
    for _, field, spec, conversion in parts:
        if field is None:
            continue
        if field not in RELEASE_PLACEHOLDERS or spec or conversion:
            expected = ", ".join("{" + p + "}" for p in RELEASE_PLACEHOLDERS)
            message = f"unknown placeholder {{{field}}}; expected one of {expected}"
            yield Problem(loc=doc.loc(path), key=path, message=message)


def load_recipes(paths: Iterable[Path], catalog: Catalog, root: Path) -> list[LoadedRecipe]:
    """Load several recipes, reporting the problems of all of them together."""
    loaded: list[LoadedRecipe] = []
    problems: list[Problem] = []
    for path in paths:
        try:
            loaded.append(load_recipe(path, catalog, display=_display(path, root)))
        except RecipeError as exc:
            problems.extend(exc.problems)
    if problems:
        raise RecipeError(problems)
    return loaded


def _display(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)
