"""Compose the catalogs in conf/ with Hydra into a typed :class:`Catalog`.

Every YAML file of a group folder (conf/chip/*.yaml, conf/engine/*.yaml, ...) is an entry of
that group: the folders are the registry, so adding a chip is adding its file. Hydra
composes them with conf/config.yaml (the run's settings) and applies the command-line
overrides (``chip.cpu.base_image.transformers=...``). Each entry is then typed against its
structured schema and the names entries use for each other are checked, so a typo is an
error naming the file and line it is on, with the closest valid name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from builder.core import judge
from builder.core.catalog_model import (
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
from builder.core.engines import REGISTRY as ENGINES
from builder.core.engines._args import own_argument
from builder.core.guard import check_plain
from builder.core.matrix import LOCAL_BASE
from builder.core.yamlsafe import load_text
from builder.errors import BuilderError, ConfigError, SourceLoc, did_you_mean, unknown_name

T = TypeVar("T")

GROUPS: Mapping[str, type[Any]] = {
    "chip": ChipConf,
    "engine": EngineConf,
    "quantization": QuantizationConf,
    "quantizer": QuantizerConf,
    "suite": SuiteConf,
    "publish": PublishConf,
}
GGUF_LOADS = ("native", "dequantize")
# How an engine is asked for an exact output length (EngineConf.exact_length; "" = default).
EXACT_LENGTHS = ("", "ignore_eos", "min_tokens", "generation_config", "none")
# Keys earlier catalogs had, and what says the same now.
REPLACED = {
    ("engine", "chips"): "a chip runs the engines it names in its base_image; drop the list",
    ("engine", "quantizations"): "say what it serves by rule: formats (and dtypes)",
    ("chip", "quantizations"): "say what it computes: dtypes (the quantizations' dtype)",
}


def entry_files(conf_dir: Path, group: str) -> list[Path]:
    """The entries of a group: its folder's YAML files, by name."""
    return sorted((conf_dir / group).glob("*.yaml"))


def entry_path(conf_dir: Path, group: str, name: str) -> Path:
    return conf_dir / group / f"{name}.yaml"


def compose(conf_dir: Path, overrides: Sequence[str] = ()) -> DictConfig:
    """Run Hydra's compose once on ``conf_dir``: every entry file, then ``overrides``."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.errors import HydraException

    if not (conf_dir / "config.yaml").is_file():
        msg = f"{conf_dir / 'config.yaml'}: not found; run from the project root or pass --root"
        raise ConfigError(msg)
    # Each entry file joins the defaults list as `group@group.<name>: <name>`.
    entries = [
        f"+{group}@{group}.{path.stem}={path.stem}"
        for group in GROUPS
        for path in entry_files(conf_dir, group)
    ]
    try:
        with initialize_config_dir(config_dir=str(conf_dir.resolve()), version_base="1.3"):
            cfg = hydra_compose(config_name="config", overrides=[*entries, *overrides])
        # Before anything is resolved: no ${oc.env:...} from conf/ or the command line.
        check_plain(OmegaConf.to_container(cfg, resolve=False), f"{conf_dir} (with overrides)")
        return cfg
    except HydraException as exc:
        raise ConfigError(_explain_hydra_error(conf_dir, str(exc), overrides)) from None
    except OmegaConfBaseException as exc:
        msg = f"{conf_dir}: cannot compose the catalogs: {exc}"
        raise ConfigError(msg) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{mark.name}:{mark.line + 1}:{mark.column + 1}" if mark else str(conf_dir)
        msg = f"{where}: invalid YAML: {exc.problem or exc.context}"
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


def conf_loc(path: Path, key: str = "") -> SourceLoc:
    """The line of ``key`` (a dotted path, ``a.b[0]``) in a conf/ file, or its nearest parent.

    Overrides can set keys a file lacks: those point at the file's first line.
    """
    try:
        doc = load_text(path.read_text(encoding="utf-8"), str(path))
    except (OSError, BuilderError):
        return SourceLoc(file=str(path))
    return doc.loc(key)


def compose_catalog(conf_dir: Path, overrides: Sequence[str] = ()) -> Catalog:
    """Compose conf/ and type every entry (the session keeps the result in a cache)."""
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
        path = entry_path(conf_dir, group, str(name))
        typed = _typed(schema, entry, path, f"{group}.{name}")
        if getattr(typed, "name", name) != name:
            msg = f"{conf_loc(path, 'name')}: name: {typed.name!r} must equal the file's name {name!r}"  # type: ignore[attr-defined]
            raise ConfigError(msg)
        result[str(name)] = typed
    return result


def _typed(schema: type[T], entry: Any, path: Path, key: str) -> T:
    # An override can replace a whole entry with null, a number or a list
    # (`settings=null`): that is a wrong value at its key, not a crash in OmegaConf.
    if not isinstance(entry, DictConfig | dict):
        shown_entry = "null" if entry is None else type(entry).__name__
        msg = f"{conf_loc(path)}: {key}: must be a mapping of {schema.__name__} fields, got {shown_entry}"
        raise ConfigError(msg)
    try:
        merged = OmegaConf.merge(_writable(OmegaConf.structured(schema)), entry)
        obj = OmegaConf.to_object(merged)
    except (OmegaConfBaseException, ValueError) as exc:
        inner = str(getattr(exc, "full_key", "") or "")
        full_key = f"{key}.{inner}" if inner else key
        reason = str(exc).splitlines()[0]
        replaced = REPLACED.get((key.split(".")[0], inner))
        if replaced:
            reason = f"{reason}: {replaced}"
        msg = f"{conf_loc(path, inner)}: {full_key}: {reason}"
        raise ConfigError(msg) from None
    assert isinstance(obj, schema)
    return obj


def _writable(cfg: DictConfig) -> DictConfig:
    """``cfg`` with its nested nodes inheriting the root's read-only flag.

    OmegaConf marks the node of every frozen dataclass read-only, and merge() lifts the flag
    on the root alone, so a nested frozen dataclass (Settings.cpu_base_image) could not take
    values from conf/. The object made from the merge is frozen all the same.
    """
    for key in cfg:
        node = cfg._get_node(key)
        if isinstance(node, DictConfig):
            OmegaConf.set_readonly(node, None)
            _writable(node)
    return cfg


def check_references(catalog: Catalog, conf_dir: Path) -> None:
    """Names that catalog entries use for each other must exist (plugin modules are checked
    against their registries by the session, after the catalog cache)."""
    dtypes = {q.dtype for q in catalog.quantizations.values()}
    for chip in catalog.chips.values():
        where = entry_path(conf_dir, "chip", chip.name)
        _names_exist(where, "base_image", chip.base_image, catalog.engines, "engine")
        for name, image in chip.base_image.items():
            if "{" in image and image != LOCAL_BASE:
                loc = conf_loc(where, f"base_image.{name}")
                msg = f"{loc}: base_image.{name}: {image!r}: the only placeholder is {LOCAL_BASE}"
                raise ConfigError(msg)
        _names_exist(where, "engine_versions", chip.engine_versions, chip.base_image, "engine")
        _names_exist(where, "dtypes", chip.dtypes, dtypes, "dtype (of conf/quantization)")
    for engine in catalog.engines.values():
        where = entry_path(conf_dir, "engine", engine.name)
        _name_exists(where, "gguf_load", engine.gguf_load, GGUF_LOADS, "gguf_load")
        _name_exists(where, "exact_length", engine.exact_length, EXACT_LENGTHS, "exact_length")
        _names_exist(where, "formats", engine.formats, FORMATS, "format")
        _names_exist(where, "dtypes", engine.dtypes, dtypes, "dtype (of conf/quantization)")
    for quant in catalog.quantizations.values():
        _check_quantization(quant, catalog, entry_path(conf_dir, "quantization", quant.name))
    for suite in catalog.suites.values():
        _check_suite(suite, entry_path(conf_dir, "suite", suite.name))


def _check_quantization(quant: QuantizationConf, catalog: Catalog, where: Path) -> None:
    _names_exist(where, "engine_args", quant.engine_args, catalog.engines, "engine")
    for engine, args in quant.engine_args.items():
        _engine_args_exist(where, engine, args, catalog)
    _name_exists(where, "method", quant.method, METHODS, "method")
    _name_exists(where, "format", quant.format, FORMATS, "format")
    if quant.method == "quantize":
        _name_exists(where, "quantizer", quant.quantizer, catalog.quantizers, "quantizer")
    elif quant.quantizer:
        loc = conf_loc(where, "quantizer")
        msg = f"{loc}: quantizer: only method 'quantize' runs a quantizer ({quant.method!r})"
        raise ConfigError(msg)


def _engine_args_exist(
    where: Path, engine: str, args: Mapping[str, object], catalog: Catalog
) -> None:
    """A quantization's engine arguments are for one engine: each must be an argument it
    has (by its exact name), never one it would ignore or take as an abbreviation."""
    name = catalog.engines[engine].module or engine
    if name not in ENGINES:
        return  # the session's plugin check names the conf/ line
    module = ENGINES.get(name)
    for key in args:
        if own_argument(key, module.ARGUMENTS, getattr(module, "RENAMES", {})) is None:
            path = f"engine_args.{engine}.{key}"
            known = [*module.ARGUMENTS, *getattr(module, "RENAMES", {})]
            msg = f"{conf_loc(where, path)}: {path}: {engine} has no argument {key!r}"
            raise ConfigError(msg + did_you_mean(key, known))


def _check_suite(suite: SuiteConf, where: Path) -> None:
    if not suite.gate:
        return
    _name_exists(where, "gate", suite.gate, judge.GATES, "gate")
    document = judge.GATES[suite.gate].document
    if document not in suite.files:
        loc = conf_loc(where, "files")
        msg = f"{loc}: files: the {suite.gate} gate reads {document}; list it among the files"
        raise ConfigError(msg)


def _names_exist(
    where: Path, key: str, names: Mapping[str, object] | list[str], known: Iterable[str], kind: str
) -> None:
    """Every name (a list's items, a mapping's keys) must be known."""
    if isinstance(names, Mapping):
        for name in names:
            _name_exists(where, key, name, known, kind, path=f"{key}.{name}")
    else:
        for index, name in enumerate(names):
            _name_exists(where, key, name, known, kind, path=f"{key}[{index}]")


def _name_exists(
    where: Path, key: str, name: str, known: Iterable[str], kind: str, *, path: str = ""
) -> None:
    """An unknown name is an error pointing at the line that names it, with the closest one."""
    valid = list(known)
    if name not in valid:
        msg = f"{conf_loc(where, path or key)}: {key}: {unknown_name(kind, name, valid)}"
        raise ConfigError(msg)
