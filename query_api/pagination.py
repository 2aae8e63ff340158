"""Keyset pagination: opaque cursors carrying the sort key of a page's last row."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel

from commands.domain.errors import RuleViolated

T = TypeVar("T")

MAX_LIMIT = 100
DEFAULT_LIMIT = 20
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size.")]
Cursor = Annotated[str | None, Query(
    max_length=2048, pattern=r"^[A-Za-z0-9_-]+$",
    description="`next_cursor` of the previous page.")]


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


class InvalidCursor(RuleViolated):
    code = "request.invalid_cursor"


def encode(key: Sequence[Any]) -> str:
    parts = [v.isoformat() if isinstance(v, datetime) else str(v) for v in key]
    raw = json.dumps(parts, separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode(cursor: str, types: Sequence[Callable[[str], Any]]) -> tuple[Any, ...]:
    """The sort key in `cursor`, each part parsed by its type (str, UUID, datetime...)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        parts = json.loads(raw)
        if not isinstance(parts, list) or len(parts) != len(types):
            raise ValueError("wrong shape")
        return tuple(_parse(kind, part) for kind, part in zip(types, parts, strict=True))
    except (ValueError, TypeError, binascii.Error, RecursionError):  # deep JSON nesting
        raise InvalidCursor("the cursor is not one this endpoint gave out") from None


def after(cursor: str | None, types: Sequence[Callable[[str], Any]]) -> tuple[Any, ...] | None:
    """The sort key a page starts after (None: the first page)."""
    return None if cursor is None else decode(cursor, types)


def _parse(kind: Callable[[str], Any], part: Any) -> Any:
    if not isinstance(part, str):
        raise TypeError("cursor parts are strings")
    if "\x00" in part:
        raise ValueError("NUL in cursor")
    part.encode("utf-8")  # a lone surrogate raises UnicodeEncodeError, a ValueError
    if kind is datetime:
        parsed = datetime.fromisoformat(part)
        if parsed.tzinfo is None:
            raise ValueError("naive timestamp")
        return parsed
    return kind(part)


def page(rows: Sequence[T], limit: int, key: Callable[[T], Sequence[Any]]
         ) -> tuple[list[T], str | None]:
    """The first `limit` rows and the cursor after them (rows were fetched with limit + 1)."""
    if len(rows) <= limit:
        return list(rows), None
    kept = list(rows[:limit])
    return kept, encode(key(kept[-1]))
