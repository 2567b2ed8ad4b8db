"""Compose the catalogs in conf/ with Hydra, once per run, into a typed :class:`Catalog`.

Hydra applies the command-line overrides (``chip.cpu.base_image.transformers=...``) and the
defaults list in conf/config.yaml is the explicit registry of catalog entries. Each entry is
then checked against its structured schema so a typo names the file it is in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from builder.core.engines import ENGINES
from builder.core.guard import check_plain
from builder.core.model import (
    FORMATS,
    METHODS,
    Catalog,
    ChipConf,
    EngineConf,
    PublishConf,
    QuantizationConf,
    QuantizerConf,
    Settings,
    SuiteConf,
)
from builder.core.variants import QUANTIZER_MODULES
from builder.errors import ConfigError, did_you_mean, unknown_name

T = TypeVar("T")

GROUPS: Mapping[str, type[Any]] = {
    "chip": ChipConf,
    "engine": EngineConf,
    "quantization": QuantizationConf,
    "quantizer": QuantizerConf,
    "suite": SuiteConf,
    "publish": PublishConf,
}


def compose(conf_dir: Path, overrides: Sequence[str] = ()) -> DictConfig:
    """Run Hydra's compose once on ``conf_dir`` with ``overrides``."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.errors import HydraException

    if not (conf_dir / "config.yaml").is_file():
        msg = f"{conf_dir / 'config.yaml'}: not found; run from the project root or pass --root"
        raise ConfigError(msg)
    try:
        with initialize_config_dir(config_dir=str(conf_dir.resolve()), version_base="1.3"):
            cfg = hydra_compose(config_name="config", overrides=list(overrides))
        # Before anything is resolved: no ${oc.env:...} from conf/ or the command line.
        check_plain(OmegaConf.to_container(cfg, resolve=False), f"{conf_dir} (with overrides)")
        return cfg
    except HydraException as exc:
        raise ConfigError(_explain_hydra_error(conf_dir, str(exc), overrides)) from None
    except OmegaConfBaseException as exc:
        msg = f"{conf_dir}: cannot compose the catalogs: {exc}"
        raise ConfigError(msg) from None


def _explain_hydra_error(conf_dir: Path, text: str, overrides: Sequence[str]) -> str:
    first = text.strip().splitlines()[0] if text.strip() else "composition failed"
    prefix = "Could not override '"
    if first.startswith(prefix):
        key = first[len(prefix) :].split("'")[0]
        return (
            f"command line: override {key!r}: no such key in {conf_dir}{_key_hint(conf_dir, key)}"
        )
    return f"{conf_dir}: {first} (overrides: {' '.join(overrides) or 'none'})"


def _key_hint(conf_dir: Path, key: str) -> str:
    """A did-you-mean for a dotted key, found by walking the composed config without overrides."""
    try:
        node: Any = OmegaConf.to_container(compose(conf_dir), resolve=False)
    except ConfigError:
        return ""
    for part in key.split("."):
        if not isinstance(node, dict):
            return ""
        if part not in node:
            return did_you_mean(part, [str(k) for k in node])
        node = node[part]
    return ""


def load_catalog(conf_dir: Path, overrides: Sequence[str] = ()) -> Catalog:
    """Compose conf/ once and type every entry (kept by builder.effects.catalog_cache)."""
    from builder.effects import catalog_cache

    return catalog_cache.cached(conf_dir, overrides, lambda: _load_catalog(conf_dir, overrides))


def _load_catalog(conf_dir: Path, overrides: Sequence[str]) -> Catalog:
    cfg = compose(conf_dir, overrides)
    groups = {group: _typed_group(cfg, conf_dir, group, schema) for group, schema in GROUPS.items()}
    settings = _typed(Settings, cfg.get("settings", {}), conf_dir / "config.yaml", "settings")
    catalog = Catalog(
        chips=groups["chip"],
        engines=groups["engine"],
        quantizations=groups["quantization"],
        quantizers=groups["quantizer"],
        suites=groups["suite"],
        publish=groups["publish"],
        settings=settings,
    )
    check_references(catalog, conf_dir)
    return catalog


def _typed_group(cfg: DictConfig, conf_dir: Path, group: str, schema: type[T]) -> dict[str, T]:
    entries = cfg.get(group) or {}
    result: dict[str, T] = {}
    for name, entry in entries.items():
        path = conf_dir / group / f"{name}.yaml"
        typed = _typed(schema, entry, path, f"{group}.{name}")
        if getattr(typed, "name", name) != name:
            msg = f"{path}: name: {typed.name!r} must equal the entry's key {name!r}"  # type: ignore[attr-defined]
            raise ConfigError(msg)
        result[str(name)] = typed
    return result


def _typed(schema: type[T], entry: Any, path: Path, key: str) -> T:
    try:
        merged = OmegaConf.merge(OmegaConf.structured(schema), entry)
        obj = OmegaConf.to_object(merged)
    except OmegaConfBaseException as exc:
        full_key = f"{key}.{exc.full_key}" if getattr(exc, "full_key", None) else key
        reason = str(exc).splitlines()[0]
        msg = f"{path}: {full_key}: {reason}"
        raise ConfigError(msg) from None
    assert isinstance(obj, schema)
    return obj


def check_references(catalog: Catalog, conf_dir: Path) -> None:
    """Names that catalog entries use for each other must exist."""
    for chip in catalog.chips.values():
        where = conf_dir / "chip" / f"{chip.name}.yaml"
        _names_exist(
            where, "quantizations", chip.quantizations, catalog.quantizations, "quantization"
        )
        _names_exist(where, "base_image", chip.base_image, catalog.engines, "engine")
        _names_exist(where, "engine_versions", chip.engine_versions, chip.base_image, "engine")
    for engine in catalog.engines.values():
        where = conf_dir / "engine" / f"{engine.name}.yaml"
        _names_exist(
            where, "quantizations", engine.quantizations, catalog.quantizations, "quantization"
        )
        _names_exist(where, "chips", engine.chips, catalog.chips, "chip")
        _names_exist(where, "module", [engine.module or engine.name], ENGINES, "engine module")
        loads = dict.fromkeys(("native", "dequantize"))
        _names_exist(where, "gguf_load", [engine.gguf_load], loads, "gguf_load")
    for quant in catalog.quantizations.values():
        where = conf_dir / "quantization" / f"{quant.name}.yaml"
        _names_exist(where, "engine_args", quant.engine_args, catalog.engines, "engine")
        _names_exist(where, "method", [quant.method], dict.fromkeys(METHODS), "method")
        _names_exist(where, "format", [quant.format], dict.fromkeys(FORMATS), "format")
        if quant.method == "quantize":
            _names_exist(where, "quantizer", [quant.quantizer], catalog.quantizers, "quantizer")
        elif quant.quantizer:
            msg = f"{where}: quantizer: only method 'quantize' runs a quantizer ({quant.method!r})"
            raise ConfigError(msg)
    for quantizer in catalog.quantizers.values():
        where = conf_dir / "quantizer" / f"{quantizer.name}.yaml"
        _names_exist(
            where,
            "module",
            [quantizer.module],
            dict.fromkeys(QUANTIZER_MODULES),
            "quantizer module",
        )


def _names_exist(where: Path, key: str, names: Any, known: Mapping[str, object], kind: str) -> None:
    for name in names:
        if name not in known:
            msg = f"{where}: {key}: {unknown_name(kind, name, known)}"
            raise ConfigError(msg)
