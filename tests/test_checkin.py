"""Check-in at the door: the badge's code (scanned by the page's camera, typed by a hand-held scanner
or by hand) or a name search leads to the person; one tap checks a confirmed participant in; a second
scan says when they were checked in, in the meeting's time zone; anyone not confirmed is refused
with the reason; a badge of another meeting is refused. The page is made of external scripts only."""

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from meeting.core.audit import AuditEntry
from meeting.core.models import utcnow
from meeting.extensions import db
from meeting.onsite import badges
from meeting.registration.models import Registration

from . import factories

CHECKIN = "/manage/meetings/avp-test/checkin"


@pytest.fixture
def people(app):
    """{family name: (registration id, badge code)} for a meeting with participants in every status,
    and one confirmed participant of another meeting."""
    with app.app_context():
        meeting = factories.make_meeting()
        other = factories.make_meeting(slug="other-meeting", title="Standing Committee on Copyright")
        france = factories.make_organization()
        registrations = [
            factories.make_registration(
                meeting, france, role="head_of_delegation", salutation="he_ms", given_name="Maria", family_name="García"
            ),
            factories.make_registration(meeting, france, status="pending", given_name="Paul", family_name="Pending"),
            factories.make_registration(
                meeting, france, status="waitlisted", given_name="Wanda", family_name="Waiting"
            ),
            factories.make_registration(
                meeting, france, status="cancelled", given_name="Carl", family_name="Cancelled"
            ),
            factories.make_registration(meeting, france, status="rejected", given_name="Rita", family_name="Rejected"),
            factories.make_registration(other, france, given_name="Otto", family_name="Other"),
        ]
        badges.ensure_codes(registrations)
        db.session.commit()
        return {r.family_name: (r.id, badges.checkin_code(r)) for r in registrations}


def registration(app, registration_id) -> Registration:
    with app.app_context():
        return db.session.get(Registration, registration_id)


def check_in_entries(app) -> int:
    with app.app_context():
        return db.session.scalar(
            db.select(db.func.count()).select_from(AuditEntry).where(AuditEntry.action == "registration.check_in")
        )


def test_a_scanned_badge_shows_the_person_and_one_tap_checks_them_in(app, organizer_client, people):
    registration_id, code = people["García"]
    response = organizer_client.post(CHECKIN, data={"code": code})
    assert response.status_code == 302
    assert response.headers["Location"] == f"{CHECKIN}/{registration_id}"

    card = organizer_client.get(f"{CHECKIN}/{registration_id}").get_data(as_text=True)
    assert "<h1>H.E. Ms. Maria GARCÍA</h1>" in card
    assert "France" in card and "Head of delegation" in card and "Confirmed" in card
    assert ">Check in</button>" in card and 'id="refusal"' not in card and "<img" not in card  # no photo of record

    response = organizer_client.post(f"{CHECKIN}/{registration_id}", follow_redirects=True)
    assert response.request.path == CHECKIN
    body = response.get_data(as_text=True)
    assert "H.E. Ms. Maria GARCÍA is checked in" in body
    assert "1 of 1 confirmed participants checked in." in body
    checked_in_at = registration(app, registration_id).checked_in_at
    assert checked_in_at is not None and (utcnow() - checked_in_at).total_seconds() < 60
    assert check_in_entries(app) == 1


def test_a_second_scan_says_when_the_person_was_checked_in_in_the_meetings_time(app, organizer_client, people):
    registration_id, code = people["García"]
    zurich = ZoneInfo("Europe/Zurich")
    arrived = datetime.combine(datetime.now(zurich).date(), time(9, 12), zurich).astimezone(UTC)
    with app.app_context():
        db.session.get(Registration, registration_id).checked_in_at = arrived
        db.session.commit()

    card = organizer_client.get(organizer_client.post(CHECKIN, data={"code": code}).headers["Location"])
    body = card.get_data(as_text=True)
    assert "Already checked in at 9:12\u202fAM." in body or "Already checked in at 9:12 AM." in body
    assert ">Check in</button>" not in body

    response = organizer_client.post(f"{CHECKIN}/{registration_id}", follow_redirects=True)
    assert response.request.path == f"{CHECKIN}/{registration_id}"
    assert "Already checked in at 9:12" in response.get_data(as_text=True)
    assert registration(app, registration_id).checked_in_at == arrived
    assert check_in_entries(app) == 0

    organizer_client.post("/language", data={"lang": "fr"})
    assert "09:12" in organizer_client.get(f"{CHECKIN}/{registration_id}").get_data(as_text=True)


def test_a_check_in_on_an_earlier_day_gives_the_day_too(app, organizer_client, people):
    registration_id, _code = people["García"]
    with app.app_context():
        db.session.get(Registration, registration_id).checked_in_at = datetime(2003, 11, 6, 8, 5, tzinfo=UTC)
        db.session.commit()
    body = organizer_client.get(f"{CHECKIN}/{registration_id}").get_data(as_text=True)
    assert "Already checked in on November 6, 2003 at 9:05" in body


@pytest.mark.parametrize(
    ("family_name", "reason"),
    [
        ("Pending", "Not confirmed: the registration is pending"),
        ("Waiting", "Not confirmed: the person is on the waiting list."),
        ("Cancelled", "The registration was cancelled"),
        ("Rejected", "The registration was not accepted"),
    ],
)
def test_only_a_confirmed_participant_can_be_checked_in(app, organizer_client, people, family_name, reason):
    registration_id, code = people[family_name]
    card = organizer_client.get(organizer_client.post(CHECKIN, data={"code": code}).headers["Location"])
    body = card.get_data(as_text=True)
    assert reason in body and ">Check in</button>" not in body

    response = organizer_client.post(f"{CHECKIN}/{registration_id}", follow_redirects=True)
    assert reason in response.get_data(as_text=True)
    assert registration(app, registration_id).checked_in_at is None
    assert check_in_entries(app) == 0


def test_a_badge_of_another_meeting_or_an_unknown_code_is_refused(app, organizer_client, people):
    _registration_id, code = people["Other"]
    response = organizer_client.post(CHECKIN, data={"code": code})
    assert response.status_code == 422
    assert "This badge is for another meeting: Standing Committee on Copyright." in response.get_data(as_text=True)

    response = organizer_client.post(CHECKIN, data={"code": "A" * 26})
    assert response.status_code == 422
    assert "No badge has this code." in response.get_data(as_text=True)
    response = organizer_client.post(CHECKIN, data={"code": "not a code"})
    assert response.status_code == 422 and "No badge has this code." in response.get_data(as_text=True)
    response = organizer_client.post(CHECKIN, data={"code": ""})
    assert response.status_code == 422 and "Scan the badge or type its code." in response.get_data(as_text=True)

    other_id, _code = people["Other"]
    assert organizer_client.post(f"{CHECKIN}/{other_id}").status_code == 404
    assert registration(app, other_id).checked_in_at is None


def test_a_code_typed_from_the_badge_is_found_whatever_the_spaces_and_case(organizer_client, people):
    registration_id, code = people["García"]
    typed = badges.grouped(code).lower().replace("o", "0").replace("i", "1")
    response = organizer_client.post(CHECKIN, data={"code": f"  {typed} "})
    assert response.headers["Location"] == f"{CHECKIN}/{registration_id}"


def test_a_name_search_finds_people_of_every_status(organizer_client, people):
    body = organizer_client.get(f"{CHECKIN}?q=garc").get_data(as_text=True)
    assert "Maria GARCÍA" in body and "Confirmed" in body
    body = organizer_client.get(f"{CHECKIN}?q=waiting").get_data(as_text=True)
    assert "Wanda WAITING" in body and "Waiting list" in body
    assert "Otto" not in organizer_client.get(f"{CHECKIN}?q=other").get_data(as_text=True)
    assert "Nobody of this meeting has this name." in organizer_client.get(f"{CHECKIN}?q=zzz").get_data(as_text=True)


def test_the_checkin_page_uses_the_camera_through_external_scripts_only(organizer_client, people):
    response = organizer_client.get(CHECKIN)
    body = response.get_data(as_text=True)
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert "camera=(self)" in response.headers["Permissions-Policy"]
    assert '<script src="/manage/onsite/scanner.js" defer></script>' in body
    assert '<script src="/static/onsite/checkin.js" defer></script>' in body
    assert "<script>" not in body and "style=" not in body and "onclick" not in body


def test_the_qr_scanner_library_is_served_from_its_installed_package(organizer_client):
    response = organizer_client.get("/manage/onsite/scanner.js")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert b"BrowserQRCodeReader" in response.data
    response.close()


def test_check_in_is_for_organizers_only(client, people):
    registration_id, code = people["García"]
    assert client.get(CHECKIN).status_code == 302
    assert client.post(CHECKIN, data={"code": code}).status_code == 302
    assert client.post(f"{CHECKIN}/{registration_id}").status_code == 302
    assert client.get("/manage/onsite/scanner.js").status_code == 302
