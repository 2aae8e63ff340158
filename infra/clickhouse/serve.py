"""Runs chdb's ClickHouse engine as an HTTP server until SIGTERM or SIGINT.

    python -m infra.clickhouse.serve --path DATA --host 127.0.0.1 --port 8123

The working directory must hold the `config.xml` (with `<http_port>` and `<listen_host>`)
written by `ClickHouse.prepare()`. chdb serves HTTP only while a query started with
`SYSTEM START LISTEN HTTP` runs, so that query ends in a statement that never finishes on its
own: a `sleepEachRow` over an endless `system.numbers`, one row per block, which wakes once a
second and costs no CPU in between (a cancelled query ends at the next wake-up, so a longer
sleep would only slow the stop down).

Stopping: SIGTERM's default action would end the process at once, skipping ClickHouse's
shutdown. So the query runs in a worker thread and the main thread turns SIGTERM/SIGINT/SIGHUP
into a `KILL QUERY` (sent over our own HTTP port) for the blocking query and for any client
query still running, as a server's own shutdown would. chdb then stops listening, waits for
open HTTP connections to close, shuts the engine down and returns. It waits for connections
only about 5 seconds (fixed in chdb; `shutdown_wait_unfinished` does not change it) and then
calls `_exit(1)`, skipping the orderly shutdown; so config.xml keeps `keep_alive_timeout` below
that, or an idle keep-alive connection of any client would turn every stop into that exit.

chdb reports a taken port or a data folder locked by another instance only as a line on
stderr; its query then returns without an error (a plain script would exit 0), sometimes only
after a minute. Both are checked beforehand for a clear message; past those checks (a race)
stderr is watched for chdb's line and the process exits 1 at once; and a blocking query that
ends without being asked to is an error too. So the supervisor never mistakes any of these for
a healthy start.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import errno
import fcntl
import os
import select
import signal
import socket
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

# A literal that only the blocking query contains: a KILL that reports it has found the query.
MARKER = "smartcourse-clickhouse-serve"
BLOCKING_QUERY = (
    f"SELECT '{MARKER}' AS marker, count() FROM system.numbers WHERE sleepEachRow(1) "
    "SETTINGS max_block_size = 1"
)
# Every query but the KILL itself: the blocking one and any client's (they would hold their
# connection open past chdb's shutdown wait).
KILL_QUERY = "KILL QUERY WHERE query_id != queryID() ASYNC FORMAT TabSeparated"
# What chdb prints on stderr when it cannot serve (a taken port, a locked data folder).
FATAL_STDERR = ("DB::Exception: Listen [", "Cannot lock file")
# How long a stop request waits for chdb to end the query before giving up (the supervisor
# sends SIGKILL after its own, longer grace period).
STOP_DEADLINE_SECONDS = 45.0
CAUSES = "usual causes: the HTTP port is taken, or another instance uses the data folder {path}"


def log(message: str) -> None:
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} serve: {message}", flush=True)


def data_folder_in_use(path: Path) -> str | None:
    """Who holds the data folder's lock (ClickHouse flocks `<path>/status`), if anyone."""
    status = path / "status"
    if not status.exists():
        return None
    with status.open("r") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            first = status.read_text(errors="replace").splitlines()[:1]
            return first[0] if first else "another process"
        fcntl.flock(f, fcntl.LOCK_UN)
    return None


def port_taken(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as ClickHouse binds
        try:
            s.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return True
            raise
    return False


class StderrWatch:
    """Passes fd 2 through a pipe to the real stderr, calling `on_fatal` on chdb's start errors."""

    def __init__(self, on_fatal: Callable[[str], None]) -> None:
        self.on_fatal = on_fatal
        self.closed = False
        self.original = os.dup(2)
        read_end, write_end = os.pipe()
        os.dup2(write_end, 2)
        os.close(write_end)
        self.reader = os.fdopen(read_end, "rb")
        self.thread = threading.Thread(target=self._pump, name="stderr-watch", daemon=True)
        self.thread.start()

    def _pump(self) -> None:
        for line in self.reader:
            os.write(self.original, line)
            text = line.decode(errors="replace").strip()
            if any(pattern in text for pattern in FATAL_STDERR):
                self.on_fatal(text)

    def close(self) -> None:
        """Put the real stderr back and pass on what is still in the pipe; idempotent."""
        if self.closed:
            return
        self.closed = True
        sys.stderr.flush()
        os.dup2(self.original, 2)  # closes the pipe's last write end: the pump reads EOF
        self.thread.join(timeout=5)


class Server:
    def __init__(self, path: Path, host: str, port: int) -> None:
        self.path = path
        self.url = f"http://{'[' + host + ']' if ':' in host else host}:{port}/"
        self.stop_requested = False
        self.fatal: str | None = None
        self.error: BaseException | None = None
        self.engine = None  # chdb's _chdb module, imported by run()
        self.watch: StderrWatch | None = None  # set up by run()
        # Woken by a signal (set_wakeup_fd), chdb's fatal stderr line or the worker's end: the
        # main thread sleeps in select() instead of polling.
        self.wake_read, self.wake_write = os.pipe()
        for fd in (self.wake_read, self.wake_write):
            os.set_blocking(fd, False)
        self.thread = threading.Thread(target=self._run, name="chdb-server", daemon=True)

    def _wake(self) -> None:
        with contextlib.suppress(BlockingIOError):
            os.write(self.wake_write, b"x")

    def _on_fatal(self, line: str) -> None:
        self.fatal = line
        self._wake()

    def _run(self) -> None:
        try:
            result = self.engine.query(
                f"SYSTEM START LISTEN HTTP; {BLOCKING_QUERY}", "TabSeparated", path=str(self.path)
            )
            if result.has_error():
                self.error = RuntimeError(result.error_message())
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            self.error = error
        finally:
            self._wake()

    def _request_stop(self, signum: int, _frame: object) -> None:
        if not self.stop_requested:
            log(f"received {signal.Signals(signum).name}, stopping")
        self.stop_requested = True

    def _send_kill(self) -> bool:
        """True once a KILL QUERY has reached the blocking query."""
        query = urllib.parse.urlencode({"query": KILL_QUERY})
        request = urllib.request.Request(f"{self.url}?{query}", data=b"",
                                         headers=_credentials())
        try:
            with urllib.request.urlopen(request, timeout=5) as reply:
                killed = reply.read().decode(errors="replace")
        except (OSError, urllib.error.URLError) as error:
            log(f"KILL QUERY failed ({error}); retrying")
            return False
        others = sum(1 for line in killed.splitlines() if line and MARKER not in line)
        if others:
            log(f"cancelled {others} running client quer{'y' if others == 1 else 'ies'}")
        return MARKER in killed

    def _sleep(self, seconds: float) -> None:
        """Until a signal arrives, the worker ends, or `seconds` pass."""
        ready, _, _ = select.select([self.wake_read], [], [], seconds)
        if ready:
            with contextlib.suppress(BlockingIOError):
                os.read(self.wake_read, 4096)

    def run(self) -> int:
        self.watch = StderrWatch(self._on_fatal)
        try:
            return self._serve()
        finally:
            self.watch.close()

    def _serve(self) -> int:
        # Importing chdb loads the engine; done here, in the main thread and before our signal
        # handlers, so that whatever handlers chdb installs on import do not replace ours.
        from chdb import _chdb

        self.engine = _chdb
        signal.set_wakeup_fd(self.wake_write, warn_on_full_buffer=False)
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, self._request_stop)
        self.thread.start()
        stop_deadline: float | None = None
        killed = False
        while self.thread.is_alive():
            if self.fatal and not self.stop_requested:
                # chdb gave up before serving; its query may take a minute more to return.
                self._report_failure()
                os._exit(1)
            if not self.stop_requested:
                self._sleep(60.0)
                continue
            now = time.monotonic()
            if stop_deadline is None:
                stop_deadline = now + STOP_DEADLINE_SECONDS
            if now > stop_deadline:
                log("the server did not stop in time; exiting without a clean shutdown")
                os._exit(1)
            if not killed:  # (not listening yet, or the blocking query not started yet)
                killed = self._send_kill()
            # ASYNC kill: the query ends at its next wake-up, then chdb shuts down.
            self.thread.join(timeout=1.0)
        self.thread.join()
        if self.stop_requested:
            log("stopped cleanly (the QUERY_WAS_CANCELLED line above is the expected end of the "
                "blocking query)")
            return 0
        self._report_failure()
        return 1

    def _report_failure(self) -> None:
        self.watch.close()  # chdb's stderr line, if any, is now passed on and seen
        if self.fatal:
            log(f"chdb cannot serve: {self.fatal}")
        elif self.error:
            log(f"the server ended on its own: {self.error}")
        else:
            log("the server ended on its own (see the error above)")
        log(CAUSES.format(path=self.path))


def _credentials() -> dict[str, str]:
    """Basic auth for the stop's KILL QUERY: the full-rights account given by the service
    (`default` holds only SYSTEM LISTEN, and killing other users' queries needs more)."""
    user = os.environ.get("SMARTCOURSE_CLICKHOUSE_SERVE_USER")
    if not user:
        return {}
    token = f"{user}:{os.environ.get('SMARTCOURSE_CLICKHOUSE_SERVE_PASSWORD', '')}"
    return {"Authorization": "Basic " + base64.b64encode(token.encode()).decode()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", type=Path, required=True, help="ClickHouse data folder")
    parser.add_argument("--host", required=True, help="listen_host of config.xml")
    parser.add_argument("--port", type=int, required=True, help="http_port of config.xml")
    args = parser.parse_args(argv)

    if not Path("config.xml").is_file():
        log(f"no config.xml in the working directory {os.getcwd()}")
        return 2
    args.path.mkdir(parents=True, exist_ok=True)
    holder = data_folder_in_use(args.path)
    if holder:
        log(f"data folder {args.path} is locked by another ClickHouse instance ({holder})")
        return 1
    if port_taken(args.host, args.port):
        log(f"port {args.host}:{args.port} is already in use by another program")
        return 1
    log(f"starting chdb on {args.host}:{args.port} with data in {args.path}")
    return Server(args.path, args.host, args.port).run()


if __name__ == "__main__":
    sys.exit(main())
