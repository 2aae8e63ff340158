"""Registering a contract while another process registers it too: the registry's 409 for a
rule that exists (or a schema registered meanwhile) is not an error; an incompatible change
still is."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from confluent_kafka.schema_registry import Schema
from confluent_kafka.schema_registry.error import SchemaRegistryError

from commands.adapters.avro_contracts import COMPATIBILITY, register, schema_of


@dataclass
class Registered:
    schema_id: int


class RacingRegistry:
    """A registry in which another writer got there first: every write answers 409."""

    def __init__(self, rule: str = COMPATIBILITY, known: bool = True) -> None:
        self.rule = rule
        self.known = known

    def set_compatibility(self, subject: str, level: str) -> None:
        raise SchemaRegistryError(409, 40900, "Rule already exists")

    def get_compatibility(self, subject: str) -> str:
        return self.rule

    def register_schema(self, subject: str, schema: Schema) -> int:
        raise SchemaRegistryError(409, 40900, "Artifact already exists")

    def lookup_schema(self, subject: str, schema: Schema) -> Registered:
        if not self.known:
            raise SchemaRegistryError(404, 40403, "Schema not found")
        return Registered(42)


def test_a_rule_and_schema_another_process_registered_are_taken() -> None:
    assert register(RacingRegistry(), schema_of("course.created")) == 42  # type: ignore[arg-type]


def test_a_different_rule_is_still_an_error() -> None:
    with pytest.raises(SchemaRegistryError):
        register(RacingRegistry(rule="NONE"), schema_of("course.created"))  # type: ignore[arg-type]


def test_an_incompatible_schema_is_still_an_error() -> None:
    with pytest.raises(SchemaRegistryError) as raised:
        register(RacingRegistry(known=False), schema_of("course.created"))  # type: ignore[arg-type]
    assert raised.value.http_status_code == 409
