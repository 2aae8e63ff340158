"""Prometheus from Debian's package: scrapes every SmartCourse process, evaluates the SLO
recording rules and the alert rules in `infra/prometheus/rules/` (checked by promtool in
tests/unit/infra/test_prometheus_rules.py).

Its configuration is written at each start from settings, so the scrape targets follow the
ports of this checkout (`SMARTCOURSE_*_PORT`); data lives in the data folder.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import yaml

from infra.service import Service, StackError
from infra.system_packages import ensure_installed

RULES = Path(__file__).resolve().parent / "rules"


def scrape_targets(settings) -> dict[str, str]:  # noqa: ANN001 - Settings, kept import-light
    """Job name -> host:port of each SmartCourse process's /metrics: every process that
    `smartcourse app` supervises, on the port it serves /metrics on."""
    from infra.stack import APP_CLASSES, services

    return {process.name: f"{settings.host}:{process.port}"  # type: ignore[attr-defined]
            for process in services(settings, None, APP_CLASSES)}


def configuration(settings) -> dict:  # noqa: ANN001
    interval = settings.prometheus_scrape_interval
    return {
        "global": {"scrape_interval": interval, "evaluation_interval": interval,
                   "external_labels": {"platform": "smartcourse"}},
        "rule_files": [str(RULES / "*.yml")],
        "scrape_configs": [
            {"job_name": job, "metrics_path": "/metrics",
             "static_configs": [{"targets": [target]}]}
            for job, target in scrape_targets(settings).items()],
    }


class Prometheus(Service):
    name = "prometheus"

    @property
    def config_file(self) -> Path:
        return self.data / "prometheus.yml"

    @property
    def base_url(self) -> str:
        return f"http://{self.settings.host}:{self.settings.prometheus_port}"

    def ports(self) -> dict[str, int]:
        return {"http": self.settings.prometheus_port}

    def install(self) -> None:
        ensure_installed("/usr/bin/prometheus", "prometheus")
        out = subprocess.run(["/usr/bin/prometheus", "--version"], capture_output=True,
                             text=True)
        line = (out.stdout + out.stderr).splitlines()[0] if out.stdout + out.stderr else ""
        if f"version {self.version}" not in line:
            raise StackError(f"prometheus: expected version {self.version}, found {line!r}")

    def prepare(self) -> None:
        (self.data / "tsdb").mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(
            "# Written by infra/prometheus/service.py at each start: change settings instead.\n"
            + yaml.safe_dump(configuration(self.settings), sort_keys=False))

    def command(self) -> list[str]:
        return ["/usr/bin/prometheus", f"--config.file={self.config_file}",
                f"--storage.tsdb.path={self.data / 'tsdb'}",
                "--storage.tsdb.retention.time=7d",
                f"--web.listen-address={self.settings.host}:{self.settings.prometheus_port}",
                f"--web.external-url={self.base_url}/"]

    def healthy(self) -> bool:
        ready = httpx.get(f"{self.base_url}/-/ready", timeout=2)
        if ready.status_code != 200:
            return False
        info = httpx.get(f"{self.base_url}/api/v1/status/buildinfo", timeout=2).json()
        return info["data"]["version"].startswith(self.version)
