"""The composition root: everything a command works with, loaded and resolved once.

A :class:`Session` composes the catalogs (through the catalog cache), checks every plugin
name conf/ uses against its registry, loads every recipe, expands the plan (narrowed by the
command line's selection) and, on first use, resolves each cell (its weights' spec and its
content keys). The CLI builds one per command and hands it to :mod:`builder.run`, whose
steps only read it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from builder.core.catalog import compose_catalog, conf_loc, entry_path
from builder.core.catalog_model import Catalog
from builder.core.cells import Plan
from builder.core.deploy import Runtime
from builder.core.engines import REGISTRY as ENGINES
from builder.core.guard import check_override
from builder.core.keys import InputDigests, ResolvedCell, resolve_cells
from builder.core.matrix import AXES, Selection, expand
from builder.core.project import Project
from builder.core.recipes import load_recipes, recipe_files
from builder.core.values import source_fields
from builder.effects import build_cache, catalog_cache, revisions
from builder.effects.publishers import REGISTRY as PUBLISHERS
from builder.effects.quantizers import REGISTRY as QUANTIZERS
from builder.effects.suites import REGISTRY as SUITES
from builder.errors import UsageError, unknown_name

SELECTION_KEYS = ("recipe", *AXES)


@dataclass(frozen=True, kw_only=True)
class Session:
    """The project, its catalog and its plan for one command."""

    project: Project
    catalog: Catalog
    # The cells this command works on (narrowed by recipe=/chip=/... on the command line).
    plan: Plan
    # Every cell of every recipe: the release index keeps every row.
    full_plan: Plan
    # The Hydra overrides of conf/ values (launcher jobs pass them on).
    catalog_overrides: tuple[str, ...] = ()
    # Where engines run for validation and deploy (part of every validation's key).
    runtime: Runtime = "host"

    @property
    def out_dir(self) -> Path:
        return self.project.out_dir(self.catalog.settings)

    @property
    def cache_dir(self) -> Path:
        return self.project.cache_dir(self.catalog.settings)

    @cached_property
    def calibration_digest(self) -> str:
        """The hash of calibration/ (what quantizers that calibrate read)."""
        return build_cache.calibration_digest(self.project.root)

    @cached_property
    def digests(self) -> InputDigests:
        """Hashes of the templates, the suites' data and calibration/, and the commits of
        moving Hub revisions (when the Hub answers), made once."""
        found = build_cache.input_digests(
            self.project.root, self.project.templates_dir, self.catalog
        )
        sources = [s for r in self.full_plan.recipes for _, s in source_fields(r.recipe)]
        return dataclasses.replace(found, revisions=revisions.resolve(sources))

    @cached_property
    def cells(self) -> Mapping[str, ResolvedCell]:
        """Every cell of the full plan, resolved once (by cell id)."""
        return resolve_cells(self.full_plan, self.catalog, self.digests, self.runtime)

    def resolved(self, plan: Plan | None = None) -> list[ResolvedCell]:
        """The resolved cells of ``plan`` (default: this command's), in plan order. A run
        narrowed to a few cells of a large project resolves only those."""
        plan = plan or self.plan
        if "cells" in self.__dict__ or len(plan.cells) == len(self.full_plan.cells):
            return [self.cells[c.id] for c in plan.cells]
        found = resolve_cells(plan, self.catalog, self.digests, self.runtime)
        return [found[c.id] for c in plan.cells]


def _probed_versions(project: Project, catalog: Catalog) -> dict[str, str]:
    """Engine versions found inside images, from the build cache; none when the cache's
    folder is not safely inside the project (the run that writes there refuses it, saying
    why, under out/'s lock)."""
    try:
        cache_dir = project.cache_dir(catalog.settings)
    except UsageError:
        return {}
    return build_cache.engine_versions(cache_dir)


def load(root: Path, overrides: Sequence[str], *, runtime: Runtime = "host") -> Session:
    """Compose, check and plan the project at ``root`` with the command line's overrides."""
    project = Project(root=root)
    selection, catalog_overrides = split_overrides(overrides)
    catalog = load_catalog(project.conf_dir, catalog_overrides)
    _check_selection(selection, catalog, project)
    # All recipes load even when one is selected: the release index keeps every row.
    recipes = load_recipes(recipe_files(project.recipes_dir), catalog, root)
    # Engine versions validation found inside images name the images' tags from then on.
    probed = _probed_versions(project, catalog)
    return Session(
        project=project,
        catalog=catalog,
        plan=expand(recipes, catalog, selection, probed),
        full_plan=expand(recipes, catalog, Selection(), probed),
        catalog_overrides=tuple(catalog_overrides),
        runtime=runtime,
    )


def load_catalog(conf_dir: Path, overrides: Sequence[str] = ()) -> Catalog:
    """The composed catalog (from the cache when conf/ is unchanged), its plugins checked."""
    catalog = catalog_cache.cached(
        conf_dir, overrides, lambda: compose_catalog(conf_dir, overrides)
    )
    check_plugins(catalog, conf_dir)
    return catalog


def check_plugins(catalog: Catalog, conf_dir: Path) -> None:
    """Every plugin conf/ names must be a module of its registry. Checked on every load, the
    catalog cache notwithstanding: the modules are code, not part of conf/."""
    for engine in catalog.engines.values():
        path = entry_path(conf_dir, "engine", engine.name)
        where = conf_loc(path, "module" if engine.module else "name")
        ENGINES.check(engine.module or engine.name, loc=where, key="module")
    for suite in catalog.suites.values():
        where = conf_loc(entry_path(conf_dir, "suite", suite.name), "name")
        SUITES.check(suite.name, loc=where, key="name")
    for quantizer in catalog.quantizers.values():
        where = conf_loc(entry_path(conf_dir, "quantizer", quantizer.name), "module")
        QUANTIZERS.check(quantizer.module, loc=where, key="module")
    for target in catalog.publish.values():
        where = conf_loc(entry_path(conf_dir, "publish", target.name), "kind")
        PUBLISHERS.check(target.kind, loc=where, key="kind")


def split_overrides(overrides: Sequence[str]) -> tuple[Selection, list[str]]:
    """Selection keys (``recipe=``, ``chip=``...) narrow the matrix; the rest go to Hydra."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    try:
        parsed = OverridesParser.create().parse_overrides(list(overrides))
    except HydraException as exc:
        msg = f"command line: {str(exc).splitlines()[0]}"
        raise UsageError(msg) from None
    picked: dict[str, tuple[str, ...]] = {}
    rest: list[str] = []
    for override in parsed:
        key = override.key_or_group
        if key in SELECTION_KEYS and not override.is_add() and not override.is_delete():
            if override.is_sweep_override():
                values = tuple(str(v) for v in override.sweep_string_iterator())
            else:
                values = (str(override.value()),)
            picked[key] = values
        else:
            check_override(key, override.package, override.input_line or key)
            rest.append(override.input_line or "")
    selection = Selection(
        recipe=picked.get("recipe", ()),
        chip=picked.get("chip", ()),
        quantization=picked.get("quantization", ()),
        engine=picked.get("engine", ()),
    )
    return selection, rest


def _check_selection(selection: Selection, catalog: Catalog, project: Project) -> None:
    known: dict[str, Sequence[str]] = {
        "recipe": [p.stem for p in recipe_files(project.recipes_dir)],
        "chip": list(catalog.chips),
        "quantization": list(catalog.quantizations),
        "engine": list(catalog.engines),
    }
    for key in SELECTION_KEYS:
        for value in getattr(selection, key):
            if value not in known[key]:
                msg = f"command line: {key}={value}: {unknown_name(key, value, known[key])}"
                raise UsageError(msg)
