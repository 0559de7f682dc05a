"""Data protection: once a closed (or archived) meeting is RETENTION_DAYS past its last day, organizers
erase its participants' personal data, after the export is offered and the slug typed. Afterwards no
table and no file holds a participant's name, email, telephone, function, accessibility needs or
credentials — except the names of a published list of participants, which stays as published; the
erasure is audited without personal data; before the retention period it is refused."""

import io
import json
from datetime import date, timedelta

import pytest
from sqlalchemy import JSON, LargeBinary, String, Text
from werkzeug.datastructures import FileStorage

from meeting.core import audit
from meeting.core.audit import AuditEntry
from meeting.core.models import utcnow
from meeting.extensions import db
from meeting.mail.models import OutboxAttachment, OutboxMessage
from meeting.meetings.models import Meeting
from meeting.onsite import badges, figures, jobs
from meeting.onsite.models import PersonalDataErasure
from meeting.program import services as program_services
from meeting.program.models import Speaker, SpeakerAvailability
from meeting.registration import participants
from meeting.registration import services as registration_services
from meeting.registration.models import Registration

from . import factories

SLUG = "avp-past"
PAGE = f"/manage/meetings/{SLUG}/personal-data"
ERASE = f"{PAGE}/erase"
PDF = b"%PDF-1.4\n%Note verbale for Zephyrine Quaglietti\n%%EOF\n"

# name: (given name, family name, email, telephone, function, accessibility needs)
PEOPLE = {
    "consenting": ("Zephyrine", "Quaglietti", "zephyrine.q@mission.example", "+41 22 555 0101", "Ambassadeuse", ""),
    "private": ("Bartholomew", "Vandersloot", "b.vandersloot@mission.example", "+41 22 555 0102", "Counsellor", ""),
    "observer": ("Oluwaseun", "Adebayo-Kristiansen", "seun@ngo.example", "+234 555 0103", "Director", "Wheelchair"),
    "rejected": ("Gwendolyn", "Featherstonehaugh", "gwen@ngo.example", "+44 555 0104", "Researcher", ""),
}


def register(meeting, organization, key, **fields):
    given, family, email, phone, function, needs = PEOPLE[key]
    details = registration_services.RegistrationDetails(
        role=fields.pop("role", "delegate"),
        given_name=given,
        family_name=family,
        email=email,
        phone=phone,
        function=function,
        accessibility_needs=needs,
        salutation="ms",
        organization=str(organization.id),
        consent_public_list=fields.pop("consent", False),
    )
    credentials = FileStorage(io.BytesIO(PDF), filename="note verbale.pdf")
    registration, _token = registration_services.register(meeting, details, credentials=credentials)
    return registration


@pytest.fixture
def meeting_id(app):
    """A meeting as it is after months of use: registrations made, decided, changed and cancelled
    through the services (with their emails and audit entries), credentials files, a check-in, a
    badge print run kept in storage, an email with an attachment; then its dates are moved 200 days
    into the past and it is closed."""
    with app.app_context(), app.test_request_context():
        meeting = factories.make_meeting(slug=SLUG)
        france = factories.make_organization()
        ngo = factories.make_organization(kind="ngo", name_en="Performers United", iso_code=None, emails=[])
        consenting = register(meeting, france, "consenting", consent=True)
        private = register(meeting, france, "private")
        observer = register(meeting, ngo, "observer", role="observer")
        rejected = register(meeting, ngo, "rejected", role="observer")
        registration_services.decide(meeting, [observer.id], "confirm")
        registration_services.decide(
            meeting, [rejected.id], "reject", "Ms. Featherstonehaugh sent no letter from her organization"
        )
        registration_services.update_details(private, {"phone": "+41 22 555 0199"}, by_organizer=True)
        registration_services.cancel_own(observer)
        registration_services.decide(meeting, [consenting.id], "check_in")
        registrations = [consenting, private]
        badges.ensure_codes(registrations)
        app.config["BADGES_INLINE_LIMIT"] = 0
        job = jobs.queue_job(meeting, badges.BadgeSelection(ids=[r.id for r in registrations]), "a6", 2)
        jobs.run_job(job)
        message = db.session.scalar(db.select(OutboxMessage).where(OutboxMessage.recipients == PEOPLE["private"][2]))
        db.session.add(
            OutboxAttachment(
                message_id=message.id,
                filename="slot.ics",
                content_type="text/calendar",
                content=b"ATTENDEE;CN=Bartholomew Vandersloot:mailto:b.vandersloot@mission.example",
            )
        )
        document = factories.make_document(meeting)
        factories.make_document_file(document)

        meeting.starts_on = date.today() - timedelta(days=201)
        meeting.ends_on = date.today() - timedelta(days=200)
        meeting.registration_opens_at = utcnow() - timedelta(days=300)
        meeting.registration_closes_at = utcnow() - timedelta(days=210)
        meeting.status = "closed"
        db.session.commit()
        return meeting.id


def test_speakers_keep_what_the_program_shows_and_lose_the_rest(app, organizer_client, meeting_id):
    with app.app_context():
        meeting = db.session.get(Meeting, meeting_id)
        speaker = factories.make_speaker(
            meeting, email="amara.okafor@performers.example", timezone="Africa/Lagos", biography="Actor since 2004."
        )
        slot = factories.make_slot(factories.make_session(meeting))
        offer = factories.make_offer(slot, speaker, status="declined", note="I am filming in Lagos that week.")
        link = offer.token()
        db.session.add(SpeakerAvailability(speaker=speaker, starts_at=slot.starts_at, ends_at=slot.ends_at))
        audit.record(
            "speaker.update",
            meeting=meeting,
            obj=speaker,
            summary="Changed the speaker amara.okafor@performers.example",
        )
        db.session.commit()
        speaker_id = speaker.id
        assert leaks({"amara.okafor@performers.example", "filming in lagos", "africa/lagos"})

    response = organizer_client.post(ERASE, data={"confirmation": SLUG})
    assert response.status_code == 302

    with app.app_context():
        assert leaks({"amara.okafor@performers.example", "filming in lagos", "africa/lagos"}) == []
        speaker = db.session.get(Speaker, speaker_id)
        assert (speaker.name, speaker.affiliation, speaker.biography) == (
            "Amara Okafor",
            "Screen performer, Lagos",
            "Actor since 2004.",
        )
        assert speaker.email == f"speaker-{speaker_id}@erased.invalid"
        assert db.session.scalar(db.select(db.func.count()).select_from(SpeakerAvailability)) == 0
        assert program_services.find_offer_by_token(link) is None
        entry = db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "personal_data.erase"))
        assert entry.details["speakers"] == 1


def personal_strings(*keys) -> set[str]:
    """What must be gone: every name, email, telephone, function and need of those people."""
    values = set()
    for key in keys:
        values.update(value.casefold() for value in PEOPLE[key] if value)
    values.add("+41 22 555 0199")
    return values


def text_in_database() -> list[tuple[str, str, str]]:
    """(table, column, value) for every text, JSON and binary value of every table."""
    found = []
    with db.engine.connect() as connection:
        for table in db.metadata.sorted_tables:
            columns = [c for c in table.columns if isinstance(c.type, String | Text | JSON | LargeBinary)]
            if not columns:
                continue
            for row in connection.execute(db.select(*columns)):
                for column, value in zip(columns, row, strict=True):
                    if value is None:
                        continue
                    if isinstance(value, bytes):
                        value = value.decode("utf-8", "replace")
                    elif not isinstance(value, str):
                        value = json.dumps(value, ensure_ascii=False)
                    found.append((table.name, column.name, value.casefold()))
    return found


def leaks(strings) -> list[tuple[str, str, str]]:
    return [
        (table, column, secret) for table, column, value in text_in_database() for secret in strings if secret in value
    ]


def stored_files(app) -> set[str]:
    from pathlib import Path

    root = Path(app.config["STORAGE_DIR"])
    return {str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()}


def test_erasure_leaves_no_personal_data_in_any_table_or_file(app, organizer_client, meeting_id):
    everyone = personal_strings(*PEOPLE)
    with app.app_context():
        # Before, the scan finds them where the services left them.
        assert {table for table, _column, _secret in leaks(everyone)} == {
            "registrations",
            "outbox_messages",
            "outbox_attachments",
            "audit_entries",
        }
        meeting = db.session.get(Meeting, meeting_id)
        before = figures.figures(meeting)
        credentials = {r.credentials_key for r in db.session.scalars(db.select(Registration))}
        tokens = [r.token() for r in db.session.scalars(db.select(Registration))]
    files_before = stored_files(app)
    assert credentials <= files_before and len(files_before) == 4 + 1 + 1  # credentials, badges, study

    page = organizer_client.get(PAGE).get_data(as_text=True)
    assert f"/manage/meetings/{SLUG}/registrations/export.csv" in page
    assert f"/manage/meetings/{SLUG}/registrations/export.xlsx" in page
    assert "Erase the personal data" in page

    response = organizer_client.post(ERASE, data={"confirmation": SLUG})
    assert response.status_code == 302
    assert "The personal data of 4 registrations has been erased." in organizer_client.get(PAGE).get_data(as_text=True)

    with app.app_context():
        assert leaks(everyone) == []
        assert leaks({PDF.decode().casefold(), "featherstonehaugh sent no letter"}) == []
        erased = db.session.scalars(db.select(Registration).order_by(Registration.id)).all()
        assert {(r.given_name, r.family_name, r.function) for r in erased} == {("", "", "")}
        assert [r.email for r in erased] == [f"{r.id}@erased.invalid" for r in erased]
        assert all(r.credentials_key is None and r.checkin_code_hash is None for r in erased)
        # What the figures need is kept.
        after = figures.figures(db.session.get(Meeting, meeting_id))
        assert figures.csv_text(after) == figures.csv_text(before)
        assert db.session.scalar(db.select(db.func.count()).select_from(OutboxAttachment)) == 0
        assert {m.status for m in db.session.scalars(db.select(OutboxMessage))} <= {"cancelled", "sent"}
        entry = db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "personal_data.erase"))
        assert entry.actor == "secretariat@example.org"
        assert entry.details == {
            "registrations": 4,
            "names_kept_in_published_list": 0,
            "files_deleted": 5,
            "emails": entry.details["emails"],
            "audit_entries": entry.details["audit_entries"],
            "speakers": 0,
        }
        assert entry.details["emails"] >= 6 and entry.details["audit_entries"] >= 5
        decisions = db.session.scalars(
            db.select(AuditEntry).where(AuditEntry.action.in_(["registration.reject", "registration.cancel"]))
        ).all()
        assert {(e.action, e.details.get("from"), e.details.get("to")) for e in decisions} == {
            ("registration.reject", "pending", "rejected"),
            ("registration.cancel", "confirmed", None),
        }  # the statuses are kept
        assert db.session.get(PersonalDataErasure, meeting_id).registrations == 4
    # Only the study is left in storage: credentials and badge PDFs are deleted.
    assert len(stored_files(app)) == 1 and not (credentials & stored_files(app))
    for token in tokens:
        assert organizer_client.get(f"/r/{token}").status_code == 404


def test_names_of_a_published_list_of_participants_stay_as_published(app, organizer_client, meeting_id):
    with app.app_context():
        meeting = db.session.get(Meeting, meeting_id)
        participants.publish(meeting, final=True)
        db.session.commit()
    public_before = organizer_client.get(f"/meetings/{SLUG}/participants").get_data(as_text=True)
    assert "Ms. Zephyrine QUAGLIETTI, Ambassadeuse" in public_before and "VANDERSLOOT" not in public_before

    assert organizer_client.post(ERASE, data={"confirmation": SLUG}).status_code == 302

    with app.app_context():
        # The consenting participant keeps what the published list prints, and nothing more.
        assert leaks(personal_strings("private", "observer", "rejected")) == []
        assert leaks({"zephyrine.q@mission.example", "+41 22 555 0101"}) == []
        kept = {(table, column) for table, column, _secret in leaks({"quaglietti"})}
        assert kept == {("registrations", "family_name")}
        entry = db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "personal_data.erase"))
        assert entry.details["names_kept_in_published_list"] == 1
    public_after = organizer_client.get(f"/meetings/{SLUG}/participants").get_data(as_text=True)
    assert "Ms. Zephyrine QUAGLIETTI, Ambassadeuse" in public_after


def test_erasure_is_refused_before_the_end_of_the_retention_period(app, organizer_client, meeting_id):
    with app.app_context():
        meeting = db.session.get(Meeting, meeting_id)
        meeting.starts_on = date.today() - timedelta(days=101)
        meeting.ends_on = date.today() - timedelta(days=100)
        db.session.commit()
        first_day = meeting.ends_on + timedelta(days=180)
    page = organizer_client.get(PAGE).get_data(as_text=True)
    expected = "it can be erased from " + f"{first_day:%B} {first_day.day}, {first_day.year}"
    assert expected in page and "Erase the personal data</button>" not in page

    response = organizer_client.post(ERASE, data={"confirmation": SLUG})
    assert response.status_code == 422
    assert "The personal data of the participants is kept for 180 days after the meeting" in response.get_data(
        as_text=True
    )
    with app.app_context():
        assert leaks(personal_strings(*PEOPLE))
        assert db.session.get(PersonalDataErasure, meeting_id) is None


def test_a_meeting_that_is_not_closed_cannot_be_erased_however_old(app, organizer_client, meeting_id):
    with app.app_context():
        db.session.get(Meeting, meeting_id).status = "published"
        db.session.commit()
    response = organizer_client.post(ERASE, data={"confirmation": SLUG})
    assert response.status_code == 422
    assert "The meeting is not closed." in response.get_data(as_text=True)


def test_an_archived_meeting_can_be_erased_once(app, organizer_client, meeting_id):
    with app.app_context():
        db.session.get(Meeting, meeting_id).status = "archived"
        db.session.commit()
    assert organizer_client.post(ERASE, data={"confirmation": SLUG}).status_code == 302
    page = organizer_client.get(PAGE).get_data(as_text=True)
    assert "The personal data of the participants was erased on" in page and "By Secretariat Officer." in page
    again = organizer_client.post(ERASE, data={"confirmation": SLUG})
    assert again.status_code == 422
    assert "has already been erased" in again.get_data(as_text=True)
    badges_page = organizer_client.get(f"/manage/meetings/{SLUG}/badges").get_data(as_text=True)
    assert "there are no badges to print" in badges_page
    refused = organizer_client.post(f"/manage/meetings/{SLUG}/badges", data={"scope": "all", "layout": "a6"})
    assert refused.status_code == 422


def test_the_slug_must_be_typed_to_confirm(app, organizer_client, meeting_id):
    response = organizer_client.post(ERASE, data={"confirmation": "avp"})
    assert response.status_code == 422
    assert f"Type the meeting&#39;s web address (slug), {SLUG}, to confirm." in response.get_data(as_text=True)
    with app.app_context():
        assert leaks(personal_strings(*PEOPLE))
        assert db.session.get(PersonalDataErasure, meeting_id) is None
