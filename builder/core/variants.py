"""Release variants: which weights each cell serves and how they are made. Pure functions.

A *variant* is the weights of one recipe in one quantization. Its spec says where the input
weights come from (the model's source, or a prequantized repository), what is done to them
(nothing, a quantizer with its arguments and calibration data, or a LoRA merge) and which
exact tool does it. The spec's digest is the variant's content key: every cell whose spec is
equal (same recipe and quantization, any chip or engine) shares one produced copy, so a
model is quantized once and fanned out (:mod:`builder.effects.variants` does the work).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from builder import __version__
from builder.core.catalog_model import Catalog, QuantizationConf
from builder.core.cells import LoadedRecipe, Plan
from builder.core.model import Recipe
from builder.core.plain import as_dict, digest
from builder.errors import unknown_name


@dataclass(frozen=True, kw_only=True)
class VariantSpec:
    """What one variant's weights are made of; its ``key`` names the produced copy."""

    recipe: str
    quantization: str
    method: str
    # The weights the method starts from (the model's, or the prequantized repository).
    source: str
    adapter: str = ""
    quantizer: dict[str, Any] = field(default_factory=dict)
    args: dict[str, str] = field(default_factory=dict)
    calibration: dict[str, Any] = field(default_factory=dict)
    # Digest of the project's calibration/ folder when the calibration data lives there.
    calibration_digest: str = ""
    # Single-file formats (GGUF): the file engines load; "" for a folder of weights.
    file: str = ""
    format: str = "safetensors"

    def to_json(self) -> dict[str, Any]:
        return {
            "recipe": self.recipe,
            "quantization": self.quantization,
            "method": self.method,
            "source": self.source,
            "adapter": self.adapter,
            "quantizer": dict(self.quantizer),
            "args": dict(self.args),
            "calibration": dict(self.calibration),
            "calibration_digest": self.calibration_digest,
            "file": self.file,
            "format": self.format,
        }

    @property
    def key(self) -> str:
        # The builder's version is in the key: a changed producer makes new weights.
        return digest({"spec": self.to_json(), "builder": __version__})

    @property
    def produced(self) -> bool:
        """Whether the builder makes these weights (rather than serving a source as is)."""
        return self.method in ("quantize", "merge-adapter")

    def describe(self) -> str:
        """One line for the plan: what will be produced, from what, by which tool."""
        if self.method == "none":
            return f"source weights {self.source}"
        if self.method == "prequantized":
            return f"prequantized weights {self.source}"
        if self.method == "merge-adapter":
            return f"merge LoRA {self.adapter} into {self.source} (peft)"
        args = " ".join(f"{k}={v}" for k, v in sorted(self.args.items()))
        tool = f"{self.quantizer.get('package', '?')}"
        calib = (
            f", calibrated on {self.calibration['dataset']} x{self.calibration['samples']}"
            if self.calibration
            else ""
        )
        return f"quantize {self.source} with {tool} ({args}){calib}"


def gguf_file_name(model_name: str, quant: QuantizationConf) -> str:
    """The GGUF file of a variant, named as llama.cpp users expect: Model-Q8_0.gguf."""
    return f"{model_name}-{quant.dtype.upper()}.gguf"


def variant_spec(
    loaded: LoadedRecipe, catalog: Catalog, quantization: str, calibration_digest: str = ""
) -> VariantSpec:
    """The spec of ``loaded``'s weights in ``quantization`` (the recipe was checked at load)."""
    recipe = loaded.recipe
    quant = catalog.quantizations[quantization]
    chosen = recipe.variants.get(quantization)
    source = recipe.model.source
    if quant.method == "prequantized" and chosen is not None and chosen.source:
        source = chosen.source
    calibration: dict[str, Any] = {}
    if quant.calibrates and chosen is not None and chosen.calibration is not None:
        calibration = as_dict(chosen.calibration)
    local_calibration = str(calibration.get("dataset", "")).startswith("calibration/")
    adapter = recipe.model.adapter
    return VariantSpec(
        recipe=loaded.name,
        quantization=quantization,
        method=quant.method,
        source=source,
        adapter=adapter.source if adapter is not None and quant.method == "merge-adapter" else "",
        quantizer=as_dict(catalog.quantizers[quant.quantizer]) if quant.quantizer else {},
        args=dict(quant.quantizer_args),
        calibration=calibration,
        calibration_digest=calibration_digest if local_calibration else "",
        file=gguf_file_name(recipe.model.name, quant) if quant.format == "gguf" else "",
        format=quant.format,
    )


def recipe_problems(recipe: Recipe, catalog: Catalog) -> Iterable[tuple[str, str]]:
    """(key path, message) for every variant the recipe cannot make as written."""
    for name in recipe.variants:
        if name not in catalog.quantizations:
            yield f"variants.{name}", unknown_name("quantization", name, catalog.quantizations)
        elif name not in recipe.matrix.quantization and not any(
            s.quantization == name for s in recipe.include
        ):
            yield f"variants.{name}", f"{name!r} is not in matrix.quantization nor include"
    used = set(recipe.matrix.quantization) | {s.quantization for s in recipe.include}
    for name in sorted(n for n in used if n in catalog.quantizations):
        yield from _variant_problems(recipe, catalog.quantizations[name])


def _variant_problems(recipe: Recipe, quant: QuantizationConf) -> Iterable[tuple[str, str]]:
    chosen = recipe.variants.get(quant.name)
    where = f"variants.{quant.name}"
    if quant.method == "prequantized" and (chosen is None or not chosen.source):
        yield (
            where if chosen is not None else "matrix.quantization",
            (
                f"{quant.name} is prequantized ({quant.display_name}): set {where}.source to "
                "the repository holding those weights"
            ),
        )
    if quant.calibrates and (chosen is None or chosen.calibration is None):
        yield (
            where if chosen is not None else "matrix.quantization",
            (
                f"{quant.name} is quantized with calibration data: set "
                f"{where}.calibration.dataset (calibration/<file>.jsonl or huggingface://org/name)"
            ),
        )
    if chosen is not None and chosen.source and quant.method != "prequantized":
        yield f"{where}.source", f"{quant.name} is made by the builder ({quant.method}); no source"
    if chosen is not None and chosen.calibration is not None and not quant.calibrates:
        yield f"{where}.calibration", f"{quant.name} does not calibrate; remove calibration"
    if chosen is not None and chosen.calibration is not None:
        if not 1 <= chosen.calibration.samples <= 100_000:
            yield f"{where}.calibration.samples", "must be between 1 and 100000"
        if not 16 <= chosen.calibration.max_seq_length <= 1_048_576:
            yield f"{where}.calibration.max_seq_length", "must be between 16 and 1048576"
    if quant.method == "merge-adapter" and recipe.model.adapter is None:
        yield (
            "matrix.quantization",
            f"{quant.name} merges the model's LoRA adapter: set model.adapter.source",
        )


@dataclass(frozen=True, kw_only=True)
class PlannedVariant:
    """A variant of the plan and the cells that serve it."""

    spec: VariantSpec
    cells: tuple[str, ...]


def plan_variants(
    plan: Plan, catalog: Catalog, calibration_digest: str = ""
) -> list[PlannedVariant]:
    """Every variant the plan's cells serve, once each, with the cells sharing it."""
    recipes = {r.name: r for r in plan.recipes}
    shared: dict[str, tuple[VariantSpec, list[str]]] = {}
    for cell in plan.cells:
        spec = variant_spec(recipes[cell.recipe], catalog, cell.quantization, calibration_digest)
        shared.setdefault(spec.key, (spec, []))[1].append(cell.id)
    return [
        PlannedVariant(spec=spec, cells=tuple(cells))
        for spec, cells in sorted(shared.values(), key=lambda v: (v[0].recipe, v[0].quantization))
    ]
