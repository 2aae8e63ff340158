"""The text a lesson's stored assets add to its chunks, read from the object store.

Used where a publish's lessons are resolved (projections/content/published.py), so the live
publishing workflow and a Weaviate rebuild add the same text: each file is read by its key,
checked against the SHA-256 its event recorded (the bytes are the ones published), and its
text extracted (assets/extraction.py); the text follows the lesson's own, each file under
its name, in the lesson's order of files.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

from assets.extraction import extract_text
from assets.rules import TYPES
from assets.store import ObjectStore
from smartcourse.settings import Settings


class AssetChanged(LookupError):
    """The store's bytes are not the ones the asset's event recorded."""


class AssetTexts:
    def __init__(self, store: ObjectStore | Callable[[], ObjectStore], max_bytes: int,
                 max_chars: int) -> None:
        self._store = store
        self.max_bytes = max_bytes
        self.max_chars = max_chars

    @classmethod
    def from_settings(cls, settings: Settings) -> AssetTexts:
        """The store is reached (and its credentials required) on the first stored asset."""
        return cls(lambda: ObjectStore.from_settings(settings), settings.asset_max_bytes,
                   settings.asset_text_max_chars)

    @property
    def store(self) -> ObjectStore:
        if not hasattr(self._store, "read"):  # a factory: build the store on first use
            self._store = self._store()  # type: ignore[operator]
        return self._store  # type: ignore[return-value]

    def file_text(self, file: dict[str, Any]) -> str:
        kind = TYPES.get(file["mime_type"])
        if kind is None or not kind.extractable:
            return ""
        data = self.store.read(file["key"], self.max_bytes)
        if hashlib.sha256(data).hexdigest() != file["sha256"]:
            raise AssetChanged(f"asset {file['asset_id']}: the stored bytes do not match "
                               "their recorded SHA-256")
        return extract_text(file["mime_type"], data, self.max_chars)

    def lesson_text(self, content: str, files: Sequence[dict[str, Any]]) -> str:
        """The lesson's text followed by each file's, each under its file name."""
        parts = [content] if content else []
        for file in files:
            text = self.file_text(file)
            if text:
                parts.append(f"{file['name']}\n\n{text}")
        return "\n\n".join(parts)
