"""DDL of one analytics version (`{v}` is its database); see schema.py for why each aggregate
stays exact when events arrive twice. docs/analytics.md describes every column."""

from __future__ import annotations

TS = "DateTime64(6, 'UTC')"

TABLES = (
    # The fact table: every domain event once. ReplacingMergeTree collapses repeats by the
    # sorting key (an event id always comes with the same type and time); until a merge, read
    # it with FINAL (the public `events` view does). The dedup window lets ClickHouse drop a
    # whole redelivered insert by its token before it is written.
    f"""CREATE TABLE IF NOT EXISTS {{v}}.events (
    event_id UUID,
    event_type LowCardinality(String),
    aggregate_type LowCardinality(String),
    aggregate_id UUID,
    version UInt32,
    position UInt64,
    occurred_at {TS},
    actor Nullable(String),
    correlation_id UUID,
    causation_id Nullable(UUID),
    schema_version UInt16,
    course_id Nullable(UUID),
    enrollment_id Nullable(UUID),
    student_id Nullable(UUID),
    lesson_id Nullable(UUID),
    score Nullable(Float64),
    max_score Nullable(Float64),
    payload String CODEC(ZSTD(1))
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (event_type, occurred_at, event_id)
SETTINGS non_replicated_deduplication_window = 1000""",
    # One row per enrollment after merges: who, which course, and its milestones. `any` and
    # `min` give the same result however often an event is applied.
    f"""CREATE TABLE IF NOT EXISTS {{v}}.enrollment_timeline (
    enrollment_id UUID,
    course_id SimpleAggregateFunction(any, Nullable(UUID)),
    student_id SimpleAggregateFunction(any, Nullable(UUID)),
    created_at SimpleAggregateFunction(min, Nullable({TS})),
    activated_at SimpleAggregateFunction(min, Nullable({TS})),
    completed_at SimpleAggregateFunction(min, Nullable({TS})),
    cancelled_at SimpleAggregateFunction(min, Nullable({TS}))
) ENGINE = AggregatingMergeTree ORDER BY enrollment_id""",
    """CREATE TABLE IF NOT EXISTS {v}.daily_enrollments (
    course_id UUID,
    day Date,
    enrollments AggregateFunction(uniqExact, UUID)
) ENGINE = AggregatingMergeTree ORDER BY (course_id, day)""",
    # Sets: (day, enrollment) with any progress or quiz; (enrollment, lesson) completed.
    """CREATE TABLE IF NOT EXISTS {v}.daily_activity (
    day Date,
    enrollment_id UUID
) ENGINE = ReplacingMergeTree ORDER BY (day, enrollment_id)""",
    f"""CREATE TABLE IF NOT EXISTS {{v}}.lesson_completions (
    enrollment_id UUID,
    lesson_id UUID,
    completed_at SimpleAggregateFunction(min, {TS})
) ENGINE = AggregatingMergeTree ORDER BY (enrollment_id, lesson_id)""",
    """CREATE TABLE IF NOT EXISTS {v}.daily_questions (
    course_id UUID,
    day Date,
    questions AggregateFunction(uniqExact, UUID)
) ENGINE = AggregatingMergeTree ORDER BY (course_id, day)""",
)

MATERIALIZED = (
    """CREATE MATERIALIZED VIEW IF NOT EXISTS {v}.enrollment_timeline_mv
TO {v}.enrollment_timeline AS
SELECT aggregate_id AS enrollment_id, course_id, student_id,
       if(event_type = 'enrollment.created', occurred_at, NULL) AS created_at,
       if(event_type = 'enrollment.activated', occurred_at, NULL) AS activated_at,
       if(event_type = 'enrollment.completed', occurred_at, NULL) AS completed_at,
       if(event_type = 'enrollment.cancelled', occurred_at, NULL) AS cancelled_at
FROM {v}.events WHERE aggregate_type = 'enrollment'""",
    """CREATE MATERIALIZED VIEW IF NOT EXISTS {v}.daily_enrollments_mv
TO {v}.daily_enrollments AS
SELECT assumeNotNull(course_id) AS course_id, toDate(occurred_at) AS day,
       uniqExactState(aggregate_id) AS enrollments
FROM {v}.events
WHERE event_type = 'enrollment.created' AND course_id IS NOT NULL
GROUP BY course_id, day""",
    """CREATE MATERIALIZED VIEW IF NOT EXISTS {v}.daily_activity_mv
TO {v}.daily_activity AS
SELECT DISTINCT toDate(occurred_at) AS day, aggregate_id AS enrollment_id
FROM {v}.events
WHERE event_type IN ('enrollment.progressed', 'enrollment.quiz_scored')""",
    """CREATE MATERIALIZED VIEW IF NOT EXISTS {v}.lesson_completions_mv
TO {v}.lesson_completions AS
SELECT aggregate_id AS enrollment_id, assumeNotNull(lesson_id) AS lesson_id,
       min(occurred_at) AS completed_at
FROM {v}.events
WHERE event_type = 'enrollment.progressed' AND lesson_id IS NOT NULL
GROUP BY enrollment_id, lesson_id""",
    # ai.requested is not recorded yet; its course comes from the payload when it is.
    """CREATE MATERIALIZED VIEW IF NOT EXISTS {v}.daily_questions_mv
TO {v}.daily_questions AS
SELECT assumeNotNull(c) AS course_id, toDate(occurred_at) AS day,
       uniqExactState(event_id) AS questions
FROM (SELECT coalesce(course_id, toUUIDOrNull(JSONExtractString(payload, 'course_id'))) AS c,
             occurred_at, event_id
      FROM {v}.events WHERE event_type = 'ai.requested')
WHERE c IS NOT NULL
GROUP BY course_id, day""",
)

# The metric views, by public name (each is also published as <db>.<name>).
VIEWS: dict[str, str] = {
    "enrollments": """
SELECT enrollment_id, assumeNotNull(course) AS course_id, assumeNotNull(student) AS student_id,
       assumeNotNull(created) AS created_at, activated AS activated_at,
       completed AS completed_at, cancelled AS cancelled_at,
       multiIf(cancelled IS NOT NULL, 'CANCELLED', completed IS NOT NULL, 'COMPLETED',
               activated IS NOT NULL, 'ACTIVE', 'PENDING') AS state
FROM (SELECT enrollment_id, any(course_id) AS course, any(student_id) AS student,
             min(created_at) AS created, min(activated_at) AS activated,
             min(completed_at) AS completed, min(cancelled_at) AS cancelled
      FROM {v}.enrollment_timeline
      GROUP BY enrollment_id)
WHERE course IS NOT NULL AND student IS NOT NULL AND created IS NOT NULL""",
    "enrollments_per_course_day": """
SELECT course_id, day, uniqExactMerge(enrollments) AS enrollments
FROM {v}.daily_enrollments
GROUP BY course_id, day""",
    "active_learners_per_day": """
SELECT a.day AS day, uniqExact(e.student_id) AS active_learners
FROM {v}.daily_activity AS a INNER JOIN {v}.enrollments AS e USING (enrollment_id)
GROUP BY day""",
    "active_learners_per_course_day": """
SELECT e.course_id AS course_id, a.day AS day, uniqExact(e.student_id) AS active_learners
FROM {v}.daily_activity AS a INNER JOIN {v}.enrollments AS e USING (enrollment_id)
GROUP BY course_id, day""",
    "completions_per_course_day": """
SELECT course_id, toDate(assumeNotNull(completed_at)) AS day, count() AS completions
FROM {v}.enrollments
WHERE completed_at IS NOT NULL
GROUP BY course_id, day""",
    "course_completion": """
SELECT course_id, count() AS enrollments, countIf(completed_at IS NOT NULL) AS completions,
       countIf(cancelled_at IS NOT NULL) AS cancellations,
       completions / enrollments AS completion_rate,
       avgIf(dateDiff('microsecond', created_at, completed_at), completed_at IS NOT NULL)
           / 1e6 AS avg_seconds_to_complete,
       medianExactIf(dateDiff('microsecond', created_at, completed_at),
                     completed_at IS NOT NULL) / 1e6 AS median_seconds_to_complete
FROM {v}.enrollments
GROUP BY course_id""",
    # A course's lessons in order, as its latest publish listed them.
    "course_lessons": """
SELECT course_id, JSONExtractUInt(p, 'content_version') AS content_version, lesson_no,
       toUUID(JSONExtractString(lesson, 'lesson_id')) AS lesson_id,
       toUUID(JSONExtractString(lesson, 'module_id')) AS module_id,
       JSONExtractString(lesson, 'title') AS title
FROM (SELECT aggregate_id AS course_id, argMax(payload, version) AS p
      FROM {v}.events FINAL WHERE event_type = 'course.published' GROUP BY course_id)
ARRAY JOIN JSONExtractArrayRaw(p, 'lessons') AS lesson,
           arrayEnumerate(JSONExtractArrayRaw(p, 'lessons')) AS lesson_no""",
    "lesson_funnel": """
SELECT l.course_id AS course_id, l.lesson_no AS lesson_no, l.lesson_id AS lesson_id,
       l.title AS title, d.students AS students,
       if(c.enrollments = 0, 0, d.students / c.enrollments) AS share_of_enrolled
FROM {v}.course_lessons AS l
LEFT JOIN (SELECT e.course_id AS course_id, lc.lesson_id AS lesson_id,
                  uniqExact(e.student_id) AS students
           FROM {v}.lesson_completions AS lc
           INNER JOIN {v}.enrollments AS e USING (enrollment_id)
           GROUP BY course_id, lesson_id) AS d
    ON d.course_id = l.course_id AND d.lesson_id = l.lesson_id
LEFT JOIN {v}.course_completion AS c ON c.course_id = l.course_id""",
    "quiz_score_distribution": """
SELECT e.course_id AS course_id,
       toUInt8(least(floor(assumeNotNull(q.score) * 10 / assumeNotNull(q.max_score)), 9))
           AS bucket,
       toUInt8(bucket * 10) AS from_percent, toUInt8(bucket * 10 + 10) AS to_percent,
       count() AS quizzes, uniqExact(e.student_id) AS students
FROM {v}.events AS q FINAL
INNER JOIN {v}.enrollments AS e ON e.enrollment_id = q.aggregate_id
WHERE q.event_type = 'enrollment.quiz_scored' AND q.max_score > 0
GROUP BY course_id, bucket""",
    "questions_per_course_day": """
SELECT course_id, day, uniqExactMerge(questions) AS questions
FROM {v}.daily_questions
GROUP BY course_id, day""",
}
