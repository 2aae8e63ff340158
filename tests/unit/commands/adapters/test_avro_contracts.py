"""The Avro contracts against the domain: every event type has one, and real events fit it.

The samples come from driving the real aggregates, so a payload change in the domain that the
contract does not follow fails here, before any relay meets it.
"""

from __future__ import annotations

import io
import json
import re
import typing
from base64 import b64decode
from typing import Any
from uuid import UUID, uuid4

import fastavro
import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient, record_subject_name_strategy
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from assistant.domain.draft import LESSON_CHANGED, Draft, draft_id
from assistant.domain.enhancement import Content
from assistant.domain.thread import Outcome, Thread
from commands.adapters import avro_contracts as contracts
from commands.adapters.avro_contracts import ContractError, contract_field, from_record, to_record
from commands.adapters.event_codec import _payload_hints, event_type_of, payload_of
from commands.adapters.event_store import EventStore, StoredEvent
from commands.domain.certificate import Certificate
from commands.domain.course import Course
from commands.domain.email_claim import EmailClaim
from commands.domain.enrollment import Enrollment
from commands.domain.quiz import grade
from commands.domain.registry import EVENT_CLASSES
from commands.domain.user import User
from commands.domain.workflow import Workflow
from notifications.domain.notification import Notification
from notifications.domain.preferences import NotificationPreferences
from notifications.domain.webhooks import Webhooks

UUID_TYPE = {"type": "string", "logicalType": "uuid"}
ENVELOPE = [
    ("event_id", UUID_TYPE),
    ("event_type", "string"),
    ("aggregate_type", "string"),
    ("aggregate_id", UUID_TYPE),
    ("aggregate_version", "int"),
    ("position", "long"),
    ("occurred_at", {"type": "long", "logicalType": "timestamp-micros"}),
    ("actor", ["null", "string"]),
    ("correlation_id", UUID_TYPE),
    ("causation_id", ["null", "string"]),
    ("schema_version", "int"),
]


def _domain_events() -> list[Any]:
    """One run through every aggregate's life, touching every event type."""
    events: list[Any] = []
    user = User(id=uuid4(), display_name="Ada", email="ada@example.org", role="student")
    user.change_role("instructor")
    user.record_password_change()
    user.deactivate("left")
    user.reactivate()
    events += user.collect_events()
    events += EmailClaim(id=uuid4(), user_id=user.id).collect_events()
    user.give_consent("analytics")
    user.withdraw_consent("analytics")
    events += user.collect_events()
    erased = User(id=uuid4(), display_name="Bob", email="bob@example.org", role="student")
    erased.erase("asked by the user")
    events += erased.collect_events()

    other = uuid4()
    course = Course(id=uuid4(), instructor_id=user.id, title="Intro", description="d",
                    tags=["python"], capacity=2, prerequisites=[])
    module, lesson, spare = uuid4(), uuid4(), uuid4()
    course.revise_details("Intro to Kafka", "about logs", ["kafka", "python"])
    course.change_capacity(30)
    course.set_start("2027-01-11T09:00:00+00:00")
    course.set_prerequisites([other])
    course.add_module(module, "Basics")
    course.add_lesson(module, lesson, "Logs", "A log is ...",
                      [{"name": "slides.pdf", "url": "https://x.test/s.pdf",
                        "mime_type": "application/pdf", "size_bytes": 123_456}])
    course.add_lesson(module, spare, "Spare", "tmp", [])
    course.revise_lesson(lesson, "Logs, again", "A log is an ordered ...")
    course.remove_lesson(spare)
    extra, moved = uuid4(), uuid4()
    course.add_module(extra, "Extra")
    course.add_lesson(extra, moved, "Moved", "", [])
    course.rename_module(extra, "More")
    course.reorder_modules([extra, module])
    course.move_lesson(moved, module, 0)
    course.revise_lesson_assets(lesson, [{"name": "notes.md", "url": "https://x.test/n.md",
                                          "mime_type": "text/markdown", "size_bytes": 12}])
    course.remove_module(extra)
    asset, shown = uuid4(), uuid4()
    course.request_asset_upload(lesson, asset, "courses/c/a/1", "slides.pdf",
                                "application/pdf", 10, "0" * 64)
    course.confirm_asset_upload(lesson, asset, "courses/c/a/1", 10, "0" * 64)
    course.store_asset(lesson, shown, "courses/c/a/2", "notes.md", "text/markdown", 5, "1" * 64)
    course.remove_asset(lesson, shown)
    quiz = {"quiz_id": str(uuid4()), "title": "Check", "lesson_id": str(lesson),
            "module_id": None, "pass_mark": 50.0, "max_attempts": 2, "questions": [
                {"question_id": "q1", "kind": "multiple_choice", "prompt": "Which?",
                 "options": ["a", "b"], "correct": [1], "accepted_answers": [],
                 "points": 1.0}]}
    course.add_quiz(quiz)
    course.revise_quiz({**quiz, "title": "Check again"})
    course.set_quiz_rules("last", True)
    spare_quiz = {**quiz, "quiz_id": str(uuid4())}
    course.add_quiz(spare_quiz)
    course.remove_quiz(spare_quiz["quiz_id"])
    failed, succeeded = uuid4(), uuid4()
    course.publish(failed)
    course.revert_to_draft(failed, "embedding failed")
    course.publish(succeeded)
    course.mark_ready(2, succeeded, chunk_count=7)
    enrollment_id, dropped_id = uuid4(), uuid4()
    course.reserve_seat(enrollment_id, user.id)
    course.reserve_seat(dropped_id, uuid4())
    course.release_seat(dropped_id)
    course.archive()
    course.restore()
    course.archive()
    events += course.collect_events()
    draft = Course(id=uuid4(), instructor_id=user.id, title="Draft", description="",
                   tags=[], capacity=1, prerequisites=[])
    draft.delete()
    events += draft.collect_events()

    enrollment = Enrollment(id=enrollment_id, course_id=course.id, student_id=user.id,
                            attempt=1)
    enrollment.initialise_progress([lesson])
    enrollment.activate()
    reminder = uuid4()
    enrollment.schedule_reminder(reminder, "inactive", "2026-12-10T00:00:00+00:00")
    enrollment.fire_reminder(reminder, "2026-12-10T00:00:01+00:00")
    enrollment.score_quiz(uuid4(), 7, 10)  # an int score: JSON keeps it an int
    answers = [{"question_id": "q1", "choices": [1], "text": ""}]
    enrollment.attempt_quiz(UUID(quiz["quiz_id"]), answers,
                            grade({**quiz, "title": "Check again"}, answers), 2, "last",
                            [lesson], [])
    enrollment.complete_lesson(lesson, [lesson])
    events += enrollment.collect_events()
    certificate = Certificate(id=uuid4(), enrollment_id=enrollment_id, course_id=course.id,
                              student_id=user.id, student_name="Ada", course_title="Intro",
                              completed_at="2026-12-10T00:00:02+00:00")
    events += certificate.collect_events()
    for outcome in ("sent", "failed", "suppressed"):
        notification = Notification(id=uuid4(), user_id=user.id, template="welcome",
                                    channel="email", address="ada@example.org", locale="en",
                                    category="welcome", variables={"course_title": "Intro"})
        match outcome:
            case "sent":
                notification.record_sent(2, "<id@mailpit>")
            case "failed":
                notification.record_failed(8, "SMTP down")
            case _:
                notification.suppress("unsubscribed")
        events += notification.collect_events()
    hooks, hook = Webhooks(id=uuid4()), uuid4()
    hooks.register(hook, "https://hooks.example/in", ["welcome"])
    hooks.disable(hook, "failed 5 times in a row")
    hooks.enable(hook)
    hooks.remove(hook)
    events += hooks.collect_events()
    preferences = NotificationPreferences(id=uuid4(), user_id=user.id)
    preferences.unsubscribe("reminder", "link")
    preferences.resubscribe("reminder")
    preferences.choose_locale("de")
    events += preferences.collect_events()
    dropped = Enrollment(id=dropped_id, course_id=course.id, student_id=uuid4())
    dropped.cancel("changed my mind")
    events += dropped.collect_events()

    done = Workflow(id=succeeded, kind="publishing", course_id=course.id, content_version=2)
    done.record_chunks("sentences-v1/100/20", 7, "ab" * 32,
                       [{"lesson_id": str(lesson), "chunk_count": 7, "content_hash": "cd" * 32}])
    done.complete(7)
    events += done.collect_events()
    broken = Workflow(id=failed, kind="publishing", course_id=course.id, content_version=1)
    broken.fail("embed", "the encoder is down", 3)
    events += broken.collect_events()

    thread = Thread(id=uuid4(), course_id=course.id, owner_id=user.id)
    question = uuid4()
    thread.request(question, str(module), "What is a log?")
    thread.complete(question, Outcome("extractive", "A log is ordered [1].", (uuid4(),),
                                      12.5, 3.25, 120, 9, 1.0))
    events += thread.collect_events()

    events += _draft_events(course.id, lesson)
    return events


def _draft_events(course_id: UUID, lesson: UUID) -> list[Any]:
    """A study-material draft's life: drafted, edited, accepted, stale, regenerated, discarded."""
    question = {"question_id": str(uuid4()), "prompt": "A log is _____.", "options":
                ["ordered", "random", "empty"], "correct": 0, "explanation": "It says so.",
                "lesson_id": str(lesson), "chunk_index": 0, "quote": "A log is ordered."}
    content = Content("A log is ordered.", [1], [{"text": "Explain logs", "passages": [1]}],
                      [question])
    draft = Draft(id=draft_id(course_id, lesson), course_id=course_id, lesson_id=lesson,
                  source_hash="ab" * 32, lesson_title="Logs", provider="extractive",
                  summary=content.summary, summary_passages=content.summary_passages,
                  objectives=content.objectives, questions=content.questions)
    draft.edit(Content("A log is an ordered list.", [1], [], [question]))
    draft.accept("ab" * 32, 60.0, 3)
    draft.go_stale("cd" * 32, 41)
    draft.regenerate(content, "cd" * 32, "Logs", "extractive", LESSON_CHANGED, 41)
    draft.discard("not needed")
    return list(draft.collect_events())


def _stored(event: Any, position: int) -> StoredEvent:
    event_type = event_type_of(event)
    return StoredEvent(
        position=position,
        event_id=uuid4(),
        aggregate_type=event_type.split(".")[0],
        aggregate_id=event.originator_id,
        version=event.originator_version,
        event_type=event_type,
        schema_version=1,
        payload=json.loads(json.dumps(payload_of(event))),  # as the jsonb column gives it back
        occurred_at=event.timestamp,
        actor=str(uuid4()),
        correlation_id=uuid4(),
        causation_id=uuid4() if position % 2 else None,
    )


SAMPLES: dict[str, StoredEvent] = {}
for n, domain_event in enumerate(_domain_events(), start=1):
    SAMPLES.setdefault(event_type_of(domain_event), _stored(domain_event, n))


def test_the_samples_cover_every_event_type() -> None:
    assert set(SAMPLES) == set(EVENT_CLASSES)


@pytest.mark.parametrize("event_type", sorted(EVENT_CLASSES))
def test_an_event_round_trips_through_its_schema(event_type: str) -> None:
    stored = SAMPLES[event_type]
    schema = fastavro.parse_schema(contracts.schema_of(event_type))
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, schema, to_record(stored))
    buffer.seek(0)
    decoded = fastavro.schemaless_reader(buffer, schema, schema)
    assert from_record(decoded) == stored


def _expected_type(hint: Any, found: Any) -> Any:
    """The Avro type a payload type hint maps to (records: checked by their field names)."""
    if hint is UUID:
        return UUID_TYPE
    if typing.get_origin(hint) is list:
        (item,) = typing.get_args(hint)
        if typing.get_origin(item) is dict:
            assert found["items"]["type"] == "record"
            return {"type": "array", "items": found["items"]}
        return {"type": "array", "items": _expected_type(item, None)}
    if typing.get_origin(hint) is dict:
        return {"type": "map", "values": _expected_type(typing.get_args(hint)[1], None)}
    args = typing.get_args(hint)
    if type(None) in args:  # optional: a union with null first, defaulting to null
        (inner,) = [a for a in args if a is not type(None)]
        return ["null", _expected_type(inner, None)]
    return {str: "string", int: "int", float: "double", bool: "boolean"}[hint]


@pytest.mark.parametrize("event_type", sorted(EVENT_CLASSES))
def test_the_contract_matches_the_domain(event_type: str) -> None:
    schema = contracts.schema_of(event_type)
    assert schema["type"] == "record"
    assert schema["namespace"] == "smartcourse.events"
    assert schema["name"] == contracts.record_name(event_type)
    fastavro.parse_schema(schema)

    fields = {f["name"]: f for f in schema["fields"]}
    assert [(f["name"], f["type"]) for f in schema["fields"][: len(ENVELOPE)]] == ENVELOPE
    assert fields["actor"]["default"] is None and fields["causation_id"]["default"] is None

    hints = _payload_hints(event_type)
    for name, hint in hints.items():
        field = fields.get(contract_field(name))
        assert field is not None, f"{event_type}: payload field {name!r} is not in the contract"
        assert field["type"] == _expected_type(hint, field["type"]), name
    extra = {f["name"] for f in contracts.payload_fields(schema)} - {
        contract_field(n) for n in hints}
    assert not extra, f"{event_type}: contract fields the domain never writes: {extra}"


def test_every_contract_file_names_an_event_type() -> None:
    assert contracts.contract_event_types() == sorted(EVENT_CLASSES)


def test_names() -> None:
    assert contracts.record_name("course.seat_reserved") == "CourseSeatReserved"
    assert contracts.subject_name("course.published") == "smartcourse.events.CoursePublished"
    assert contracts.topic_name("enrollment") == "smartcourse.enrollment"
    assert contract_field("position") == "payload_position"
    assert contract_field("title") == "title"


def _with_payload(event_type: str, **changes: Any) -> StoredEvent:
    stored = SAMPLES[event_type]
    payload = {**stored.payload, **changes}
    return StoredEvent(**{**vars(stored), "payload": payload})


@pytest.mark.parametrize(
    ("event_type", "payload_change", "reason"),
    [
        ("user.role_changed", {"mood": "happy"}, "not in the contract"),
        ("course.lesson_added", {"assets": [{"name": "a.png"}]}, "lacks ['url']"),
        ("course.lesson_added", {"assets": [{"name": "a", "url": "u", "x": 1}]}, "unknown keys"),
        ("course.published", {"lessons": "all of them"}, "must be a list"),
    ],
)
def test_an_event_that_does_not_fit_is_refused(
    event_type: str, payload_change: dict[str, Any], reason: str
) -> None:
    with pytest.raises(ContractError, match=re.escape(reason)):
        to_record(_with_payload(event_type, **payload_change))


def test_a_missing_required_field_is_refused() -> None:
    stored = SAMPLES["user.registered"]
    payload = {k: v for k, v in stored.payload.items() if k != "email"}
    with pytest.raises(ContractError, match="lacks 'email'"):
        to_record(StoredEvent(**{**vars(stored), "payload": payload}))


def test_asset_defaults_fill_in_what_the_writer_left_out() -> None:
    stored = _with_payload("course.lesson_added", assets=[{"name": "a", "url": "u"}])
    schema = fastavro.parse_schema(contracts.schema_of("course.lesson_added"))
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, schema, to_record(stored))
    buffer.seek(0)
    decoded = from_record(fastavro.schemaless_reader(buffer, schema, schema))
    assert decoded.payload["assets"] == [
        {"name": "a", "url": "u", "mime_type": "application/octet-stream", "size_bytes": 0}]


# -- the wire format ---------------------------------------------------------------------------
# confluent-kafka's in-memory registry (`new_client` is its public entry point)
_MockRegistry = type(SchemaRegistryClient.new_client({"url": "mock://contracts"}))


class _Registry(_MockRegistry):  # type: ignore[misc, valid-type]
    """The mock, plus the compatibility level that `register` sets (the mock has no such
    call)."""

    def set_compatibility(self, subject_name: str | None = None,
                          level: str | None = None) -> str | None:
        return level


@pytest.fixture
def registry() -> SchemaRegistryClient:
    return _Registry({"url": "mock://contracts"})


def test_the_wire_header_is_the_magic_byte_and_the_schema_id_big_endian() -> None:
    assert contracts.wire_header(258) == b"\x00\x00\x00\x01\x02"


@pytest.mark.parametrize("event_type", sorted(EVENT_CLASSES))
def test_what_the_encoder_writes_the_consumers_decoder_reads(
    event_type: str, registry: SchemaRegistryClient
) -> None:
    stored = SAMPLES[event_type]
    topic = contracts.topic_name(stored.aggregate_type)
    ids = contracts.EventEncoder(registry).register_all()

    data = contracts.EventEncoder(registry).encode(stored, topic)  # a fresh one registers lazily

    assert data[:5] == contracts.wire_header(ids[event_type])
    assert contracts.EventDecoder(registry).decode_event(data, topic) == stored


@pytest.mark.parametrize("event_type", sorted(EVENT_CLASSES))
def test_the_encoder_writes_the_same_bytes_as_confluents_serializer(
    event_type: str, registry: SchemaRegistryClient
) -> None:
    record = to_record(SAMPLES[event_type])
    topic = contracts.topic_name(SAMPLES[event_type].aggregate_type)
    serializer = AvroSerializer(registry, json.dumps(contracts.schema_of(event_type)),
                                conf={"subject.name.strategy": record_subject_name_strategy})
    expected = serializer(record, SerializationContext(topic, MessageField.VALUE))

    assert contracts.EventEncoder(registry).encode_record(event_type, record) == expected


def test_a_value_of_the_wrong_type_is_a_contract_error(registry: SchemaRegistryClient) -> None:
    record = to_record(SAMPLES["course.capacity_changed"])
    record["capacity"] = "thirty"
    with pytest.raises(ContractError, match="course.capacity_changed"):
        contracts.EventEncoder(registry).encode_record("course.capacity_changed", record)


@pytest.mark.parametrize("event_type", sorted(EVENT_CLASSES))
def test_an_event_encoded_when_appended_is_what_the_relay_would_publish(
    event_type: str, registry: SchemaRegistryClient
) -> None:
    encoder = contracts.EventEncoder(registry)
    encoder.register_all()
    store = EventStore(pool=None, encoder=encoder)  # type: ignore[arg-type]  # no I/O here

    encoded = store._encoded(SAMPLES[event_type])

    assert encoded is not None
    assert b64decode(encoded) == encoder.encode(SAMPLES[event_type])


def test_appending_never_waits_for_the_registry_nor_refuses_an_event(
    registry: SchemaRegistryClient,
) -> None:
    """Unregistered contracts and events that do not fit are appended without bytes: the
    relay encodes or dead-letters them as before."""
    store = EventStore(pool=None, encoder=contracts.EventEncoder(registry))  # type: ignore[arg-type]
    assert store._encoded(SAMPLES["course.created"]) is None  # nothing registered

    store.encoder.register_all()  # type: ignore[union-attr]
    misfit = _with_payload("course.capacity_changed", capacity="thirty")
    assert store._encoded(misfit) is None


def test_a_registry_that_never_answers_is_given_up_on() -> None:
    """The client's default is to wait for ever: a registry that accepts the connection and
    never answers hung a reader for the whole test timeout."""
    import socket

    from commands.adapters.avro_contracts import registry_client

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # connections complete in the backlog; nothing is ever read or sent
        host, port = silent.getsockname()
        client = registry_client(f"http://{host}:{port}", timeout=0.2)
        with pytest.raises(Exception, match="timed out") as gave_up:  # httpx2's ReadTimeout
            client.get_subjects()
        assert "Timeout" in type(gave_up.value).__name__


def test_a_course_created_before_start_dates_reads_with_the_new_contract() -> None:
    """BACKWARD: `starts_at` was added as an optional field defaulting to null, so a record
    written with the contract before it reads with the new one."""
    new = contracts.schema_of("course.created")
    old = {**new, "fields": [f for f in new["fields"] if f["name"] != "starts_at"]}
    record = {k: v for k, v in to_record(SAMPLES["course.created"]).items() if k != "starts_at"}
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, fastavro.parse_schema(old), record)
    buffer.seek(0)
    read = fastavro.schemaless_reader(buffer, fastavro.parse_schema(old),
                                      fastavro.parse_schema(new))
    assert read["starts_at"] is None and read["title"] == record["title"]
    (field,) = [f for f in new["fields"] if f["name"] == "starts_at"]
    assert (field["type"], field["default"]) == (["null", "string"], None)
