"""PostgreSQL 15 from Debian's package, in a cluster of our own under the data folder."""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
from pathlib import Path

import psycopg

from infra.service import Service, StackError
from infra.system_packages import ensure_installed

BIN = Path("/usr/lib/postgresql/15/bin")


class Postgres(Service):
    name = "postgres"
    run_as = "postgres"  # PostgreSQL refuses to run as root
    stop_signal = signal.SIGINT  # "fast" shutdown: roll back clients, checkpoint, exit

    @property
    def cluster(self) -> Path:
        return self.data / "cluster"

    @property
    def socket_dir(self) -> Path:
        return self.data / "socket"

    def ports(self) -> dict[str, int]:
        return {"sql": self.settings.pg_port}

    def install(self) -> None:
        ensure_installed(str(BIN / "postgres"), "postgresql-15", "postgresql-contrib")

    def prepare(self) -> None:
        _make_reachable(self.settings.data_dir)
        for folder in (self.data, self.socket_dir):
            folder.mkdir(parents=True, exist_ok=True)
            shutil.chown(folder, "postgres", "postgres")
        if not (self.cluster / "PG_VERSION").exists():
            done = subprocess.run(
                [str(BIN / "initdb"), "-D", str(self.cluster), "-U", "postgres", "-E", "UTF8",
                 "--locale=C.UTF-8", "--auth-local=trust", "--auth-host=scram-sha-256"],
                user="postgres", group="postgres", capture_output=True, text=True,
            )
            if done.returncode != 0:
                raise StackError(f"postgres: initdb failed:\n{done.stderr[-2000:]}")

    def command(self) -> list[str]:
        return [
            str(BIN / "postgres"), "-D", str(self.cluster),
            "-c", f"listen_addresses={self.settings.host}",
            "-c", f"port={self.settings.pg_port}",
            "-c", f"unix_socket_directories={self.socket_dir}",
            "-c", "max_connections=300",
            "-c", "shared_buffers=256MB",
            "-c", "logging_collector=off",
        ]

    def _superuser(self) -> psycopg.Connection:
        return psycopg.connect(
            host=str(self.socket_dir), port=self.settings.pg_port, user="postgres",
            dbname="postgres", connect_timeout=2, autocommit=True,
        )

    def healthy(self) -> bool:
        with self._superuser() as conn:
            return conn.execute("SELECT 1").fetchone() == (1,)

    def after_start(self) -> None:
        s = self.settings
        with self._superuser() as conn:
            role = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [s.pg_user])
            if not role.fetchone():
                conn.execute(
                    psycopg.sql.SQL("CREATE ROLE {} LOGIN CREATEDB PASSWORD {}").format(
                        psycopg.sql.Identifier(s.pg_user), psycopg.sql.Literal(s.pg_password)
                    )
                )
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [s.pg_database]
            ).fetchone()
            if not exists:
                conn.execute(
                    psycopg.sql.SQL("CREATE DATABASE {} OWNER {}").format(
                        psycopg.sql.Identifier(s.pg_database), psycopg.sql.Identifier(s.pg_user)
                    )
                )


def _make_reachable(folder: Path) -> None:
    """Let the postgres user traverse to the data folder (a checkout under /root is not)."""
    folder.mkdir(parents=True, exist_ok=True)
    for parent in [folder, *folder.parents]:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            os.chmod(parent, mode | stat.S_IXOTH)
