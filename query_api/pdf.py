"""The certificate as a PDF (fpdf2): name, course, date and the id to verify it by."""

from __future__ import annotations

from fpdf import FPDF


def _latin(text: str) -> str:
    """The core fonts speak Latin-1; anything else is replaced rather than refused."""
    return text.encode("latin-1", "replace").decode("latin-1")


def certificate_pdf(student_name: str, course_title: str, certificate_id: str,
                    completed_on: str) -> bytes:
    pdf = FPDF(orientation="landscape", format="A4")
    pdf.set_title(_latin(f"Certificate: {course_title}"))
    pdf.set_author("SmartCourse")
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 32)
    pdf.ln(25)
    pdf.cell(0, 16, "Certificate of Completion", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 16)
    pdf.ln(8)
    pdf.cell(0, 10, "This certifies that", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "B", 26)
    pdf.cell(0, 16, _latin(student_name), align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 16)
    pdf.cell(0, 10, "completed the course", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "B", 22)
    pdf.multi_cell(0, 14, _latin(course_title), align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 12)
    pdf.ln(10)
    pdf.cell(0, 8, f"on {completed_on}", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.cell(0, 8, f"Certificate id: {certificate_id}", align="C", new_x="LMARGIN",
             new_y="NEXT")
    return bytes(pdf.output())
