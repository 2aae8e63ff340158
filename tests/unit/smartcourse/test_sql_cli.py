"""`smartcourse sql` parses a query that begins with an SQL comment as the query."""

from __future__ import annotations

from typer.testing import CliRunner

from smartcourse.cli import app

QUERY = "-- Lessons per course.\nSELECT 1"


def test_a_query_beginning_with_a_comment_is_not_taken_for_an_option(monkeypatch) -> None:
    # Nothing listens on port 9: the command gets as far as connecting, with the query whole.
    monkeypatch.setenv("SMARTCOURSE_CLICKHOUSE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("SMARTCOURSE_CLICKHOUSE_ANALYST_PASSWORD", "unused")
    result = CliRunner().invoke(app, ["sql", QUERY, "--format", "csv"])
    assert result.exit_code == 1
    assert "No such option" not in result.output
    assert "sql:" in result.output  # the command's own one-line failure (no server there)
