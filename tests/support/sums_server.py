"""A planted engine for gate tests: an OpenAI-compatible server that does the tiny sums.

It answers ``a+b=`` prompts with the sum, except that with ``--wrong-every N`` every N-th fact
(by ``10a+b``) gets a wrong answer: a degraded cell whose damage is known exactly. Real lm-eval
and the real perf client talk to it over HTTP, as they would to an engine; it starts in well
under a second, so the gate tests spend their time on lm-eval, not on loading a model.

Run: python sums_server.py --host 127.0.0.1 --port 8000 --served-model-name m [--wrong-every 3]
"""

from __future__ import annotations

import argparse
import json
import re
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

SUM = re.compile(r"(\d)\+(\d)=\s*$")


def answer(prompt: str, wrong_every: int) -> str:
    match = SUM.search(prompt)
    if match is None:
        return "ok ok ok ok"
    a, b = int(match[1]), int(match[2])
    if wrong_every and (10 * a + b) % wrong_every == wrong_every - 1:
        return str(a + b + 1)
    return str(a + b)


def make_handler(model: str, wrong_every: int) -> type[BaseHTTPRequestHandler]:
    """The handler class for a server of ``model`` that gets every ``wrong_every``-th sum wrong."""
    return type("Handler", (SumsHandler,), {"model": model, "wrong_every": wrong_every})


class SumsHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    model: ClassVar[str]
    wrong_every: ClassVar[int]

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _json(self, body: dict[str, Any], status: int = 200) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/health":
            self._json({"status": "ok"})
        elif self.path == "/v1/models":
            self._json({"object": "list", "data": [{"id": self.model, "object": "model"}]})
        else:
            self._json({"error": "not found"}, 404)

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path == "/v1/chat/completions":
            text = answer(str(body["messages"][-1]["content"]), self.wrong_every)
            message = {"role": "assistant", "content": text}
            choice = {"index": 0, "message": message, "finish_reason": "stop"}
            self._json({"object": "chat.completion", "choices": [choice], "usage": _usage(text)})
        elif self.path == "/v1/completions":
            self._completions(body)
        else:
            self._json({"error": "not found"}, 404)

    def _completions(self, body: dict[str, Any]) -> None:
        prompts = body["prompt"] if isinstance(body["prompt"], list) else [body["prompt"]]
        texts = [answer(str(p), self.wrong_every) for p in prompts]
        if body.get("stream"):
            self._stream(texts[0])
            return
        choices = [
            {"index": i, "text": t, "finish_reason": "stop", "logprobs": None}
            for i, t in enumerate(texts)
        ]
        self._json({"object": "text_completion", "choices": choices, "usage": _usage(texts[0])})

    def _stream(self, text: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        for piece in text.split(" "):
            chunk = {"choices": [{"index": 0, "text": piece + " "}]}
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.flush()
            time.sleep(0.002)
        final = {
            "choices": [{"index": 0, "text": "", "finish_reason": "stop"}],
            "usage": _usage(text),
        }
        self.wfile.write(f"data: {json.dumps(final)}\n\ndata: [DONE]\n\n".encode())
        self.close_connection = True


def _usage(text: str) -> dict[str, int]:
    tokens = max(1, len(text.split()))
    return {"prompt_tokens": 8, "completion_tokens": tokens, "total_tokens": 8 + tokens}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model", nargs="?", default="")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--served-model-name", default="m")
    parser.add_argument("--wrong-every", type=int, default=0)
    args = parser.parse_args()
    server = ThreadingHTTPServer(
        (args.host, args.port), make_handler(args.served_model_name, args.wrong_every)
    )
    server.serve_forever()


if __name__ == "__main__":
    main()
