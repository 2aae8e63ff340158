"""Keyset cursors: they round-trip the sort key, and anything else is a 422, not a 500."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from uuid import UUID, uuid4

import pytest

from query_api.pagination import InvalidCursor, decode, encode, page


def test_a_cursor_round_trips_its_sort_key() -> None:
    key = ("Ünïcode — title, with \"quotes\"", uuid4())
    assert decode(encode(key), (str, UUID)) == key


def test_timestamps_keep_their_microseconds_and_zone() -> None:
    key = (datetime(2026, 11, 25, 19, 1, 2, 345678, tzinfo=UTC), uuid4())
    assert decode(encode(key), (datetime, UUID)) == key


# ["\ud800", "<a uuid>"]: valid JSON, but PostgreSQL cannot take a lone surrogate
LONE_SURROGATE = "WyJcdWQ4MDAiLCI2ZjFjNWE4ZS0yZjRiLTRjMWUtOWE1Ny0wYzRkN2UzYjlh"
LONE_SURROGATE += "MTAiXQ"
TITLE_KEY = (str, UUID)
TIME_KEY = (datetime, UUID)


@pytest.mark.parametrize(("cursor", "types"), [
    ("", TITLE_KEY), ("not-base64!", TITLE_KEY), (encode(["only one part"]), TITLE_KEY),
    (encode(["title", "not-a-uuid"]), TITLE_KEY),
    (encode(["2026-11-25T19:01:02", str(uuid4())]), TIME_KEY),  # a naive timestamp
    (encode(["yesterday", str(uuid4())]), TIME_KEY),
    ("eyJhIjoxfQ", TITLE_KEY),  # {"a":1}: JSON of the wrong shape
    (encode(["nul\x00", str(uuid4())]), TITLE_KEY),
    (LONE_SURROGATE, TITLE_KEY),
    (base64.urlsafe_b64encode(b"[" * 1500).decode(), TITLE_KEY),  # nesting too deep
])
def test_a_foreign_cursor_is_refused_with_its_code(cursor: str, types: tuple[type, ...]
                                                   ) -> None:
    with pytest.raises(InvalidCursor) as refused:
        decode(cursor, types)
    assert refused.value.code == "request.invalid_cursor"


def test_a_page_has_a_cursor_only_when_more_rows_follow() -> None:
    rows = [{"k": n} for n in range(4)]
    kept, cursor = page(rows, 3, lambda r: (str(r["k"]),))
    assert kept == rows[:3]
    assert cursor is not None and decode(cursor, (str,)) == ("2",)
    assert page(rows[:3], 3, lambda r: (str(r["k"]),)) == (rows[:3], None)
