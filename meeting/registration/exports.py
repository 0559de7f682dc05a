"""Exports of a meeting's registrations for the Secretariat's spreadsheets: CSV (streamed, UTF-8
with a byte order mark so that Excel reads the accents) and XLSX, with the columns and filters of
the organizers' list.

What registrants typed is data, never a formula: a cell that begins with "=", "+", "-", "@", a tab
or a carriage return is prefixed with an apostrophe, as OWASP advises against CSV injection, in both
formats. Times are the meeting's local times."""

import csv
import io
from collections.abc import Iterator
from datetime import datetime

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from ..core.i18n import get_locale
from ..core.timeutil import to_local
from ..directory.forms import KIND_LABELS
from ..extensions import db
from .models import Registration
from .services import RegistrationFilters, registrations_query

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
BYTE_ORDER_MARK = "\ufeff"
# Rows written to the CSV stream at a time, and fetched from the database at a time.
BATCH = 500
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"

COLUMNS = (
    ("id", _l("Number"), 8),
    ("status", _l("Status"), 22),
    ("role", _l("Role"), 18),
    ("salutation", _l("Salutation"), 10),
    ("given_name", _l("Given name"), 18),
    ("family_name", _l("Family name"), 18),
    ("function", _l("Function"), 30),
    ("delegation", _l("Delegation"), 30),
    ("kind", _l("Kind of organization"), 24),
    ("email", _l("Email address"), 30),
    ("phone", _l("Telephone"), 18),
    ("language", _l("Language for emails"), 10),
    ("attendance", _l("Attendance"), 12),
    ("consent", _l("Appears in the public list"), 12),
    ("accessibility_needs", _l("Accessibility needs"), 30),
    ("registered_at", _l("Registered at"), 17),
    ("decided_at", _l("Decided at"), 17),
    ("checked_in_at", _l("Checked in at"), 17),
)
TIME_COLUMNS = ("registered_at", "decided_at", "checked_in_at")


def neutralise(value):
    """A string cell that a spreadsheet would take for a formula, made plain text."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def header(meeting) -> list[str]:
    return [f"{label} ({meeting.timezone})" if key in TIME_COLUMNS else str(label) for key, label, _width in COLUMNS]


def _values(registration, meeting, language) -> list:
    """One row; times as naive local datetimes (spreadsheets know no time zones), None when unset."""

    def local(moment):
        return to_local(moment, meeting.timezone).replace(tzinfo=None, second=0, microsecond=0) if moment else None

    return [
        registration.id,
        registration.status_label,
        registration.role_label,
        registration.salutation_label,
        registration.given_name,
        registration.family_name,
        registration.function,
        registration.delegation_name(language),
        str(KIND_LABELS.get(registration.delegation_kind, registration.delegation_kind)),
        registration.email,
        registration.phone,
        registration.preferred_language,
        registration.attendance_label,
        _("Yes") if registration.consent_public_list else _("No"),
        registration.accessibility_needs,
        local(registration.created_at),
        local(registration.decided_at),
        local(registration.checked_in_at),
    ]


def export_rows(meeting, filters: RegistrationFilters) -> Iterator[list]:
    """The registrations that `filters` let through, oldest first, as rows of values; fetched in
    batches (one query, its organizations joined), so that a long list is never all in memory."""
    language = get_locale()
    query = (
        registrations_query(meeting, filters)
        .order_by(Registration.created_at, Registration.id)
        .execution_options(yield_per=BATCH)
    )
    for registration in db.session.scalars(query):
        yield _values(registration, meeting, language)


def _csv_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return neutralise(str(value))


def csv_chunks(meeting, filters: RegistrationFilters) -> Iterator[str]:
    """The CSV file, piece by piece, for a streamed response."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write(BYTE_ORDER_MARK)
    writer.writerow([neutralise(label) for label in header(meeting)])
    for number, row in enumerate(export_rows(meeting, filters), start=1):
        writer.writerow([_csv_cell(value) for value in row])
        if number % BATCH == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _xlsx_cell(value):
    if isinstance(value, str):
        # Control characters other than tab and line breaks are not allowed in the file format.
        return neutralise(ILLEGAL_CHARACTERS_RE.sub("", value))
    return value


def xlsx_bytes(meeting, filters: RegistrationFilters) -> bytes:
    """The workbook: one sheet, a bold header row that stays in view, dates as real dates."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=_("Registrations")[:31])
    sheet.freeze_panes = "A2"
    for index, (_key, _label, width) in enumerate(COLUMNS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    bold = Font(bold=True)
    cells = []
    for label in header(meeting):
        cell = WriteOnlyCell(sheet, value=_xlsx_cell(label))
        cell.font = bold
        cells.append(cell)
    sheet.append(cells)
    time_indexes = {index for index, (key, _label, _width) in enumerate(COLUMNS) if key in TIME_COLUMNS}
    for row in export_rows(meeting, filters):
        cells = []
        for index, value in enumerate(row):
            if index in time_indexes and value is not None:
                cell = WriteOnlyCell(sheet, value=value)
                cell.number_format = DATETIME_FORMAT
                cells.append(cell)
            else:
                cells.append(_xlsx_cell(value))
        sheet.append(cells)
    output = io.BytesIO()
    workbook.save(output)
    return output.getvalue()


def export_filename(meeting, extension, today) -> str:
    return f"registrations-{meeting.slug}-{today.isoformat()}.{extension}"
