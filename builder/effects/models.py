"""Make a model source available as a local directory (downloads happen only here)."""

from __future__ import annotations

from pathlib import Path

from builder.core.render import source_parts
from builder.errors import ModelSourceError

TINY_LLAMA_SEED = 0


def materialize(source: str, cache_dir: Path) -> Path:
    """The local directory holding the weights of ``source``."""
    parts = source_parts(source)
    kind = parts["kind"]
    if kind == "generate" and parts["repo"] == "tiny-lora":
        return _tiny_lora(cache_dir)
    if kind == "generate":
        return _tiny_llama(cache_dir)
    if kind == "file":
        path = Path("/" + parts["repo"].lstrip("/"))
        if not path.is_dir():
            msg = f"model source {source}: {path} is not a directory"
            raise ModelSourceError(msg)
        return path
    if kind == "huggingface":
        return _huggingface(parts["repo"], parts["revision"] or None, cache_dir)
    if kind == "modelscope":
        return _modelscope(parts["repo"], parts["revision"] or None, cache_dir)
    msg = f"model source {source}: unknown scheme {kind!r}"
    raise ModelSourceError(msg)


def _tiny_llama(cache_dir: Path) -> Path:
    from builder.effects.tinymodel import generate_tiny_llama

    dest = cache_dir / f"tiny-llama-seed{TINY_LLAMA_SEED}"
    if not (dest / "config.json").is_file():
        generate_tiny_llama(dest, seed=TINY_LLAMA_SEED)
    return dest


def _tiny_lora(cache_dir: Path) -> Path:
    from builder.effects.tinymodel import generate_tiny_lora

    dest = cache_dir / f"tiny-lora-seed{TINY_LLAMA_SEED}"
    if not (dest / "adapter_config.json").is_file():
        generate_tiny_lora(dest, _tiny_llama(cache_dir), seed=TINY_LLAMA_SEED)
    return dest


def _huggingface(repo: str, revision: str | None, cache_dir: Path) -> Path:
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        msg = "huggingface:// sources need huggingface_hub: pip install huggingface_hub"
        raise ModelSourceError(msg) from None
    try:
        return Path(snapshot_download(repo, revision=revision, cache_dir=cache_dir / "hf"))
    except Exception as exc:  # noqa: BLE001 -- the hub client raises many types; all mean "not available"
        msg = f"huggingface://{repo}: cannot download: {exc}"
        raise ModelSourceError(msg) from None


def _modelscope(repo: str, revision: str | None, cache_dir: Path) -> Path:
    try:
        from modelscope import snapshot_download
    except ImportError:
        msg = "modelscope:// sources need the ModelScope SDK: pip install modelscope"
        raise ModelSourceError(msg) from None
    try:
        path = snapshot_download(repo, revision=revision, cache_dir=str(cache_dir / "modelscope"))
    except Exception as exc:  # noqa: BLE001 -- the SDK raises many types; all mean "not available"
        msg = f"modelscope://{repo}: cannot download: {exc}"
        raise ModelSourceError(msg) from None
    return Path(path)
