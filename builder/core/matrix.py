"""Expand recipes into the build matrix: pure data in, a :class:`Plan` out.

Order of rules, as in GitHub Actions: the product of the axes, minus ``exclude`` entries,
plus ``include`` entries; then catalog incompatibilities; then the command-line selection.
Every cell dropped on the way is kept with the rule that dropped it, for ``--explain``.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from builder import __version__
from builder.core.catalog_model import Catalog, EngineConf, QuantizationConf
from builder.core.cells import Cell, Exclusion, LoadedRecipe, Plan, cell_id
from builder.core.engines import engine_module
from builder.core.model import REPO_NAME, Recipe, ScalarValue
from builder.errors import Problem, RecipeError
from builder.text import shown

AXES = ("chip", "quantization", "engine")


@dataclass(frozen=True, kw_only=True)
class Selection:
    """Command-line narrowing (``recipe=a,b chip=metax``); an empty tuple selects all."""

    recipe: tuple[str, ...] = ()
    chip: tuple[str, ...] = ()
    quantization: tuple[str, ...] = ()
    engine: tuple[str, ...] = ()

    def rejects(self, recipe: str, values: Mapping[str, str]) -> str | None:
        """The ``key=value`` that leaves this cell out, or None when it is selected."""
        if self.recipe and recipe not in self.recipe:
            return f"recipe={','.join(self.recipe)}"
        for axis in AXES:
            wanted: tuple[str, ...] = getattr(self, axis)
            if wanted and values[axis] not in wanted:
                return f"{axis}={','.join(wanted)}"
        return None


def expand(
    recipes: Sequence[LoadedRecipe],
    catalog: Catalog,
    selection: Selection,
    probed: Mapping[str, str] | None = None,
) -> Plan:
    """The plan for ``recipes``: cells to build and cells excluded, each sorted by id.

    ``probed``: engine versions found inside images (by :func:`probe_key`), which name the
    cells' image tags where they differ from the catalog's."""
    cells: list[Cell] = []
    excluded: list[Exclusion] = []
    owners: dict[str, LoadedRecipe] = {}
    for loaded in recipes:
        new_cells, new_excluded = _expand_recipe(loaded, catalog, selection, probed or {})
        owners.update((cell.id, loaded) for cell in new_cells)
        cells.extend(new_cells)
        excluded.extend(new_excluded)
    _check_across_recipes(cells, owners)
    return Plan(
        cells=tuple(sorted(cells, key=lambda c: c.id)),
        excluded=tuple(sorted(excluded, key=lambda e: e.id)),
        recipes=tuple(recipes),
    )


def _candidates(recipe: Recipe) -> Iterable[tuple[dict[str, str], int | None]]:
    """Every candidate cell with the index of the exclude entry that drops it (None: kept)."""
    seen: set[tuple[str, str, str]] = set()
    product = itertools.product(
        recipe.matrix.chip, recipe.matrix.quantization, recipe.matrix.engine
    )
    for chip, quant, engine in product:
        seen.add((chip, quant, engine))
        rule = next(
            (i for i, s in enumerate(recipe.exclude) if s.matches(chip, quant, engine)),
            None,
        )
        yield {"chip": chip, "quantization": quant, "engine": engine}, rule
    for inc in recipe.include:
        key = (inc.chip or "", inc.quantization or "", inc.engine or "")
        if key not in seen:
            seen.add(key)
            yield {"chip": key[0], "quantization": key[1], "engine": key[2]}, None


def _expand_recipe(
    loaded: LoadedRecipe, catalog: Catalog, selection: Selection, probed: Mapping[str, str]
) -> tuple[list[Cell], list[Exclusion]]:
    cells, excluded = _cells_of(loaded, catalog, selection, probed)
    _check_unique_releases(loaded, cells)
    return cells, excluded


def _check_unique_releases(loaded: LoadedRecipe, cells: Sequence[Cell]) -> None:
    """Two cells publishing to one repo would overwrite each other: refuse the recipe.

    A filled-in name must also be a repository name: it becomes a path in the container
    (``/models/<name>``), an engine argument and a Hub repository, so ``..`` or ``-x``
    must never come out of a template like ``{quant_suffix}..``.
    """
    owner: dict[str, str] = {}
    for cell in cells:
        if not re.fullmatch(REPO_NAME, cell.release_name):
            message = (
                f"cell {cell.id} would release as {cell.release_name!r}, which is not a "
                f"repository name (it must match {REPO_NAME})"
            )
            raise RecipeError(
                [Problem(loc=loaded.loc("release.name"), key="release.name", message=message)]
            )
        first = owner.setdefault(cell.release_repo, cell.id)
        if first != cell.id:
            message = (
                f"cells {first} and {cell.id} would both release as {cell.release_repo}; "
                "add a placeholder such as {engine} to release.name or drop one cell"
            )
            raise RecipeError(
                [Problem(loc=loaded.loc("release.name"), key="release.name", message=message)]
            )


# What two recipes must never share, with the recipe key it comes from. Hub repositories
# (Hugging Face, ModelScope) and registry image names are case-insensitive: compared folded.
_SHARED_TARGETS = (
    ("release_repo", "release.name", "Hub repository"),
    ("image", "model.name", "image tag"),
)


def _check_across_recipes(cells: Sequence[Cell], owners: Mapping[str, LoadedRecipe]) -> None:
    """Two recipes releasing to one Hub repository or one image tag would overwrite each
    other's release: refuse, naming both files and lines (within one recipe,
    :func:`_check_unique_releases` already has)."""
    problems: list[Problem] = []
    reported: set[tuple[str, str, str]] = set()
    for attribute, key, what in _SHARED_TARGETS:
        first: dict[str, Cell] = {}
        for cell in cells:
            target = str(getattr(cell, attribute))
            other = first.setdefault(target.casefold(), cell)
            pair = (attribute, other.recipe, cell.recipe)
            if other is cell or other.recipe == cell.recipe or pair in reported:
                continue
            reported.add(pair)
            here, there = owners[cell.id].loc(key), owners[other.id].loc(key)
            message = (
                f"cell {cell.id} would release to the same {what} as cell {other.id} of "
                f"{there} ({shown(getattr(other, attribute))}, compared ignoring case); "
                "rename one"
            )
            problems.append(Problem(loc=here, key=key, message=message))
    if problems:
        raise RecipeError(problems)


def _cells_of(
    loaded: LoadedRecipe, catalog: Catalog, selection: Selection, probed: Mapping[str, str]
) -> tuple[list[Cell], list[Exclusion]]:
    recipe = loaded.recipe
    included = {(s.chip, s.quantization, s.engine) for s in recipe.include}
    cells: list[Cell] = []
    excluded: list[Exclusion] = []
    for values, rule in _candidates(recipe):
        triple = (values["chip"], values["quantization"], values["engine"])
        if rule is not None and triple not in included:
            sel = recipe.exclude[rule].given()
            reason = "excluded by " + ", ".join(f"{k}={v}" for k, v in sel.items())
            excluded.append(_exclusion(loaded, values, reason, f"{loaded.file} exclude[{rule}]"))
            continue
        incompatible = incompatibility(catalog, **values)
        if incompatible is not None:
            reason, source = incompatible
            excluded.append(_exclusion(loaded, values, reason, source))
            continue
        rejected_by = selection.rejects(loaded.name, values)
        if rejected_by is not None:
            reason = f"not selected ({rejected_by})"
            excluded.append(_exclusion(loaded, values, reason, "command line"))
            continue
        cells.append(make_cell(loaded, catalog, **values, probed=probed))
    return cells, excluded


def _exclusion(
    loaded: LoadedRecipe, values: Mapping[str, str], reason: str, rule: str
) -> Exclusion:
    return Exclusion(recipe=loaded.name, reason=reason, rule=rule, **values)


def incompatibility(
    catalog: Catalog, *, chip: str, quantization: str, engine: str
) -> tuple[str, str] | None:
    """Why the catalogs say this combination cannot work, and which file says so."""
    chip_conf = catalog.chips[chip]
    quant = catalog.quantizations[quantization]
    if engine not in chip_conf.base_image:
        return f"chip {chip} has no base image for engine {engine}", f"conf/chip/{chip}.yaml"
    if not engine_serves(catalog.engines[engine], quant):
        why = f"engine {engine} does not support quantization {quantization}"
        return why, f"conf/engine/{engine}.yaml"
    if quant.dtype not in chip_conf.dtypes:
        return f"chip {chip} does not support {quantization}", f"conf/chip/{chip}.yaml"
    return None


def engine_serves(engine: EngineConf, quant: QuantizationConf) -> bool:
    """The engine's rule: the quantization's format is one it loads, and its dtype one it
    runs (any dtype when the engine lists none)."""
    return quant.format in engine.formats and (not engine.dtypes or quant.dtype in engine.dtypes)


def engine_version(catalog: Catalog, chip: str, engine: str) -> str:
    """The engine version the catalog says a cell runs: the vendor image's own, or the pin."""
    return catalog.chips[chip].engine_versions.get(engine, catalog.engines[engine].version)


# A chip's base_image may name the base the builder makes itself (settings.cpu_base_image).
LOCAL_BASE = "{cpu_base_image}"


def base_image(catalog: Catalog, chip: str, engine: str) -> str:
    """The image a cell's Dockerfile starts FROM."""
    named = catalog.chips[chip].base_image[engine]
    return catalog.settings.cpu_base_image.tag if named == LOCAL_BASE else named


def probe_key(engine: str, image: str) -> str:
    """How a version found inside an image is filed: the engine, in that base image."""
    return f"{engine} in {image}"


def serve_args(
    recipe: Recipe, catalog: Catalog, *, chip: str, quantization: str, engine: str
) -> dict[str, ScalarValue]:
    """Engine arguments, later layers winning: quantization, recipe, matching overrides."""
    args: dict[str, ScalarValue] = dict(
        catalog.quantizations[quantization].engine_args.get(engine, {})
    )
    args.update(recipe.serve)
    for override in recipe.overrides:
        if override.select.matches(chip, quantization, engine):
            args.update(override.serve)
    return args


def make_cell(
    loaded: LoadedRecipe,
    catalog: Catalog,
    *,
    chip: str,
    quantization: str,
    engine: str,
    probed: Mapping[str, str] | None = None,
) -> Cell:
    """A fully resolved cell (names, image, engine arguments); no I/O."""
    recipe = loaded.recipe
    args = serve_args(recipe, catalog, chip=chip, quantization=quantization, engine=engine)
    quant = catalog.quantizations[quantization]
    release_name = recipe.release.name.format(
        model=recipe.model.name,
        quant_suffix=quant.suffix,
        chip=catalog.chips[chip].naming_suffix,
        engine=engine,
        quantization=quantization,
    )
    _, ignored = engine_module(catalog.engines[engine].module or engine).translate_args(args)
    reference = recipe.validate.reference
    ref_id = (
        cell_id(
            loaded.name, reference.chip or "", reference.quantization or "", reference.engine or ""
        )
        if reference is not None
        else None
    )
    image_name = recipe.model.name.lower()
    base = base_image(catalog, chip, engine)
    # A version found in the image beats the catalog's (metax's vLLM image says "unknown").
    version = (probed or {}).get(probe_key(engine, base)) or engine_version(catalog, chip, engine)
    tag = f"{chip}-{quantization}-{engine}{version}-builder{__version__}"
    return Cell(
        recipe=loaded.name,
        chip=chip,
        quantization=quantization,
        engine=engine,
        serve_args=args,
        release_name=release_name,
        release_repo=f"{recipe.release.org}/{release_name}",
        image=f"{catalog.settings.registry}/{image_name}:{tag}",
        reference=ref_id,
        ignored_args=ignored,
        base_image=base,
        engine_version=version,
    )
