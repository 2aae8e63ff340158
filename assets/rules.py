"""What an asset may be: its type (declared, checked against its first bytes) and its size.

Pure: the command API checks a file with these before and while storing it, and again on
the confirmation of a presigned upload (the bytes the store holds, not what was declared).
"""

from __future__ import annotations

import mimetypes
import re
from dataclasses import dataclass

from commands.domain.errors import RuleViolated, SmartCourseError


class AssetTooLarge(SmartCourseError):
    """413: the file is larger than an asset may be."""

    code = "asset.too_large"


class UnsupportedAssetType(SmartCourseError):
    """415: not a type lessons accept."""

    code = "asset.unsupported_type"


@dataclass(frozen=True)
class AssetType:
    mime_type: str
    magic: tuple[bytes, ...] = ()  # one of these starts the file; () for text
    text: bool = False  # UTF-8 text (checked on the first bytes)
    extractable: bool = False  # its text goes into the course's chunks


TYPES = {t.mime_type: t for t in (
    AssetType("application/pdf", (b"%PDF-",), extractable=True),
    AssetType("text/markdown", text=True, extractable=True),
    AssetType("text/html", text=True, extractable=True),
    AssetType("text/plain", text=True, extractable=True),
    AssetType("image/png", (b"\x89PNG\r\n\x1a\n",)),
    AssetType("image/jpeg", (b"\xff\xd8\xff",)),
)}
EXTENSIONS = {".md": "text/markdown", ".markdown": "text/markdown", ".txt": "text/plain",
              ".html": "text/html", ".htm": "text/html", ".pdf": "application/pdf",
              ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}
GENERIC = ("", "application/octet-stream")
_NAME = re.compile(r"^[^/\\\x00-\x1f]{1,200}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def media_type(declared: str | None, filename: str) -> str:
    """The asset's type: the declared one (parameters dropped), or from the file name when
    the client declared none or a generic one; refused with 415 unless lessons accept it."""
    chosen = (declared or "").split(";")[0].strip().lower()
    if chosen in GENERIC:
        suffix = "." + filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
        chosen = EXTENSIONS.get(suffix) or (mimetypes.guess_type(filename)[0] or "")
    if chosen not in TYPES:
        accepted = ", ".join(sorted(TYPES))
        raise UnsupportedAssetType(f"type {chosen or 'unknown'!r} is not accepted; lessons "
                                   f"take {accepted}", accepted=sorted(TYPES))
    return chosen


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise RuleViolated("an asset's name has 1 to 200 characters and no slashes or control "
                           "characters", "asset.invalid_name")
    return name


def check_size(size: int, limit: int) -> None:
    if size > limit:
        raise AssetTooLarge(f"an asset has at most {limit} bytes; this one has {size}",
                            limit=limit, size=size)
    if size <= 0:
        raise RuleViolated("the file is empty", "asset.empty")


def check_sha256(value: str) -> str:
    if not _SHA256.match(value):
        raise RuleViolated("sha256 is 64 lowercase hexadecimal digits", "asset.invalid_sha256")
    return value


def check_content(mime_type: str, head: bytes) -> None:
    """The first bytes fit the type (a PDF starts %PDF-, text is UTF-8 without NULs)."""
    kind = TYPES[mime_type]
    if kind.magic and not any(head.startswith(m) for m in kind.magic):
        raise RuleViolated(f"the file's content is not {mime_type}", "asset.content_mismatch",
                           mime_type=mime_type)
    if kind.text:
        sample = head[:4096]
        try:
            sample.decode("utf-8")
        except UnicodeDecodeError as error:
            # A multi-byte character cut at the sample's end is not an error.
            if error.start < len(sample) - 3:
                raise RuleViolated(f"the file is not UTF-8 text ({mime_type})",
                                   "asset.content_mismatch", mime_type=mime_type) from None
        if b"\x00" in sample:
            raise RuleViolated(f"the file is not text ({mime_type})", "asset.content_mismatch",
                               mime_type=mime_type)
