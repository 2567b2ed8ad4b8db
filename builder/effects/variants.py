"""Make a variant's weights once and share them: the cache behind "quantize once, fan out".

Layout under ``<out>/.cache/variants`` (beside the model downloads)::

    <key>/variant.json     what was made: spec, files with sha256 and size, parameters,
                           bits per weight, the tool and commands that made it, how long
    <key>/weights/         the produced files (quantized or merged variants only)
    <key>.lock             held while one run produces the variant

A variant is produced in a temporary sibling and renamed into place when complete, so a
killed run never leaves a half-written variant that a later run would serve. A lock per key
makes concurrent cells (launchers, two jobs on one host) wait for the first producer instead
of quantizing twice. Source and prequantized weights are not copied: their record points at
the downloaded folder.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import struct
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from builder.core.log import Log
from builder.core.variants import VariantSpec
from builder.effects import fs, killpoint
from builder.effects.models import materialize
from builder.errors import OutputError, QuantizeError

RECORD = "variant.json"


@dataclass(frozen=True, kw_only=True)
class Weights:
    """Weights ready to serve, and the record of what they are."""

    dir: Path
    # The file engines load for single-file formats (GGUF); "" for a folder.
    file: str
    # Where clients find the tokenizer (a GGUF file carries its own; lm-eval needs a folder).
    tokenizer_dir: Path
    record: Mapping[str, Any]
    # Whether this run made them (False: found in the cache, or served from the source).
    produced_now: bool = False
    # What is served instead of the variant's own file, when an engine cannot load it.
    served_as: str = ""


@dataclass(frozen=True, kw_only=True)
class Workshop:
    """Where variants are made and kept, and what making them may use."""

    cache_dir: Path  # <out>/.cache
    tools_dir: Path
    project_root: Path
    # The tools' scratch space and logs: kept when making a variant fails, so the log an
    # error names is still there to read (removed after a success: it may hold a full copy).
    work_dir: Path
    env: Mapping[str, str]
    timeout_s: float
    log: Log

    @property
    def variants_dir(self) -> Path:
        return self.cache_dir / "variants"


def default_tools_dir() -> Path:
    """Downloaded tools and tool environments, shared by every project of this user."""
    override = os.environ.get("LLMRB_TOOLS_DIR")
    if override:
        return Path(override)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "llm-release-builder" / "tools"


def prepare(spec: VariantSpec, shop: Workshop) -> Weights:
    """The weights of ``spec``: from the cache, or made now (once, whoever asks first)."""
    source_dir = materialize(spec.source, shop.cache_dir / "models")
    if not spec.produced:
        return _source_weights(spec, source_dir, shop)
    home = shop.variants_dir / spec.key
    with _key_lock(shop.variants_dir, spec.key):
        cached = _cached(home)
        if cached is not None:
            return _weights(spec, home, source_dir, cached, produced_now=False)
        record = _produce(spec, source_dir, home, shop)
    return _weights(spec, home, source_dir, record, produced_now=True)


def _weights(
    spec: VariantSpec,
    home: Path,
    source_dir: Path,
    record: Mapping[str, Any],
    *,
    produced_now: bool,
) -> Weights:
    weights = home / "weights"
    tokenizer_dir = source_dir if spec.file else weights
    return Weights(
        dir=weights,
        file=spec.file,
        tokenizer_dir=tokenizer_dir,
        record=record,
        produced_now=produced_now,
    )


def _source_weights(spec: VariantSpec, source_dir: Path, shop: Workshop) -> Weights:
    """Source or prequantized weights, served where they were downloaded; their record is
    kept by key so a large download is hashed once."""
    home = shop.variants_dir / spec.key
    with _key_lock(shop.variants_dir, spec.key):
        record = _cached_record(home)
        if record is None or not _record_matches(source_dir, record):
            record = _record(spec, source_dir, source_dir, tool="", commands=(), seconds=0.0)
            fs.write_atomic(home / RECORD, (json.dumps(record, indent=2) + "\n").encode())
    return Weights(dir=source_dir, file="", tokenizer_dir=source_dir, record=record)


def _produce(spec: VariantSpec, source_dir: Path, home: Path, shop: Workshop) -> dict[str, Any]:
    shop.log(f"    variant {spec.quantization}: {spec.describe()}")
    # Under the key's lock, any staged folder of this key is a killed run's: discard it.
    for stale in shop.variants_dir.glob(f".{spec.key[:16]}.*.tmp"):
        shutil.rmtree(stale, ignore_errors=True)
    started = time.monotonic()
    staged = Path(
        tempfile.mkdtemp(prefix=f".{spec.key[:16]}.", suffix=".tmp", dir=shop.variants_dir)
    )
    try:
        out, work = staged / "weights", shop.work_dir
        out.mkdir()
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        tool, commands = _make(spec, source_dir, out, work, shop)
        shutil.rmtree(work)
        if not _files(out):
            msg = f"variant {spec.quantization}: {tool or 'the producer'} wrote no files"
            raise QuantizeError(msg)
        killpoint.point("variant-made")
        record = _record(spec, out, source_dir, tool, commands, time.monotonic() - started)
        (staged / RECORD).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        staged.chmod(0o755)
        fs.swap_in(staged, home)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    shop.log(
        f"    variant {spec.quantization}: {record['bytes']:,} bytes, "
        f"{record['bits_per_weight']} bits/weight, made in {record['seconds']:.1f}s"
    )
    return record


def _make(
    spec: VariantSpec, source_dir: Path, out: Path, work: Path, shop: Workshop
) -> tuple[str, tuple[tuple[str, ...], ...]]:
    if spec.method == "merge-adapter":
        from builder.effects.adapters import merge_adapter

        adapter_dir = materialize(spec.adapter, shop.cache_dir / "models")
        tool = merge_adapter(source_dir, adapter_dir, out)
        return tool, ()
    from builder.effects.quantizers import REGISTRY, QuantizeJob

    job = QuantizeJob(
        spec=spec,
        source_dir=source_dir,
        out_dir=out,
        work_dir=work,
        tools_dir=shop.tools_dir,
        project_root=shop.project_root,
        env=shop.env,
        timeout_s=shop.timeout_s,
        log=shop.log,
    )
    produced = REGISTRY.get(str(spec.quantizer["module"])).quantize(job)
    return produced.tool, tuple(tuple(c) for c in produced.commands)


def _cached(home: Path) -> dict[str, Any] | None:
    """A finished variant whose files are all there with their recorded sizes."""
    record = _cached_record(home)
    if record is None:
        return None
    weights = home / "weights"
    for name, meta in record.get("files", {}).items():
        path = weights / name
        if not path.is_file() or path.stat().st_size != meta.get("bytes"):
            return None
    return record


def _cached_record(home: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((home / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _record_matches(folder: Path, record: Mapping[str, Any]) -> bool:
    files = record.get("files", {})
    present = {p.relative_to(folder).as_posix(): p for p in _files(folder)}
    return set(present) == set(files) and all(
        p.stat().st_size == files[n].get("bytes") for n, p in present.items()
    )


@contextlib.contextmanager
def _key_lock(folder: Path, key: str) -> Iterator[None]:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder / f"{key}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        msg = f"{folder}: cannot lock variant {key[:12]}: {exc.strerror or exc}"
        raise OutputError(msg) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def _record(
    spec: VariantSpec,
    weights: Path,
    source_dir: Path,
    tool: str,
    commands: tuple[tuple[str, ...], ...],
    seconds: float,
) -> dict[str, Any]:
    """What a variant is: every file's hash and size, and its measured bits per weight."""
    files = {}
    for path in _files(weights):
        files[path.relative_to(weights).as_posix()] = {
            "sha256": fs.sha256_file(path),
            "bytes": path.stat().st_size,
        }
    params = parameter_count(source_dir)
    tensor_bytes = weight_bytes(weights)
    return {
        "key": spec.key,
        "spec": spec.to_json(),
        "files": files,
        "bytes": sum(f["bytes"] for f in files.values()),
        "parameters": params,
        "tensor_bytes": tensor_bytes,
        # Bits per weight over the *source* parameter count: packed formats store fewer,
        # larger elements, so their own element count would overstate the bits.
        "bits_per_weight": round(8 * tensor_bytes / params, 2) if params else None,
        "tool": tool,
        "commands": [list(c) for c in commands],
        "seconds": round(seconds, 2),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def parameter_count(folder: Path) -> int:
    """Elements of every tensor in a folder's safetensors files (0 when it has none)."""
    return sum(_numel(shape) for shape, _ in _safetensors_tensors(folder))


def weight_bytes(folder: Path) -> int:
    """Bytes of tensor data in a folder's weights: safetensors and GGUF files."""
    total = sum(size for _, size in _safetensors_tensors(folder))
    for path in folder.glob("*.gguf"):
        total += _gguf_tensor_bytes(path)
    return total


def _numel(shape: list[int]) -> int:
    n = 1
    for dim in shape:
        n *= dim
    return n


def _safetensors_tensors(folder: Path) -> list[tuple[list[int], int]]:
    """(shape, data bytes) of every tensor, read from the files' JSON headers only."""
    tensors = []
    for path in sorted(folder.glob("*.safetensors")):
        with path.open("rb") as f:
            (length,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(length))
        for name, meta in header.items():
            if name == "__metadata__":
                continue
            start, end = meta["data_offsets"]
            tensors.append((list(meta["shape"]), int(end) - int(start)))
    return tensors


def _gguf_tensor_bytes(path: Path) -> int:
    from gguf import GGUFReader  # the reader transformers also uses to load GGUF

    return sum(int(t.n_bytes) for t in GGUFReader(str(path)).tensors)


DEQUANTIZED = "dequantized"


def dequantized(weights: Weights) -> Weights:
    """A safetensors copy of single-file (GGUF) weights, made once beside them by
    transformers' GGUF reader: the exact values an engine dequantizing on load would use."""
    if not weights.file:
        return weights
    home = weights.dir.parent
    target = home / DEQUANTIZED
    with _key_lock(home.parent, f"{home.name}.{DEQUANTIZED}"):
        if not (target / "config.json").is_file():
            staged = Path(tempfile.mkdtemp(prefix=f".{DEQUANTIZED}.", suffix=".tmp", dir=home))
            try:
                _dequantize(weights.dir, weights.file, staged)
                staged.chmod(0o755)
                fs.swap_in(staged, target)
            except BaseException:
                shutil.rmtree(staged, ignore_errors=True)
                raise
    return Weights(
        dir=target,
        file="",
        tokenizer_dir=weights.tokenizer_dir,
        record=weights.record,
        produced_now=weights.produced_now,
        served_as="dequantized by transformers' GGUF reader",
    )


def _dequantize(folder: Path, file: str, out: Path) -> None:
    import copy

    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=file)
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=file)
    except (ValueError, OSError, KeyError, RuntimeError) as exc:
        msg = f"{folder / file}: transformers cannot read this GGUF file: {exc}"
        raise QuantizeError(msg) from None
    # transformers refuses to save a model it marked "quantized with gguf", although its
    # tensors are plain floats by now: copy them into the same architecture, unmarked, and
    # name the architecture (the config read from GGUF has none, which breaks servers).
    config = copy.deepcopy(loaded.config)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.architectures = [type(loaded).__name__]
    model = type(loaded)(config)
    model.load_state_dict(loaded.state_dict(), strict=True)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
