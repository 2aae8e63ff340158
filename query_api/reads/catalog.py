"""The course catalog (`read_models.catalog_courses`): search, filters, keyset pages.

Without `q` the catalog is browsed by title. With `q`, a course matches when each word of it
is found in the title, tags or description: by full text (the weighted tsvector; English
stems as prefixes, so `windowing` finds `windows` and `gam` finds `gamma`) or by trigram word
similarity (a typo still finds the word); results are ranked by text rank plus similarity
(pages follow (rank, course_id)), or by title on request."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row

from query_api.access import CatalogScope
from query_api.models import CourseSummary
from query_api.pagination import Page, page
from query_api.reads.sql import Where

COLUMNS = sql.SQL(
    "course_id, instructor_id, title, description, tags, status, capacity, seats_taken,"
    " seats_available, content_version, published_at, updated_at")
SORT_KEY = (str, UUID)  # (title, course_id): stable, and what a catalog is browsed by
RANKED_SORT_KEY = (Decimal, UUID)  # (rank, course_id) when searching
# Text rank (title hits weigh most) plus trigram word similarity to all the words and to the
# title (so a typo of a title word ranks that course first), rounded so that a cursor
# carries the exact value the next page compares with.
RANK = ("round((ts_rank(search, websearch_to_tsquery('english', %s), 1)"
        " + 0.5 * word_similarity(%s, search_text)"
        " + 0.5 * word_similarity(%s, lower(title)))::numeric, 6)")
# Every word of the query must match: as a stemmed prefix (`gam` finds `gamma`) or, for a typo,
# by trigram word similarity (`%%` is a literal `%` for psycopg).
WORD = "(search @@ to_tsquery('english', %s) OR %s <%% search_text)"
MAX_WORDS = 10


@dataclass(frozen=True)
class CatalogQuery:
    scope: CatalogScope
    q: str | None = None
    tags: Sequence[str] = ()
    with_seats: bool = False  # only courses with a free seat
    by_title: bool = False  # with q: by title rather than by relevance

    @property
    def ranked(self) -> bool:
        return bool(self.q) and not self.by_title

    @property
    def sort_key(self) -> tuple[type, ...]:
        return RANKED_SORT_KEY if self.ranked else SORT_KEY


def words(q: str) -> list[str]:
    """The query's words (letters, digits), lower-cased: safe inside a tsquery."""
    return re.findall(r"\w+", q.lower())[:MAX_WORDS]


def _filters(query: CatalogQuery) -> Where:
    where = Where().add("status = ANY(%s)", list(query.scope.statuses))
    if query.scope.instructor_id is not None:
        where.add("instructor_id = %s", query.scope.instructor_id)
    if query.tags:
        where.add("tags @> %s::text[]", list(query.tags))
    if query.with_seats:
        where.add("seats_available > 0")
    if query.q:
        found = words(query.q)
        if not found:
            where.add("FALSE")  # only punctuation: nothing to look for
        for word in found:
            where.add(WORD, f"{word}:*", word)
    return where


async def list_courses(conn: AsyncConnection, query: CatalogQuery, limit: int,
                       after: tuple[Any, ...] | None) -> Page[CourseSummary]:
    if query.ranked:
        return await _search(conn, query, limit, after)
    where = _filters(query)
    if after is not None:
        where.add("(title, course_id) > (%s, %s)", *after)
    statement = sql.SQL(
        "SELECT {} FROM read_models.catalog_courses WHERE {} ORDER BY title, course_id LIMIT %s"
    ).format(COLUMNS, where.sql())
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(statement, [*where.params, limit + 1])
        rows = await cur.fetchall()
    kept, next_cursor = page(rows, limit, lambda r: (r["title"], r["course_id"]))
    return Page[CourseSummary](items=[summary(r) for r in kept], next_cursor=next_cursor)


async def _search(conn: AsyncConnection, query: CatalogQuery, limit: int,
                  after: tuple[Any, ...] | None) -> Page[CourseSummary]:
    text = query.q.lower() if query.q else ""
    where = _filters(query)
    statement = sql.SQL(
        "SELECT * FROM (SELECT {}, " + RANK + " AS rank FROM read_models.catalog_courses"
        " WHERE {}) ranked {} ORDER BY rank DESC, course_id LIMIT %s"
    ).format(COLUMNS, where.sql(), sql.SQL(
        "WHERE (rank < %s OR (rank = %s AND course_id > %s))" if after is not None else ""))
    params: list[Any] = [text, text, text, *where.params]
    if after is not None:
        params += [after[0], after[0], after[1]]
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(statement, [*params, limit + 1])
        rows = await cur.fetchall()
    kept, next_cursor = page(rows, limit, lambda r: (r["rank"], r["course_id"]))
    return Page[CourseSummary](items=[summary(r) for r in kept], next_cursor=next_cursor)


def summary(row: dict[str, Any]) -> CourseSummary:
    return CourseSummary(
        course_id=row["course_id"], instructor_id=row["instructor_id"], title=row["title"],
        description=row["description"] or "", tags=list(row["tags"] or []),
        status=row["status"], capacity=row["capacity"], seats_taken=row["seats_taken"],
        seats_available=row["seats_available"], content_version=row["content_version"],
        published_at=row["published_at"], updated_at=row["updated_at"],
    )


async def course_owner(conn: AsyncConnection, course_id: UUID) -> UUID | None:
    """The course's instructor, or None if the catalog has no such course."""
    cur = await conn.execute(
        "SELECT instructor_id FROM read_models.catalog_courses WHERE course_id = %s",
        [course_id])
    row = await cur.fetchone()
    return row[0] if row else None
