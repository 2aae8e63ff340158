"""ClickHouse from PyPI's chdb-core: a real ClickHouse engine serving the HTTP interface.

chdb is an embedded engine; `serve.py` turns it into a server process (see there for how it
starts, blocks and stops). The working folder holds `config.xml` (listen host, HTTP port) and
`users.xml`; the engine's own data lives in `db/` under it.

Users, both reachable from loopback only and without a password (a local stack):
  default  full rights, what the application and the tests use
  analyst  the `readonly` profile: SELECT and SET, no writes or DDL
"""

from __future__ import annotations

import os
import sys
from importlib import metadata
from pathlib import Path
from xml.sax.saxutils import escape

import clickhouse_connect
import httpx

import infra
from infra.service import Service, StackError

ANALYST_USER = "analyst"
# Seconds an idle HTTP keep-alive connection stays open (ClickHouse's default is 30).
KEEP_ALIVE_SECONDS = 3


class ClickHouse(Service):
    name = "clickhouse"

    @property
    def db_path(self) -> Path:
        """The engine's data folder (`path` of ClickHouse)."""
        return self.data / "db"

    def ports(self) -> dict[str, int]:
        return {"http": self.settings.clickhouse_http_port}

    def install(self) -> None:
        # chdb-core is a pinned dependency of the project; its version is the engine's.
        try:
            found = metadata.version("chdb-core")
        except metadata.PackageNotFoundError:
            found = None
        if found != self.version:
            raise StackError(
                f"clickhouse: needs the Python package chdb-core=={self.version} "
                f"(found {found or 'none'}) in {sys.executable}; "
                f"run `pip install -e .` or `pip install chdb-core=={self.version}`"
            )

    def prepare(self) -> None:
        self.db_path.mkdir(parents=True, exist_ok=True)
        # Rewritten on every start so changed settings (port, host) take effect.
        config = config_xml(self.settings.host, self.settings.clickhouse_http_port)
        (self.data / "config.xml").write_text(config)
        (self.data / "users.xml").write_text(USERS_XML)

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "infra.clickhouse.serve",
            "--path", str(self.db_path),
            "--host", self.settings.host,
            "--port", str(self.settings.clickhouse_http_port),
        ]

    def environment(self) -> dict[str, str]:
        # The server runs in its data folder; make sure it imports this checkout's `infra`.
        root = str(Path(infra.__file__).resolve().parent.parent)
        return {"PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}

    def healthy(self) -> bool:
        host, port = self.settings.host, self.settings.clickhouse_http_port
        url_host = f"[{host}]" if ":" in host else host
        ping = httpx.get(f"http://{url_host}:{port}/ping", timeout=2)
        if ping.status_code != 200 or ping.text.strip() != "Ok.":
            return False
        # A pool of its own, closed afterwards: an idle keep-alive connection left in a shared
        # pool would delay a later stop by the keep-alive timeout.
        client = clickhouse_connect.get_client(
            host=host, port=port, username="default", password="",
            connect_timeout=2, send_receive_timeout=10, dedicated_pool=True,
        )
        try:
            return client.command("SELECT 1") == 1
        finally:
            client.close()


def config_xml(host: str, http_port: int) -> str:
    return f"""<!-- Written by infra/clickhouse/service.py on every start; edits are lost. -->
<clickhouse>
    <listen_host>{escape(host)}</listen_host>
    <http_port>{http_port}</http_port>
    <users_config>users.xml</users_config>
    <!-- On stop chdb waits only ~5 s for open connections, then exits without shutting the
         engine down (see serve.py): idle keep-alive connections must close sooner than that.
         clickhouse-connect reconnects transparently. -->
    <keep_alive_timeout>{KEEP_ALIVE_SECONDS}</keep_alive_timeout>
</clickhouse>
"""


USERS_XML = f"""<!-- Written by infra/clickhouse/service.py on every start; edits are lost. -->
<clickhouse>
    <profiles>
        <default/>
        <readonly>
            <readonly>2</readonly>
        </readonly>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
        <{ANALYST_USER}>
            <password></password>
            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>readonly</profile>
            <quota>default</quota>
        </{ANALYST_USER}>
    </users>
    <quotas>
        <default/>
    </quotas>
</clickhouse>
"""
