"""A throw-away project whose vLLM is the misbehaving fake engine, and checks on its out/."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from pathlib import Path

import yaml

from tests.conftest import ROOT

FAKE_ENGINE = Path(__file__).with_name("fake_engine.py")
README = "# Demo\n\n<!-- START:models -->\n<!-- END:models -->\n\nEnd.\n"


def recipe(
    mode: str, model_dir: Path, *, chips: str = "cpu", description: str = "", name: str = "Fake"
) -> str:
    """A one-model recipe served by the fake engine in ``mode``; recipes of one project need
    distinct ``name``s (two recipes may not release to one repository or image)."""
    return (
        "model:\n"
        f"  name: {name}\n"
        f"  source: file://{model_dir}\n"
        "  license: mit\n"
        f"  description: {json.dumps(description)}\n"
        f"matrix: {{chip: [{chips}], quantization: [bf16], engine: [vllm]}}\n"
        f"serve: {{tokenizer_revision: {mode}}}\n"
        "release: {org: Org}\n"
    )


def make_project(root: Path, recipes: dict[str, str]) -> Path:
    """conf/ and templates/ from this repository, vLLM replaced by the fake, ``recipes``."""
    for name in ("conf", "templates"):
        shutil.copytree(ROOT / name, root / name)
    vllm = root / "conf" / "engine" / "vllm.yaml"
    entry = yaml.safe_load(vllm.read_text())
    entry["serve"] = [sys.executable, str(FAKE_ENGINE), "{model}", "--host", "{host}"]
    entry["serve"] += ["--port", "{port}", "--served-model-name", "{served_model_name}"]
    vllm.write_text(yaml.safe_dump(entry))
    config = root / "conf" / "config.yaml"
    # The session's temporary folder: copies of this project (siblings) are allowed too.
    config.write_text(config.read_text().replace("[/data/models]", f"[{root.parent}]"))
    (root / "recipes").mkdir()
    for name, text in recipes.items():
        (root / "recipes" / f"{name}.yaml").write_text(text)
    (root / "README.md").write_text(README)
    (root / "model").mkdir(exist_ok=True)
    return root


def alive(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie is not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def cell_dirs(out: Path) -> list[Path]:
    """The cell folders out/<recipe>/<cell-id>/ (out/site/ holds the report page)."""
    return sorted(
        cell
        for recipe in out.iterdir()
        if recipe.is_dir() and not recipe.name.startswith(".") and recipe.name != "site"
        for cell in recipe.iterdir()
        if not cell.name.startswith(".")
    )


def assert_consistent(project: Path, *, settled: bool = False) -> None:
    """Nothing half-written where a reader looks: every JSON parses, every manifest matches
    its directory byte for byte, the README keeps its markers. ``settled``: also no
    temporary or swapped-out leftovers (after a run that finished)."""
    out = project / "out"
    for cell in cell_dirs(out):
        manifest = json.loads((cell / "manifest.json").read_text())
        names = {p.name for p in cell.iterdir()} - {"manifest.json"}
        assert set(manifest["files"]) == names, cell
        for name, entry in manifest["files"].items():
            data = (cell / name).read_bytes()
            assert hashlib.sha256(data).hexdigest() == entry["sha256"], cell / name
            assert len(data) == entry["size"]
        for name in names:
            if name.endswith(".json"):
                json.loads((cell / name).read_text())
    if (out / "release.json").exists():
        json.loads((out / "release.json").read_text())
    readme = (project / "README.md").read_text()
    assert readme.startswith("# Demo\n\n<!-- START:models -->\n")
    assert readme.endswith("<!-- END:models -->\n\nEnd.\n")
    assert readme.count("<!-- START:models -->") == readme.count("<!-- END:models -->") == 1
    if settled:
        leftovers = [
            str(p)
            for folder in (project, out, *out.iterdir())
            if folder.is_dir()
            for p in folder.iterdir()
            if p.name.endswith((".tmp", ".old"))
        ]
        assert leftovers == []


def builder_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BUILDER_TEST_")}
    env.update(extra)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    return env
