"""`smartcourse app|stack logs NAME [--follow] [--grep PATTERN]`: the end of a log, its
lines filtered by a regular expression (on the raw line, so `--grep '"level": "error"'` or
`--grep <trace id>` both work), and new lines as they come with --follow."""

from __future__ import annotations

import re
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

POLL_SECONDS = 0.25


def last_matching(lines: Iterable[str], pattern: re.Pattern[str] | None, count: int
                  ) -> list[str]:
    """The last `count` lines that match (every line without a pattern)."""
    kept: deque[str] = deque(maxlen=count)
    for line in lines:
        if pattern is None or pattern.search(line):
            kept.append(line)
    return list(kept)


def follow(path: Path, pattern: re.Pattern[str] | None, count: int,
           stop: Callable[[], bool] = lambda: False) -> Iterator[str]:
    """The last matching lines, then each new matching line until `stop()`; starts over
    when the file is truncated or replaced (a restarted process appends a new start)."""
    with path.open(errors="replace") as handle:
        yield from last_matching((line.rstrip("\n") for line in handle), pattern, count)
        inode, partial = path.stat().st_ino, ""
        while not stop():
            chunk = handle.readline()
            if chunk:
                partial += chunk
                if partial.endswith("\n"):
                    line, partial = partial.rstrip("\n"), ""
                    if pattern is None or pattern.search(line):
                        yield line
                continue
            time.sleep(POLL_SECONDS)  # waiting for the process to write more
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            if stat.st_ino != inode or stat.st_size < handle.tell():
                handle.close()
                handle = path.open(errors="replace")
                inode = stat.st_ino
