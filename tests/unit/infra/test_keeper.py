"""The keeper restarts a failing child with backoff, gives up on a crash loop, leaves a clean
exit alone and ends its child when asked (real child processes, no services)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from infra.keeper import EXITED, FAILED, RUNNING, STOPPED, CrashLoop, Policy, read_state

PY = sys.executable


def keeper(tmp_path: Path, script: str, *options: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([PY, "-m", "infra.keeper", "--name", "toy", "--state",
                             str(tmp_path / "toy.json"), "--backoff", "0.05", *options, "--",
                             PY, "-c", script], cwd=Path(__file__).parents[3])


def wait_for(condition, what: str, deadline: float = 30.0) -> None:  # noqa: ANN001
    done = threading.Event()
    for _ in range(int(deadline / 0.02)):
        if condition():
            return
        done.wait(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def test_the_backoff_doubles_up_to_its_cap() -> None:
    policy = Policy(backoff=0.5, max_backoff=3.0)
    assert [policy.delay(n) for n in (1, 2, 3, 4, 5)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_more_failures_than_the_burst_within_the_interval_is_a_crash_loop() -> None:
    loop = CrashLoop(Policy(burst=2, interval=10.0))
    assert [loop.failed(t) for t in (0.0, 1.0)] == [False, False]
    assert loop.failed(2.0)
    spaced = CrashLoop(Policy(burst=2, interval=10.0))
    assert not any(spaced.failed(t) for t in (0.0, 11.0, 22.0, 33.0))


def test_a_killed_child_is_started_again_and_counted(tmp_path: Path) -> None:
    proc = keeper(tmp_path, "import time; time.sleep(60)")
    state = tmp_path / "toy.json"
    try:
        wait_for(lambda: (s := read_state(state)) is not None and s.child_pid, "a child")
        first = read_state(state).child_pid  # type: ignore[union-attr]
        os.kill(first, signal.SIGKILL)
        wait_for(lambda: (s := read_state(state)) is not None and s.state == RUNNING
                 and s.child_pid not in (None, first), "a second child")
        kept = read_state(state)
        assert kept is not None and kept.restarts == 1 and kept.last_exit == -signal.SIGKILL
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    assert read_state(state).state == STOPPED  # type: ignore[union-attr]


def test_a_child_that_keeps_failing_is_given_up_as_a_crash_loop(tmp_path: Path) -> None:
    proc = keeper(tmp_path, "raise SystemExit(3)", "--burst", "2", "--max-backoff", "0.1")
    assert proc.wait(30) == 1
    kept = read_state(tmp_path / "toy.json")
    assert kept is not None and kept.state == FAILED and kept.restarts == 2
    assert kept.last_exit == 3 and "crash loop" in (kept.reason or "")


def test_a_clean_exit_is_not_restarted(tmp_path: Path) -> None:
    proc = keeper(tmp_path, "raise SystemExit(0)")
    assert proc.wait(30) == 0
    kept = read_state(tmp_path / "toy.json")
    assert kept is not None and (kept.state, kept.restarts) == (EXITED, 0)


def test_the_child_knows_its_restart_count(tmp_path: Path) -> None:
    out = tmp_path / "seen"
    script = (f"import os; open({str(out)!r}, 'a').write(os.environ"
              "['SMARTCOURSE_PROCESS_RESTARTS'] + ' '); raise SystemExit(1)")
    proc = keeper(tmp_path, script, "--burst", "2", "--max-backoff", "0.1")
    assert proc.wait(30) == 1
    assert out.read_text().split() == ["0", "1", "2"]


LIVE_CHILD = """
import http.server, os, sys, threading
class Live(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Live)
server.serve_forever()
"""


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_child_that_stops_answering_its_liveness_url_is_ended_and_started_again(
        tmp_path: Path) -> None:
    """Alive but stuck (SIGSTOP: the connection is accepted, nothing answers): the watchdog
    ends it — SIGTERM is held by a stopped process, so SIGKILL after the grace — and the
    keeper starts it again, saying why."""
    port = free_port()
    state = tmp_path / "toy.json"
    proc = subprocess.Popen(
        [PY, "-m", "infra.keeper", "--name", "toy", "--state", str(state), "--backoff", "0.05",
         "--watch", f"http://127.0.0.1:{port}/health/live", "--watch-interval", "0.1",
         "--watch-timeout", "0.3", "--watch-misses", "3", "--term-grace", "0.5",
         "--", PY, "-c", LIVE_CHILD, str(port)], cwd=Path(__file__).parents[3])
    try:
        wait_for(lambda: (s := read_state(state)) is not None and s.child_pid, "a child")
        first = read_state(state).child_pid  # type: ignore[union-attr]
        import httpx

        wait_for(lambda: _answers(httpx, port), "the child's liveness URL")
        threading.Event().wait(0.5)  # the watchdog has seen it answer (armed)
        os.kill(first, signal.SIGSTOP)
        wait_for(lambda: (s := read_state(state)) is not None and s.state == RUNNING
                 and s.child_pid not in (None, first), "a second child")
        kept = read_state(state)
        assert kept is not None and kept.restarts == 1 and kept.watchdog_kills == 1
        assert kept.last_exit == -signal.SIGKILL
        assert kept.reason is not None and kept.reason.startswith("watchdog: 3 liveness")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0


def _answers(httpx, port: int) -> bool:  # noqa: ANN001
    try:
        return httpx.get(f"http://127.0.0.1:{port}/health/live", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_a_child_that_never_answered_is_not_ended_by_the_watchdog(tmp_path: Path) -> None:
    """Before its first answer the child is starting: the supervisor's start timeout judges."""
    state = tmp_path / "toy.json"
    proc = subprocess.Popen(
        [PY, "-m", "infra.keeper", "--name", "toy", "--state", str(state),
         "--watch", f"http://127.0.0.1:{free_port()}/health/live", "--watch-interval", "0.05",
         "--watch-timeout", "0.1", "--watch-misses", "2",
         "--", PY, "-c", "import time; time.sleep(60)"], cwd=Path(__file__).parents[3])
    try:
        wait_for(lambda: (s := read_state(state)) is not None and s.child_pid, "a child")
        first = read_state(state).child_pid  # type: ignore[union-attr]
        threading.Event().wait(1.0)  # twenty refused probes
        kept = read_state(state)
        assert kept is not None and kept.child_pid == first and kept.restarts == 0
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
