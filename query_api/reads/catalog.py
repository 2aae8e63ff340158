"""The course catalog (`read_models.catalog_courses`): search, filters, keyset pages.

Without `q` the catalog is browsed by title. With `q`, courses match by full text (the
weighted tsvector: title, tags, description; English stems, so `windowing` finds `windows`)
or by trigram word similarity (a typo still finds the word), ranked by text rank plus
similarity; pages follow (rank, course_id)."""

from __future__ import annotations

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
MATCH = "(search @@ websearch_to_tsquery('english', %s) OR %s <%% search_text)"  # %% : a literal %


@dataclass(frozen=True)
class CatalogQuery:
    scope: CatalogScope
    q: str | None = None
    tags: Sequence[str] = ()
    with_seats: bool = False  # only courses with a free seat

    @property
    def sort_key(self) -> tuple[type, ...]:
        return RANKED_SORT_KEY if self.q else SORT_KEY


def _filters(query: CatalogQuery) -> Where:
    where = Where().add("status = ANY(%s)", list(query.scope.statuses))
    if query.scope.instructor_id is not None:
        where.add("instructor_id = %s", query.scope.instructor_id)
    if query.tags:
        where.add("tags @> %s::text[]", list(query.tags))
    if query.with_seats:
        where.add("seats_available > 0")
    return where


async def list_courses(conn: AsyncConnection, query: CatalogQuery, limit: int,
                       after: tuple[Any, ...] | None) -> Page[CourseSummary]:
    if query.q:
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
    where = _filters(query).add(MATCH, text, text)
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
