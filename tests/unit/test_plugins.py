"""Every plugin the registries list runs its kind's conformance tests (tests/support/
contracts.py), and every plugin name in conf/ is checked when the catalog loads."""

from __future__ import annotations

import pytest

from builder.core.engines import REGISTRY as ENGINES
from builder.effects.publishers import REGISTRY as PUBLISHERS
from builder.effects.quantizers import REGISTRY as QUANTIZERS
from builder.effects.suites import REGISTRY as SUITES
from builder.run.launchers import REGISTRY as LAUNCHERS
from tests.support import contracts


class TestEngines(contracts.EngineContract):
    @pytest.fixture(params=ENGINES.names())
    def plugin(self, request: pytest.FixtureRequest) -> str:
        return str(request.param)


class TestSuites(contracts.SuiteContract):
    @pytest.fixture(params=SUITES.names())
    def plugin(self, request: pytest.FixtureRequest) -> str:
        return str(request.param)


class TestQuantizers(contracts.QuantizerContract):
    @pytest.fixture(params=QUANTIZERS.names())
    def plugin(self, request: pytest.FixtureRequest) -> str:
        return str(request.param)


class TestPublishers(contracts.PublisherContract):
    @pytest.fixture(params=PUBLISHERS.names())
    def plugin(self, request: pytest.FixtureRequest) -> str:
        return str(request.param)


class TestLaunchers(contracts.LauncherContract):
    @pytest.fixture(params=LAUNCHERS.names())
    def plugin(self, request: pytest.FixtureRequest) -> str:
        return str(request.param)


def test_the_registries_list_the_shipped_plugins() -> None:
    assert ENGINES.names() == ("llamacpp", "sglang", "transformers", "vllm")
    assert SUITES.names() == ("accuracy", "perf", "smoke")
    assert QUANTIZERS.names() == ("gguf", "llmcompressor")
    assert PUBLISHERS.names() == ("huggingface", "local", "modelscope", "oci")
    assert LAUNCHERS.names() == ("joblib", "ray", "submitit_local", "submitit_slurm")


def test_an_unknown_plugin_lists_the_valid_ones() -> None:
    assert SUITES.unknown("acuracy") == (
        "unknown suite module 'acuracy'; expected one of accuracy, perf, smoke; "
        "did you mean 'accuracy'?"
    )
