"""Upload plans, card checks, retries and the release-table links: the pure parts of publishing."""

from __future__ import annotations

import hashlib

import pytest

from builder.core.card import card_problems
from builder.core.report import release_table
from builder.core.uploads import (
    LocalFile,
    RemoteFile,
    UploadPlan,
    content_id,
    describe,
    diff,
    git_blob_sha1,
    release_files,
)
from builder.effects.retry import transient, with_retries
from tests.conftest import ROOT


def local(path: str, data: bytes) -> LocalFile:
    return LocalFile(
        path=path,
        source=f"/src/{path}",
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        git_sha1=git_blob_sha1(data),
    )


def test_git_blob_id_is_gits() -> None:
    # `printf 'hello\n' | git hash-object --stdin`
    assert git_blob_sha1(b"hello\n") == "ce013625030ba8dba906f756967f9e9ca394464a"


def test_release_files_weights_card_and_results() -> None:
    files = release_files(
        ["README.md", "validation.json", "manifest.json", "engine.log", "Dockerfile", "serve.sh"],
        ["model.safetensors", "README.md", ".cache/x", "sub/tokenizer.json", "sub/.hidden"],
    )
    assert files == {
        "README.md": "cell/README.md",  # the card wins over the model's own README
        "model.safetensors": "model/model.safetensors",
        "sub/tokenizer.json": "model/sub/tokenizer.json",
        "release/validation.json": "cell/validation.json",
        "release/manifest.json": "cell/manifest.json",
        "release/Dockerfile": "cell/Dockerfile",
        "release/serve.sh": "cell/serve.sh",
    }


def test_diff_compares_sha256_or_git_blob_id() -> None:
    files = [local("a.safetensors", b"w" * 10), local("README.md", b"card"), local("new", b"n")]
    remote = {
        "a.safetensors": RemoteFile(path="a.safetensors", size=10, sha256=files[0].sha256),
        "README.md": RemoteFile(path="README.md", size=3, git_sha1=git_blob_sha1(b"old")),
        "extra.txt": RemoteFile(path="extra.txt", size=1, git_sha1="x"),
    }
    ops, extra = diff(files, remote)
    assert [(op.file.path, op.state) for op in ops] == [
        ("README.md", "changed"),
        ("a.safetensors", "unchanged"),
        ("new", "new"),
    ]
    assert extra == ("extra.txt",)
    same = {"README.md": RemoteFile(path="README.md", size=4, git_sha1=git_blob_sha1(b"card"))}
    assert diff([files[1]], same)[0][0].state == "unchanged"


def test_content_id_names_the_content_only() -> None:
    a, b = local("a", b"1"), local("b", b"2")
    assert content_id([a, b]) == content_id([b, a])
    assert content_id([a, b]) != content_id([a, local("b", b"3")])
    assert len(content_id([a])) == 12


def test_dry_run_text() -> None:
    ops, _ = diff(
        [local("model.safetensors", b"w" * 3_000_000), local("README.md", b"c" * 2048)],
        {"README.md": RemoteFile(path="README.md", size=2048, git_sha1=git_blob_sha1(b"c" * 2048))},
    )
    plan = UploadPlan(
        cell="m.cpu.bf16.e",
        target="huggingface",
        kind="huggingface",
        repo="Org/M-cpu",
        revision="main",
        staging="staging-abc",
        tag="release-abc",
        qualified=False,
        ops=ops,
        extra=("old.bin",),
    )
    assert describe(plan) == (
        "m.cpu.bf16.e -> huggingface: Org/M-cpu @ main via staging-abc  [UNQUALIFIED]\n"
        "  unchanged  2.0 KiB  README.md\n"
        "  new        2.9 MiB  model.safetensors\n"
        "  extra               old.bin (on the target only; kept)\n"
        "  = 1 new, 0 changed, 1 unchanged; 2.9 MiB to upload\n"
    )
    assert plan.upload_bytes == 3_000_000


def test_rendered_card_passes() -> None:
    card = (
        ROOT / "tests" / "golden" / "tiny-llama.cpu.bf16.transformers" / "README.md"
    ).read_text()
    assert card_problems(card) == []


INDEX = (
    "---\nlicense: mit\nmodel-index:\n- name: M\n  results:\n  - task: {{type: t}}\n"
    "    dataset: {dataset}\n    metrics: [{metric}]\n---\n"
)


@pytest.mark.parametrize(
    ("card", "problem"),
    [
        ("# no front matter\n", "does not start with a '---'"),
        ("---\nlicense: mit\n", "no closing '---'"),
        ("---\nlicense: [mit\n---\n", "does not parse"),
        ("---\n- a\n---\n", "not a mapping"),
        ("---\nlanguage: en\n---\n", "'license' is missing"),
        ("---\nlicense: mit\ntags: [1]\n---\n", "'tags' must be a string or a list"),
        ("---\nlicense: mit\nmodel-index: []\n---\n", "model-index: must be a non-empty list"),
        (INDEX.format(dataset="{type: d}", metric="{type: acc, value: 1}"), "dataset: needs"),
        (INDEX.format(dataset="{type: d, name: D}", metric="{type: acc}"), "metrics[0]: needs"),
    ],
)
def test_bad_cards(card: str, problem: str) -> None:
    problems = card_problems(card)
    assert any(problem in p for p in problems), problems


def test_good_model_index() -> None:
    card = (
        "---\nlicense: mit\nmodel-index:\n- name: M\n  results:\n  - task: {type: text-generation}\n"
        "    dataset: {type: gpqa, name: GPQA}\n    metrics: [{type: acc, value: 0.5}]\n---\n# M\n"
    )
    assert card_problems(card) == []


class Flaky(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status_code = status


def test_retries_back_off_on_transient_errors_only() -> None:
    calls: list[int] = []
    sleeps: list[float] = []

    def call() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise Flaky(503)
        return "ok"

    lines: list[str] = []
    assert with_retries(call, what="x", log=lines.append, sleep=sleeps.append) == "ok"
    assert sleeps == [1.0, 2.0]
    assert "x: Flaky (try 1/5); retry in 1s" in lines[0]

    def forbidden() -> None:
        raise Flaky(403)

    with pytest.raises(Flaky):
        with_retries(forbidden, what="x", log=lines.append, sleep=sleeps.append)
    assert sleeps == [1.0, 2.0]  # no retry for a 403

    def always() -> None:
        raise ConnectionError

    with pytest.raises(ConnectionError):
        with_retries(always, what="x", log=lines.append, attempts=3, sleep=sleeps.append)
    assert sleeps[2:] == [1.0, 2.0]
    assert transient(Flaky(429))
    assert not transient(ValueError())


def test_release_table_links_only_published_hubs() -> None:
    base = {
        "model": "M",
        "chip": "cpu",
        "quantization": "bf16",
        "engine": "e",
        "status": "passed",
        "release_repo": "Org/M",
        "image": "img:1",
    }
    published = {
        "huggingface": {"kind": "huggingface", "url": "https://hf.co/Org/M"},
        "modelscope": {"kind": "modelscope", "url": "https://ms.cn/models/Org/M"},
        "local": {"kind": "local", "url": "file:///out/hub/Org/M"},
    }
    table = release_table([{**base, "id": "a", "published": published}, {**base, "id": "b"}])
    rows = table.splitlines()[2:]
    assert (
        "| Org/M ([HF](https://hf.co/Org/M) · [ModelScope](https://ms.cn/models/Org/M)) |"
        in rows[0]
    )
    assert "| Org/M |" in rows[1]
    assert "file://" not in table
