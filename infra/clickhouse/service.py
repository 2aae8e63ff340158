"""ClickHouse from PyPI's chdb-core: a real ClickHouse engine serving the HTTP interface.

chdb is an embedded engine; `serve.py` turns it into a server process (see there for how it
starts, blocks and stops). The working folder holds `config.xml` (listen host, HTTP port) and
`users.xml`; the engine's own data lives in `db/` under it.

Users (loopback only; passwords generated once into <data_dir>/secrets/, never defaulted):
  smartcourse  full rights (SMARTCOURSE_CLICKHOUSE_USER): the sink, rebuilds, the tests
  analyst      `readonly=2` and one grant, SELECT on the analytics databases (`<db>*`): no
               writes or DDL, no table functions (file, url, postgresql, s3, remote…, which
               need READ/WRITE ON <source>), no INSERT INTO FUNCTION, and system tables only
               as far as they show the analyst's own grants (`select_from_system_db_requires_
               grant`)
  default      chdb's embedded engine connects as `default` without a password and needs
               SYSTEM LISTEN to start serving; so `default` holds exactly that and nothing
               else (it reads no table). What a passwordless loopback caller can still do is
               stop the HTTP listener (a local denial of service, never a read).
"""

from __future__ import annotations

import hashlib
import os
import sys
from importlib import metadata
from pathlib import Path
from xml.sax.saxutils import escape

import clickhouse_connect
import httpx

import infra
from infra.service import Service, StackError
from smartcourse.secrets import ensure_local_secret
from smartcourse.settings import Settings

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
        (self.data / "users.xml").write_text(users_xml(self.settings))

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
        from projections.analytics.clients import writer_password

        # serve.py sends its stopping KILL QUERY as the writer (`default` may not kill).
        return {"PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])),
                "SMARTCOURSE_CLICKHOUSE_SERVE_USER": self.settings.clickhouse_user,
                "SMARTCOURSE_CLICKHOUSE_SERVE_PASSWORD": writer_password(self.settings)}

    def healthy(self) -> bool:
        host, port = self.settings.host, self.settings.clickhouse_http_port
        url_host = f"[{host}]" if ":" in host else host
        ping = httpx.get(f"http://{url_host}:{port}/ping", timeout=2)
        if ping.status_code != 200 or ping.text.strip() != "Ok.":
            return False
        # A pool of its own, closed afterwards: an idle keep-alive connection left in a shared
        # pool would delay a later stop by the keep-alive timeout.
        from projections.analytics.clients import writer_password

        client = clickhouse_connect.get_client(
            host=host, port=port, username=self.settings.clickhouse_user,
            password=writer_password(self.settings),
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
    <!-- System tables and information_schema show only what a user has grants for, and
         table engines need grants too: the analyst sees the analytics databases only. -->
    <access_control_improvements>
        <select_from_system_db_requires_grant>true</select_from_system_db_requires_grant>
        <select_from_information_schema_requires_grant>true</select_from_information_schema_requires_grant>
        <table_engines_require_grant>true</table_engines_require_grant>
        <settings_constraints_replace_previous>true</settings_constraints_replace_previous>
    </access_control_improvements>
</clickhouse>
"""


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def users_xml(settings: Settings) -> str:
    """The three accounts (see the module's docstring); the writer's and the analyst's
    passwords are generated on the first start and stored only as SHA-256 here."""
    from projections.analytics.clients import ANALYST_SECRET, WRITER_SECRET

    writer = settings.clickhouse_password or ensure_local_secret(settings, WRITER_SECRET)
    analyst = settings.clickhouse_analyst_password or ensure_local_secret(settings,
                                                                          ANALYST_SECRET)
    loopback = "<networks><ip>127.0.0.1</ip><ip>::1</ip></networks>"
    return f"""<!-- Written by infra/clickhouse/service.py on every start; edits are lost. -->
<clickhouse>
    <profiles>
        <default/>
        <analyst>
            <readonly>2</readonly>
        </analyst>
    </profiles>
    <users>
        <default>
            <password></password>
            {loopback}
            <profile>default</profile>
            <quota>default</quota>
            <grants>
                <query>GRANT SYSTEM LISTEN ON *.*</query>
                <query>GRANT SELECT ON system.numbers</query>
            </grants>
        </default>
        <{escape(settings.clickhouse_user)}>
            <password_sha256_hex>{_sha256(writer)}</password_sha256_hex>
            {loopback}
            <profile>default</profile>
            <quota>default</quota>
            <access_management>1</access_management>
        </{escape(settings.clickhouse_user)}>
        <{escape(settings.clickhouse_analyst_user)}>
            <password_sha256_hex>{_sha256(analyst)}</password_sha256_hex>
            {loopback}
            <profile>analyst</profile>
            <quota>default</quota>
            <grants>
                <query>GRANT SELECT ON {escape(settings.analytics_database)}*.*</query>
            </grants>
        </{escape(settings.clickhouse_analyst_user)}>
    </users>
    <quotas>
        <default/>
    </quotas>
</clickhouse>
"""
