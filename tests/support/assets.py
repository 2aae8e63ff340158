"""Files for the asset tests: a real PDF (fpdf2) and multipart uploads through httpx."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import httpx
from fpdf import FPDF

from tests.support.command_client import CommandClient


def pdf_with(*paragraphs: str) -> bytes:
    """A PDF whose pages carry these paragraphs as text (pypdf reads them back)."""
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    for paragraph in paragraphs:
        pdf.multi_cell(0, 8, paragraph)
        pdf.ln(4)
    return bytes(pdf.output())


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def upload(client: CommandClient, course_id: str, lesson_id: str, name: str, data: bytes,
           mime_type: str, asset_id: str | None = None, method: str = "POST") -> httpx.Response:
    path = f"/courses/{course_id}/lessons/{lesson_id}/assets"
    if method == "PUT":
        path += f"/{asset_id}"
    params = {"asset_id": asset_id} if asset_id and method == "POST" else {}
    return client.http.request(method, path, params=params, headers=client.headers,
                               files={"file": (name, data, mime_type)}, timeout=120)


def streamed_upload(client: CommandClient, course_id: str, lesson_id: str, name: str,
                    mime_type: str, first: bytes, size: int) -> httpx.Response:
    """A multipart body sent chunked (no Content-Length): the server counts as it reads."""
    boundary = "smartcourse-test-boundary"

    def body() -> Iterator[bytes]:
        yield (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
               f"filename=\"{name}\"\r\nContent-Type: {mime_type}\r\n\r\n").encode()
        yield first
        left, piece = size - len(first), b"x" * (1024 * 1024)
        while left > 0:
            yield piece[:left]
            left -= len(piece)
        yield f"\r\n--{boundary}--\r\n".encode()

    headers: dict[str, Any] = {**client.headers,
                               "Content-Type": f"multipart/form-data; boundary={boundary}"}
    return client.http.post(f"/courses/{course_id}/lessons/{lesson_id}/assets",
                            content=body(), headers=headers, timeout=120)
