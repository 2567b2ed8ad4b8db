"""Synthetic projects for the benchmark: many models x 10 chips x 6 quantizations x 4 engines."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
CHIPS = [f"chip{i}" for i in range(10)]
QUANTS = ["bf16", "fp8", "w8a8", "w4a16", "gguf-q8_0", "gguf-q4_k_m"]
ENGINES = ["vllm", "sglang", "llamacpp", "transformers"]
# Each recipe plans 10 x 6 x 4 = 240 candidates; its excludes drop 40 of them.
CELLS_PER_MODEL = 200


def _dump(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def _dtype(quantization: str) -> str:
    data = yaml.safe_load((ROOT / "conf/quantization" / f"{quantization}.yaml").read_text())
    return str(data["dtype"])


def synth_project(dest: Path, models: int, chips: int = len(CHIPS)) -> Path:
    """A project in ``dest`` whose recipes plan ``models * 200`` cells, or ``models * 20 *
    chips`` with fewer chips (hadolint waivers of the shipped chips are kept: the rendered
    Dockerfiles are the shipped ones)."""
    names = CHIPS[:chips]
    shutil.copytree(ROOT / "templates", dest / "templates")
    conf = dest / "conf"
    for group in ("quantization", "quantizer", "suite", "publish"):
        shutil.copytree(ROOT / "conf" / group, conf / group)
    template = yaml.safe_load((ROOT / "conf/chip/nvidia.yaml").read_text())
    for index, name in enumerate(names):
        chip = {**template, "name": name, "naming_suffix": name, "smi_command": f"{name}-smi"}
        chip["dtypes"] = sorted({_dtype(q) for q in QUANTS})
        chip["base_image"] = {e: f"example.org/{name}/{e}:{index}" for e in ENGINES}
        chip["engine_versions"] = {}
        chip["runner_labels"] = ["self-hosted", name]
        _dump(conf / "chip" / f"{name}.yaml", chip)
    for name in ENGINES:
        engine = yaml.safe_load((ROOT / "conf/engine" / f"{name}.yaml").read_text())
        # Every engine serves every quantization here: the matrix is as large as it can be.
        engine["formats"], engine["dtypes"] = ["safetensors", "gguf"], []
        _dump(conf / "engine" / f"{name}.yaml", engine)
    # The catalog's entries are its files; config.yaml holds the settings.
    shutil.copy(ROOT / "conf/config.yaml", conf / "config.yaml")
    for index in range(models):
        recipe = {
            "model": {
                "name": f"Model-{index}",
                "source": f"huggingface://example/Model-{index}@main",
                "license": "apache-2.0",
                "languages": ["en"],
            },
            "matrix": {"chip": names, "quantization": QUANTS, "engine": ENGINES},
            "exclude": [{"quantization": "gguf-q8_0", "engine": e} for e in ENGINES],
            "serve": {"max_model_len": 8192},
            # What the quantization catalog leaves to the recipe: the prequantized source
            # and the quantizers' calibration data.
            "variants": {
                "fp8": {"source": f"huggingface://example/Model-{index}-FP8@main"},
                "w8a8": {"calibration": {"dataset": "calibration/chat.jsonl"}},
                "w4a16": {"calibration": {"dataset": "calibration/chat.jsonl"}},
            },
            "overrides": [
                {
                    "select": {"chip": names[min(1, len(names) - 1)]},
                    "serve": {"tensor_parallel_size": 2},
                }
            ],
            "validate": {"reference": {"chip": "chip0", "quantization": "bf16", "engine": "vllm"}},
            "release": {"org": "Bench", "name": "{model}{quant_suffix}-{chip}-{engine}"},
        }
        _dump(dest / "recipes" / f"model-{index}.yaml", recipe)
    (dest / "calibration").mkdir(parents=True, exist_ok=True)
    (dest / "calibration" / "chat.jsonl").write_text('{"text": "hello"}\n')
    (dest / "README.md").write_text("# Bench\n\n<!-- START:models -->\n<!-- END:models -->\n")
    return dest
