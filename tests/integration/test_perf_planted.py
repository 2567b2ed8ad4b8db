"""The perf suite and its gate against planted servers whose speed is known exactly.

``tests/support/speed_server.py`` streams exactly the tokens asked, ``--token-ms`` apart. The
real perf suite measures a cell's server with the reference's started beside it (trials
interleaved ABAB, as a release does when both run on one host) and the real gate judges:
a server slowed by 30% fails, the same server against itself never fails in 20 repetitions
(pass or inconclusive only), and a server whose speed jumps between trials is inconclusive.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from builder.core import gates
from builder.core.catalog_model import EngineConf, SuiteConf
from builder.core.model import PerfScenario, PerfSpec, ValidateSpec
from builder.effects.engine_runtime import RunningEngine, running_engine
from builder.effects.suites import Peer, PeerStarter, SuiteContext, perf
from tests.conftest import ROOT

pytestmark = pytest.mark.integration

SERVER = ROOT / "tests" / "support" / "speed_server.py"
TRIALS = 4
SPEC = PerfSpec(
    scenarios=[PerfScenario(input_len=8, output_len=16)],
    concurrency=[1, 2],
    prompts_per_point=2,
    trials=TRIALS,
    min_ratio=0.8,
)
# One point of concurrency 1 x 2 prompts: a jumping server changes speed after each
# trial's worth of requests.
PER_TRIAL = 2
ONE_POINT = dataclasses.replace(SPEC, concurrency=[1])


def engine_conf(name: str, *flags: str) -> EngineConf:
    serve = [sys.executable, str(SERVER), "{model}", "--host", "{host}", "--port", "{port}"]
    return EngineConf(
        name=name,
        display_name=f"speed server {name}",
        module="vllm",
        package="none==0",
        version="0",
        serve=[*serve, "--served-model-name", "{served_model_name}", *flags],
    )


@contextlib.contextmanager
def serving(conf: EngineConf, work: Path) -> Iterator[RunningEngine]:
    with running_engine(
        conf,
        {},
        model="planted",
        served_model_name=conf.name,
        env={},
        log_path=work / f"{conf.name}.log",
        cache_dir=work / "cache",
        startup_timeout_s=30,
    ) as running:
        yield running


def reference_starter(conf: EngineConf, tmp: Path) -> PeerStarter:
    @contextlib.contextmanager
    def start(work: Path) -> Iterator[Peer]:
        with serving(conf, work) as running:
            yield Peer(engine=running, engine_conf=conf, tokenizer_dir=tmp)

    return PeerStarter(cell="planted.reference", key="k" * 64, start=start)


def measure(
    mine: EngineConf, reference: EngineConf, tmp: Path, reps: int = 1, spec: PerfSpec = SPEC
) -> list[Any]:
    """``reps`` perf suite runs of ``mine`` with ``reference`` beside it, each gated."""
    verdicts = []
    with serving(mine, tmp) as running:
        ctx = SuiteContext(
            engine=running,
            engine_conf=mine,
            suite=SuiteConf(name="perf", description="", files=["perf.json"], gate="perf"),
            spec=ValidateSpec(perf=spec),
            timeout_s=120,
            request_timeout_s=30,
            tokenizer_dir=tmp,
            work_dir=tmp / "perf",
            tasks_dir=tmp,
            env={},
            identity={"hardware": "cpu: planted"},
            reference=reference_starter(reference, tmp),
        )
        for _ in range(reps):
            result = perf.run(ctx)
            assert result.passed, [c.detail for c in result.checks]
            document = result.data
            assert document["interleaved"]["with"] == "planted.reference"
            for point in document["points"]:
                assert point["mean_output_tokens"] == 16  # the length asked, really generated
                assert len(point["trials"]) == len(point["reference_trials"]) == TRIALS
            (tmp / "perf.json").write_bytes(result.artifacts["perf.json"])
            verdicts.append(
                gates.perf_gate(document, None, min_ratio=SPEC.min_ratio, is_reference=False)
            )
    return verdicts


def found_trials(tmp: Path) -> list[dict[str, Any]]:
    document = json.loads((tmp / "perf.json").read_text())
    trials: list[dict[str, Any]] = document["points"][0]["trials"]
    return trials


def test_a_server_slowed_by_30_percent_fails(tmp_path: Path) -> None:
    (found,) = measure(
        engine_conf("slow", "--token-ms", "8.57"), engine_conf("ref", "--token-ms", "6"), tmp_path
    )
    assert found.verdict == "fail", found.note
    assert all(p.high < 0.8 for p in found.points.values())
    assert all(p.paired for p in found.points.values())


def test_the_same_server_against_itself_never_fails(tmp_path: Path) -> None:
    same = engine_conf("same", "--token-ms", "6")
    verdicts = measure(same, engine_conf("ref", "--token-ms", "6"), tmp_path, reps=20)
    counts = {v: sum(g.verdict == v for g in verdicts) for v in ("pass", "inconclusive", "fail")}
    print(f"\n20 self-comparisons: {counts}; worst points:")
    for g in verdicts:
        worst = g.worst
        assert worst is not None
        print(
            f"  {g.verdict:12} {worst.point} {gates.ratio_text(worst.ratio, worst.low, worst.high)}"
        )
    assert counts["fail"] == 0
    assert counts["pass"] + counts["inconclusive"] == 20


def test_a_server_whose_speed_jumps_between_trials_is_inconclusive(tmp_path: Path) -> None:
    jumpy = engine_conf(
        "jumpy", "--token-ms", "6", "--jump-every", str(PER_TRIAL), "--jump-factor", "2.5"
    )
    (found,) = measure(jumpy, engine_conf("ref", "--token-ms", "6"), tmp_path, spec=ONE_POINT)
    mine = [t["output_throughput"] for t in found_trials(tmp_path)]
    assert max(mine) > 2 * min(mine)  # fast and slow trials, as planted
    first = found.points["8/16@1"]
    assert first.low < 0.8 <= first.high, found.note
    assert found.verdict == "inconclusive", found.note
    assert "trials would decide" in found.note or "sits on the line" in found.note
