"""Certificates: public verification by id, and the certificate as a PDF (no sign-in: the
id is what a student shares with whoever wants to check it)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel

from commands.domain.errors import NotFound
from query_api.deps import Reader, reading
from query_api.models import read_responses
from query_api.pdf import certificate_pdf

router = APIRouter(tags=["certificates"])
CertificateReader = Annotated[Reader, Depends(reading("certificates"))]


class Certificate(BaseModel):
    certificate_id: UUID
    valid: bool
    enrollment_id: UUID
    course_id: UUID
    student_id: UUID
    student_name: str
    course_title: str
    completed_at: str
    issued_at: datetime


async def _find(read: Reader, certificate_id: UUID) -> Certificate:
    async with read() as snap:
        row = await (await snap.conn.execute(
            "SELECT certificate_id, enrollment_id, course_id, student_id, student_name,"
            " course_title, completed_at, issued_at FROM read_models.certificates"
            " WHERE certificate_id = %s", [certificate_id])).fetchone()
    if row is None:
        raise NotFound("no certificate with this id was issued", "certificate.not_found")
    keys = ("certificate_id", "enrollment_id", "course_id", "student_id", "student_name",
            "course_title", "completed_at", "issued_at")
    return Certificate(valid=True, **dict(zip(keys, row, strict=True)))


@router.get("/certificates/{certificate_id}", responses=read_responses(404))
async def verify_certificate(certificate_id: UUID, read: CertificateReader) -> Certificate:
    """Public verification: who completed which course, and when it was issued."""
    return await _find(read, certificate_id)


@router.get("/certificates/{certificate_id}/pdf", response_class=Response,
            responses={200: {"content": {"application/pdf": {}}}, **read_responses(404)})
async def download_certificate(certificate_id: UUID, read: CertificateReader) -> Response:
    found = await _find(read, certificate_id)
    pdf = certificate_pdf(found.student_name, found.course_title, str(found.certificate_id),
                          found.completed_at[:10])
    return Response(pdf, media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="certificate-{certificate_id}.pdf"'})
