"""docker-compose.yml runs the same service versions as the local stack (infra/versions.toml)."""

from __future__ import annotations

import pytest
import yaml

from infra.versions import version_of
from smartcourse.settings import PROJECT_ROOT

COMPOSE = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())


def image_tag(service: str) -> str:
    return COMPOSE["services"][service]["image"].rsplit(":", 1)[1]


@pytest.mark.parametrize(
    ("service", "expected"),
    [
        ("postgres", version_of("postgres")),
        ("redis", version_of("redis")),
        ("kafka", version_of("kafka")),
        ("registry", version_of("registry")),
        # ClickHouse images are tagged by release (26.9), chdb-core by release and patch.
        ("clickhouse", ".".join(version_of("clickhouse").split(".")[:2])),
        ("weaviate", version_of("weaviate")),
        ("mailpit", "v" + version_of("mailpit")),  # its images are tagged v1.33.1
        ("toxiproxy", version_of("toxiproxy")),
        ("s3", version_of("s3")),  # andrewgaul/s3proxy, tagged by release
    ],
)
def test_compose_image_matches_pinned_version(service: str, expected: str) -> None:
    assert image_tag(service) == expected


def test_compose_publishes_only_on_loopback() -> None:
    for name, service in COMPOSE["services"].items():
        for mapping in service.get("ports", []):
            assert mapping.startswith("127.0.0.1:"), f"{name} publishes {mapping} beyond loopback"
