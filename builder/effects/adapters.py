"""Merge a LoRA adapter into its base weights with peft: the full-weight variant of an adapter.

The adapter comes from a recipe, so it is untrusted: only ``adapter_model.safetensors`` is
accepted (a pickled ``adapter_model.bin`` would run code when loaded), and the base model is
always the recipe's, never the ``base_model_name_or_path`` the adapter's config names.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from builder.errors import QuantizeError

ADAPTER_WEIGHTS = "adapter_model.safetensors"
ADAPTER_CONFIG = "adapter_config.json"
# Tokenizer and generation files copied from the base, so the merged folder serves alone.
BASE_EXTRAS = (
    "tokenizer.json",
    "tokenizer_config.json",
    "tokenizer.model",
    "special_tokens_map.json",
    "generation_config.json",
    "chat_template.jinja",
)


def check_adapter(adapter_dir: Path) -> dict[str, object]:
    """The adapter's config, after checking it is a safetensors LoRA."""
    config_path = adapter_dir / ADAPTER_CONFIG
    if not (adapter_dir / ADAPTER_WEIGHTS).is_file() or not config_path.is_file():
        found = ", ".join(sorted(p.name for p in adapter_dir.iterdir())) or "nothing"
        msg = (
            f"adapter {adapter_dir}: needs {ADAPTER_CONFIG} and {ADAPTER_WEIGHTS} "
            f"(pickled .bin adapters are refused: loading them runs code); found {found}"
        )
        raise QuantizeError(msg)
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        msg = f"adapter {config_path}: not readable JSON: {exc}"
        raise QuantizeError(msg) from None
    if not isinstance(config, dict) or config.get("peft_type") != "LORA":
        kind = config.get("peft_type") if isinstance(config, dict) else None
        msg = f"adapter {config_path}: peft_type is {kind!r}; only LORA adapters can be merged"
        raise QuantizeError(msg)
    return config


def merge_adapter(base_dir: Path, adapter_dir: Path, out_dir: Path) -> str:
    """Write base + adapter merged (W + B·A·alpha/r) to ``out_dir``; returns the tool line."""
    import peft
    from transformers import AutoModelForCausalLM

    config = check_adapter(adapter_dir)
    # The stored dtype: merging in a narrower one would round the merged weights twice.
    base = AutoModelForCausalLM.from_pretrained(base_dir, dtype="auto")
    try:
        model = peft.PeftModel.from_pretrained(base, adapter_dir, use_safetensors=True)
    except (ValueError, KeyError, RuntimeError, OSError) as exc:
        msg = f"adapter {adapter_dir}: does not fit the base model {base_dir}: {exc}"
        raise QuantizeError(msg) from None
    merged = model.merge_and_unload()
    merged.save_pretrained(out_dir, safe_serialization=True)
    for name in BASE_EXTRAS:
        if (base_dir / name).is_file():
            shutil.copyfile(base_dir / name, out_dir / name)
    rank, alpha = config.get("r"), config.get("lora_alpha")
    return f"peft {peft.__version__} merge_and_unload (LoRA r={rank}, alpha={alpha})"
