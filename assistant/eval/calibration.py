"""Calibrates the relevance threshold on the shipped set: the course chunked as publishing
chunks it, the chunks and questions embedded with the platform's model, and each question's
best cosine similarity (what the retrieval gate compares) split by answerable or not."""

from __future__ import annotations

from uuid import uuid4

import numpy as np

from assistant.domain.relevance import Calibration, calibrate
from assistant.eval.dataset import EvalSet, load
from projections.content.chunking import Lesson, chunk_course
from projections.content.embeddings import Encoder


def best_similarities(encoder: Encoder, data: EvalSet) -> tuple[list[float], list[float]]:
    course_id = uuid4()
    lessons = [Lesson(data.lesson_id(course_id, item.key), uuid4(), item.title, item.content)
               for item in data.lessons]
    chunks = chunk_course(course_id, 1, lessons)
    chunk_vectors = _unit(encoder.encode([c.embedding_text for c in chunks]))
    question_vectors = _unit(encoder.encode([q.question for q in data.questions]))
    best = (question_vectors @ chunk_vectors.T).max(axis=1)
    answerable = [float(s) for q, s in zip(data.questions, best, strict=True) if q.answerable]
    unanswerable = [float(s) for q, s in zip(data.questions, best, strict=True)
                    if not q.answerable]
    return answerable, unanswerable


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def calibrate_on_shipped_set(encoder: Encoder) -> Calibration:
    return calibrate(*best_similarities(encoder, load()))
