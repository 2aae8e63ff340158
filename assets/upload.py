"""A multipart upload streamed into the object store: the request's `file` part goes to S3
part by part while it arrives (memory holds one part, never the file), its SHA-256 and size
counted on the way. The type is checked on the part's headers and first bytes before any
byte is stored; past the size limit the upload is aborted (413). Anything else in the form
is refused, so nothing is read but the file.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool

from assets import rules
from assets.store import PART_BYTES, MultipartWrite, ObjectStore
from commands.domain.errors import RuleViolated

SNIFF_BYTES = 1024


@dataclass(frozen=True)
class Received:
    key: str
    name: str
    mime_type: str
    size_bytes: int
    sha256: str


class _Parts:
    """Collects what the (synchronous) parser reports; the async loop acts on it."""

    def __init__(self) -> None:
        self.header_field = bytearray()
        self.header_value = bytearray()
        self.headers: dict[str, bytes] = {}
        self.in_file = False
        self.file_headers: dict[str, bytes] | None = None
        self.data = bytearray()
        self.file_done = False
        self.other_part: str | None = None
        self.parts = 0
        self.size = 0  # bytes of the file part seen so far

    def callbacks(self) -> dict[str, object]:
        def on_part_begin() -> None:
            self.headers, self.parts = {}, self.parts + 1

        def on_header_field(data: bytes, start: int, end: int) -> None:
            self.header_field += data[start:end]

        def on_header_value(data: bytes, start: int, end: int) -> None:
            self.header_value += data[start:end]

        def on_header_end() -> None:
            self.headers[self.header_field.decode("latin-1").lower()] = bytes(self.header_value)
            self.header_field.clear()
            self.header_value.clear()

        def on_headers_finished() -> None:
            _, options = parse_options_header(self.headers.get("content-disposition", b""))
            name = options.get(b"name", b"").decode("utf-8", "replace")
            if name == "file" and b"filename" in options and self.file_headers is None:
                self.in_file, self.file_headers = True, {**self.headers,
                                                         "filename": options[b"filename"]}
            else:
                self.other_part = name or "(unnamed)"

        def on_part_data(data: bytes, start: int, end: int) -> None:
            if self.in_file:
                self.data += data[start:end]
                self.size += end - start

        def on_part_end() -> None:
            if self.in_file:
                self.in_file, self.file_done = False, True

        return {"on_part_begin": on_part_begin, "on_header_field": on_header_field,
                "on_header_value": on_header_value, "on_header_end": on_header_end,
                "on_headers_finished": on_headers_finished, "on_part_data": on_part_data,
                "on_part_end": on_part_end}


def boundary_of(content_type: str) -> bytes:
    kind, options = parse_options_header(content_type)
    if kind != b"multipart/form-data" or b"boundary" not in options:
        raise rules.UnsupportedAssetType(
            "send the file as multipart/form-data with a part named `file`",
            accepted=["multipart/form-data"])
    return options[b"boundary"]


async def receive(chunks: AsyncIterator[bytes], content_type: str, store: ObjectStore,
                  key: str, limit: int) -> Received:
    """Stream the form's `file` part to `key`; raise the asset rules' errors on the way."""
    parts = _Parts()
    parser = MultipartParser(boundary_of(content_type), parts.callbacks())  # type: ignore[arg-type]
    digest = hashlib.sha256()
    write: MultipartWrite | None = None
    name = mime_type = ""
    try:
        async for chunk in chunks:
            parser.write(chunk)
            if parts.other_part is not None:
                raise RuleViolated(f"unexpected form field {parts.other_part!r}: send only a "
                                   "part named `file` (with a file name)",
                                   "asset.unexpected_field")
            if parts.file_headers is None:
                continue
            if parts.size > limit:
                rules.check_size(parts.size, limit)
            if write is None:
                if len(parts.data) < SNIFF_BYTES and not parts.file_done:
                    continue  # the type is checked on the first bytes, before storing any
                if not parts.data:
                    continue  # an empty file: refused below
                name, mime_type = _checked_type(parts.file_headers, bytes(parts.data))
                write = await run_in_threadpool(store.start_upload, key, mime_type)
            if len(parts.data) >= PART_BYTES:
                await _flush(write, parts, digest)
        parser.finalize()
        if parts.file_headers is None:
            raise RuleViolated("the form has no part named `file` with a file name",
                               "asset.file_missing")
        rules.check_size(parts.size, limit)  # an empty file stops here
        if write is None or not parts.file_done:
            raise RuleViolated("the upload ended before the file did", "asset.incomplete")
        if parts.data:
            await _flush(write, parts, digest)
        await run_in_threadpool(write.complete)
    except BaseException:
        if write is not None:
            await run_in_threadpool(write.abort)
        raise
    return Received(key, name, mime_type, parts.size, digest.hexdigest())


async def _flush(write: MultipartWrite, parts: _Parts, digest: hashlib._Hash) -> None:
    data = bytes(parts.data)
    parts.data.clear()
    digest.update(data)
    await run_in_threadpool(write.write_part, data)


def _checked_type(headers: dict[str, bytes], head: bytes) -> tuple[str, str]:
    name = rules.check_name(headers["filename"].decode("utf-8", "replace").rsplit("/", 1)[-1])
    declared = headers.get("content-type", b"").decode("latin-1")
    mime_type = rules.media_type(declared, name)
    rules.check_content(mime_type, head)
    return name, mime_type
