"""Render a cell's files from the Jinja templates in templates/: pure, returns text by path.

Jinja runs sandboxed with StrictUndefined, so a missing value is an error and not an empty
string; recipe values only ever enter as data (never compiled as templates), and every
value that reaches a shell line goes through the ``sh`` filter (POSIX quoting).
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from builder import __version__
from builder.core import deploy, evaluation
from builder.core.catalog_model import Catalog, ChipConf, EngineConf
from builder.core.cells import Cell, LoadedRecipe, cell_json
from builder.core.engines import model_reference, serve_command
from builder.core.judge import suite_of
from builder.core.model import Recipe
from builder.core.plain import as_dict
from builder.core.variants import VariantSpec, variant_spec
from builder.errors import ConfigError
from builder.text import escape

# Rendered file name -> template name. The order is the order of the manifest.
CELL_FILES: Mapping[str, str] = {
    "Dockerfile": "Dockerfile.j2",
    "README.md": "model_card.md.j2",
    "serve.sh": "serve.sh.j2",
    "anythingllm.json": "anythingllm.json.j2",
}


def _sh(value: object) -> str:
    return shlex.quote(str(value))


def _sh_join(values: Any) -> str:
    return " ".join(shlex.quote(str(v)) for v in values)


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


@cache
def environment(templates_dir: Path) -> jinja2.Environment:
    """One sandboxed environment per templates directory (template parsing is cached)."""
    env = ImmutableSandboxedEnvironment(
        loader=jinja2.FileSystemLoader(str(templates_dir)),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["sh"] = _sh
    env.filters["sh_join"] = _sh_join
    env.filters["json"] = _json
    # For names that end up in a comment or a line of prose (a recipe's file name): one
    # line, every non-printable character escaped.
    env.filters["line"] = escape
    return env


def source_parts(source: str) -> dict[str, str]:
    """``huggingface://org/name@rev`` -> kind, repo, revision (revision may be empty)."""
    kind, _, rest = source.partition("://")
    repo, _, revision = rest.partition("@")
    return {"kind": kind, "repo": repo, "revision": revision}


def _evaluation(
    cell: Cell, validation: Mapping[str, Any] | None, catalog: Catalog, recipe: Recipe
) -> dict[str, Any]:
    """The card's results: accuracy and perf rows (with the perf note and confidence),
    model-index entries, the reference."""
    return {
        "accuracy": evaluation.accuracy_rows(validation),
        "perf": evaluation.perf_rows(validation, suite_of(catalog, "perf")),
        "perf_note": evaluation.perf_note(validation),
        "perf_confidence": recipe.validate.perf.confidence,
        "model_index": evaluation.model_index(
            cell.release_name, validation, suite_of(catalog, "accuracy")
        ),
        "reference": (validation or {}).get("gates", {}).get("reference", ""),
    }


def context(
    cell: Cell,
    loaded: LoadedRecipe,
    catalog: Catalog,
    validation: Mapping[str, Any] | None,
    variant: VariantSpec,
    revisions: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Everything templates may use, as plain data. ``revisions``: the commits moving Hub
    revisions named at plan time (``source.commit`` in templates; empty when unresolved)."""
    chip = catalog.chips[cell.chip]
    engine = catalog.engines[cell.engine]
    model_dir = str(deploy.CONTAINER_MODEL_ROOT / cell.release_name)
    command = serve_command(
        engine,
        cell.serve_args,
        model=model_reference(engine, model_dir, variant.file),
        host="0.0.0.0",
        port=engine.port,
        served_model_name=cell.release_name,
    )
    recipe = loaded.recipe
    commit = (revisions or {}).get(recipe.model.source, "")
    return {
        "builder_version": __version__,
        "cell": cell_json(cell),
        "recipe": {"name": loaded.name, "file": loaded.file},
        "model": as_dict(recipe.model),
        "source": {**source_parts(recipe.model.source), "commit": commit},
        "release": {
            "org": recipe.release.org,
            "name": cell.release_name,
            "repo": cell.release_repo,
        },
        "chip": as_dict(chip),
        "engine": as_dict(engine),
        "engine_version": cell.engine_version,
        "engine_preinstalled": cell.engine in chip.engine_versions,
        "base_image": cell.base_image,
        "quantization": as_dict(catalog.quantizations[cell.quantization]),
        "variant": {
            **variant.to_json(),
            "describe": variant.describe(),
            # Measured when the cell was validated: size, bits per weight, files and hashes.
            "weights": ((validation or {}).get("engine") or {}).get("weights"),
        },
        "adapter": source_parts(recipe.model.adapter.source) if recipe.model.adapter else None,
        "serve_argv": list(command.argv),
        "serve_script": serve_script(engine, command.argv),
        "request_model": command.request_model,
        "model_dir": model_dir,
        "image": cell.image,
        "deploy": _deploy_context(cell, chip, engine),
        "validation": dict(validation) if validation is not None else None,
        "runtime": (validation or {}).get("runtime") or {},
        "evaluation": _evaluation(cell, validation, catalog, recipe),
    }


def _deploy_context(cell: Cell, chip: ChipConf, engine: EngineConf) -> dict[str, Any]:
    """The card's Deploy section: `builder deploy` and the `docker run` it stands for, on the
    devices of the cell's tensor-parallel size."""
    placement = deploy.place(cell, chip, engine, None)
    argv = deploy.docker_run(
        cell=cell,
        chip=chip,
        engine=engine,
        placement=placement,
        weights=deploy.host_weights(cell),
        port=engine.port,
    )
    return {
        "builder": deploy.deploy_line(cell, placement),
        "devices": list(placement.devices),
        "weights": deploy.host_weights(cell),
        "docker_run": deploy.shell_lines(argv),
    }


# serve.sh lets the environment choose where the server listens and what it serves, so the
# builder can run the image it releases on a free loopback port (and a user on theirs).
SCRIPT_VARS = {"{host}": deploy.HOST_VAR, "{port}": deploy.PORT_VAR, "{model}": deploy.MODEL_VAR}
SAFE_DEFAULT = re.compile(r"[A-Za-z0-9._:/-]+")


def serve_script(engine: EngineConf, argv: Sequence[str]) -> str:
    """The serve command as serve.sh runs it: each templated host, port and model token
    becomes ``"${VAR:-value}"`` (the value as released), every other token is quoted."""
    words = []
    for index, arg in enumerate(argv):
        token = engine.serve[index] if index < len(engine.serve) else ""
        var = SCRIPT_VARS.get(token)
        if var is None:
            words.append(shlex.quote(arg))
            continue
        if not SAFE_DEFAULT.fullmatch(arg):
            msg = f"engine {engine.name}: {token} became {arg!r}, which serve.sh cannot default to"
            raise ConfigError(msg)
        words.append(f'"${{{var}:-{arg}}}"')
    return " ".join(words)


def render_cell(
    templates_dir: Path,
    cell: Cell,
    loaded: LoadedRecipe,
    catalog: Catalog,
    validation: Mapping[str, Any] | None = None,
    *,
    variant: VariantSpec | None = None,
    revisions: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The cell's files by name; nothing is written. ``variant``: the spec of the weights the
    cell serves, as the run resolved it (default: made here, without calibration data's
    digest, which no template shows)."""
    env = environment(templates_dir)
    if variant is None:
        variant = variant_spec(loaded, catalog, cell.quantization)
    ctx = context(cell, loaded, catalog, validation, variant, revisions)
    files: dict[str, str] = {}
    for name, template in CELL_FILES.items():
        try:
            files[name] = env.get_template(template).render(ctx)
        except jinja2.TemplateError as exc:
            where = f"{templates_dir / template}:{getattr(exc, 'lineno', None) or '?'}"
            msg = f"{where}: cannot render {name} for {cell.id}: {exc}"
            raise ConfigError(msg) from None
    return files
