"""Small helpers to compose the read queries' WHERE clauses safely."""

from __future__ import annotations

from typing import Any

from psycopg import sql


class Where:
    """Conditions joined by AND, with their parameters in order."""

    def __init__(self) -> None:
        self.parts: list[sql.Composable] = []
        self.params: list[Any] = []

    def add(self, condition: str, *params: Any) -> Where:
        self.parts.append(sql.SQL(condition))  # type: ignore[arg-type]  # constant fragments
        self.params.extend(params)
        return self

    def sql(self) -> sql.Composable:
        return sql.SQL(" AND ").join(self.parts) if self.parts else sql.SQL("TRUE")


def like_pattern(text: str) -> str:
    """`text` anywhere, with LIKE's wildcards taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
