"""The gate's statistics and verdicts, on hand-made per-sample results."""

from __future__ import annotations

from typing import Any

import pytest

from builder.core import gates
from builder.core.judge import settle
from builder.core.results import CellValidation


def doc(scores: list[float], metric: str = "exact_match") -> dict[str, Any]:
    samples = {f"doc{i:03d}": s for i, s in enumerate(scores)}
    return {
        "metric": metric,
        "value": sum(scores) / len(scores),
        "n": len(scores),
        "samples": samples,
    }


def compare(cell: dict[str, Any], ref: dict[str, Any], **kw: Any) -> gates.AccuracyGate:
    return gates.compare("t", cell, ref, **{"max_drop": 0.05, "confidence": 0.95, **kw})


def test_identical_answers_on_enough_samples_pass() -> None:
    gate = compare(doc([1.0] * 90 + [0.0] * 10), doc([1.0] * 90 + [0.0] * 10))
    assert gate.verdict == "pass"
    assert gate.paired
    assert gate.n == 100
    assert gate.low is not None
    assert gate.high is not None
    assert gate.low < 0 < gate.high  # an interval, not a bare zero


def test_a_clear_drop_fails() -> None:
    ref = doc([1.0] * 100)
    degraded = doc([0.0 if i % 3 == 2 else 1.0 for i in range(100)])
    gate = compare(degraded, ref)
    assert gate.verdict == "fail"
    assert gate.delta == pytest.approx(-0.33)
    assert gate.high is not None
    assert gate.high < -0.05


def test_too_few_samples_is_inconclusive_and_says_how_many_would_decide() -> None:
    gate = compare(doc([1.0] * 5), doc([1.0] * 5))
    assert gate.verdict == "inconclusive"
    assert gate.needed_n is not None
    assert gate.needed_n > 5
    assert f"about {gate.needed_n} samples would decide" in gate.note
    # With that many samples and the same (perfect) agreement, the gate decides.
    bigger = compare(doc([1.0] * gate.needed_n), doc([1.0] * gate.needed_n))
    assert bigger.verdict == "pass"


def test_pairs_only_the_documents_both_answered() -> None:
    ref = doc([1.0] * 100)
    cell = doc([1.0] * 50)
    gate = compare(cell, ref)
    assert gate.n == 50
    assert gate.paired


def test_without_samples_the_comparison_is_unpaired() -> None:
    cell = {"metric": "acc", "value": 0.80, "n": 400}
    ref = {"metric": "acc", "value": 0.90, "n": 400}
    gate = compare(cell, ref)
    assert not gate.paired
    assert gate.verdict == "fail"


def test_non_binary_scores_use_a_seeded_bootstrap() -> None:
    ref = doc([0.5 + (i % 5) / 10 for i in range(60)], metric="f1")
    cell = doc([0.5 + (i % 5) / 10 for i in range(60)], metric="f1")
    first, second = compare(cell, ref), compare(cell, ref)
    assert first.verdict == "pass"
    assert (first.low, first.high) == (second.low, second.high)


def test_reference_cell_gets_no_verdict_on_itself() -> None:
    found = gates.accuracy_gates(
        {"tasks": {"t": doc([1.0] * 10)}},
        None,
        max_drop=0.05,
        confidence=0.95,
        is_reference=True,
        reference_label="itself",
    )
    assert [g.verdict for g in found] == ["reference"]


def test_refused_reference_names_why() -> None:
    found = gates.accuracy_gates(
        {"tasks": {"t": doc([1.0] * 10)}},
        None,
        max_drop=0.05,
        confidence=0.95,
        is_reference=False,
        reference_label="baseline baselines/x.json",
        refused="lm_eval_version: baseline has '0.4.1', this run '0.4.13'",
    )
    assert found[0].verdict == "refused"
    assert "lm_eval_version" in found[0].note


def test_provenance_mismatch_lists_each_differing_key() -> None:
    run = {
        "lm_eval_version": "0.4.13",
        "task_hashes": {"t": "abc"},
        "limit": None,
        "num_fewshot": None,
        "apply_chat_template": False,
    }
    assert gates.provenance_mismatch(run, run) == []
    stored = {**run, "lm_eval_version": "0.4.1", "limit": 50}
    problems = gates.provenance_mismatch(stored, run)
    assert [p.split(":")[0] for p in problems] == ["lm_eval_version", "limit"]


def test_settle_orders_failed_over_inconclusive_over_passed() -> None:
    ok = CellValidation(cell="c", status="passed")
    fail = {"verdict": "fail", "task": "t", "metric": "m", "note": "n"}
    unsure = {"verdict": "inconclusive", "task": "u", "metric": "m", "note": "about 200"}
    assert settle(ok, {"accuracy": [unsure, fail]})[0] == "failed"
    status, reason = settle(ok, {"accuracy": [unsure]})
    assert status == "inconclusive"
    assert "about 200" in reason
    assert settle(ok, {"accuracy": [{**unsure, "verdict": "pass"}]}) == ("passed", "")
    assert settle(ok, {"perf": {"verdict": "fail", "note": "slow"}})[0] == "failed"
