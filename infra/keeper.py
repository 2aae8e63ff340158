"""Keeps one process running, as systemd's `Restart=on-failure` does: `python -m infra.keeper`.

The supervisor starts every app process (APIs, relay, workers) under a keeper of its own. The
keeper runs the command as its child and, when the child dies of a failure (a non-zero exit
or a signal it did not forward itself), starts it again after a backoff that doubles from
`--backoff` up to `--max-backoff` (back to the start once a child has run `--stable` seconds).
More than `--burst` failures within `--interval` seconds is a crash loop: the keeper gives up
(state `failed`) and exits 1, as systemd's StartLimitBurst/StartLimitIntervalSec. A clean exit
(0) is not restarted. SIGTERM or SIGINT to the keeper go to the child, and the keeper ends
with it.

A process can be alive and still stuck (a wedged main loop, a SIGSTOPped process): with
`--watch URL` the keeper also polls the child's liveness URL every `--watch-interval` seconds,
as systemd's WatchdogSec. Once the child has answered 200 for the first time, `--watch-misses`
probes in a row that fail (no answer within `--watch-timeout`, or not 200: the processes that
serve no API answer 503 when their main loop stops beating) end the child — SIGTERM, SIGKILL
after `--term-grace` — and it is restarted as after any other failure.

What it knows goes to a JSON state file after every change (child pid, restarts, state, last
exit, when): `smartcourse app status` prints it and the chaos suite finds the child to kill
there. Each child gets its restart count in SMARTCOURSE_PROCESS_RESTARTS, and shows it as the
gauge `smartcourse_process_restarts` on its own /metrics.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from dataclasses import asdict, dataclass, field
from pathlib import Path

RUNNING, BACKOFF, FAILED, STOPPED, EXITED = "running", "backoff", "failed", "stopped", "exited"


@dataclass
class Policy:
    backoff: float = 0.5  # seconds before the first restart; doubled for each further one
    max_backoff: float = 30.0
    burst: int = 5  # failures within `interval` that make a crash loop
    interval: float = 60.0
    stable: float = 30.0  # a child that ran this long resets the backoff
    watch_url: str | None = None  # the child's liveness URL; None: no watchdog
    watch_interval: float = 5.0
    watch_timeout: float = 5.0
    watch_misses: int = 12  # failed probes in a row that end the child
    term_grace: float = 10.0  # after SIGTERM, before SIGKILL

    def delay(self, consecutive: int) -> float:
        return min(self.max_backoff, self.backoff * 2 ** max(0, consecutive - 1))


@dataclass
class KeeperState:
    name: str
    state: str = RUNNING
    child_pid: int | None = None
    restarts: int = 0
    last_exit: int | None = None  # the exit code, or minus the signal that ended the child
    reason: str | None = None
    watchdog_kills: int = 0  # children ended because they stopped answering
    updated: float = field(default_factory=time.time)


def read_state(path: Path) -> KeeperState | None:
    try:
        return KeeperState(**json.loads(path.read_text()))
    except (FileNotFoundError, ValueError, TypeError):
        return None


class CrashLoop:
    """Failures within the interval: `failed()` records one and says whether it is a loop."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.failures: deque[float] = deque()

    def failed(self, now: float) -> bool:
        self.failures.append(now)
        while self.failures and now - self.failures[0] > self.policy.interval:
            self.failures.popleft()
        return len(self.failures) > self.policy.burst


class Keeper:
    def __init__(self, name: str, argv: list[str], state_file: Path, policy: Policy) -> None:
        self.argv, self.state_file, self.policy = argv, state_file, policy
        self.state = KeeperState(name)
        self.stop_requested = threading.Event()
        self.child: subprocess.Popen[bytes] | None = None

    def _save(self, **changes: object) -> None:
        for key, value in changes.items():
            setattr(self.state, key, value)
        self.state.updated = time.time()
        temporary = self.state_file.with_suffix(".tmp")
        temporary.write_text(json.dumps(asdict(self.state)))
        temporary.replace(self.state_file)

    def _on_signal(self, signum: int, _frame: object) -> None:
        self.stop_requested.set()
        child = self.child
        if child is not None and child.poll() is None:
            child.send_signal(signum)

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        loop, consecutive = CrashLoop(self.policy), 0
        while True:
            env = {**os.environ, "SMARTCOURSE_PROCESS_RESTARTS": str(self.state.restarts),
                   "SMARTCOURSE_PROCESS_NAME": self.state.name}
            started = time.monotonic()
            self.child = subprocess.Popen(self.argv, env=env, stdin=subprocess.DEVNULL)
            self._save(state=RUNNING, child_pid=self.child.pid)
            watchdog = Watchdog(self.child, self.policy, self.state.name)
            watchdog.start()
            code = self._wait(self.child)
            watchdog.stop()
            if self.stop_requested.is_set():
                self._save(state=STOPPED, child_pid=None, last_exit=code)
                return 0
            if code == 0 and watchdog.verdict is None:  # a child the watchdog ended failed
                self._save(state=EXITED, child_pid=None, last_exit=0)
                return 0
            ran = time.monotonic() - started
            consecutive = 1 if ran >= self.policy.stable else consecutive + 1
            how = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
            if watchdog.verdict is not None:
                how = f"{watchdog.verdict}; {how}"
                self.state.watchdog_kills += 1
            if loop.failed(time.time()):
                self._save(state=FAILED, child_pid=None, last_exit=code,
                           reason=f"crash loop: more than {self.policy.burst} failures in "
                                  f"{self.policy.interval:.0f}s (last: {how})")
                _say(f"keeper: {self.state.name}: {self.state.reason}; giving up")
                return 1
            delay = self.policy.delay(consecutive)
            self._save(state=BACKOFF, child_pid=None, last_exit=code, reason=how)
            _say(f"keeper: {self.state.name} died ({how}) after {ran:.1f}s; "
                 f"restart {self.state.restarts + 1} in {delay:.1f}s")
            if self.stop_requested.wait(delay):
                self._save(state=STOPPED)
                return 0
            self.state.restarts += 1

    @staticmethod
    def _wait(child: subprocess.Popen[bytes]) -> int:
        while True:
            try:
                return child.wait()
            except InterruptedError:  # pragma: no cover - PEP 475 retries; kept for clarity
                continue


class Watchdog:
    """Polls the child's liveness URL on a thread of its own; ends a child that stopped
    answering. `verdict` says why, once it did."""

    def __init__(self, child: subprocess.Popen[bytes], policy: Policy, name: str) -> None:
        self.child, self.policy, self.name = child, policy, name
        self.verdict: str | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="watchdog", daemon=True)

    def start(self) -> None:
        if self.policy.watch_url:
            self._thread.start()

    def stop(self) -> None:
        self._done.set()

    def _probe(self) -> str | None:
        """None when the child answered 200; else what went wrong."""
        assert self.policy.watch_url
        try:
            with urllib.request.urlopen(self.policy.watch_url,  # noqa: S310 - our own URL
                                        timeout=self.policy.watch_timeout) as answer:
                return None if answer.status == 200 else f"HTTP {answer.status}"
        except urllib.error.HTTPError as error:
            body = error.read(300).decode(errors="replace")
            return f"HTTP {error.code} {body}".strip()
        except (OSError, ValueError) as error:  # refused, timed out, reset
            return f"{type(error).__name__}: {error}"

    def _watch(self) -> None:
        answered, misses = False, 0
        while not self._done.wait(self.policy.watch_interval):
            failure = self._probe()
            if failure is None:
                answered, misses = True, 0
                continue
            if not answered:
                continue  # still starting: the supervisor's start timeout judges that
            misses += 1
            if misses < self.policy.watch_misses:
                continue
            if self._done.is_set() or self.child.poll() is not None:
                return
            self.verdict = (f"watchdog: {misses} liveness probes failed in a row "
                            f"(last: {failure[:200]})")
            _say(f"keeper: {self.name}: {self.verdict}; ending pid {self.child.pid}")
            self.child.terminate()
            try:
                self.child.wait(self.policy.term_grace)
            except subprocess.TimeoutExpired:
                self.child.kill()
            return


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def main(args: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.keeper")
    parser.add_argument("--name", required=True)
    parser.add_argument("--state", required=True, type=Path)
    parser.add_argument("--backoff", type=float, default=Policy.backoff)
    parser.add_argument("--max-backoff", type=float, default=Policy.max_backoff)
    parser.add_argument("--burst", type=int, default=Policy.burst)
    parser.add_argument("--interval", type=float, default=Policy.interval)
    parser.add_argument("--stable", type=float, default=Policy.stable)
    parser.add_argument("--watch", dest="watch_url", default=None,
                        help="the child's liveness URL (a watchdog restarts it when it stops "
                             "answering 200)")
    parser.add_argument("--watch-interval", type=float, default=Policy.watch_interval)
    parser.add_argument("--watch-timeout", type=float, default=Policy.watch_timeout)
    parser.add_argument("--watch-misses", type=int, default=Policy.watch_misses)
    parser.add_argument("--term-grace", type=float, default=Policy.term_grace)
    parser.add_argument("argv", nargs=argparse.REMAINDER)
    options = parser.parse_args(args)
    argv = options.argv[1:] if options.argv[:1] == ["--"] else options.argv
    if not argv:
        parser.error("the command to keep running follows --")
    policy = Policy(options.backoff, options.max_backoff, options.burst, options.interval,
                    options.stable, options.watch_url, options.watch_interval,
                    options.watch_timeout, options.watch_misses, options.term_grace)
    return Keeper(options.name, argv, options.state, policy).run()


if __name__ == "__main__":
    sys.exit(main())
