"""Text of an asset, for the publishing workflow's chunks: PDF (pypdf), Markdown
(markdown-it rendered, then the HTML's text), HTML (Beautiful Soup) and plain text.

Pure over the bytes: the same file always gives the same text, so a Weaviate rebuild
chunks exactly what the live workflow chunked. Types without text (images) give "".
"""

from __future__ import annotations

import io
import re

from bs4 import BeautifulSoup
from markdown_it import MarkdownIt
from pypdf import PdfReader

_SPACES = re.compile(r"[ \t\r\f\v]+")
_BLANKS = re.compile(r"\n\s*\n\s*")
_DROPPED_TAGS = ("script", "style", "noscript", "template", "head")
_BLOCK_TAGS = ("p", "div", "section", "article", "header", "footer", "aside", "main", "nav",
               "h1", "h2", "h3", "h4", "h5", "h6", "li", "ul", "ol", "dl", "dt", "dd", "pre",
               "blockquote", "table", "tr", "td", "th", "br", "hr", "figure", "figcaption")


class ExtractionFailed(ValueError):
    """The file claims a type whose text cannot be read from it (a damaged PDF, say)."""


def extract_text(mime_type: str, data: bytes, max_chars: int) -> str:
    match mime_type:
        case "application/pdf":
            text = _pdf(data)
        case "text/markdown":
            text = _html(MarkdownIt("commonmark").render(_decode(data)))
        case "text/html":
            text = _html(_decode(data))
        case "text/plain":
            text = _decode(data)
        case _:
            return ""
    return _tidy(text)[:max_chars]


def _decode(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def _pdf(data: bytes) -> str:
    try:
        reader = PdfReader(io.BytesIO(data))
        return "\n\n".join(page.extract_text() or "" for page in reader.pages)
    except Exception as error:  # noqa: BLE001 - pypdf raises many kinds for damaged files
        raise ExtractionFailed(f"the PDF's text cannot be read: {error}") from error


def _html(markup: str) -> str:
    soup = BeautifulSoup(markup, "html.parser")
    for tag in soup(_DROPPED_TAGS):
        tag.decompose()
    # Block elements end paragraphs, so sentences of two blocks never run together.
    for tag in soup.find_all(_BLOCK_TAGS):
        tag.insert_before("\n\n")
        tag.insert_after("\n\n")
    return soup.get_text()


def _tidy(text: str) -> str:
    lines = "\n".join(_SPACES.sub(" ", line).strip() for line in text.splitlines())
    return _BLANKS.sub("\n\n", lines).strip()
