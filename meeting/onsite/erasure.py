"""Data protection: once a meeting is closed (or archived) and RETENTION_DAYS have passed since its
last day, organizers erase the personal data of its participants. The page offers the export of the
registrations first, and the erasure asks for the meeting's slug to be typed.

What is erased. For every registration of the meeting: the email (replaced by a placeholder of the
reserved `.invalid` domain, unique per registration, since one active registration per email is a
database rule), telephone, accessibility needs, the reason of a decision, the credentials file (its
columns, and the file in the storage directory), the personal link (a new hash that no token
matches) and the badge's check-in code; and the salutation, names and function, except as below.
The outbox messages of the meeting lose their recipients, bodies, errors and attachments (those
still waiting are cancelled); the audit entries about its registrations lose their summaries and
details (the decisions' statuses are kept) and the registrant as actor; any other entry of the
meeting that names a participant is blanked too. The badge PDFs made in the background are deleted.
The speakers of the program lose their email address (a placeholder again), time zone and
availability, the notes of their answers and the links of their offers; entries of the audit log
that give their address are blanked.

What is kept. The published list of participants stays as it was published: when it is published,
the confirmed participants who agreed to appear in it keep their salutation, names and function —
exactly what the public list prints — so the public page and its PDF are unchanged. Nobody else keeps
a name. Everything the participation figures need is kept (delegation, role, status, check-in time),
and so are the organizations, which are no personal data. The program stays as it was published:
the speakers keep their name, affiliation, biography and photo, which it shows. A copy of the
published list as a document was considered and left aside: the documents module takes uploads, not
generated files, and the live list would have had to be withdrawn, changing a published page.

The erasure is audited with its numbers only, and recorded (`PersonalDataErasure`) so that it is
done once. The files are deleted last, once everything else is flushed: should the transaction fail
after that, no personal file is left behind (the rows point to files that are gone, and the
erasure can be done again)."""

import json
import re
import secrets
from dataclasses import dataclass
from datetime import date, timedelta

from babel.dates import format_date
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import delete, or_, update

from ..core import audit
from ..core.audit import AuditEntry
from ..core.errors import Conflict, DomainError
from ..core.i18n import get_locale
from ..core.models import utcnow
from ..core.storage import delete_stored
from ..core.timeutil import to_local
from ..core.tokens import hash_token, new_token
from ..extensions import db
from ..mail.models import OutboxAttachment, OutboxMessage, OutboxStatus
from ..meetings.models import MeetingStatus
from ..program.models import Speaker, SpeakerAvailability, SpeakerOffer
from ..registration.models import Registration, RegistrationStatus
from ..registration.participants import is_published
from .models import BadgePrintJob, PersonalDataErasure

ERASED_EMAIL_DOMAIN = "erased.invalid"
KEPT_DETAILS = ("from", "to")
EMAIL_PATTERN = re.compile(r"[^\s<>\"',;:()\[\]]+@[^\s<>\"',;:()\[\]]+")


@dataclass
class ErasureResult:
    registrations: int
    names_kept: int
    files_deleted: int
    emails: int
    audit_entries: int
    speakers: int = 0


def erasable_from(meeting) -> date:
    return meeting.ends_on + timedelta(days=current_app.config["RETENTION_DAYS"])


def erasure_of(meeting) -> PersonalDataErasure | None:
    return db.session.get(PersonalDataErasure, meeting.id)


def refusal(meeting, now=None) -> str | None:
    """Why the personal data of `meeting` cannot be erased now; None when it can."""
    if erasure_of(meeting) is not None:
        return _("The personal data of this meeting's participants has already been erased.")
    days = current_app.config["RETENTION_DAYS"]
    if meeting.status not in (MeetingStatus.CLOSED, MeetingStatus.ARCHIVED):
        return _(
            "The meeting is not closed. Personal data can be erased once the meeting is closed or archived "
            "and %(days)d days have passed since its last day.",
            days=days,
        )
    first_day = erasable_from(meeting)
    if to_local(now or utcnow(), meeting.timezone).date() < first_day:
        return _(
            "The personal data of the participants is kept for %(days)d days after the meeting (the retention "
            "period): it can be erased from %(date)s.",
            days=days,
            date=format_date(first_day, "long", locale=get_locale()),
        )
    return None


def _registrations(meeting) -> list[Registration]:
    return db.session.scalars(
        db.select(Registration).where(Registration.meeting_id == meeting.id).order_by(Registration.id)
    ).all()


def _erase_registration(registration, keep_name: bool) -> None:
    if not keep_name:
        registration.salutation = ""
        registration.given_name = ""
        registration.family_name = ""
        registration.function = ""
    registration.email = f"{registration.id}@{ERASED_EMAIL_DOMAIN}"
    registration.phone = ""
    registration.accessibility_needs = ""
    registration.reason = ""
    registration.credentials_key = None
    registration.credentials_name = None
    registration.credentials_content_type = None
    registration.credentials_size = None
    registration.credentials_sha256 = None
    # A hash that no token matches: the personal link stops working, whatever the nonce gives.
    registration.token_nonce = secrets.token_hex(16)
    registration.token_hash = hash_token(new_token())
    registration.checkin_nonce = None
    registration.checkin_code_hash = None


def _erase_speakers(meeting) -> tuple[int, set[str]]:
    """The speakers keep what the published program shows of them; their email address, time zone,
    availability, the notes of their answers and the links of their offers go. Returns how many
    speakers, and their former addresses (for the audit log)."""
    speakers = db.session.scalars(db.select(Speaker).where(Speaker.meeting_id == meeting.id)).all()
    emails = {speaker.email.casefold() for speaker in speakers if speaker.email}
    speaker_ids = [speaker.id for speaker in speakers]
    for speaker in speakers:
        speaker.email = f"speaker-{speaker.id}@{ERASED_EMAIL_DOMAIN}"
        speaker.timezone = ""
    if speaker_ids:
        db.session.execute(delete(SpeakerAvailability).where(SpeakerAvailability.speaker_id.in_(speaker_ids)))
        for offer in db.session.scalars(db.select(SpeakerOffer).where(SpeakerOffer.speaker_id.in_(speaker_ids))):
            offer.note = ""
            offer.token_nonce = secrets.token_hex(16)
            offer.token_hash = hash_token(new_token())  # the link of the offer stops working
    return len(speakers), emails


def _erase_outbox(meeting, registration_ids) -> int:
    about_meeting = or_(
        OutboxMessage.meeting_id == meeting.id,
        (OutboxMessage.cause_object_type == "Registration") & OutboxMessage.cause_object_id.in_(registration_ids),
    )
    message_ids = db.select(OutboxMessage.id).where(about_meeting).scalar_subquery()
    db.session.execute(delete(OutboxAttachment).where(OutboxAttachment.message_id.in_(message_ids)))
    db.session.execute(
        update(OutboxMessage)
        .where(about_meeting, OutboxMessage.status.in_((OutboxStatus.QUEUED, OutboxStatus.SENDING)))
        .values(status=OutboxStatus.CANCELLED, lease_expires_at=None, claimed_by=None)
        .execution_options(synchronize_session=False)
    )
    return db.session.execute(
        update(OutboxMessage)
        .where(about_meeting)
        .values(recipients="", recipient_name="", body_text="", body_html="", last_error=None)
        .execution_options(synchronize_session=False)
    ).rowcount


def _mentions(text: str, emails: set[str], names: set[str]) -> bool:
    text = text.casefold()
    if any(found.casefold() in emails for found in EMAIL_PATTERN.findall(text)):
        return True
    return any(name in text for name in names)


def _erase_audit(meeting, registration_ids, emails, names) -> int:
    """Blank what the audit log says about the meeting's participants; returns the entries changed."""
    changed = 0
    entries = db.session.scalars(
        db.select(AuditEntry).where(
            or_(
                AuditEntry.meeting_id == meeting.id,
                (AuditEntry.object_type == "Registration") & AuditEntry.object_id.in_(registration_ids),
            )
        )
    )
    for entry in entries:
        about_registration = entry.object_type == "Registration" and entry.object_id in registration_ids
        text = f"{entry.summary}\n{json.dumps(entry.details or {}, ensure_ascii=False)}"
        if about_registration or _mentions(text, emails, names):
            entry.summary = (
                f"Registration {entry.object_id}: personal data erased"
                if about_registration
                else "Personal data erased"
            )
            details = entry.details or {}
            entry.details = {key: details[key] for key in KEPT_DETAILS if about_registration and key in details}
            changed += 1
        if entry.user_id is None and _mentions(entry.actor, emails, names):
            entry.actor = "participant (personal link)" if entry.actor.endswith("(personal link)") else "(erased)"
            changed += 1
    return changed


def _erase_badge_jobs(meeting) -> list[str]:
    jobs = db.session.scalars(db.select(BadgePrintJob).where(BadgePrintJob.meeting_id == meeting.id)).all()
    keys = [job.storage_key for job in jobs if job.storage_key]
    for job in jobs:
        db.session.delete(job)
    return keys


def erase_personal_data(meeting, confirmation, now=None) -> ErasureResult:
    """Erase the personal data of the meeting's participants (see the module's docstring); the
    caller commits."""
    reason = refusal(meeting, now)
    if reason:
        raise Conflict(reason)
    if (confirmation or "").strip() != meeting.slug:
        message = _("Type the meeting's web address (slug), %(slug)s, to confirm.", slug=meeting.slug)
        raise DomainError(message, fields={"confirmation": [message]})

    keep_names = is_published(meeting)
    registrations = _registrations(meeting)
    registration_ids = [registration.id for registration in registrations]
    emails = {registration.email.casefold() for registration in registrations}
    names = {registration.full_name.casefold() for registration in registrations if registration.full_name}
    files = [registration.credentials_key for registration in registrations if registration.credentials_key]
    names_kept = 0
    for registration in registrations:
        keep = keep_names and registration.status == RegistrationStatus.CONFIRMED and registration.consent_public_list
        names_kept += keep
        _erase_registration(registration, keep)
    speakers, speaker_emails = _erase_speakers(meeting)
    db.session.flush()

    messages = _erase_outbox(meeting, registration_ids)
    entries = _erase_audit(meeting, set(registration_ids), emails | speaker_emails, names)
    files += _erase_badge_jobs(meeting)

    user, _label = audit.current_actor()
    db.session.add(
        PersonalDataErasure(
            meeting_id=meeting.id,
            erased_at=now or utcnow(),
            erased_by_id=user.id if user is not None else None,
            registrations=len(registrations),
            names_kept=names_kept,
        )
    )
    result = ErasureResult(len(registrations), names_kept, len(files), messages, entries, speakers)
    audit.record(
        "personal_data.erase",
        meeting=meeting,
        obj=meeting,
        summary=f"Erased the personal data of {len(registrations)} registrations",
        details={
            "registrations": result.registrations,
            "names_kept_in_published_list": result.names_kept,
            "files_deleted": result.files_deleted,
            "emails": result.emails,
            "audit_entries": result.audit_entries,
            "speakers": result.speakers,
        },
    )
    db.session.flush()
    for key in files:
        delete_stored(key)
    return result
