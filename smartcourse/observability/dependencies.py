"""Readiness checks of the services a process needs: one real, bounded request each."""

from __future__ import annotations

import httpx
import psycopg


def postgres(dsn: str) -> None:
    with psycopg.connect(dsn, connect_timeout=2, autocommit=True) as conn:
        conn.execute("SELECT 1")


def kafka(bootstrap: str) -> None:
    from confluent_kafka.admin import AdminClient

    AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=2)


def registry(url: str) -> None:
    httpx.get(f"{url.rstrip('/')}/subjects", timeout=2).raise_for_status()


def clickhouse(url: str) -> None:
    httpx.get(f"{url.rstrip('/')}/ping", timeout=2).raise_for_status()
