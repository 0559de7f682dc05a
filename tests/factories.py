"""Test data: small functions that build valid objects, overridable field by field. They add
to the session and flush; the caller commits."""

from datetime import UTC, date, datetime, timedelta
from functools import cache

from werkzeug.security import generate_password_hash

from meeting.accounts.models import Role, User
from meeting.core.models import utcnow
from meeting.directory.models import Contact, Organization
from meeting.extensions import db
from meeting.meetings.models import Meeting, MeetingStatus, ProgramSession

PASSWORD = "correct horse battery"


@cache
def hashed_password(password: str) -> str:
    """A hash of `password` that signs in as the product's scrypt hashes do, made once per password
    and with one round of PBKDF2: scrypt costs a sixth of a second at each hashing and each sign-in,
    which most tests do (test_accounts checks that the product itself stores scrypt)."""
    return generate_password_hash(password, method="pbkdf2:sha256:1")


def make_organizer(email="organizer@example.org", admin=False, **fields):
    user = User(
        email=email, name=fields.pop("name", "Secretariat Officer"), role=Role.ADMIN if admin else Role.ORGANIZER
    )
    user.password_hash = hashed_password(fields.pop("password", PASSWORD))
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


def make_organizations(count, *, kind="ngo", languages=("en", "fr", "es"), **fields):
    """`count` active organizations, each with one focal point, their preferred languages taken in
    turn from `languages`."""
    organizations = []
    for number in range(1, count + 1):
        values = {
            "kind": kind,
            "name_en": f"Organization {number:04d}",
            "preferred_language": languages[(number - 1) % len(languages)],
        }
        values.update(fields)
        organization = Organization(**values)
        organization.contacts = [Contact(email=f"focal.point@org{number}.example.org")]
        organizations.append(organization)
    db.session.add_all(organizations)
    db.session.flush()
    return organizations


def make_invitation(meeting, organization, **fields):
    """An invitation as `invite` leaves it: queued, with a token (`invitation.token()` gives it)."""
    from meeting.invitations.models import Invitation

    values = {
        "recipients": "\n".join(organization.focal_point_emails),
        "language": organization.preferred_language,
        "status": "queued",
        "queued_at": utcnow(),
        "reminders_sent": 0,
    }
    values.update(fields)
    invitation = Invitation(meeting_id=meeting.id, organization_id=organization.id, **values)
    invitation.renew_token()
    db.session.add(invitation)
    db.session.flush()
    return invitation


def make_registration(meeting, organization=None, **fields):
    """A registration as `register` leaves it (confirmed unless told otherwise), with its personal
    link's token: `registration.token()` gives it. Without an organization it is an "other" one."""
    from meeting.registration.models import Registration

    number = db.session.scalar(db.select(db.func.count()).select_from(Registration)) + 1
    values = {
        "role": "delegate",
        "given_name": "Delegate",
        "family_name": f"Number {number}",
        "email": f"delegate{number}@example.org",
        "preferred_language": "en",
        "attendance": "in_person",
        "status": "confirmed",
        "organization_name_other": "" if organization is not None else "Independent Observers",
    }
    values.update(fields)
    if values["status"] == "waitlisted":
        values.setdefault("waitlisted_at", utcnow())
    registration = Registration(
        meeting_id=meeting.id, organization_id=organization.id if organization is not None else None, **values
    )
    registration.renew_token()
    db.session.add(registration)
    db.session.flush()
    return registration


def make_speaker(meeting, **fields):
    """A speaker of `meeting` (the program module)."""
    from meeting.program.models import Speaker

    values = {
        "name": "Amara Okafor",
        "affiliation": "Screen performer, Lagos",
        "perspective": "performer",
        "email": "amara.okafor@example.org",
        "language": "en",
        "timezone": "",
        "biography": "",
    }
    values.update(fields)
    speaker = Speaker(meeting=meeting, **values)
    db.session.add(speaker)
    db.session.flush()
    return speaker


def make_slot(session, **fields):
    """A talk at the start of `session`, 30 minutes long."""
    from meeting.program.models import Slot

    values = {
        "starts_at": session.starts_at,
        "duration_minutes": 30,
        "topic": "Performing for the screen",
        "kind": "talk",
    }
    values.update(fields)
    slot = Slot(session=session, **values)
    db.session.add(slot)
    db.session.flush()
    return slot


def make_offer(slot, speaker, status="offered", **fields):
    """`slot` offered to `speaker` (and held for them), as `offer_slot` leaves it, or in `status`;
    `offer.token()` gives the speaker's link token."""
    from meeting.program.models import SpeakerOffer

    offer = SpeakerOffer(slot_id=slot.id, speaker_id=speaker.id, status=status, **fields)
    offer.renew_token()
    if status in ("offered", "confirmed"):
        slot.speaker = speaker
    if status != "offered":
        offer.answered_at = fields.get("answered_at", utcnow())
    db.session.add(offer)
    db.session.flush()
    return offer


def publish_program(meeting, **fields):
    """Mark the program of `meeting` as published (without the conflict check of the service)."""
    from meeting.program.models import ProgramState

    state = ProgramState(meeting_id=meeting.id, published_at=fields.pop("published_at", utcnow()), **fields)
    db.session.add(state)
    db.session.flush()
    return state


def make_document(meeting, **fields):
    """A published public study of `meeting` (the documents module), last in the list."""
    from meeting.documents.models import Document

    position = db.session.scalar(
        db.select(db.func.coalesce(db.func.max(Document.position), 0)).where(Document.meeting_id == meeting.id)
    )
    values = {
        "symbol": "AVP/IM/03/4",
        "title": "Study on the transfer of rights and private international law",
        "kind": "study",
        "access": "public",
        "position": position + 1,
        "published_at": utcnow(),
    }
    values.update(fields)
    document = Document(meeting_id=meeting.id, **values)
    db.session.add(document)
    db.session.flush()
    return document


def make_document_file(document, language="en", content=b"%PDF-1.4\n%sample\n%%EOF\n", **fields):
    """A current `language` version of `document`, its bytes written to the storage directory."""
    import hashlib
    import secrets

    from meeting.core.storage import path_for
    from meeting.documents.models import DocumentFile

    token = secrets.token_hex(16)
    key = f"{token[:2]}/{token}"
    path = path_for(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    values = {
        "original_name": f"study_{language}.pdf",
        "content_type": "application/pdf",
        "size": len(content),
        "sha256": hashlib.sha256(content).hexdigest(),
        "storage_key": key,
        "uploaded_at": utcnow(),
    }
    values.update(fields)
    file = DocumentFile(document_id=document.id, language=language, **values)
    db.session.add(file)
    db.session.flush()
    db.session.expire(document, ["files", "current_files"])
    return file


def make_delegations(meeting, count, *, start=1, kinds=("member_state", "observer_state", "igo", "ngo"), **fields):
    """`count` organizations of the directory taken in turn from `kinds`, each with one registration
    in `meeting` (confirmed, consenting to the public list, unless `fields` say otherwise); returns
    the registrations."""
    from meeting.registration.models import Registration

    registrations = []
    for number in range(start, start + count):
        organization = Organization(
            kind=kinds[number % len(kinds)],
            name_en=f"Delegation {number:04d}",
            name_fr=f"Délégation {number:04d}",
            name_es=f"Delegación {number:04d}",
        )
        db.session.add(organization)
        db.session.flush()
        values = {
            "role": "head_of_delegation" if number % 2 else "delegate",
            "salutation": "ms" if number % 2 else "mr",
            "given_name": f"Given{number}",
            "family_name": f"Family{number}",
            "function": "Counsellor",
            "email": f"participant{number}@example.org",
            "preferred_language": "en",
            "attendance": "in_person",
            "status": "confirmed",
            "consent_public_list": True,
        }
        values.update(fields)
        registration = Registration(meeting_id=meeting.id, organization_id=organization.id, **values)
        registration.renew_token()
        registrations.append(registration)
    db.session.add_all(registrations)
    db.session.flush()
    return registrations


def make_api_token(user, label="Registration desk script"):
    """An API token of `user`; returns its plain value (shown once, as `flask organizer token` does)."""
    from meeting.accounts.services import issue_api_token

    _token, plain = issue_api_token(user, label)
    return plain


def make_full_meeting(**fields):
    """A published meeting with everything the API shows: a published program (a talk by a speaker who
    confirmed, another offered to one who has not), documents (a public study in English and French, a
    participants-only one, an unpublished draft), and registrations of France and of an NGO (confirmed,
    pending, waitlisted, cancelled). France and the NGO are made once and shared by further meetings."""
    meeting = make_meeting(**fields)
    opening = make_session(meeting)
    information = make_session(
        meeting,
        title="Information session",
        kind="information_session",
        starts_at=opening.ends_at,
        ends_at=opening.ends_at + timedelta(hours=2),
    )
    confirmed = make_speaker(meeting)
    unconfirmed = make_speaker(meeting, name="Kwame Mensah", email="kwame.mensah@example.org")
    make_offer(make_slot(information), confirmed, status="confirmed")
    make_offer(
        make_slot(information, starts_at=information.starts_at + timedelta(minutes=30), topic="Producing"),
        unconfirmed,
    )
    publish_program(meeting)
    study = make_document(meeting)
    make_document_file(study, "en")
    make_document_file(study, "fr")
    restricted = make_document(
        meeting, symbol="AVP/IM/03/2", title="Survey of national legislation", kind="survey", access="participants"
    )
    make_document_file(restricted, "en")
    make_document(meeting, symbol="AVP/IM/03/5", title="Draft report", kind="report", published_at=None)
    france = db.session.scalar(db.select(Organization).where(Organization.iso_code == "FR")) or make_organization()
    ngo = db.session.scalar(
        db.select(Organization).where(Organization.name_en == "Screen Actors Guild")
    ) or make_organization(kind="ngo", name_en="Screen Actors Guild", iso_code=None, emails=["guild@example.org"])
    make_registration(meeting, france, role="head_of_delegation", given_name="Jeanne", family_name="Dupont")
    make_registration(meeting, france, given_name="Pierre", family_name="Martin", consent_public_list=True)
    make_registration(meeting, ngo, role="observer", status="pending", given_name="Ana", family_name="Lopez")
    make_registration(meeting, ngo, role="observer", status="waitlisted", given_name="Li", family_name="Wei")
    make_registration(meeting, None, status="cancelled", given_name="Sam", family_name="Carter")
    return meeting
