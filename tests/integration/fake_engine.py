"""A stand-in serving engine for fault tests: a real HTTP server that misbehaves on request.

Started like vLLM (``fake_engine.py MODEL --host H --port P --served-model-name N ...``)
with ``--tokenizer-revision`` choosing the fault. It speaks just enough of the OpenAI API for the smoke
suite to pass in mode ``ok``. Every mode prints what a real engine would before it dies,
so tests can check that the cause reaches validation.json.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

MODES = ("ok", "crash-start", "crash-mid", "hang", "orphan-port", "slow")


def log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class Handler(BaseHTTPRequestHandler):
    mode = "ok"
    model = "m"
    signalled = False

    def log_message(self, format: str, *args: object) -> None:
        log(format % args)

    def _send(self, body: object, code: int = 200) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _fault(self) -> None:
        if self.mode == "crash-mid":
            log("RuntimeError: CUDA error: an illegal memory access was encountered")
            os._exit(134)
        if self.mode == "orphan-port" and not Handler.signalled:
            Handler.signalled = True
            os.kill(MAIN_PID, signal.SIGUSR1)  # the main process "crashes" now
            _wait_until_dead(MAIN_PID)  # so its death is certain before the suites end

    def do_GET(self) -> None:
        if self.path == "/health":
            self._send({})
            return
        self._fault()
        if self.path == "/v1/models":
            self._send({"object": "list", "data": [{"id": self.model, "object": "model"}]})
        else:
            self._send({"error": "not found"}, 404)

    def do_POST(self) -> None:
        self._fault()
        length = int(self.headers.get("Content-Length", "0"))
        json.loads(self.rfile.read(length) or b"{}")
        usage = {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}
        if self.path == "/v1/chat/completions":
            message = {"role": "assistant", "content": "Paris."}
            choice = {"index": 0, "message": message, "finish_reason": "stop"}
            self._send({"choices": [choice], "usage": usage})
        elif self.path == "/v1/completions":
            choice = {"index": 0, "text": " Paris.", "finish_reason": "stop"}
            self._send({"choices": [choice], "usage": usage})
        else:
            self._send({"error": "not found"}, 404)


MAIN_PID = os.getpid()


def _wait_until_dead(pid: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return
        if stat[stat.rindex(")") + 2] == "Z":
            return
        time.sleep(0.01)


def _parent_dies(signum: int, frame: object) -> None:
    log("engine main process died; its worker keeps the port")
    os._exit(3)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--served-model-name", default="m")
    # The fault, given as a real vLLM argument (recipes may name only those).
    parser.add_argument("--tokenizer-revision", dest="mode", choices=MODES, default="ok")
    args, _ = parser.parse_known_args()
    log(f"fake engine pid {os.getpid()} mode {args.mode} model {args.model}")
    log(f"working directory: {Path.cwd()}")
    log("environment: " + " ".join(f"{k}={v}" for k, v in sorted(os.environ.items())))
    if args.mode == "crash-start":
        log("RuntimeError: no accelerator device found")
        sys.exit(7)
    if args.mode == "hang":
        log("loading weights...")
        time.sleep(3600)
    if args.mode == "slow":
        time.sleep(float(os.environ.get("FAKE_ENGINE_DELAY", "3")))
    Handler.mode = args.mode
    Handler.model = args.served_model_name
    server = HTTPServer((args.host, args.port), Handler)
    if args.mode == "orphan-port":
        # The worker serves on the inherited socket, as multi-process engines do; the main
        # process dies once the suites have started and leaves the worker on the port.
        signal.signal(signal.SIGUSR1, _parent_dies)
        if os.fork() == 0:
            log(f"worker pid {os.getpid()} holds the port")
            server.serve_forever()
            os._exit(0)
        while True:
            signal.pause()
    server.serve_forever()


if __name__ == "__main__":
    main()
