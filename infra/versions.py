"""Reads the pinned service versions from versions.toml."""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path

VERSIONS_FILE = Path(__file__).with_name("versions.toml")


@cache
def versions() -> dict[str, dict[str, str]]:
    with VERSIONS_FILE.open("rb") as f:
        return tomllib.load(f)


def version_of(service: str, key: str = "version") -> str:
    return versions()[service][key]
