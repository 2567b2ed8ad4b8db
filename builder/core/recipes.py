"""Read recipe files into typed :class:`Recipe` objects, checking them against the catalog.

Every problem names the file, line and key, what was expected and the closest valid name.
All problems of a file are collected, so a pull request author sees them in one go.
"""

from __future__ import annotations

import errno
import os
import posixpath
import re
import stat
import string
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path, PurePosixPath

from builder.core import values, variants
from builder.core.catalog_model import Catalog
from builder.core.cells import LoadedRecipe
from builder.core.model import RELEASE_PLACEHOLDERS, Recipe, Selector, ValidateSpec
from builder.core.typed import read_document
from builder.core.yamlsafe import MAX_BYTES, Located, load_text
from builder.errors import Problem, RecipeError, SourceLoc, unknown_name

RECIPE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
# The whole file name: a name with any other ending (a newline and a Dockerfile line after
# ".yaml") never becomes a recipe, since the name is shown in cards, Dockerfiles and logs.
RECIPE_FILE = re.compile(rf"{RECIPE_NAME.pattern}\.ya?ml")
# How many recipe files a project may hold, names an axis may list and cells one recipe
# may expand to: each is read, typed and expanded on every run (a catalog has tens of
# chips, engines and quantizations; a 19,000-name axis is an attack, not a matrix).
MAX_RECIPES = 1000
MAX_AXIS = 256
MAX_CELLS_PER_RECIPE = 4096
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


def recipe_files(recipes_dir: Path) -> list[Path]:
    """The recipe files in a directory, sorted by name."""
    return sorted(p for p in recipes_dir.glob("*.y*ml") if p.suffix in (".yaml", ".yml"))


def load_recipe(path: Path, catalog: Catalog, *, display: str | None = None) -> LoadedRecipe:
    """Read and check one recipe; raises :class:`RecipeError` with every problem found."""
    file = display or str(path)
    name = path.stem
    if not RECIPE_FILE.fullmatch(path.name):
        loc = SourceLoc(file=file)
        msg = (
            f"recipe file names must match {RECIPE_NAME.pattern} and end in .yaml or .yml "
            "(they become cell ids)"
        )
        raise RecipeError([Problem(loc=loc, key="", message=msg)])
    data = read_recipe_bytes(path, file)
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
        *values.serve_problems(recipe, catalog),
        *values.gen_kwargs_problems(recipe.validate.accuracy),
        *(("model.description", m) for m in values.description_problems(recipe.model.description)),
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
        if len(names) > MAX_AXIS:
            yield f"matrix.{axis}", f"lists {len(names):,} names; at most {MAX_AXIS} per axis"
            continue
        for i, value in enumerate(names):
            if value not in known[axis]:
                yield f"matrix.{axis}[{i}]", unknown_name(axis, value, known[axis])
        yield from values.axis_problems(names, axis)
    cells = len(recipe.matrix.chip) * len(recipe.matrix.quantization) * len(recipe.matrix.engine)
    if cells + len(recipe.include) > MAX_CELLS_PER_RECIPE:
        message = (
            f"expands to {cells + len(recipe.include):,} cells; at most "
            f"{MAX_CELLS_PER_RECIPE:,} per recipe"
        )
        yield "matrix", message


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


def read_recipe_bytes(path: Path, file: str) -> bytes:
    """The bytes of a recipe file, which must be a regular file (never a symbolic link, a
    device, a FIFO or a socket), read with the size cap enforced while reading: a link to
    an endless device or to a host file is refused before a byte of it is read."""
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        msg = f"cannot read: {os.strerror(exc.errno or 0)}"
        if exc.errno == errno.ELOOP:
            msg = "is a symbolic link; a recipe must be a regular file"
        raise _refused(file, msg) from None
    chunks: list[bytes] = []
    size = 0
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            msg = f"is not a regular file ({_file_kind(info.st_mode)}); a recipe must be one"
            raise _refused(file, msg)
        if info.st_nlink > 1:
            # A hard link is a regular file that is also another file (a host file, when
            # someone could make one); a checkout never makes them.
            msg = f"has {info.st_nlink} hard links; a recipe must be a file of recipes/ only"
            raise _refused(file, msg)
        while size <= MAX_BYTES and (chunk := os.read(fd, MAX_BYTES + 1 - size)):
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        msg = f"cannot read: {os.strerror(exc.errno or 0)}"
        raise _refused(file, msg) from None
    finally:
        os.close(fd)
    if size > MAX_BYTES:
        msg = f"file is larger than {MAX_BYTES // 1024} KiB"
        raise _refused(file, msg, line=1)
    return b"".join(chunks)


def _refused(file: str, message: str, line: int | None = None) -> RecipeError:
    return RecipeError([Problem(loc=SourceLoc(file=file, line=line), key="", message=message)])


def _file_kind(mode: int) -> str:
    kinds = [
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
    ]
    return next((name for test, name in kinds if test(mode)), "not a plain file")


def load_recipes(paths: Sequence[Path], catalog: Catalog, root: Path) -> list[LoadedRecipe]:
    """Load several recipes, reporting the problems of all of them together. Every recipe
    must be a file directly inside the project's recipes/ folder (itself not a link), and
    two files must not define one recipe (``x.yaml`` beside ``x.yml``)."""
    recipes_dir = _lexical(root / "recipes")
    where = SourceLoc(file="recipes/")
    if len(paths) > MAX_RECIPES:
        message = f"{len(paths):,} recipe files; at most {MAX_RECIPES:,} are read"
        raise RecipeError([Problem(loc=where, key="", message=message)])
    if recipes_dir.is_symlink():
        message = "is a symbolic link; recipes must be files of the project's own recipes/"
        raise RecipeError([Problem(loc=where, key="", message=message)])
    loaded: list[LoadedRecipe] = []
    problems: list[Problem] = []
    for path in paths:
        display = f"recipes/{path.name}"
        if _lexical(path).parent != recipes_dir:
            message = f"is not in {recipes_dir}; recipes are read from there only"
            problems.append(Problem(loc=SourceLoc(file=str(path)), key="", message=message))
            continue
        try:
            loaded.append(load_recipe(path, catalog, display=display))
        except RecipeError as exc:
            problems.extend(exc.problems)
    problems.extend(_same_name_problems(loaded))
    if problems:
        raise RecipeError(problems)
    return loaded


def _lexical(path: Path) -> Path:
    """``path`` made absolute without following links (a link must not move a recipe)."""
    return Path(posixpath.normpath(path.absolute()))


def _same_name_problems(loaded: Iterable[LoadedRecipe]) -> Iterable[Problem]:
    """``x.yaml`` and ``x.yml`` are both recipe ``x``: every cell id and folder twice."""
    first: dict[str, LoadedRecipe] = {}
    for recipe in loaded:
        other = first.setdefault(recipe.name, recipe)
        if other is not recipe:
            message = (
                f"recipe {recipe.name} is also defined by {other.file}; cell ids and out/ "
                "folders would collide: remove or rename one"
            )
            yield Problem(loc=recipe.loc(""), key="", message=message)
