"""`builder publish` as users meet it before anything is uploaded: errors and the local target."""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.cli import main
from tests.conftest import ROOT


def test_publish_needs_a_release(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["publish", "--root", str(project)]) == 5
    err = capsys.readouterr().err
    assert "release.json: no release to publish; run `builder release` first" in err


def test_unknown_target_suggests(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["publish", "--root", str(project), "--target", "hugingface"]) == 2
    err = capsys.readouterr().err
    assert "--target hugingface: unknown target 'hugingface'" in err
    assert "did you mean 'huggingface'?" in err


def test_every_publish_kind_has_a_publisher() -> None:
    from builder.effects.publishers import REGISTRY
    from builder.session import load_catalog

    catalog = load_catalog(ROOT / "conf")
    assert {p.kind for p in catalog.publish.values()} == set(REGISTRY.names())
    assert catalog.publish["huggingface"].token_env == "HF_TOKEN"
    assert catalog.publish["modelscope"].token_env == "MODELSCOPE_API_TOKEN"
