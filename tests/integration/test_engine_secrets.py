"""An engine never sees the builder's credentials (it runs code that came with the model),
and runs in the cell's work folder rather than the repository."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from builder.core.catalog_model import EngineConf
from builder.effects.engine_runtime import is_secret, running_engine
from tests.integration.fault_project import FAKE_ENGINE

pytestmark = pytest.mark.integration

SECRETS = {
    "HF_TOKEN": "hf_builder_secret_1",
    "HUGGING_FACE_HUB_TOKEN": "hf_builder_secret_2",
    "GH_TOKEN": "ghp_builder_secret_3",
    "ACTIONS_RUNTIME_TOKEN": "builder_secret_4",
    "AWS_SECRET_ACCESS_KEY": "builder_secret_5",
    "MODELSCOPE_API_TOKEN": "builder_secret_6",
    "TWINE_PASSWORD": "builder_secret_7",
}


def test_engine_environment_has_no_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")
    engine = EngineConf(
        name="vllm",
        display_name="fake",
        package="none",
        version="0",
        serve=[sys.executable, str(FAKE_ENGINE), "{model}", "--host", "{host}", "--port", "{port}"],
    )
    with running_engine(
        engine,
        {},
        model=str(tmp_path),
        served_model_name="m",
        env={"VENDOR_VISIBLE_DEVICES": "0"},
        log_path=tmp_path / "engine.log",
        cache_dir=tmp_path / "cache",
        startup_timeout_s=30,
    ):
        pass
    log = (tmp_path / "engine.log").read_text()
    assert "TOKENIZERS_PARALLELISM=false" in log  # the environment was logged
    assert "VENDOR_VISIBLE_DEVICES=0" in log  # the catalog's variables still arrive
    for name, value in SECRETS.items():
        assert name not in log
        assert value not in log
    # Relative paths in engine arguments resolve in the cell's work folder, not the repo.
    assert f"working directory: {tmp_path}\n" in log


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("HF_TOKEN", True),
        ("SSH_AUTH_SOCK", True),
        ("db_password", True),
        ("TOKENIZERS_PARALLELISM", False),
        ("CUDA_VISIBLE_DEVICES", False),
        ("HF_HUB_OFFLINE", False),
    ],
)
def test_what_counts_as_a_credential(name: str, secret: bool) -> None:
    assert is_secret(name) is secret
