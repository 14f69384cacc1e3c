"""Certificates of attendance (PDF) for people checked in on at least one day.

Names come in every script, so the certificate is set in DejaVu, embedded, when
the machine has it (Debian's fonts-dejavu-core, which the Docker image installs;
CERTIFICATE_FONT_DIR points elsewhere). Without it the PDF falls back to the PDF
core font Helvetica, which knows only Latin-1: other characters are then written
as their closest Latin letters, or "?".
"""
import unicodedata
from pathlib import Path

from flask import Response, current_app
from fpdf import FPDF

from portal.registration.checkin import check_ins_of
from portal.registration.models import Registration
from portal.security import mark_private

ORGANISER = "Gene & Cell Therapy Society"


class NoAttendance(Exception):
    """Nobody checked this registration in on any day: there is nothing to certify."""


def attended_days(registration: Registration):
    return [check_in.day for check_in in check_ins_of(registration.id)]


def certificate_pdf(registration: Registration) -> bytes:
    days = attended_days(registration)
    if not days or registration.is_cancelled:
        raise NoAttendance(registration.code)
    event = registration.event
    pdf = FPDF(orientation="landscape", format="Letter")
    pdf.set_auto_page_break(False)
    pdf.set_title(f"Certificate of attendance: {event.title}")
    pdf.set_author(ORGANISER)
    pdf.set_creator("Summit Portal")
    text = _fonts(pdf)
    pdf.add_page()
    width = pdf.w - 2 * 25
    pdf.set_draw_color(15, 76, 92)
    pdf.set_line_width(1.2)
    pdf.rect(12, 12, pdf.w - 24, pdf.h - 24)
    pdf.set_text_color(15, 76, 92)
    pdf.set_xy(25, 38)
    pdf.set_font(text.family, "B", 30)
    pdf.cell(width, 14, text("Certificate of Attendance"), align="C")
    pdf.set_text_color(23, 33, 43)
    pdf.set_xy(25, 66)
    pdf.set_font(text.family, "", 14)
    pdf.cell(width, 8, text("This certifies that"), align="C")
    pdf.set_xy(25, 80)
    pdf.set_font(text.family, "B", 26)
    pdf.cell(width, 12, text(registration.full_name), align="C")
    pdf.set_xy(25, 96)
    pdf.set_font(text.family, "", 14)
    pdf.cell(width, 8, text(registration.organization), align="C")
    pdf.set_xy(25, 114)
    pdf.set_font(text.family, "", 15)
    attended = " and ".join(day.date_label for day in days)
    pdf.multi_cell(width, 8, text(f"attended the {event.title} at {event.venue}, {event.city}, {event.region}, "
                                  f"on {attended}."), align="C")
    pdf.set_xy(25, pdf.h - 48)
    pdf.set_font(text.family, "", 11)
    pdf.cell(width, 6, text(f"{ORGANISER} · Certificate {registration.code}-{event.slug}"), align="C")
    return bytes(pdf.output())


class _Text:
    """The font family in use and how text is made writable in it."""

    def __init__(self, family: str, unicode: bool):
        self.family = family
        self.unicode = unicode

    def __call__(self, value: str) -> str:
        if self.unicode:
            return value
        return "".join(_latin1(char) for char in value)


def _latin1(char: str) -> str:
    try:
        char.encode("latin-1")
        return char
    except UnicodeEncodeError:
        base = unicodedata.normalize("NFKD", char).encode("latin-1", "ignore").decode("latin-1")
        return base or "?"


def _fonts(pdf: FPDF) -> _Text:
    folder = Path(current_app.config["CERTIFICATE_FONT_DIR"])
    regular, bold = folder / "DejaVuSans.ttf", folder / "DejaVuSans-Bold.ttf"
    if regular.is_file() and bold.is_file():
        pdf.add_font("DejaVu", "", str(regular))
        pdf.add_font("DejaVu", "B", str(bold))
        return _Text("DejaVu", unicode=True)
    return _Text("Helvetica", unicode=False)


def certificate_response(registration: Registration, pdf: bytes) -> Response:
    """The PDF as a download; personal, so never cached."""
    response = Response(pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="certificate-{registration.event.slug}-{registration.code}.pdf"'
    )
    return mark_private(response)
