"""How large a course may grow, enforced by the Course aggregate (422 `course.too_large`).

Each bound keeps every event that grows with the course far below Kafka's message limit (1 MB
by default, `RelayConfig.max_message_bytes`): course.published and content.chunked carry one
reference per lesson (ids, title, hash; never the text), at most about 1 KB each. The text
itself lives only in the lesson events, each capped by the API at 100,000 characters. The
event store refuses any single event above `Settings.max_event_bytes` as a last line.
"""

from __future__ import annotations

MAX_LESSONS_PER_COURSE = 300
MAX_MODULES_PER_COURSE = 100
MAX_COURSE_CONTENT_CHARS = 2_000_000  # the lessons' text together (20 of the largest lessons)
MAX_ASSETS_PER_LESSON = 20  # stored files (their metadata rides in course events)
MAX_PENDING_UPLOADS = 50  # presigned uploads requested and not yet confirmed, per course
