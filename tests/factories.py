"""Test data: small functions that build valid objects, overridable field by field. They add
to the session and flush; the caller commits."""

from datetime import UTC, date, datetime, timedelta

from meeting.accounts.models import Role, User
from meeting.core.models import utcnow
from meeting.directory.models import Contact, Organization
from meeting.extensions import db
from meeting.meetings.models import Meeting, MeetingStatus, ProgramSession

PASSWORD = "correct horse battery"


def make_organizer(email="organizer@example.org", admin=False, **fields):
    user = User(
        email=email, name=fields.pop("name", "Secretariat Officer"), role=Role.ADMIN if admin else Role.ORGANIZER
    )
    user.set_password(fields.pop("password", PASSWORD))
    for key, value in fields.items():
        setattr(user, key, value)
    db.session.add(user)
    db.session.flush()
    return user


def make_meeting(**fields):
    starts_on = fields.pop("starts_on", date.today() + timedelta(days=28))
    values = {
        "slug": "avp-test",
        "symbol_prefix": "AVP/IM/03",
        "title": "Ad hoc Informal Meeting on the Protection of Audiovisual Performances",
        "venue": "WIPO Headquarters",
        "city": "Geneva",
        "timezone": "Europe/Zurich",
        "starts_on": starts_on,
        "ends_on": starts_on + timedelta(days=1),
        "chair": "Chairman of the WIPO General Assembly",
        "status": MeetingStatus.PUBLISHED,
        "registration_opens_at": utcnow() - timedelta(days=1),
        "registration_closes_at": datetime.combine(starts_on, datetime.min.time(), UTC),
        "languages": "en,fr,es",
    }
    values.update(fields)
    meeting = Meeting(**values)
    db.session.add(meeting)
    db.session.flush()
    return meeting


def make_session(meeting, **fields):
    start = datetime.combine(meeting.starts_on, datetime.min.time(), UTC) + timedelta(hours=8)
    values = {
        "title": "Opening of the meeting",
        "kind": "opening",
        "starts_at": start,
        "ends_at": start + timedelta(hours=1),
        "room": "Room A",
    }
    values.update(fields)
    session = ProgramSession(meeting=meeting, **values)
    db.session.add(session)
    db.session.flush()
    return session


def make_organization(**fields):
    emails = fields.pop("emails", ["mission@example.org"])
    values = {"kind": "member_state", "name_en": "France", "name_fr": "France", "name_es": "Francia", "iso_code": "FR"}
    values.update(fields)
    organization = Organization(**values)
    organization.contacts = [Contact(email=email) for email in emails]
    db.session.add(organization)
    db.session.flush()
    return organization


def make_outbox_message(meeting=None, **fields):
    """An email already in the outbox (as `queue_email` leaves it, or in any later state)."""
    from email.utils import make_msgid

    from meeting.mail.models import OutboxMessage

    values = {
        "recipients": "mission@example.org",
        "recipient_name": "Permanent Mission",
        "subject": "Invitation to the informal meeting",
        "body_text": "Dear colleagues,\n\nYou are invited.",
        "body_html": "<p>Dear colleagues,</p><p>You are invited.</p>",
        "language": "en",
        "cause": "invitation",
        "status": "queued",
        "attempts": 0,
        "next_attempt_at": utcnow(),
        "message_id": make_msgid(domain="meeting.test"),
    }
    values.update(fields)
    message = OutboxMessage(meeting_id=meeting.id if meeting is not None else None, **values)
    db.session.add(message)
    db.session.flush()
    return message
