"""docker-compose.yml agrees with the local stack: every service of `smartcourse stack` and
every process of `smartcourse app` is there, each with a healthcheck, pinned tags, app
processes starting after healthy dependencies, and Prometheus scraping the same jobs."""

from __future__ import annotations

import yaml

from infra.stack import APP_CLASSES, SERVICE_CLASSES
from infra.versions import version_of
from smartcourse.settings import PROJECT_ROOT

COMPOSE = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def test_every_stack_service_and_app_process_is_composed() -> None:
    assert set(SERVICE_CLASSES) | set(APP_CLASSES) <= set(SERVICES)


def test_every_service_has_a_healthcheck_and_a_pinned_tag() -> None:
    for name, service in SERVICES.items():
        assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
        tag = service["image"].rsplit(":", 1)[1]
        assert tag != "latest" and tag[0].isdigit() or tag.startswith("v"), (name, tag)


def test_observability_services_run_the_pinned_versions() -> None:
    assert SERVICES["prometheus"]["image"].endswith(f":v{version_of('prometheus')}")
    assert SERVICES["zipkin"]["image"].endswith(f":{version_of('zipkin')}")


def test_app_processes_wait_for_healthy_dependencies() -> None:
    for name in APP_CLASSES:
        depends = SERVICES[name]["depends_on"]
        assert {"postgres", "kafka", "registry"} <= set(depends), name
        assert all(d["condition"] == "service_healthy" for d in depends.values()), name
    assert "command-api" in SERVICES["relay"]["depends_on"]  # contracts registered first


def test_kafka_keeps_its_log_on_the_volume() -> None:
    kafka = SERVICES["kafka"]
    log_dir = kafka["environment"]["KAFKA_LOG_DIRS"]
    assert any(v.endswith(f":{log_dir}") for v in kafka["volumes"])


def test_compose_prometheus_scrapes_the_app_processes() -> None:
    config = yaml.safe_load((PROJECT_ROOT / "infra/prometheus/compose.yml").read_text())
    jobs = {c["job_name"]: c["static_configs"][0]["targets"][0] for c in config["scrape_configs"]}
    assert set(jobs) == set(APP_CLASSES)
    for job, target in jobs.items():
        assert target.split(":")[0] == job
