"""Smoke's token count: engines differ on counting an answer that ends at once."""

from __future__ import annotations

from typing import Any

import pytest

from builder.effects.suites.smoke import _usage


def body(tokens: object, finish: str) -> dict[str, Any]:
    return {"choices": [{"finish_reason": finish}], "usage": {"completion_tokens": tokens}}


def test_an_answer_that_stops_at_once_may_count_no_token() -> None:
    assert _usage(body(0, "stop")) == 0  # llama.cpp does not count the end-of-turn token
    assert _usage(body(1, "stop")) == 1  # transformers serve does


@pytest.mark.parametrize(("tokens", "finish"), [(0, "length"), (None, "stop"), (-1, "stop")])
def test_a_missing_or_impossible_count_is_an_error(tokens: object, finish: str) -> None:
    with pytest.raises(ValueError, match="completion_tokens"):
        _usage(body(tokens, finish))
