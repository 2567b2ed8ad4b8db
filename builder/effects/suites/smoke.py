"""The smoke suite: the server answers health, model listing, chat and completion requests."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from builder.core.results import Check, SuiteResult
from builder.effects.engine_runtime import RunningEngine
from builder.effects.suites import SuiteContext

PROMPT = "The capital of France is"


def run(ctx: SuiteContext) -> SuiteResult:
    """Run every check; a check that raises fails alone and the others still run."""
    return checks(ctx.engine, ctx.suite.name, min(ctx.timeout_s, ctx.request_timeout_s))


def checks(engine: RunningEngine, name: str, timeout_s: float) -> SuiteResult:
    """The smoke checks against ``engine``, as suite ``name``."""
    started = time.monotonic()
    found: list[Check] = []
    with httpx.Client(base_url=engine.base_url, timeout=timeout_s) as client:
        model_id = engine.request_model
        steps: list[tuple[str, Callable[[], str]]] = [
            ("health", lambda: _health(client, engine.health_url)),
            ("models", lambda: _models(client, model_id, engine.lists_served_model)),
            ("chat completion", lambda: _chat(client, model_id)),
            ("completion", lambda: _completion(client, model_id)),
        ]
        for label, step in steps:
            try:
                detail = step()
            except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
                found.append(Check(name=label, passed=False, detail=short(exc)))
            else:
                found.append(Check(name=label, passed=True, detail=detail))
    return SuiteResult(name=name, checks=tuple(found), duration_s=time.monotonic() - started)


def short(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= 300 else text[:297] + "..."


def _json(response: httpx.Response) -> Any:
    response.raise_for_status()
    return response.json()


def _health(client: httpx.Client, url: str) -> str:
    response = client.get(url)
    response.raise_for_status()
    return f"{url.split('/', 3)[-1]} answered {response.status_code}"


def _models(client: httpx.Client, model_id: str, must_list: bool) -> str:
    data = _json(client.get("/v1/models"))
    if data.get("object") != "list" or not isinstance(data.get("data"), list):
        msg = f"/v1/models is not an OpenAI model list: {str(data)[:200]}"
        raise ValueError(msg)
    ids = [m["id"] for m in data["data"]]
    if must_list and model_id not in ids:
        msg = f"/v1/models does not list {model_id!r} (it lists {ids})"
        raise ValueError(msg)
    listed = "lists the served model" if model_id in ids else "does not list models it pins"
    return f"well-formed list of {len(ids)}; the engine {listed}"


def _usage(body: dict[str, Any]) -> int:
    usage = body.get("usage") or {}
    tokens = usage.get("completion_tokens")
    # A model may end its turn at once, and engines differ on whether that end-of-turn token
    # counts (transformers serve: 1, llama.cpp: 0). Zero is well-formed only when the engine
    # says it stopped; an unfinished answer without tokens is not.
    choices = body.get("choices") or [{}]
    stopped = isinstance(choices[0], dict) and choices[0].get("finish_reason") == "stop"
    if not isinstance(tokens, int) or tokens < (0 if stopped else 1):
        msg = f"usage.completion_tokens is {tokens!r}, expected a positive integer"
        raise ValueError(msg)
    return tokens


def _chat(client: httpx.Client, model: str) -> str:
    body = _json(
        client.post(
            "/v1/chat/completions",
            json={
                "model": model,
                "messages": [{"role": "user", "content": PROMPT}],
                "max_tokens": 8,
                "temperature": 0,
                "seed": 0,
            },
        )
    )
    choice = body["choices"][0]
    content = choice["message"]["content"]
    if choice["message"].get("role") != "assistant" or not isinstance(content, str):
        msg = f"malformed chat message: {choice['message']!r}"
        raise ValueError(msg)
    return f"{_usage(body)} token(s), finish_reason={choice.get('finish_reason')}"


def _completion(client: httpx.Client, model: str) -> str:
    body = _json(
        client.post(
            "/v1/completions",
            json={"model": model, "prompt": PROMPT, "max_tokens": 8, "temperature": 0, "seed": 0},
        )
    )
    choice = body["choices"][0]
    if not isinstance(choice["text"], str):
        msg = f"malformed completion choice: {choice!r}"
        raise TypeError(msg)
    return f"{_usage(body)} token(s), finish_reason={choice.get('finish_reason')}"
