"""Lesson texts on distinct topics, made unique per call so that the vector cache has never
seen them (a test that counts computed vectors must not hit vectors of an earlier run)."""

from __future__ import annotations

import random
from uuid import uuid4

TOPICS: dict[str, list[str]] = {
    "Photosynthesis": [
        "Plants capture sunlight with the chlorophyll in their leaves.",
        "Photosynthesis turns carbon dioxide and water into glucose and oxygen.",
        "The light reactions take place in the thylakoid membranes of the chloroplast.",
        "The Calvin cycle fixes carbon from the air into sugar.",
        "Leaves open their stomata to take in carbon dioxide.",
        "Green plants store the energy of sunlight as sugar and starch.",
    ],
    "Kafka partitions": [
        "A Kafka topic is split into partitions spread over the brokers.",
        "Every record in a partition has an offset that gives its position.",
        "Consumers in one group share the partitions of a topic between them.",
        "Records with the same key always go to the same partition, in order.",
        "Brokers replicate each partition to followers so that no record is lost.",
        "A consumer commits the offset up to which it has processed the log.",
    ],
    "The French Revolution": [
        "The storming of the Bastille took place in Paris in July 1789.",
        "Louis XVI summoned the Estates-General to solve the crown's debts.",
        "The National Assembly adopted the Declaration of the Rights of Man.",
        "The monarchy fell and the republic was proclaimed in 1792.",
        "The Reign of Terror sent thousands to the guillotine.",
        "Napoleon Bonaparte seized power in the coup of 1799.",
    ],
}


def lesson_text(topic: str, sentences: int = 24, seed: int = 0) -> str:
    """About `sentences` sentences on the topic, each tagged with a fresh marker."""
    rng = random.Random(seed)
    run = uuid4().hex[:10]
    lines = [f"{rng.choice(TOPICS[topic])[:-1]} (note {run}-{n})." for n in range(sentences)]
    return " ".join(lines)


def course_lessons(sentences: int = 24) -> list[tuple[str, str]]:
    return [(topic, lesson_text(topic, sentences, seed)) for seed, topic in enumerate(TOPICS)]
