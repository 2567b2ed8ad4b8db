"""Content keys of cells, and what a change to them means: pure functions, no I/O.

A cell's output depends on named *input parts*; each part is hashed on its own so that a
rebuild can say which input changed. The parts fall in two groups:

- the **validation** parts decide what is served and how it is checked (the resolved cell,
  the model source, chip, engine, quantization, the variant's weights, suites with their
  data, run timeouts, the builder version). Their hash is the *validation key*: a cached
  validation result is reused while it is unchanged.
- the **render** parts only change the files written (the templates, the recipe's texts).
  The *render key* hashes the validation key, these parts and the validation result, so a
  template edit re-renders every cell without starting a single engine.

File contents (templates, suite task data) are hashed at the edge
(:mod:`builder.effects.build_cache`) and arrive here as :class:`InputDigests`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from builder import __version__
from builder.core.catalog_model import Catalog, SuiteConf
from builder.core.cells import Cell, LoadedRecipe, Plan, cell_json
from builder.core.model import Recipe
from builder.core.plain import as_dict, digest, digest_of
from builder.core.values import source_fields
from builder.core.variants import VariantSpec, variant_spec

VALIDATION_PARTS = (
    "cell",
    "runtime",
    "model_source",
    "chip",
    "engine",
    "quantization",
    "variant",
    "suites",
    "settings",
    "builder",
)
RENDER_PARTS = ("recipe", "templates")

# Extra files a suite reads that its conf entry does not name, by suite name: paths or globs
# relative to the project root (e.g. {"mmlu": ("tasks/mmlu/**",)}). Suite conf values that
# name an existing file or folder of the project are found without being listed here.
SUITE_INPUTS: dict[str, tuple[str, ...]] = {}


@dataclass(frozen=True, kw_only=True)
class InputDigests:
    """Hashes of the input files of a project, made once per run at the edge."""

    templates: str
    # Suite name -> hash of the data files it uses ("" when it uses none).
    suite_data: Mapping[str, str] = field(default_factory=dict)
    # The project's calibration/ folder, which quantizers may read.
    calibration: str = ""
    # Hub source -> the commit its branch or tag named at plan time (when the Hub answered:
    # builder/effects/revisions.py); a moved branch changes the cell's model_source part.
    revisions: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class CellKeys:
    """A cell's input parts (name -> hash) and the validation key made of them."""

    cell: str
    parts: Mapping[str, str]
    validation_key: str

    def render_key(self, validation: Mapping[str, Any]) -> str:
        """The key of the rendered files, given the validation result they show."""
        render = {name: self.parts[name] for name in RENDER_PARTS}
        return digest({"validation": self.validation_key, "render": render, "result": validation})


def suite_paths(suite: SuiteConf) -> list[str]:
    """Every string value of a suite entry: the edge hashes those that name project files."""
    return sorted(set(_strings(dataclasses.asdict(suite)))) + list(SUITE_INPUTS.get(suite.name, ()))


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


@dataclass(frozen=True, kw_only=True)
class ResolvedCell:
    """A cell with everything derived from it, once per run: its recipe, the spec of the
    weights it serves (calibration data hashed in) and its content keys. The rest of a run
    only reads it, as cibuildwheel's build options are resolved once per build."""

    cell: Cell
    recipe: LoadedRecipe
    variant: VariantSpec
    keys: CellKeys

    @property
    def id(self) -> str:
        return self.cell.id


def resolve_cells(
    plan: Plan, catalog: Catalog, digests: InputDigests, runtime: str = "host"
) -> dict[str, ResolvedCell]:
    """Every cell of ``plan``, resolved; parts shared by cells (a recipe's, a catalog
    entry's) are hashed once."""
    settings = catalog.settings
    run_parts = {
        "settings": digest([settings.startup_timeout_s, settings.request_timeout_s]),
        "builder": digest(__version__),
        "templates": digest(digests.templates),
        # A result from the cell's image is not one from a host process, nor the reverse.
        "runtime": digest(runtime),
    }
    recipes = {r.name: r for r in plan.recipes}
    per_recipe = {name: _recipe_parts(loaded, catalog, digests) for name, loaded in recipes.items()}
    resolved = {}
    for cell in plan.cells:
        loaded = recipes[cell.recipe]
        variant = variant_spec(loaded, catalog, cell.quantization, digests.calibration)
        parts = {
            "cell": digest(cell_json(cell)),
            "chip": digest_of(catalog.chips[cell.chip]),
            "engine": digest_of(catalog.engines[cell.engine]),
            "quantization": digest_of(catalog.quantizations[cell.quantization]),
            # The weights served: source, quantizer and its tool, calibration, adapter.
            "variant": variant.key,
            **per_recipe[cell.recipe],
            **run_parts,
        }
        validation_key = digest({name: parts[name] for name in VALIDATION_PARTS})
        keys = CellKeys(cell=cell.id, parts=parts, validation_key=validation_key)
        resolved[cell.id] = ResolvedCell(cell=cell, recipe=loaded, variant=variant, keys=keys)
    return resolved


def _recipe_parts(loaded: LoadedRecipe, catalog: Catalog, digests: InputDigests) -> dict[str, str]:
    recipe = loaded.recipe
    suites = [
        {"conf": as_dict(catalog.suites[name]), "data": digests.suite_data.get(name, "")}
        for name in recipe.validate.suites
    ]
    # What the recipe asks of its suites (tasks, limits, the sweep, the reference) changes
    # what validation measures.
    suites.append({"validate": as_dict(recipe.validate)})
    texts = {
        "name": loaded.name,
        "file": loaded.file,
        "model": as_dict(recipe.model),
        "org": recipe.release.org,
    }
    return {
        "model_source": _source_digest(recipe, digests.revisions),
        "suites": digest(suites),
        "recipe": digest(texts),
    }


def _source_digest(recipe: Recipe, revisions: Mapping[str, str]) -> str:
    """The model source's part: its text, and the commits its moving revisions (the model's,
    the adapter's, the variants') named at plan time, when any were resolved."""
    commits = {s: revisions[s] for _, s in source_fields(recipe) if s in revisions}
    if not commits:
        return digest(recipe.model.source)  # as before: offline keys do not change
    return digest({"source": recipe.model.source, "commits": commits})


def changed_parts(old: Mapping[str, str], new: Mapping[str, str]) -> list[str]:
    """The input parts whose hash differs, in the order of the part lists."""
    return [n for n in (*VALIDATION_PARTS, *RENDER_PARTS) if old.get(n) != new.get(n)]


@dataclass(frozen=True, kw_only=True)
class Decision:
    """What a run will do with one cell, and why."""

    cell: str
    action: str  # "build", "render" (validation reused) or "cached"
    why: str

    def text(self) -> str:
        return f"{self.action}: {self.why}" if self.why else self.action


def decide(keys: CellKeys, record: Mapping[str, Any] | None) -> Decision:
    """Compare a cell's keys with the record of its last build (None: never built)."""
    if record is None:
        return Decision(cell=keys.cell, action="build", why="new cell")
    old_parts = record.get("parts", {})
    changed = changed_parts(old_parts, keys.parts)
    since = record.get("created_at", "?")
    status = record.get("status", "?")
    if not changed:
        return Decision(cell=keys.cell, action="cached", why=f"since {since} ({status})")
    names = ", ".join(changed)
    if set(changed) <= set(RENDER_PARTS) and status == "passed":
        return Decision(cell=keys.cell, action="render", why=f"changed {names}; validation reused")
    return Decision(cell=keys.cell, action="build", why=f"changed {names}")


@dataclass(frozen=True, kw_only=True)
class CellChange:
    """How one cell differs between two plans."""

    cell: str
    change: str  # "added", "removed" or "changed"
    parts: tuple[str, ...] = ()


def compare(base: Iterable[CellKeys], head: Iterable[CellKeys]) -> list[CellChange]:
    """Cells added, removed and changed from ``base`` to ``head``, sorted by cell id."""
    old = {k.cell: k for k in base}
    new = {k.cell: k for k in head}
    changes = [CellChange(cell=c, change="added") for c in new.keys() - old.keys()]
    changes += [CellChange(cell=c, change="removed") for c in old.keys() - new.keys()]
    for cell in old.keys() & new.keys():
        parts = changed_parts(old[cell].parts, new[cell].parts)
        if parts:
            changes.append(CellChange(cell=cell, change="changed", parts=tuple(parts)))
    return sorted(changes, key=lambda c: c.cell)


def diff_markdown(changes: Iterable[CellChange], *, base: str) -> str:
    """The job summary of a pull request: which cells it adds, removes and changes."""
    changes = list(changes)
    lines = [f"### Build matrix changes against `{base}`", ""]
    if not changes:
        return "\n".join([*lines, "No cell is added, removed or changed."]) + "\n"
    counts = {kind: sum(c.change == kind for c in changes) for kind in ("added", "removed")}
    counts["changed"] = len(changes) - counts["added"] - counts["removed"]
    lines.append(", ".join(f"{n} {kind}" for kind, n in counts.items()))
    lines += ["", "| Cell | Change | Changed inputs | Re-validated |", "|---|---|---|---|"]
    for c in changes:
        inputs = ", ".join(c.parts) if c.parts else "–"
        revalidated = "yes" if c.change == "added" or set(c.parts) - set(RENDER_PARTS) else "no"
        if c.change == "removed":
            revalidated = "–"
        lines.append(f"| `{c.cell}` | {c.change} | {inputs} | {revalidated} |")
    return "\n".join(lines) + "\n"
