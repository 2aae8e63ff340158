"""The base of every aggregate: eventsourcing's Aggregate plus our naming and forking."""

from __future__ import annotations

import copy
import re
from typing import ClassVar, Self

from eventsourcing.domain import Aggregate


def snake_case(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class AggregateRoot(Aggregate):
    """Apply steps never mutate a container in place (they rebind attributes), so a shallow
    copy is an independent fork: a command runs on a fork and the committed state stays
    untouched if the command fails or loses a concurrency race."""

    type_name: ClassVar[str]

    def fork(self) -> Self:
        clone = copy.copy(self)
        clone._pending_events = []  # the library keeps new events here
        return clone

    @classmethod
    def event_type(cls, event_class: type) -> str:
        return f"{cls.type_name}.{snake_case(event_class.__name__)}"

    @classmethod
    def event_classes(cls) -> dict[str, type[Aggregate.Event]]:
        """Every event this aggregate records, by its public type name."""
        classes = [
            value for name, value in vars(cls).items()
            if isinstance(value, type) and issubclass(value, Aggregate.Event) and name != "Event"
        ]
        creations = [c for c in classes if issubclass(c, Aggregate.Created)]
        if len(creations) > 1:  # the library's default "Created" stands unused beside ours
            classes = [c for c in classes if c.__name__ != "Created"]
        return {cls.event_type(c): c for c in classes}
