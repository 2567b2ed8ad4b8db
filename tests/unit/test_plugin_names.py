"""An unknown or mismatched name in conf/ is a config error when the catalog loads: the file,
the line, the key, the valid names and the closest one, exit 2, nothing written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from builder.cli import main

CASES = [
    # (file, text to replace, replacement, expected error, with its line)
    (
        "engine/vllm.yaml",
        "name: vllm\n",
        "name: vllm\nmodule: vlm\n",
        r"conf/engine/vllm\.yaml:3:1: module: unknown engine module 'vlm'; .*did you mean 'vllm'\?",
    ),
    (
        "publish/registry.yaml",
        "kind: oci",
        "kind: ocii",
        (
            r"conf/publish/registry\.yaml:\d+:1: kind: unknown publish kind 'ocii'; "
            r"expected one of huggingface, local, modelscope, oci; did you mean 'oci'\?"
        ),
    ),
    (
        "suite/accuracy.yaml",
        "gate: accuracy",
        "gate: acuracy",
        r"conf/suite/accuracy\.yaml:\d+:1: gate: unknown gate 'acuracy'; .*did you mean 'accuracy'",
    ),
    (
        "suite/perf.yaml",
        "files: [perf.json]",
        "files: [perf.jsn]",
        r"conf/suite/perf\.yaml:\d+:1: files: the perf gate reads perf\.json; list it",
    ),
    (
        "quantizer/gguf.yaml",
        "module: gguf",
        "module: ggfu",
        r"conf/quantizer/gguf\.yaml:\d+:1: module: unknown quantizer module 'ggfu'; .*'gguf'\?",
    ),
    (
        "chip/metax.yaml",
        "dtypes: [bfloat16, int8, int4]",
        "dtypes: [bfloat16, int8, int44]",
        r"conf/chip/metax\.yaml:\d+:\d+: dtypes: unknown dtype .*'int44'; .*did you mean 'int4'\?",
    ),
    (
        "engine/llamacpp.yaml",
        "formats: [gguf]",
        "formats: [guff]",
        r"conf/engine/llamacpp\.yaml:\d+:\d+: formats: unknown format 'guff'; .*'gguf'\?",
    ),
    (
        "chip/cpu.yaml",
        "  llamacpp: python:3.11-bookworm",
        "  llamacp: python:3.11-bookworm",
        r"conf/chip/cpu\.yaml:\d+:\d+: base_image: unknown engine 'llamacp'; .*'llamacpp'\?",
    ),
    (
        "quantization/gguf-q8_0.yaml",
        "method: quantize",
        "method: quantise",
        (
            r"conf/quantization/gguf-q8_0\.yaml:\d+:1: method: unknown method 'quantise'; "
            r".*did you mean 'quantize'\?"
        ),
    ),
    (
        "engine/sglang.yaml",
        "formats: [safetensors]",
        "chips: [nvidia]\nformats: [safetensors]",
        (
            r"conf/engine/sglang\.yaml:\d+:1: engine\.sglang\.chips: Key 'chips' not in 'EngineConf': "
            r"a chip runs the engines it names in its base_image"
        ),
    ),
]


@pytest.mark.parametrize(("file", "old", "new", "expected"), CASES, ids=[c[0] for c in CASES])
def test_a_bad_name_in_conf_names_its_file_and_line(
    project: Path, capsys: pytest.CaptureFixture[str], file: str, old: str, new: str, expected: str
) -> None:
    path = project / "conf" / file
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    assert main(["plan", "--root", str(project)]) == 2
    err = capsys.readouterr().err
    assert re.search(expected, err), err
    assert not (project / "out").exists()


def test_a_suite_file_without_a_module_says_which_modules_there_are(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "conf" / "suite" / "probe.yaml").write_text("name: probe\ndescription: x\n")
    assert main(["plan", "--root", str(project)]) == 2
    assert re.search(
        r"conf/suite/probe\.yaml:1:1: name: unknown suite module 'probe'; "
        r"expected one of accuracy, perf, smoke",
        capsys.readouterr().err,
    )
