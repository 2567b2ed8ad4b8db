"""One llm-compressor run, described by a job document (JSON) written by the builder's plugin.

Run by the python of llm-compressor's own virtual environment (it pins a transformers the
builder does not use), so it imports nothing of the builder: stdlib, torch, transformers,
datasets and llmcompressor only. It is started with ``python -I``: otherwise this folder,
which holds the builder's ``llmcompressor.py`` plugin, would shadow the real package.

The document says everything (see ``job_document`` in llmcompressor.py): the folders, the
modifiers of the recipe with their arguments, and where the calibration texts come from.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

# mypy checks this file beside the builder, where llmcompressor is not installed and datasets
# has no type information; in the tool environment both are there.
import datasets  # type: ignore[import-untyped, import-not-found, unused-ignore]
from llmcompressor import oneshot  # type: ignore[import-not-found, unused-ignore]
from llmcompressor.modifiers.quantization import (  # type: ignore[import-not-found, unused-ignore]
    GPTQModifier,
    QuantizationModifier,
)
from llmcompressor.modifiers.transform import (  # type: ignore[import-not-found, unused-ignore]
    SmoothQuantModifier,
)
from transformers import AutoModelForCausalLM, AutoTokenizer

# The modifiers a document may name: a fixed table, so the document cannot name anything else.
MODIFIERS = {
    "SmoothQuantModifier": SmoothQuantModifier,
    "GPTQModifier": GPTQModifier,
    "QuantizationModifier": QuantizationModifier,
}
# Splits tried in order when a Hugging Face dataset has no "train" (ultrachat_200k: train_sft).
SPLITS = ("train", "train_sft", "train_gen")


def main(argv: list[str]) -> int:
    job = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
    tokenizer = AutoTokenizer.from_pretrained(job["source_dir"])
    calibration = job["calibration"]
    # The data first: a missing dataset fails in seconds, not after loading a large model.
    dataset = None if calibration is None else calibration_set(calibration, tokenizer)
    # The source's own dtype ("auto"): llm-compressor keeps the model on the CPU and moves one
    # layer at a time to the accelerator, or computes on the CPU when there is none.
    model = AutoModelForCausalLM.from_pretrained(job["source_dir"], dtype=job["dtype"])
    recipe = [MODIFIERS[m["type"]](**m["args"]) for m in job["modifiers"]]
    if calibration is None:
        oneshot(model=model, recipe=recipe)
    else:
        oneshot(
            model=model,
            recipe=recipe,
            dataset=dataset,
            num_calibration_samples=calibration["samples"],
            max_seq_length=calibration["max_seq_length"],
            # The first N samples, in file order: the same data gives the same weights.
            shuffle_calibration_samples=False,
        )
    # llm-compressor wraps save_pretrained: compressed-tensors packing plus its recipe.yaml.
    model.save_pretrained(job["out_dir"], save_compressed=True)
    tokenizer.save_pretrained(job["out_dir"])
    return 0


def calibration_set(calibration: dict[str, Any], tokenizer: Any) -> Any:
    """The first ``samples`` texts, tokenized (truncated to ``max_seq_length``)."""
    samples = int(calibration["samples"])
    if "jsonl" in calibration:
        texts = read_jsonl(Path(calibration["jsonl"]), samples)
    else:
        texts = hub_texts(calibration["huggingface"], samples, tokenizer)
    if not texts:
        sys.exit("calibration: no texts")
    rows = datasets.Dataset.from_dict({"text": texts})
    max_len = int(calibration["max_seq_length"])
    return rows.map(
        lambda row: tokenizer(row["text"], truncation=True, max_length=max_len),
        remove_columns=["text"],
    )


def read_jsonl(path: Path, samples: int) -> list[str]:
    texts: list[str] = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if len(texts) == samples:
                break
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError:
                sys.exit(f"calibration: {path}:{number} is not JSON")
            text = row.get("text") if isinstance(row, dict) else None
            if not isinstance(text, str):
                sys.exit(f'calibration: {path}:{number} has no string "text"')
            texts.append(text)
    return texts


def hub_texts(name: str, samples: int, tokenizer: Any) -> list[str]:
    """Texts from a Hugging Face dataset: its "text" column, or chat "messages" rendered
    with the model's chat template (the form the model will be prompted in)."""
    try:
        splits = datasets.get_dataset_split_names(name)
        split = next((s for s in SPLITS if s in splits), splits[0])
        rows = datasets.load_dataset(name, split=f"{split}[:{samples}]")
    except Exception as exc:  # noqa: BLE001 -- offline, missing, gated: one clear line for all
        offline = " (HF_DATASETS_OFFLINE/HF_HUB_OFFLINE is set)" if _offline() else ""
        sys.exit(f"calibration: cannot load Hugging Face dataset {name!r}{offline}: {exc}")
    if "text" in rows.column_names:
        return [str(t) for t in rows["text"]]
    if "messages" in rows.column_names:
        return [tokenizer.apply_chat_template(m, tokenize=False) for m in rows["messages"]]
    sys.exit(
        f"calibration: {name} has neither a 'text' nor a 'messages' column: {rows.column_names}"
    )


def _offline() -> bool:
    return any(os.environ.get(v) == "1" for v in ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE"))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
