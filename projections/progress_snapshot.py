"""The progress snapshot in Redis: an enrollment's workflow step and lesson statuses, for
reads that need no consistency token. PostgreSQL's `enrollment_progress` stays the truth;
the snapshot is kept from the same facts by the enrollment workflow's runner, each write
guarded by the event's aggregate version (a redelivered or older event changes nothing),
and may be dropped at any time (a read then falls back to PostgreSQL).

Layout: hash `progress:<enrollment id>` with `version`, `step`, `total`, and one field per
lesson `lesson:<id>` = `<ordinal>|<NOT_STARTED or COMPLETED>`.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from commands.adapters.event_store import StoredEvent

STEPS = {"enrollment.created": "RECORDED", "enrollment.activated": "ACTIVE",
         "enrollment.completed": "COMPLETED", "enrollment.cancelled": "CANCELLED"}
KINDS = frozenset({*STEPS, "enrollment.progress_initialised", "enrollment.progressed"})
# KEYS[1] the hash; ARGV: version, step ("" = keep), total ("" = keep), then pairs of
# (lesson field, value, only-if-absent flag).
APPLY = """
local current = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
if tonumber(ARGV[1]) <= current then return 0 end
redis.call('HSET', KEYS[1], 'version', ARGV[1])
if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], 'step', ARGV[2]) end
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'total', ARGV[3]) end
for i = 4, #ARGV, 3 do
  if ARGV[i + 2] == '1' then redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 1])
  else redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
end
redis.call('EXPIRE', KEYS[1], 2592000)
return 1
"""


def key(enrollment_id: UUID | str) -> str:
    return f"progress:{enrollment_id}"


def arguments(event: StoredEvent) -> list[str] | None:
    """The script's ARGV for one event (pure), or None if the event changes no snapshot."""
    kind, p = event.event_type, event.payload
    if kind not in KINDS:
        return None
    args = [str(event.version), STEPS.get(kind, ""), ""]
    if kind == "enrollment.progress_initialised":
        args[1:3] = ["PROGRESS_INITIALISED", str(p["total_lessons"])]
        for ordinal, lesson in enumerate(p["lesson_ids"]):
            args += [f"lesson:{lesson}", f"{ordinal}|NOT_STARTED", "1"]
    elif kind == "enrollment.progressed":
        args += [f"lesson:{p['lesson_id']}", "1000000|COMPLETED", "0"]
    return args


async def keep(redis: Any, event: StoredEvent) -> None:
    args = arguments(event)
    if args is not None:
        await redis.eval(APPLY, 1, key(event.aggregate_id), *args)


def read(fields: dict[bytes, bytes]) -> dict[str, Any] | None:
    """The snapshot as the query API shows it (None if there is none)."""
    text = {k.decode(): v.decode() for k, v in fields.items()}
    if "step" not in text:
        return None
    lessons = []
    for name, value in text.items():
        if name.startswith("lesson:"):
            ordinal, status = value.split("|", 1)
            lessons.append((int(ordinal), name.removeprefix("lesson:"), status))
    # A lesson completed before its initialisation was seen keeps the high ordinal: it sorts
    # last, as in PostgreSQL.
    lessons.sort()
    return {"step": text["step"], "total_lessons": int(text.get("total", "0")),
            "lessons": [{"lesson_id": lid, "status": status} for _, lid, status in lessons]}
