"""The probe server of the processes that serve no API (relay, workers): on one loopback
port, `/metrics` for Prometheus, `/health/live` and `/health/ready` (also `/health`).

It runs in a thread of its own, so a probe still answers while the process's main loop is
busy, and readiness checks (short, bounded) never block that loop.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from smartcourse.observability.health import Readiness


def start_probe_server(host: str, port: int, readiness: Callable[[], Readiness],
                       stalled: Callable[[], str | None] = lambda: None
                       ) -> ThreadingHTTPServer:
    """`stalled`: why the main loop counts as stuck (heartbeat.py), None while it beats."""
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._answer(200, generate_latest(REGISTRY), CONTENT_TYPE_LATEST)
            elif path == "/health/live":
                reason = stalled()
                if reason is None:
                    self._answer(200, b'{"status": "ok"}', "application/json")
                else:
                    self._answer(503, json.dumps({"status": "stalled", "reason": reason}
                                                 ).encode(), "application/json")
            elif path in ("/health/ready", "/health"):
                report = readiness()
                self._answer(200 if report.ready else 503,
                             json.dumps(report.as_json()).encode(), "application/json")
            else:
                self._answer(404, b'{"error": {"code": "not_found", "message": "no such probe"}}',
                             "application/json")

        def _answer(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass  # probes and scrapes are counted, not logged

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="probes", daemon=True).start()
    return server
