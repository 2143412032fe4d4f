"""A JSON-RPC proxy in front of a node that refuses log queries the way public providers do: too many blocks,
too many results (in geth's, Alchemy's or Infura's words, or as HTTP 400 / 413), and optionally logs without
their block times. Every reader of the package must page across it."""

from __future__ import annotations

import json
import threading
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.integration.conftest import free_port

MAX_BLOCKS = 8
MAX_LOGS = 6


@dataclass
class Limits:
    """How the proxy refuses: `style` picks the provider whose words (or HTTP status) it uses."""

    style: str = "geth"
    max_blocks: int = MAX_BLOCKS
    max_logs: int = MAX_LOGS
    strip_timestamps: bool = False
    queries: list[tuple[int, int, str]] = field(default_factory=list)
    """Every eth_getLogs seen: (from, to, "ok" | "range" | "results")."""


def _range_error(limits: Limits) -> tuple[int, dict[str, Any]]:
    n = limits.max_blocks
    words = {
        "geth": (-32000, f"exceed maximum block range: {n}"),
        "alchemy": (
            -32600,
            f"Under the Free tier plan, you can make eth_getLogs requests with up to a {n} block range.",
        ),
        "infura": (-32005, f"eth_getLogs is limited to a {n:,} range"),
        "http": (-32600, "block range is too wide"),
    }
    code, message = words[limits.style]
    return (400 if limits.style == "http" else 200), {"code": code, "message": message}


def _results_error(limits: Limits, start: int, logs: list[dict[str, Any]]) -> tuple[int, dict[str, Any]]:
    m = limits.max_logs
    fits = int(logs[m]["blockNumber"], 16) - 1  # the last block before the (m+1)-th log
    suggestion = f"[{hex(start)}, {hex(max(start, fits))}]"
    words = {
        "geth": (-32005, f"query returned more than {m} results"),
        "alchemy": (
            -32602,
            "Log response size exceeded. You can make eth_getLogs requests with up to a 2K block range and no limit "
            f"on the response size, or you can request any block range with a cap of 10K logs in the response. Based "
            f"on your parameters, this block range should work: {suggestion}",
        ),
        "infura": (-32005, f"query returned more than {m} results. Try with this block range {suggestion}."),
        "http": (0, ""),
    }
    code, message = words[limits.style]
    return (413 if limits.style == "http" else 200), {"code": code, "message": message}


class LimitingProxy:
    """An HTTP JSON-RPC proxy in front of a node that enforces `limits` on eth_getLogs."""

    def __init__(self, upstream: str, limits: Limits) -> None:
        self.upstream = upstream
        self.limits = limits
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                status, answer = proxy.answer(body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def forward(self, body: Any) -> Any:
        request = urllib.request.Request(self.upstream, json.dumps(body).encode(), {"content-type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def answer(self, body: Any) -> tuple[int, Any]:
        if isinstance(body, list):
            return 200, [self.answer(item)[1] for item in body]
        if body.get("method") != "eth_getLogs":
            return 200, self.forward(body)
        query = body["params"][0]
        head = int(self.forward({"jsonrpc": "2.0", "id": 0, "method": "eth_blockNumber", "params": []})["result"], 16)
        start = int(query.get("fromBlock", "0x0"), 16)
        end = head if query.get("toBlock") in (None, "latest") else int(query["toBlock"], 16)
        if end - start + 1 > self.limits.max_blocks:
            self.limits.queries.append((start, end, "range"))
            status, error = _range_error(self.limits)
            return status, {"jsonrpc": "2.0", "id": body["id"], "error": error}
        answer = self.forward(body)
        logs = answer.get("result") or []
        if len(logs) > self.limits.max_logs:
            self.limits.queries.append((start, end, "results"))
            status, error = _results_error(self.limits, start, logs)
            return status, {"jsonrpc": "2.0", "id": body["id"], "error": error}
        if self.limits.strip_timestamps:
            for log in logs:
                log.pop("blockTimestamp", None)
        self.limits.queries.append((start, end, "ok"))
        return 200, answer

    def __enter__(self) -> LimitingProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
