"""Weaviate: our own vectors in, near-vector queries out over gRPC, data kept across restarts."""

from __future__ import annotations

import uuid

import weaviate
from weaviate.classes.config import Configure, DataType, Property
from weaviate.classes.query import MetadataQuery

from infra import stack as local_stack
from smartcourse.settings import Settings


def connect(settings: Settings) -> weaviate.WeaviateClient:
    return weaviate.connect_to_local(
        host=settings.host, port=settings.weaviate_port, grpc_port=settings.weaviate_grpc_port
    )


def unit_vector(axis: int, dims: int = 8) -> list[float]:
    return [1.0 if i == axis else 0.0 for i in range(dims)]


def test_near_vector_query_survives_a_restart(stack: Settings) -> None:
    name = f"Chunk_{uuid.uuid4().hex[:10]}"
    with connect(stack) as client:
        chunks = client.collections.create(
            name,
            vector_config=Configure.Vectors.self_provided(),
            properties=[Property(name="text", data_type=DataType.TEXT)],
        )
        with chunks.batch.fixed_size(batch_size=50) as batch:
            for axis in range(8):
                batch.add_object(properties={"text": f"axis {axis}"}, vector=unit_vector(axis))
        assert not chunks.batch.failed_objects
        hits = chunks.query.near_vector(
            unit_vector(3), limit=2, return_metadata=MetadataQuery(distance=True)
        ).objects
        assert hits[0].properties["text"] == "axis 3"
        assert hits[0].metadata.distance < 1e-4

    local_stack.down(stack, ["weaviate"])
    local_stack.up(stack, ["weaviate"])

    with connect(stack) as client:
        chunks = client.collections.get(name)
        assert chunks.aggregate.over_all(total_count=True).total_count == 8
        hits = chunks.query.near_vector(unit_vector(5), limit=1).objects
        assert hits[0].properties["text"] == "axis 5"
        client.collections.delete(name)
