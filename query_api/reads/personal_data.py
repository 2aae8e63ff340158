"""Everything the platform holds about one user, from every store, for the export."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from clickhouse_connect.driver.client import Client
from psycopg import AsyncConnection
from psycopg.rows import dict_row

from privacy.sealing import PersonalData

PROFILE = """
SELECT user_id, role, display_name, email, consents, registered_at, erased_at
FROM read_models.user_profiles WHERE user_id = %s
"""
ENROLLMENTS = """
SELECT enrollment_id, course_id, course_title, state, completed_lessons, completed_count,
       total_lessons, progress_percent, enrolled_at, completed_at
FROM read_models.student_enrollments WHERE student_id = %s ORDER BY enrolled_at
"""
GRADES = """
SELECT enrollment_id, course_id, quiz_average, state FROM read_models.course_roster
WHERE student_id = %s ORDER BY enrolled_at
"""
AUDIT = """
SELECT position, occurred_at, actor, action, subject_type, subject_id, details
FROM read_models.audit_log WHERE user_id = %s OR actor_id = %s ORDER BY position
"""
# The analytics keep ids and facts only (no personal fields, privacy/personal.py).
ANALYTICS = """
SELECT toString(event_id) AS event_id, event_type, toString(aggregate_id) AS aggregate_id,
       occurred_at, actor, toString(course_id) AS course_id,
       toString(enrollment_id) AS enrollment_id, score, max_score
FROM events
WHERE student_id = {u:UUID} OR actor = {t:String} OR aggregate_id = {u:UUID}
   OR enrollment_id IN (SELECT enrollment_id FROM enrollments WHERE student_id = {u:UUID})
ORDER BY occurred_at
"""


async def from_read_models(conn: AsyncConnection, personal: PersonalData,
                           user_id: UUID) -> dict[str, Any] | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(PROFILE, [user_id])
        profile = await cur.fetchone()
        if profile is None:
            return None
        await cur.execute(ENROLLMENTS, [user_id])
        enrollments = await cur.fetchall()
        await cur.execute(GRADES, [user_id])
        grades = await cur.fetchall()
        await cur.execute(AUDIT, [user_id, user_id])
        audit = await cur.fetchall()
    sealed = {"display_name": profile["display_name"], "email": profile["email"]}
    opened = (await personal.open("user.registered", user_id, sealed)
              if profile["erased_at"] is None else {k: None for k in sealed})
    return {
        "profile": {**profile, **opened, "consents": list(profile["consents"])},
        "enrollments": enrollments, "grades": grades, "audit_log": audit,
    }


def from_analytics(client: Client, user_id: UUID) -> list[dict[str, Any]]:
    result = client.query(ANALYTICS, parameters={"u": str(user_id), "t": str(user_id)})
    return [dict(zip(result.column_names, row, strict=True)) for row in result.result_rows]
