"""What an asset may be, and the text it gives the chunks (pure: no services)."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from assets.extraction import ExtractionFailed, extract_text
from assets.rules import (
    AssetTooLarge,
    UnsupportedAssetType,
    check_content,
    check_size,
    media_type,
)
from assets.texts import AssetChanged, AssetTexts
from commands.domain.errors import RuleViolated
from tests.support.assets import pdf_with


def test_the_declared_type_wins_and_a_generic_one_falls_back_to_the_file_name() -> None:
    assert media_type("text/markdown; charset=utf-8", "x.txt") == "text/markdown"
    assert media_type("application/octet-stream", "notes.MD") == "text/markdown"
    assert media_type("", "slides.pdf") == "application/pdf"
    with pytest.raises(UnsupportedAssetType) as refused:
        media_type("image/gif", "a.gif")
    assert refused.value.code == "asset.unsupported_type"
    with pytest.raises(UnsupportedAssetType):
        media_type(None, "tool.exe")


def test_sizes_are_bounded_and_empty_files_refused() -> None:
    check_size(10, 10)
    with pytest.raises(AssetTooLarge) as large:
        check_size(11, 10)
    assert large.value.details == {"limit": 10, "size": 11}
    with pytest.raises(RuleViolated, match="empty"):
        check_size(0, 10)


@pytest.mark.parametrize(("mime_type", "head"), [
    ("application/pdf", b"just words"),
    ("image/png", b"%PDF-1.4"),
    ("text/plain", b"\xff\xfe\x00\x00binary"),
    ("text/markdown", b"a\x00b"),
])
def test_content_that_does_not_fit_its_type_is_refused(mime_type: str, head: bytes) -> None:
    with pytest.raises(RuleViolated) as refused:
        check_content(mime_type, head)
    assert refused.value.code == "asset.content_mismatch"


def test_a_utf8_character_cut_at_the_sniffed_end_is_still_text() -> None:
    check_content("text/plain", ("x" * 1023 + "é").encode()[:1024])


def test_text_comes_out_of_pdf_markdown_html_and_plain_text() -> None:
    pdf = pdf_with("The first paragraph of the paper.", "A second one, on its own.")
    assert "first paragraph of the paper" in extract_text("application/pdf", pdf, 10_000)
    assert extract_text("text/markdown", b"# Tides\n\nThe *moon* pulls.\n\n- twice", 100) == (
        "Tides\n\nThe moon pulls.\n\ntwice")
    html = (b"<html><head><title>t</title><style>p{}</style></head><body><h1>Hi</h1>"
            b"<p>One <b>bold</b> word.</p><script>x()</script><p>Two.</p></body></html>")
    assert extract_text("text/html", html, 100) == "Hi\n\nOne bold word.\n\nTwo."
    assert extract_text("text/plain", b"  plain   text \n\n\n next ", 100) == "plain text\n\nnext"
    assert extract_text("image/png", b"\x89PNG", 100) == ""
    assert extract_text("text/plain", b"abcdef", 3) == "abc"


def test_a_damaged_pdf_says_so() -> None:
    with pytest.raises(ExtractionFailed):
        extract_text("application/pdf", b"%PDF-1.4 not really a pdf", 100)


class MemoryStore:
    """Object bytes by key (a fake of the one read AssetTexts does)."""

    def __init__(self, objects: dict[str, bytes]) -> None:
        self.objects = objects

    def read(self, key: str, limit: int) -> bytes:
        return self.objects[key]


def file(key: str, name: str, mime_type: str, data: bytes) -> dict[str, Any]:
    return {"asset_id": key, "key": key, "name": name, "mime_type": mime_type,
            "size_bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def test_a_lessons_text_is_followed_by_each_files_under_its_name() -> None:
    notes, image = b"The moon pulls the sea.", b"\x89PNG\r\n\x1a\n...."
    texts = AssetTexts(MemoryStore({"n": notes, "i": image}), 1000, 1000)  # type: ignore[arg-type]

    text = texts.lesson_text("Lesson text.", [file("n", "notes.txt", "text/plain", notes),
                                              file("i", "map.png", "image/png", image)])

    assert text == "Lesson text.\n\nnotes.txt\n\nThe moon pulls the sea."


def test_bytes_other_than_the_recorded_ones_stop_the_chunking() -> None:
    recorded = file("n", "notes.txt", "text/plain", b"original")
    texts = AssetTexts(MemoryStore({"n": b"replaced"}), 1000, 1000)  # type: ignore[arg-type]

    with pytest.raises(AssetChanged):
        texts.lesson_text("", [recorded])
