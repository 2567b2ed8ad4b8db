"""`builder publish` through the real huggingface_hub and ModelScope SDKs, against the fake
hubs of tests/fakehub, run as a subprocess the way users run it."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.fakehub.server import FakeHub
from tests.integration.conftest import HF_TOKEN, MS_TOKEN, SECOND_RECIPE, publish_env

pytestmark = pytest.mark.integration

CELL = "tiny-llama.cpu.bf16.transformers"
REPO = "FlagRelease/Tiny-Llama-cpu-FlagOS"
HUBS = ["--target", "local", "--target", "huggingface", "--target", "modelscope"]
# tiny-llama also releases a GGUF variant; most tests publish its bf16 cell alone.
ONE_CELL = ("recipe=tiny-llama", "quantization=bf16")
GGUF_CELL = "tiny-llama.cpu.gguf-q8_0.transformers"
GGUF_REPO = "FlagRelease/Tiny-Llama-GGUF-Q8_0-cpu-FlagOS"


DOWNLOAD = (
    "import sys; from huggingface_hub import hf_hub_download; "
    "print(hf_hub_download(sys.argv[1], sys.argv[2], revision=sys.argv[3]))"
)


def publish(
    project: Path, env: dict[str, str], *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "builder", "publish", "--root", str(project), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    if check:
        assert done.returncode == 0, done.stdout + done.stderr
    return done


def released_files(project: Path, cell: str = CELL) -> dict[str, str]:
    """Repo path -> sha256 of what a cell publishes, read from out/ and the model cache."""
    recipe = cell.split(".")[0]
    cell_dir = project / "out" / recipe / cell
    models = next((project / "out" / ".cache" / "models").iterdir())
    files = {
        p.relative_to(models).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in models.rglob("*")
        if p.is_file()
    }
    files["README.md"] = hashlib.sha256((cell_dir / "README.md").read_bytes()).hexdigest()
    for name in ("validation.json", "manifest.json", "Dockerfile", "serve.sh", "anythingllm.json"):
        files[f"release/{name}"] = hashlib.sha256((cell_dir / name).read_bytes()).hexdigest()
    return files


def on_hub(hub: FakeHub, repo: str, revision: str) -> dict[str, str]:
    files = hub.files(repo, revision)
    return {p: e.sha256 for p, e in files.items() if p != ".gitattributes"}


def test_dry_run_lists_every_file_and_uploads_nothing(
    project: Path, fake_hf: FakeHub, fake_ms: FakeHub
) -> None:
    done = publish(project, publish_env(fake_hf, fake_ms), "--dry-run", *HUBS, *ONE_CELL)
    lines = done.stdout.splitlines()
    header = f"{CELL} -> huggingface: {REPO} @ main via staging-"
    assert any(line.startswith(header) for line in lines), done.stdout
    assert f"{CELL} -> modelscope: {REPO} @ master" in lines
    weights = [line for line in lines if line.endswith("  model.safetensors")]
    assert len(weights) == 3, weights
    assert all(line.split()[0] == "new" for line in weights), weights
    assert "  = 13 new, 0 changed, 0 unchanged; 2.3 MiB to upload" in lines
    assert lines[-1] == "publish --dry-run: 3 planned"
    assert fake_hf.repos == fake_ms.repos == {}
    assert fake_hf.bytes_received == fake_ms.bytes_received == 0
    assert not (project / "out" / "hub").exists()


def test_a_gguf_variant_publishes_its_file_not_the_source_weights(
    project: Path, fake_hf: FakeHub, fake_ms: FakeHub
) -> None:
    env = publish_env(fake_hf, fake_ms)
    done = publish(project, env, "--dry-run", "--target", "local", "quantization=gguf-q8_0")
    lines = done.stdout.splitlines()
    assert any(line.startswith(f"{GGUF_CELL} -> local: ") for line in lines), done.stdout
    assert any(line.endswith("  Tiny-Llama-Q8_0.gguf") for line in lines), done.stdout
    assert not any(line.endswith("  model.safetensors") for line in lines), done.stdout


def downloaded(env: dict[str, Any], name: str, revision: str) -> bytes:
    """A file of the released repo, fetched with the SDK in a process of its own."""
    argv = [sys.executable, "-c", DOWNLOAD, REPO, name, revision]
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return Path(done.stdout.strip()).read_bytes()


def test_publish_lands_whole_then_a_second_publish_sends_nothing(
    project: Path, fake_hf: FakeHub, fake_ms: FakeHub
) -> None:
    env = publish_env(fake_hf, fake_ms)
    publish(project, env, *HUBS, *ONE_CELL)
    expected = released_files(project)
    assert on_hub(fake_hf, REPO, "main") == expected
    assert on_hub(fake_ms, REPO, "master") == expected
    local = project / "out" / "hub" / REPO
    assert {
        p.relative_to(local).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in local.rglob("*")
        if p.is_file()
    } == expected
    # Staged, verified, promoted: a release tag on main, no staging branch left behind.
    hf_repo = fake_hf.repos[REPO]
    assert list(hf_repo.branches) == ["main"]
    [tag] = hf_repo.tags
    assert tag.startswith("release-")
    assert hf_repo.tags[tag] == hf_repo.branches["main"]
    assert list(fake_ms.repos[REPO].tags) == [tag]
    assert hf_repo.private  # the catalog's default until someone flips it

    # What users do next: download from the release tag with the SDK.
    fetched = downloaded(env, "model.safetensors", tag)
    assert hashlib.sha256(fetched).hexdigest() == expected["model.safetensors"]

    index = json.loads((project / "out" / "release.json").read_text())
    entry = next(e for e in index["cells"] if e["id"] == CELL)
    assert set(entry["published"]) == {"local", "huggingface", "modelscope"}
    assert entry["published"]["huggingface"]["url"] == f"{fake_hf.url}/{REPO}"
    other = next(e for e in index["cells"] if e["id"] != CELL)
    assert "published" not in other  # the release table links only what was published
    readme = (project / "README.md").read_text()
    assert f"[HF]({fake_hf.url}/{REPO})" in readme
    assert readme.count("[HF](") == 1

    sent_hf, sent_ms = fake_hf.bytes_received, fake_ms.bytes_received
    commits_hf = len(hf_repo.commits)
    assert min(sent_hf, sent_ms) > 2_000_000
    again = publish(project, env, *HUBS, *ONE_CELL)
    assert (fake_hf.bytes_received, fake_ms.bytes_received) == (sent_hf, sent_ms)
    assert len(hf_repo.commits) == commits_hf
    assert again.stdout.count("unchanged: ") == 3, again.stdout
    assert "publish: 3 unchanged" in again.stdout


@pytest.mark.parametrize(("target", "main"), [("huggingface", "main"), ("modelscope", "master")])
def test_publish_killed_midway_resumes_to_the_same_content(
    project: Path, fake_hf: FakeHub, fake_ms: FakeHub, target: str, main: str
) -> None:
    env = publish_env(fake_hf, fake_ms)
    hub = fake_hf if target == "huggingface" else fake_ms
    hub.slow_upload_s = 0.05  # the 2.3 MB weights take ~2 s: time to kill it mid-upload
    args = [sys.executable, "-m", "builder", "publish", "--root", str(project)]
    proc = subprocess.Popen(
        [*args, "--target", target, *ONE_CELL],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert hub.upload_started.wait(timeout=120), "the upload never started"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    # Users never see half a release: the branch they read has nothing of it yet.
    assert on_hub(hub, REPO, main) == {}
    hub.slow_upload_s = 0
    publish(project, env, "--target", target, *ONE_CELL)
    assert on_hub(hub, REPO, main) == released_files(project)
    assert list(hub.repos[REPO].branches) == [main]


def test_transient_errors_are_retried(project: Path, fake_hf: FakeHub, fake_ms: FakeHub) -> None:
    fake_hf.fail["commit"] = 1
    fake_hf.fail["refs"] = 1
    fake_ms.fail["revisions"] = 1
    done = publish(
        project, publish_env(fake_hf, fake_ms), "--target", "huggingface", "--target", "modelscope"
    )
    assert "(try 1/5); retry in 1s" in done.stdout
    assert on_hub(fake_hf, REPO, "main") == released_files(project)
    assert on_hub(fake_ms, REPO, "master") == released_files(project)


def test_bad_card_stops_its_cell_before_any_upload_and_not_the_others(
    project: Path, fake_hf: FakeHub, fake_ms: FakeHub
) -> None:
    second = f"{SECOND_RECIPE}.cpu.bf16.transformers"
    card = project / "out" / SECOND_RECIPE / second / "README.md"
    card.write_text(card.read_text().replace("license:", "license: [unclosed", 1))
    done = publish(project, publish_env(fake_hf, fake_ms), "--target", "huggingface", check=False)
    assert done.returncode == 7, done.stdout + done.stderr
    message = f"{second}: not published to huggingface: model card: the YAML front matter"
    assert message in done.stdout
    assert f"1 publish(es) failed: {second} -> huggingface" in done.stderr
    # The other cells went up; nothing of the broken one.
    assert sorted(fake_hf.repos) == [GGUF_REPO, REPO]
    assert on_hub(fake_hf, REPO, "main") == released_files(project)


def test_unqualified_cells_only_with_the_flag_and_marked(
    project: Path, fake_hf: FakeHub, fake_ms: FakeHub
) -> None:
    index_path = project / "out" / "release.json"
    index = json.loads(index_path.read_text())
    for entry in index["cells"]:
        entry["status"] = "failed"
    index_path.write_text(json.dumps(index))
    env = publish_env(fake_hf, fake_ms)
    done = publish(project, env, "--target", "huggingface", *ONE_CELL)
    assert f"{CELL}: skipped: status 'failed', not passed (use --allow-unqualified)" in done.stdout
    assert fake_hf.repos == {}
    done = publish(
        project, env, "--target", "huggingface", "--allow-unqualified", "recipe=tiny-llama"
    )
    repo = fake_hf.repos[REPO]
    assert "[unqualified" in repo.messages[repo.branches["main"]]
    entry = next(e for e in json.loads(index_path.read_text())["cells"] if e["id"] == CELL)
    assert entry["published"]["huggingface"]["qualified"] is False


def test_planted_tokens_are_used_but_never_written(
    project: Path, fake_hf: FakeHub, fake_ms: FakeHub
) -> None:
    env = publish_env(fake_hf, fake_ms)
    outputs = [
        publish(project, env, "--dry-run", *HUBS),
        publish(project, env, *HUBS),
        publish(project, {**env, "HF_TOKEN": "hf_wrong"}, "--target", "huggingface", check=False),
    ]
    # The tokens were really used: the fake refuses a wrong one.
    assert outputs[2].returncode == 7
    assert fake_hf.repos
    assert fake_ms.repos
    texts = [o.stdout + o.stderr for o in outputs]
    roots = [project, fake_hf.root, fake_ms.root]
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file() and not path.is_symlink():
                texts.append(path.read_bytes().decode("utf-8", errors="replace"))
    for token in (HF_TOKEN, MS_TOKEN):
        assert not [t for t in texts if token in t]
