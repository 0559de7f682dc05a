"""Page cost: the SQL queries a page runs do not grow with the meeting's registrations. The meeting page,
the organizers' list of registrations, the invitations page and the list of participants each run as
many queries with 10,000 registrations (in 1,000 delegations, each invited) as with 10.

The 10,000 rows are written with one multi-row INSERT per table, so each test takes seconds. With
PAGE_COST_REPORT set to a file name, the counts are written there as JSON ({page: [with 10, with
10,000]}): `make bench` prints them in its table."""

import json
import os
import secrets
from datetime import timedelta

import pytest
from sqlalchemy import event, insert

from meeting.core.models import utcnow
from meeting.directory.models import Organization, search_key
from meeting.extensions import db
from meeting.invitations.models import Invitation
from meeting.registration.models import Registration

from . import factories

SLUG = "avp-test"
PAGES = {
    "meeting page": (f"/meetings/{SLUG}", "public"),
    "registrations list": (f"/manage/meetings/{SLUG}/registrations/", "organizer"),
    "invitations page": (f"/manage/meetings/{SLUG}/invitations/", "organizer"),
    "list of participants": (f"/manage/meetings/{SLUG}/registrations/participants", "organizer"),
}
KINDS = ("member_state", "observer_state", "igo", "ngo")
PER_DELEGATION = 10

measured = {}


@pytest.fixture(scope="module", autouse=True)
def page_cost_report():
    yield
    path = os.environ.get("PAGE_COST_REPORT")
    if path and measured:
        with open(path, "w") as report:
            json.dump(measured, report, indent=1)


def _token_columns() -> dict:
    # Random, unique, and never used as a link here: no need for the derived tokens of the models.
    nonce = secrets.token_hex(16)
    return {"token_nonce": nonce, "token_hash": secrets.token_hex(32)}


def add_registrations(meeting_id, count, *, start):
    """`count` registrations in delegations of ten, each delegation an organization of the directory
    (of every kind in turn) with an accepted invitation, and one registration in fifty for a
    delegation outside the directory; most confirmed, some pending, waitlisted or cancelled."""
    now = utcnow()
    delegations = max(1, count // PER_DELEGATION)
    organizations = []
    for number in range(start, start + delegations):
        names = {
            "name_en": f"Delegation {number:05d}",
            "name_fr": f"Délégation {number:05d}",
            "name_es": f"Delegación {number:05d}",
        }
        organizations.append(
            {
                "kind": KINDS[number % len(KINDS)],
                **names,
                "acronym": "",
                "accreditation": "none",
                "preferred_language": "en",
                "active": True,
                "search_text": "\n".join(search_key(name) for name in names.values()),
                "created_at": now,
                "updated_at": now,
            }
        )
    organization_ids = db.session.scalars(
        insert(Organization).returning(Organization.id, sort_by_parameter_order=True), organizations
    ).all()
    invitation_ids = db.session.scalars(
        insert(Invitation).returning(Invitation.id, sort_by_parameter_order=True),
        [
            {
                "meeting_id": meeting_id,
                "organization_id": organization_id,
                **_token_columns(),
                "recipients": f"mission{organization_id}@example.org",
                "language": "en",
                "personal_message": "",
                "status": "accepted",
                "queued_at": now,
                "answered_at": now,
                "reminders_sent": 0,
                "decline_reason": "",
                "created_at": now,
                "updated_at": now,
            }
            for organization_id in organization_ids
        ],
    ).all()
    registrations = []
    for index in range(count):
        number = start * PER_DELEGATION + index
        status = {0: "waitlisted", 1: "pending", 2: "cancelled"}.get(index % 20, "confirmed")
        outside = index % 50 == 49
        registrations.append(
            {
                "meeting_id": meeting_id,
                "organization_id": None if outside else organization_ids[index % delegations],
                "organization_name_other": f"Film Archive {index % 5}" if outside else "",
                "invitation_id": None if outside else invitation_ids[index % delegations],
                "role": "head_of_delegation" if index < delegations else "delegate",
                "salutation": "ms" if index % 2 else "mr",
                "given_name": f"Given{number}",
                "family_name": f"Family{number:05d}",
                "function": "Counsellor",
                "email": f"participant{number}@example.org",
                "preferred_language": "en",
                "attendance": "in_person",
                "consent_public_list": True,
                "status": status,
                "waitlisted_at": now + timedelta(microseconds=index) if status == "waitlisted" else None,
                "waitlist_cause": "capacity" if status == "waitlisted" else None,
                **_token_columns(),
                "created_at": now,
                "updated_at": now,
            }
        )
    db.session.execute(insert(Registration), registrations)
    db.session.commit()
    return registrations


def count_queries(engine, request):
    statements = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        response = request()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return len(statements), response


@pytest.mark.parametrize("page", PAGES)
def test_a_page_runs_as_many_queries_with_10000_registrations_as_with_10(app, organizer_client, backend, page):
    url, audience = PAGES[page]
    client = organizer_client if audience == "organizer" else app.test_client()
    with app.app_context():
        meeting = factories.make_meeting(slug=SLUG)
        factories.make_session(meeting)
        db.session.commit()
        meeting_id, engine = meeting.id, db.engine
        add_registrations(meeting_id, 10, start=0)
    assert client.get(url).status_code == 200  # the first request of the app loads what it caches

    small, response = count_queries(engine, lambda: client.get(url))
    assert response.status_code == 200

    with app.app_context():
        added = add_registrations(meeting_id, 9_990, start=1)
    large, response = count_queries(engine, lambda: client.get(url))
    assert response.status_code == 200
    page_text = response.get_data(as_text=True)
    newest = added[-1]
    if page == "registrations list":
        assert "10000 registrations" in page_text.replace(",", "").replace("\u202f", "").replace("\xa0", "")
        assert newest["email"] in page_text  # newest first
    elif page == "list of participants":
        last_confirmed = next(row for row in reversed(added) if row["status"] == "confirmed")
        assert last_confirmed["family_name"].upper() in page_text
    elif page == "invitations page":
        assert "Delegation 00000" in page_text  # alphabetical: the first delegation leads

    measured.setdefault(f"{page} ({backend})" if backend != "postgresql" else page, [small, large])
    assert large == small, f"{page}: {small} queries with 10 registrations, {large} with 10,000"
