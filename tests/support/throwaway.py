"""A throwaway chip, engine and suite, added to a project exactly as CONTRIBUTING.md says:
one file for the chip; a YAML file and a module for the engine; the same for the suite.

The modules live outside the package, in a folder added to the engine and suite packages'
search path (as a site would add its own plugins), and are removed from it afterwards.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

import yaml

from builder.core import engines
from builder.effects import suites
from tests.conftest import ROOT

SUMS_SERVER = ROOT / "tests" / "support" / "sums_server.py"
CELL = "demo.demo.bf16.echo"

CHIP = {
    "name": "demo",
    "vendor_en": "Demo",
    "vendor_cn": "演示",
    "naming_suffix": "demo",
    # No management command: the chip is "present" on every host, as the CPU is.
    "smi_command": "",
    "base_image": {"echo": "example.org/demo/echo:1"},
    "dtypes": ["bfloat16"],
    "runner_labels": ["self-hosted", "demo"],
}

ENGINE = {
    "name": "echo",
    "display_name": "Echo (the sums server)",
    "package": "none==0",
    "version": "0",
    "serve": [
        *(sys.executable, str(SUMS_SERVER), "{model}", "--host", "{host}", "--port", "{port}"),
        *("--served-model-name", "{served_model_name}"),
    ],
    "prompt_logprobs": False,
    "accepts_ignore_eos": False,
    "formats": ["safetensors"],
    "dtypes": ["bfloat16"],
}

ENGINE_MODULE = '''"""The echo engine (the sums server): its arguments, by their own names."""

from builder.core.engines._args import table, translate

ARGUMENTS = table(
    """
host              str
port              int
served_model_name str
wrong_every       int
"""
)
RESERVED = ("host", "port", "served_model_name")


def translate_args(args):
    return translate(args, ARGUMENTS, {})
'''

SUITE = {"name": "probe", "description": "Lists the served models", "files": ["probe.json"]}

SUITE_MODULE = '''"""The probe suite: lists the served models and keeps the answer as probe.json."""

import json
import time

import httpx

from builder.core.results import Check, SuiteResult

NAME = "{name}"


def run(ctx):
    started = time.monotonic()
    body = httpx.get(ctx.engine.base_url + "/v1/models", timeout=ctx.request_timeout_s).json()
    check = Check(name="models", passed=bool(body.get("data")), detail=f"{{len(body['data'])}}")
    return SuiteResult(
        name="probe",
        checks=(check,),
        duration_s=time.monotonic() - started,
        artifacts={{NAME: json.dumps(body, sort_keys=True).encode()}},
    )
'''

RECIPE = {
    "model": {"name": "Demo", "source": "generate://tiny-llama", "license": "mit"},
    "matrix": {"chip": ["demo"], "quantization": ["bf16"], "engine": ["echo"]},
    "validate": {"suites": ["smoke", "probe"]},
    "release": {"org": "Demo"},
}


@contextlib.contextmanager
def plugins(project: Path, *, writes: str = "probe.json") -> Iterator[Path]:
    """Add the chip, engine and suite to ``project`` (and a recipe using them); the suite
    writes ``writes`` (a file its conf/ entry does not declare, if changed)."""
    conf = project / "conf"
    (conf / "chip" / "demo.yaml").write_text(yaml.safe_dump(CHIP))
    (conf / "engine" / "echo.yaml").write_text(yaml.safe_dump(ENGINE))
    (conf / "suite" / "probe.yaml").write_text(yaml.safe_dump(SUITE))
    (project / "recipes" / "demo.yaml").write_text(yaml.safe_dump(RECIPE))
    code = project / "plugins"
    (code / "engines").mkdir(parents=True)
    (code / "suites").mkdir()
    (code / "engines" / "echo.py").write_text(ENGINE_MODULE)
    (code / "suites" / "probe.py").write_text(SUITE_MODULE.format(name=writes))
    engines.__path__.append(str(code / "engines"))
    suites.__path__.append(str(code / "suites"))
    try:
        yield project
    finally:
        engines.__path__.remove(str(code / "engines"))
        suites.__path__.remove(str(code / "suites"))
        for name in ("builder.core.engines.echo", "builder.effects.suites.probe"):
            sys.modules.pop(name, None)
        # The registries keep what they imported: the next project's plugins are new code.
        engines.REGISTRY.forget("echo")
        suites.REGISTRY.forget("probe")
