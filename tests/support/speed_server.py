"""A planted engine for throughput tests: streams exactly the tokens asked, at a set speed.

Each ``/v1/completions`` request (``stream: true``) is answered with ``max_tokens`` chunks,
one token each, ``--token-ms`` apart, and a final chunk with the usage: a server whose speed
is known exactly. ``--jump-every N --jump-factor F`` makes its speed jump: after every N
measured requests (requests for at least 8 tokens; shorter ones are warm-ups) the delay is
multiplied by F, then back, so that whole trials of a sweep alternate between two speeds.

Run: python speed_server.py --host 127.0.0.1 --port 8000 --served-model-name m --token-ms 4
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar


class Speed:
    """The delay per token, and the jump schedule (shared by the handler threads)."""

    def __init__(self, token_ms: float, jump_every: int, jump_factor: float) -> None:
        self.token_ms = token_ms
        self.jump_every = jump_every
        self.jump_factor = jump_factor
        self.measured = 0
        self.lock = threading.Lock()

    def delay_s(self, tokens: int) -> float:
        """The delay per token for a new request of ``tokens`` tokens."""
        if tokens < 8 or not self.jump_every:
            return self.token_ms / 1000
        with self.lock:
            phase = (self.measured // self.jump_every) % 2
            self.measured += 1
        return self.token_ms * (self.jump_factor if phase else 1.0) / 1000


class SpeedHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    model: ClassVar[str]
    speed: ClassVar[Speed]

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
        if self.path != "/v1/completions" or not body.get("stream"):
            self._json({"error": "only streamed completions"}, 404)
            return
        tokens = int(body.get("max_tokens") or 16)
        delay = self.speed.delay_s(tokens)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        for _ in range(tokens):
            time.sleep(delay)
            chunk = {"choices": [{"index": 0, "text": " x"}]}
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.flush()
        usage = {"prompt_tokens": 8, "completion_tokens": tokens, "total_tokens": 8 + tokens}
        final = {"choices": [{"index": 0, "text": "", "finish_reason": "length"}], "usage": usage}
        self.wfile.write(f"data: {json.dumps(final)}\n\ndata: [DONE]\n\n".encode())
        self.close_connection = True


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model", nargs="?", default="")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--served-model-name", default="m")
    parser.add_argument("--token-ms", type=float, default=4.0)
    parser.add_argument("--jump-every", type=int, default=0)
    parser.add_argument("--jump-factor", type=float, default=1.0)
    args = parser.parse_args()
    speed = Speed(args.token_ms, args.jump_every, args.jump_factor)
    handler = type("Handler", (SpeedHandler,), {"model": args.served_model_name, "speed": speed})
    ThreadingHTTPServer((args.host, args.port), handler).serve_forever()


if __name__ == "__main__":
    main()
