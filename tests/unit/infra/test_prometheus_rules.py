"""The Prometheus rules are valid (`promtool check rules`) and do what they say
(`promtool test rules`: SLO recordings and alerts over synthetic series), and the generated
configuration scrapes every SmartCourse process and loads the rules."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from infra.app.services import AppProcess
from infra.prometheus.service import RULES, Prometheus, configuration
from infra.stack import APP_CLASSES, service
from infra.system_packages import ensure_installed
from smartcourse.settings import Settings


@pytest.fixture(scope="module")
def promtool() -> str:
    ensure_installed("/usr/bin/promtool", "prometheus")  # as `smartcourse stack up` does
    return "/usr/bin/promtool"


def run(*args: str) -> str:
    done = subprocess.run(args, capture_output=True, text=True, cwd=RULES.parent)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_rules_are_valid(promtool: str) -> None:
    out = run(promtool, "check", "rules", "rules/slo.yml", "rules/alerts.yml")
    assert "SUCCESS: 9 rules found" in out and "SUCCESS: 12 rules found" in out


def test_rules_pass_their_unit_tests(promtool: str) -> None:
    assert "SUCCESS" in run(promtool, "test", "rules", "rule_tests.yml")


def test_every_app_process_is_scraped(tmp_path) -> None:  # noqa: ANN001
    settings = Settings(data_dir=tmp_path)
    config = configuration(settings)
    targets = {c["job_name"]: c["static_configs"][0]["targets"][0]
               for c in config["scrape_configs"]}
    assert set(targets) == set(APP_CLASSES)
    for name in APP_CLASSES:
        process = service(name, settings, APP_CLASSES)
        assert isinstance(process, AppProcess)
        assert targets[name] == f"{settings.host}:{process.port}"
    Prometheus(settings).prepare()
    written = yaml.safe_load((tmp_path / "prometheus" / "prometheus.yml").read_text())
    assert written["rule_files"] == [str(RULES / "*.yml")]


def test_the_generated_configuration_is_valid(promtool: str, tmp_path) -> None:  # noqa: ANN001
    prometheus = Prometheus(Settings(data_dir=tmp_path))
    prometheus.prepare()
    run(promtool, "check", "config", str(prometheus.config_file))
