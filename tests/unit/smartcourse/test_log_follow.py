"""`smartcourse app logs NAME --follow --grep`: filtered ends of a log, then new lines."""

from __future__ import annotations

import re
import threading
from pathlib import Path

from smartcourse.cli.log_follow import follow, last_matching


def test_the_last_matching_lines() -> None:
    lines = [f'{{"level": "{lvl}", "n": {n}}}' for n, lvl in
             enumerate(["info", "error", "info", "error", "error"])]
    assert last_matching(lines, re.compile('"level": "error"'), 2) == [lines[3], lines[4]]
    assert last_matching(lines, None, 1) == [lines[4]]


def test_follow_yields_new_matching_lines_and_survives_truncation(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text("old error\nold info\n")
    seen: list[str] = []
    done = threading.Event()

    def collect() -> None:
        for line in follow(log, re.compile("error"), 10, stop=done.is_set):
            seen.append(line)
            if len(seen) == 3:
                done.set()

    reader = threading.Thread(target=collect)
    reader.start()
    with log.open("a") as handle:
        handle.write("new info\nnew error\n")
    reader.join(timeout=2)
    log.write_text("after restart error\n")  # truncated and written again
    reader.join(timeout=5)
    done.set()
    reader.join()
    assert seen == ["old error", "new error", "after restart error"]
