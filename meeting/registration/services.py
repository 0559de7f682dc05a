"""What registrants and organizers do with registrations, and the rules that decide a registration's
status. Nothing here commits; every email goes to the outbox in the caller's transaction.

Who gets a seat at once. A delegate of a Member State or an observer State is confirmed at once; so
is the representative of an organization that holds permanent observer status. Everyone else (an IGO
or NGO with ad hoc or no accreditation, an organization not in the directory, the press) is *pending*
until the Secretariat decides. When the meeting asks for credentials, nobody is confirmed before the
Secretariat has checked the note verbale or letter of appointment: they are pending too.

Seats. A pending registration holds its seat until it is decided, as a confirmed one does: an
observer who is accredited later must not find the room full of people who registered after them,
and a rejection gives the seat back at once. So the capacity and the per-delegation limit count the
registrations that are pending or confirmed ("seated"); one past either limit goes on the waiting
list. A seat freed by a cancellation or a rejection goes to the oldest waitlisted registration that
fits (the per-delegation limit still holds), which takes the status it would have had on registering;
both people are emailed.

The lock. Every decision on seats starts with `_lock_seats()`, in the caller's transaction. On
PostgreSQL it locks the meeting's row (`SELECT … FOR NO KEY UPDATE`), so a second transaction deciding
seats for the same meeting waits at that statement until the first commits, and then (READ
COMMITTED) counts what the first wrote. A row lock writes no new version of the row, so a burst of
registrations leaves no trail of dead rows that every later read of the meeting would wade through
(an UPDATE would), and it does not conflict with the key-share locks that inserting a registration
takes on its meeting. On SQLite, which has no row locks, it is an UPDATE that changes nothing: as
the transaction's first write (or a later one) it takes or holds the database's write lock, writers
are serialised from there on, and the counts read after it are current.

A registration does as much as it can before taking the lock, so that registrations arriving
together wait for each other as little as possible: it counts the seats as they are and guesses its
status from them, writes itself and its email with that guess, and only then takes the lock and
counts again; a guess proved wrong (the last seats went meanwhile) is corrected under the lock and
the email written again. Under the lock there are two statements and the commit.

One active registration per email. Checked with the first count (a friendly "already registered"),
and guarded by the partial unique index `uq_registrations_active_email`: the same address sent twice
at the same instant hits the index, and is answered with the same friendly message.

The personal link. Its token is derived with HMAC from a random nonce kept on the row and the app's
secret key (`core.tokens.derived_token`), and only its hash is stored: "email me my link" sends the
same link again, so an earlier email keeps working, and a stranger who asks for someone's link
cannot make their link stop working (as rotating the token on each request would)."""

from dataclasses import dataclass, field
from datetime import datetime
from functools import cache, partial

from babel.dates import format_date, format_datetime, format_time
from email_validator import EmailNotValidError, validate_email
from flask import current_app, session
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, bindparam, func, insert, or_, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, make_transient_to_detached

from ..accounts.services import normalize_email
from ..core import audit
from ..core.errors import Conflict, DomainError, NotFound
from ..core.i18n import get_locale
from ..core.models import utcnow
from ..core.storage import PDF_OR_IMAGE, UploadRefused, delete_after_commit, delete_stored, store_upload
from ..core.timeutil import to_local, zone
from ..core.tokens import hash_token, token_matches
from ..core.web import localdatetime, record_id
from ..directory.models import Accreditation, DirectoryEntry, Organization, OrganizationKind
from ..extensions import db
from ..mail.models import OutboxMessage
from ..mail.services import external_url, insert_email, queue_email
from ..meetings.models import Meeting, MeetingStatus
from ..meetings.services import FieldErrors
from .models import (
    ACTIVE_STATUSES,
    PUBLIC_ROLES,
    SEATED_STATUSES,
    Attendance,
    Registration,
    RegistrationRole,
    RegistrationStatus,
    Salutation,
    WaitlistCause,
)

CREDENTIALS_TYPES = PDF_OR_IMAGE
PARTICIPANT_SESSION_KEY = "participant_registrations"
OTHER_ORGANIZATION = "other"
REASON_LENGTH = 2000

# The organizers' actions on one registration: the statuses each applies to.
ACTIONS = {
    "confirm": (RegistrationStatus.PENDING, RegistrationStatus.WAITLISTED),
    "promote": (RegistrationStatus.WAITLISTED,),
    "reject": (RegistrationStatus.PENDING, RegistrationStatus.WAITLISTED, RegistrationStatus.CONFIRMED),
    "cancel": ACTIVE_STATUSES,
    "check_in": (RegistrationStatus.CONFIRMED,),
}
ACTION_LABELS = {
    "confirm": _l("Confirm"),
    "promote": _l("Move off the waiting list"),
    "reject": _l("Reject"),
    "cancel": _l("Cancel"),
    "check_in": _l("Check in"),
}
ACTION_REFUSALS = {
    "confirm": _l("Only a pending or waitlisted registration can be confirmed."),
    "promote": _l("Only a registration on the waiting list can be moved off it."),
    "reject": _l("A cancelled or rejected registration cannot be rejected."),
    "cancel": _l("This registration is already cancelled or rejected."),
    "check_in": _l("Only a confirmed registration can be checked in."),
}

FIELD_LABELS = {
    "role": _l("Role"),
    "salutation": _l("Salutation"),
    "given_name": _l("Given name"),
    "family_name": _l("Family name"),
    "function": _l("Function"),
    "email": _l("Email address"),
    "phone": _l("Telephone"),
    "preferred_language": _l("Language for emails"),
    "attendance": _l("Attendance"),
    "consent_public_list": _l("Appears in the public list of participants"),
    "accessibility_needs": _l("Accessibility needs"),
    "credentials": _l("Credentials"),
}
# What a registrant may change through the personal link (not the email nor the delegation).
REGISTRANT_FIELDS = (
    "role",
    "salutation",
    "given_name",
    "family_name",
    "function",
    "phone",
    "preferred_language",
    "attendance",
    "consent_public_list",
    "accessibility_needs",
)
ORGANIZER_FIELDS = (*REGISTRANT_FIELDS, "email")


class AlreadyRegistered(Conflict):
    code = "already_registered"


@dataclass
class RegistrationDetails:
    """What the registration form (or the API) sends."""

    role: str
    given_name: str
    family_name: str
    email: str
    salutation: str = ""
    function: str = ""
    phone: str = ""
    preferred_language: str = ""
    attendance: str = Attendance.IN_PERSON
    # An organization of the directory (its id), or "other" with `organization_name_other`.
    organization: str | int | None = None
    organization_name_other: str = ""
    consent_public_list: bool = False
    accessibility_needs: str = ""


@dataclass
class BulkResult:
    done: list[Registration] = field(default_factory=list)
    refused: list[tuple[Registration, str]] = field(default_factory=list)
    promoted: list[Registration] = field(default_factory=list)


# Reading ---------------------------------------------------------------------------------------


def _active_registration(meeting_id, email) -> Registration | None:
    return db.session.scalar(
        db.select(Registration).where(
            Registration.meeting_id == meeting_id,
            Registration.email == email,
            Registration.status.in_(ACTIVE_STATUSES),
        )
    )


def registration_by_token(token) -> Registration | None:
    """The registration a personal link leads to, with its meeting and organization; None for an
    unknown token (the caller answers 404)."""
    if not token or len(token) > 100:
        return None
    registration = db.session.scalar(
        db.select(Registration)
        .where(Registration.token_hash == hash_token(token))
        .options(joinedload(Registration.meeting), joinedload(Registration.organization))
    )
    if registration is None or not token_matches(token, registration.token_hash):
        return None
    return registration


def get_registration(meeting, registration_id) -> Registration:
    registration = db.session.get(
        Registration,
        registration_id,
        options=[joinedload(Registration.organization), joinedload(Registration.invitation)],
    )
    if registration is None or registration.meeting_id != meeting.id:
        raise NotFound(_("There is no such registration for this meeting."))
    return registration


def waitlist_position(registration) -> int | None:
    """1 for the first in line; None for a registration that is not waitlisted."""
    if registration.status != RegistrationStatus.WAITLISTED:
        return None
    ahead = db.session.scalar(
        db.select(func.count(Registration.id)).where(
            Registration.meeting_id == registration.meeting_id,
            Registration.status == RegistrationStatus.WAITLISTED,
            or_(
                Registration.waitlisted_at < registration.waitlisted_at,
                and_(Registration.waitlisted_at == registration.waitlisted_at, Registration.id < registration.id),
            ),
        )
    )
    return ahead + 1


def waitlist_positions(meeting) -> dict[int, int]:
    """{registration id: position} for the whole waiting list, in one query."""
    ids = db.session.scalars(
        db.select(Registration.id)
        .where(Registration.meeting_id == meeting.id, Registration.status == RegistrationStatus.WAITLISTED)
        .order_by(Registration.waitlisted_at, Registration.id)
    ).all()
    return {registration_id: position for position, registration_id in enumerate(ids, start=1)}


def counts_by_status(meeting) -> dict[str, int]:
    counts = {status.value: 0 for status in RegistrationStatus}
    counts.update(
        dict(
            db.session.execute(
                db.select(Registration.status, func.count(Registration.id))
                .where(Registration.meeting_id == meeting.id)
                .group_by(Registration.status)
            ).all()
        )
    )
    return counts


def seats_taken(meeting) -> int:
    return db.session.scalar(
        db.select(func.count(Registration.id)).where(
            Registration.meeting_id == meeting.id, Registration.status.in_(SEATED_STATUSES)
        )
    )


@dataclass
class RegistrationFilters:
    status: str = ""
    kind: str = ""
    organization_id: int | None = None
    role: str = ""
    search: str = ""


def _filtered(query, meeting, filters: RegistrationFilters):
    query = query.where(Registration.meeting_id == meeting.id)
    if filters.status:
        query = query.where(Registration.status == filters.status)
    if filters.kind == OrganizationKind.OTHER:
        query = query.where(
            or_(
                Registration.organization_id.is_(None),
                Registration.organization.has(Organization.kind == OrganizationKind.OTHER),
            )
        )
    elif filters.kind:
        query = query.where(Registration.organization.has(Organization.kind == filters.kind))
    if filters.organization_id:
        query = query.where(Registration.organization_id == filters.organization_id)
    if filters.role:
        query = query.where(Registration.role == filters.role)
    if filters.search:
        pattern = "%" + filters.search.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        full_name = Registration.given_name + " " + Registration.family_name
        query = query.where(
            or_(
                full_name.ilike(pattern, escape="\\"),
                Registration.family_name.ilike(pattern, escape="\\"),
                Registration.email.ilike(pattern, escape="\\"),
                Registration.organization_name_other.ilike(pattern, escape="\\"),
            )
        )
    return query


def registrations_query(meeting, filters: RegistrationFilters):
    """The select of the meeting's registrations that `filters` let through, each with its
    organization; the caller orders it, and pages or streams it (the list, the exports)."""
    return _filtered(db.select(Registration).options(joinedload(Registration.organization)), meeting, filters)


def registrations_page(meeting, filters: RegistrationFilters, *, page=1, per_page=50):
    """The organizers' list, newest first, each with its organization (one query for the page)."""
    query = registrations_query(meeting, filters).order_by(Registration.created_at.desc(), Registration.id.desc())
    return db.paginate(query, page=page, per_page=per_page, max_per_page=200, error_out=False)


def registered_organizations(meeting) -> list[Organization]:
    """The organizations that have registrations for the meeting (for the list's filter)."""
    return db.session.scalars(
        db.select(Organization)
        .where(
            Organization.id.in_(db.select(Registration.organization_id).where(Registration.meeting_id == meeting.id))
        )
        .order_by(Organization.name_en)
    ).all()


def registration_emails(registration):
    """The emails sent about a registration, newest first (the organizers see their delivery)."""
    return db.session.scalars(
        db.select(OutboxMessage)
        .where(OutboxMessage.cause_object_type == "Registration", OutboxMessage.cause_object_id == registration.id)
        .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
    ).all()


# Built once; in the order of the ids, so that the same directory reads as the same tuple (the form's
# list of it is made once per language and state of the directory: see `forms.organization_choices`).
_FORM_ORGANIZATIONS = (
    db.select(
        Organization.id,
        Organization.kind,
        Organization.name_en,
        Organization.name_fr,
        Organization.name_es,
        Organization.acronym,
    )
    .where(Organization.active.is_(True))
    .order_by(Organization.id)
)


def registration_form_organizations() -> tuple[DirectoryEntry, ...]:
    """The organizations a registrant can choose: every active one of the directory, as the form
    lists them (id, kind, names, acronym), in the order of their ids."""
    rows = db.session.execute(_FORM_ORGANIZATIONS)
    return tuple(DirectoryEntry(*row) for row in rows)


# Windows ---------------------------------------------------------------------------------------


def _moment(meeting, moment, language) -> str:
    return format_datetime(moment, "medium", tzinfo=zone(meeting.timezone), locale=language)


def registration_closed_message(meeting, now=None) -> str | None:
    """Why the form does not accept registrations now, or None when it does."""
    state = meeting.registration_state(now)
    if state == "open":
        return None
    if state == "not_yet":
        return _(
            "Registration opens on %(moment)s (%(timezone)s time). Please come back then.",
            moment=localdatetime(meeting.registration_opens_at, meeting.timezone),
            timezone=meeting.timezone,
        )
    if state == "closed":
        return _("Registration for this meeting is closed. For any question, please contact the Secretariat.")
    return _("Registration for this meeting has not opened yet; its dates have not been announced.")


def changes_deadline(meeting) -> datetime | None:
    """Until when registrants may change their details online (None: until the meeting ends)."""
    return meeting.modification_deadline or meeting.registration_closes_at


def can_change(registration, now=None) -> bool:
    now = now or utcnow()
    meeting = registration.meeting
    if not registration.is_active or meeting.status != MeetingStatus.PUBLISHED or meeting.has_ended(now):
        return False
    deadline = changes_deadline(meeting)
    return deadline is None or now < deadline


def can_cancel(registration, now=None) -> bool:
    meeting = registration.meeting
    return registration.is_active and meeting.status == MeetingStatus.PUBLISHED and not meeting.has_ended(now)


# Checking what is sent -------------------------------------------------------------------------


def _text(values, errors, name, *, required=False, length=None, message=None):
    value = str(values.get(name) or "").strip()
    length = length or Registration.__table__.c[name].type.length
    if required and not value:
        errors.add(name, message or _("This field is required."))
    elif length and len(value) > length:
        errors.add(name, _("At most %(n)d characters.", n=length))
    return value


def _clean_email(value, errors) -> str:
    email = normalize_email(value)
    if not email:
        errors.add("email", _("Give your email address: your personal link is sent to it."))
        return email
    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError:
        errors.add("email", _("“%(email)s” is not a valid email address.", email=email))
    if len(email) > 254:
        errors.add("email", _("At most %(n)d characters.", n=254))
    return email


def _clean_details(meeting, values: dict, errors, names, *, roles=PUBLIC_ROLES) -> dict:
    """The validated column values of `names` found in `values`."""
    cleaned = {}
    if "role" in names:
        role = values.get("role") or ""
        if role not in {str(r) for r in roles}:
            errors.add("role", _("Choose your role from the list."))
        cleaned["role"] = role
    if "salutation" in names:
        salutation = values.get("salutation") or ""
        if salutation and salutation not in set(Salutation):
            errors.add("salutation", _("Choose a salutation from the list."))
        cleaned["salutation"] = salutation
    if "given_name" in names:
        cleaned["given_name"] = _text(values, errors, "given_name", required=True, message=_("Give your given name."))
    if "family_name" in names:
        cleaned["family_name"] = _text(
            values, errors, "family_name", required=True, message=_("Give your family name.")
        )
    for name in ("function", "phone"):
        if name in names:
            cleaned[name] = _text(values, errors, name)
    if "accessibility_needs" in names:
        cleaned["accessibility_needs"] = _text(values, errors, "accessibility_needs", length=REASON_LENGTH)
    if "email" in names:
        cleaned["email"] = _clean_email(values.get("email"), errors)
    if "preferred_language" in names:
        language = values.get("preferred_language") or meeting.language_codes[0]
        if language not in meeting.language_codes:
            errors.add("preferred_language", _("Choose one of the meeting's languages."))
        cleaned["preferred_language"] = language
    if "attendance" in names:
        attendance = values.get("attendance") or Attendance.IN_PERSON
        if attendance not in set(Attendance):
            errors.add("attendance", _("Choose in person or online."))
        cleaned["attendance"] = attendance
    if "consent_public_list" in names:
        cleaned["consent_public_list"] = bool(values.get("consent_public_list"))
    return cleaned


def _clean_delegation(details: RegistrationDetails, invitation, errors, *, meeting, email):
    """(organization, other name, seat counts) for a new registration: the invitation's
    organization, one of the directory, or a name for an organization not in it. For one of the
    directory, the organization is read with the seat counts of `_seat_counts` (email included), in
    one query; otherwise the counts are None, for the caller to read."""
    if invitation is not None:
        return invitation.organization, "", None
    choice = str(details.organization or "").strip()
    if choice == OTHER_ORGANIZATION:
        name = (details.organization_name_other or "").strip()
        if not name:
            errors.add("organization_name_other", _("Give the name of your organization."))
        elif len(name) > 300:
            errors.add("organization_name_other", _("At most %(n)d characters.", n=300))
        return None, name, None
    row = None
    if (organization_id := record_id(choice)) is not None:
        parameters = {"organization_id": organization_id, "meeting_id": meeting.id, "email": email}
        row = db.session.execute(_organization_with_seat_counts(), parameters).one_or_none()
    if row is None or not row.Organization.active:
        errors.add(
            "organization",
            _("Choose your delegation or organization from the list, or “Other” and give its name."),
        )
        return None, "", None
    return row.Organization, "", row


def _store_credentials(credentials, errors, *, required):
    """Keep an uploaded credentials file; its problems go next to the field."""
    if credentials is None or not getattr(credentials, "filename", ""):
        if required:
            errors.add(
                "credentials",
                _(
                    "This meeting asks for credentials: attach the note verbale or letter of appointment "
                    "(PDF or image)."
                ),
            )
        return None
    try:
        return store_upload(credentials, CREDENTIALS_TYPES, current_app.config["CREDENTIALS_MAX_BYTES"])
    except UploadRefused as refused:
        errors.add("credentials", refused.message)
        return None


def _attach_credentials(registration, stored) -> None:
    registration.credentials_key = stored.key
    registration.credentials_name = stored.original_name
    registration.credentials_content_type = stored.content_type
    registration.credentials_size = stored.size
    registration.credentials_sha256 = stored.sha256


# Seats -----------------------------------------------------------------------------------------


# Built once: every decision on seats runs one of them (see "The lock" in the module's docstring).
_LOCK_SEATS_POSTGRESQL = (
    db.select(Meeting.capacity, Meeting.per_delegation_limit)
    .where(Meeting.id == bindparam("meeting_id"))
    .with_for_update(key_share=True)  # FOR NO KEY UPDATE
)
_LOCK_SEATS_SQLITE = (
    update(Meeting)
    .where(Meeting.id == bindparam("meeting_id"))
    .values(updated_at=Meeting.updated_at)
    .returning(Meeting.capacity, Meeting.per_delegation_limit)
    .execution_options(synchronize_session=False)
)


def _lock_seats(meeting) -> tuple[int | None, int | None]:
    """Serialise the decisions on the meeting's seats (see the module's docstring) and return the
    capacity and per-delegation limit as they are now, read under the lock."""
    if db.session.get_bind().dialect.name == "postgresql":
        statement = _LOCK_SEATS_POSTGRESQL
    else:
        statement = _LOCK_SEATS_SQLITE
    return db.session.connection().execute(statement, {"meeting_id": meeting.id}).one()


def _same_delegation(registration):
    if registration.organization_id is not None:
        return Registration.organization_id == registration.organization_id
    return and_(
        Registration.organization_id.is_(None),
        func.lower(Registration.organization_name_other) == registration.organization_name_other.lower(),
    )


def _seated_count(meeting_id, *conditions) -> int:
    return db.session.scalar(
        db.select(func.count(Registration.id)).where(
            Registration.meeting_id == meeting_id, Registration.status.in_(SEATED_STATUSES), *conditions
        )
    )


def _seated_status(meeting, registration) -> RegistrationStatus:
    """The status a registration takes when it gets a seat (see the module's docstring)."""
    organization = registration.organization
    if registration.role == RegistrationRole.PRESS or meeting.requires_credentials:
        return RegistrationStatus.PENDING
    if organization is not None and (
        organization.is_state or organization.accreditation == Accreditation.PERMANENT_OBSERVER
    ):
        return RegistrationStatus.CONFIRMED
    return RegistrationStatus.PENDING


@dataclass(frozen=True)
class _Seating:
    """The decision on a new registration's seat: its status and, on the waiting list, why and where."""

    status: RegistrationStatus
    cause: WaitlistCause | None = None
    position: int | None = None


@cache
def _seat_counts_statement(*, other_organization: bool, inserted: bool, with_email: bool):
    """The query of `_seat_counts`, built once per shape: it runs twice for every registration, and
    building it costs more than running it. Its counts are aggregates of one pass over the
    meeting's registrations (FILTER), not one subquery each: the burst of registrations when
    registration opens runs it twice per registration, over ever more rows."""
    others = [Registration.meeting_id == bindparam("meeting_id")]
    if inserted:
        others.append(Registration.id != bindparam("registration_id"))
    if other_organization:
        delegation = and_(
            Registration.organization_id.is_(None),
            func.lower(Registration.organization_name_other) == bindparam("other_name"),
        )
    else:
        delegation = Registration.organization_id == bindparam("organization_id")
    seated = Registration.status.in_(SEATED_STATUSES)
    columns = [
        func.count().filter(seated).label("seated"),
        func.count().filter(and_(seated, delegation)).label("delegation"),
        func.count().filter(Registration.status == RegistrationStatus.WAITLISTED).label("waiting"),
    ]
    if with_email:
        active = Registration.status.in_(ACTIVE_STATUSES)
        columns.append(
            func.min(Registration.id).filter(and_(Registration.email == bindparam("email"), active)).label("registered")
        )
    return db.select(*columns).where(*others)


@cache
def _organization_with_seat_counts():
    """An organization of the directory with the seat counts of its delegation (`_seat_counts`
    before the registration is written, email included): what a registration reads before writing
    itself, in one round trip."""
    counts = _seat_counts_statement(other_organization=False, inserted=False, with_email=True).subquery("counts")
    return (
        db.select(Organization, *counts.c)
        .join_from(Organization, counts, true())
        .where(Organization.id == bindparam("organization_id"))
    )


def _seat_counts(meeting, registration, *, email=None):
    """In one query: the seats taken, those taken by the registration's delegation and the length of
    the waiting list (the registration itself, once inserted, left out); with `email`, also whether
    that address already has an active registration."""
    statement = _seat_counts_statement(
        other_organization=registration.organization_id is None,
        inserted=registration.id is not None,
        with_email=email is not None,
    )
    parameters = {
        "meeting_id": meeting.id,
        "registration_id": registration.id,
        "organization_id": registration.organization_id,
        "other_name": registration.organization_name_other.lower(),
        "email": email,
    }
    return db.session.connection().execute(statement, parameters).one()


def _seating(meeting, registration, capacity, limit, counts) -> _Seating:
    if capacity is not None and counts.seated >= capacity:
        cause = WaitlistCause.CAPACITY
    elif limit is not None and counts.delegation >= limit:
        cause = WaitlistCause.DELEGATION_LIMIT
    else:
        return _Seating(_seated_status(meeting, registration))
    return _Seating(RegistrationStatus.WAITLISTED, cause, counts.waiting + 1)


def _apply_seating(registration, seating: _Seating, now) -> None:
    registration.status = seating.status
    registration.waitlist_cause = seating.cause
    registration.waitlisted_at = now if seating.status == RegistrationStatus.WAITLISTED else None


def _fill_free_seats(meeting, capacity, limit, now, actor=None) -> list[Registration]:
    """Seat the oldest waitlisted registrations that fit now; called under the lock."""
    waiting = db.session.scalars(
        db.select(Registration)
        .where(Registration.meeting_id == meeting.id, Registration.status == RegistrationStatus.WAITLISTED)
        .options(joinedload(Registration.organization))
        .order_by(Registration.waitlisted_at, Registration.id)
    ).all()
    if not waiting:
        return []
    taken = _seated_count(meeting.id)
    per_delegation = {}
    promoted = []
    for registration in waiting:
        if capacity is not None and taken >= capacity:
            break
        key = registration.organization_id or registration.organization_name_other.lower()
        if key not in per_delegation:
            per_delegation[key] = _seated_count(meeting.id, _same_delegation(registration))
        if limit is not None and per_delegation[key] >= limit:
            continue
        _seat(meeting, registration, _seated_status(meeting, registration), now)
        taken += 1
        per_delegation[key] += 1
        promoted.append(registration)
        audit.record(
            "registration.promote",
            meeting=meeting,
            obj=registration,
            summary=f"Moved {registration.full_name} off the waiting list: a place became free",
            details={"to": registration.status},
            actor=actor,
        )
        _email_promoted(registration)
    return promoted


def _seat(meeting, registration, status, now) -> None:
    registration.status = status
    registration.waitlist_cause = None
    registration.decided_at = now


def fill_free_seats(meeting) -> list[Registration]:
    """Give the free seats to the waiting list (after the capacity or the limit was raised)."""
    capacity, limit = _lock_seats(meeting)
    promoted = _fill_free_seats(meeting, capacity, limit, utcnow())
    db.session.flush()
    return promoted


# Registering -----------------------------------------------------------------------------------


def _is_duplicate_email(error: IntegrityError) -> bool:
    message = str(error.orig)
    return "uq_registrations_active_email" in message or "registrations.meeting_id, registrations.email" in message


def _already_registered():
    message = _(
        "This email address is already registered for this meeting. "
        "We can email you your personal link, where you can see, change or cancel that registration."
    )
    return AlreadyRegistered(message, fields={"email": [message]})


# Built once: a burst of registrations is made of these (the ORM's unit of work costs several times
# more for one row). The registration object joins the session only once its row is final.
_REGISTRATION_COLUMNS = {prop.key: prop.columns[0].key for prop in Registration.__mapper__.column_attrs}
_INSERT_REGISTRATION = insert(Registration).returning(Registration.id)
_STORE_SEATING = (
    update(Registration)
    .where(Registration.id == bindparam("registration_id"))
    .values(
        status=bindparam("new_status"),
        waitlist_cause=bindparam("new_waitlist_cause"),
        waitlisted_at=bindparam("new_waitlisted_at"),
    )
)


def _insert(registration) -> None:
    """Write a new registration with one INSERT; the columns it leaves unset take their defaults."""
    values = {
        column: value
        for attribute, column in _REGISTRATION_COLUMNS.items()
        if (value := registration.__dict__.get(attribute)) is not None
    }
    registration.id = db.session.connection().execute(_INSERT_REGISTRATION, values).scalar_one()


def _store_seating(registration) -> None:
    db.session.connection().execute(
        _STORE_SEATING,
        {
            "registration_id": registration.id,
            "new_status": registration.status,
            "new_waitlist_cause": registration.waitlist_cause,
            "new_waitlisted_at": registration.waitlisted_at,
        },
    )


def register(meeting, details: RegistrationDetails, *, invitation=None, credentials=None, now=None):
    """Register a person; returns (registration, token of the personal link).

    Refused outside the registration window, for a wrong field (DomainError with `fields`) and for an
    email that already has an active registration (`AlreadyRegistered`); in every case nothing is
    kept, not even the uploaded file."""
    closed = registration_closed_message(meeting, now or utcnow())
    if closed:
        raise DomainError(closed)
    if invitation is not None and invitation.meeting_id != meeting.id:
        raise NotFound(_("This invitation is for another meeting."))

    errors = FieldErrors()
    values = _clean_details(meeting, vars(details), errors, (*REGISTRANT_FIELDS, "email"))
    organization, other_name, counts = _clean_delegation(
        details, invitation, errors, meeting=meeting, email=values.get("email")
    )
    stored = _store_credentials(credentials, errors, required=meeting.requires_credentials)
    if errors.fields and stored is not None:
        delete_stored(stored.key)
    errors.raise_if_any()

    registration = Registration(
        meeting_id=meeting.id,
        organization_id=organization.id if organization is not None else None,
        organization=organization,
        organization_name_other=other_name,
        invitation_id=invitation.id if invitation is not None else None,
        **values,
    )
    registration.meeting = meeting
    token = registration.renew_token()
    if stored is not None:
        _attach_credentials(registration, stored)
    try:
        # Everything that can be done before the lock is (see "The lock" in the module's docstring):
        # the seat is guessed from the counts as they are, the registration is written with that
        # guess and its email rendered for it. Under the lock, the counts are read again and only a
        # guess proved wrong (the last seats taken meanwhile) costs an update and a second rendering.
        if counts is None:
            counts = _seat_counts(meeting, registration, email=values["email"])
        if counts.registered is not None:
            raise _already_registered()
        guess = _seating(meeting, registration, meeting.capacity, meeting.per_delegation_limit, counts)
        _apply_seating(registration, guess, utcnow())
        try:
            _insert(registration)
        except IntegrityError as error:
            # The same address registered at the same instant (its row was not committed when the
            # counts were read): the unique index refused this one. The transaction is unusable.
            db.session.rollback()
            if _is_duplicate_email(error):
                raise _already_registered() from None
            raise
        email_id = _email_registered(registration, token, guess.position)

        capacity, limit = _lock_seats(meeting)
        seating = _seating(meeting, registration, capacity, limit, _seat_counts(meeting, registration))
        # Timed under the lock, so that the waiting list's order is the order of the decisions and a
        # position once told never goes back.
        _apply_seating(registration, seating, now or utcnow())
        if seating != guess or seating.status == RegistrationStatus.WAITLISTED:
            _store_seating(registration)
        if seating != guess:
            _email_registered(registration, token, seating.position, replacing=email_id)
        # The row is written: the object becomes the session's, as if it had been loaded (what it
        # left to the column defaults is read on first use), and the caller can go on with it.
        make_transient_to_detached(registration)
        db.session.add(registration)
    except BaseException:
        if stored is not None:
            delete_stored(stored.key)
        raise
    return registration, token


# The registrant's own link ---------------------------------------------------------------------


def personal_token(registration) -> str:
    """The token of the personal link. After a change of SECRET_KEY the derived token differs from
    the one first sent; the stored hash then follows it (the old link stops working)."""
    token = registration.token()
    if not token_matches(token, registration.token_hash):
        registration.token_hash = hash_token(token)
    return token


def send_link(meeting, email) -> Registration | None:
    """Email the personal link of the active registration of `email`, if there is one. The caller
    answers the same in both cases, so the form tells no one whether an address is registered."""
    email = normalize_email(email)
    registration = _active_registration(meeting.id, email) if email else None
    if registration is None:
        return None
    _queue(
        registration,
        "registration_link",
        _l("Your personal link for the %(title)s", title=meeting.lazy_localized("title")),
        "link",
    )
    return registration


def open_participant_session(registration) -> None:
    """Remember in the visitor's (signed) session that they hold this registration's link."""
    links = dict(session.get(PARTICIPANT_SESSION_KEY) or {})
    links[str(registration.meeting_id)] = registration.id
    session[PARTICIPANT_SESSION_KEY] = links


def current_participant(meeting) -> Registration | None:
    """The visitor's registration for `meeting` if they opened its personal link in this session and
    it is still confirmed; None otherwise (participant-only documents are refused then)."""
    registration_id = (session.get(PARTICIPANT_SESSION_KEY) or {}).get(str(meeting.id))
    if not isinstance(registration_id, int):
        return None
    registration = db.session.get(Registration, registration_id)
    if registration is None or registration.meeting_id != meeting.id:
        return None
    return registration if registration.status == RegistrationStatus.CONFIRMED else None


def _registrant(registration):
    """The audit log's actor for what is done through a personal link."""
    return None, f"{registration.full_name} <{registration.email}> (personal link)"


def _apply(registration, values) -> dict:
    changes = {}
    for name, value in values.items():
        before = getattr(registration, name)
        if before != value:
            changes[name] = [before, value]
            setattr(registration, name, value)
    return changes


def update_details(registration, values: dict, *, credentials=None, by_organizer=False) -> dict:
    """Change the details given in `values` (and replace the credentials file when one is sent);
    returns the changes as {field: [before, after]}. A registrant changes their own details until the
    deadline, and may not change the email, the delegation, nor move to or from the press; organizers
    may change anything but the delegation, at any time."""
    meeting = registration.meeting
    if not by_organizer and not can_change(registration):
        raise DomainError(_("Your registration can no longer be changed online. Please write to the Secretariat."))
    errors = FieldErrors()
    names = [name for name in (ORGANIZER_FIELDS if by_organizer else REGISTRANT_FIELDS) if name in values]
    roles = RegistrationRole if by_organizer else PUBLIC_ROLES
    cleaned = _clean_details(meeting, values, errors, names, roles=roles)
    role = cleaned.get("role", registration.role)
    if not by_organizer and RegistrationRole.PRESS in (role, registration.role) and role != registration.role:
        errors.add("role", _("To change between press and delegation, please write to the Secretariat."))
    email = cleaned.get("email", registration.email)
    if email != registration.email and registration.is_active:
        if _active_registration(meeting.id, email) is not None:
            errors.add("email", _("Another registration for this meeting already uses this email address."))
    stored = _store_credentials(credentials, errors, required=False)
    if errors.fields and stored is not None:
        delete_stored(stored.key)
    errors.raise_if_any()

    changes = _apply(registration, cleaned)
    replaced = None
    if stored is not None:
        changes["credentials"] = [registration.credentials_name, stored.original_name]
        replaced = registration.credentials_key
        _attach_credentials(registration, stored)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError as error:
        if stored is not None:
            delete_stored(stored.key)
        if _is_duplicate_email(error):
            message = _("Another registration for this meeting already uses this email address.")
            raise DomainError(message, fields={"email": [message]}) from None
        raise
    delete_after_commit(db.session(), replaced)  # the earlier file, once the new one is committed
    if changes:
        labels = ", ".join(str(FIELD_LABELS[name]) for name in changes)
        audit.record(
            "registration.update",
            meeting=meeting,
            obj=registration,
            summary=f"Changed the registration of {registration.full_name}: {labels}",
            details={"changes": changes},
            actor=None if by_organizer else _registrant(registration),
        )
    return changes


def cancel_own(registration, now=None) -> list[Registration]:
    """The registrant cancels through the personal link; a freed seat goes to the waiting list.
    Returns the registrations promoted."""
    now = now or utcnow()
    if registration.status in (RegistrationStatus.CANCELLED, RegistrationStatus.REJECTED):
        raise DomainError(_("This registration is already cancelled or was not accepted."))
    if not can_cancel(registration, now):
        raise DomainError(_("This meeting is over: the registration can no longer be cancelled."))
    meeting = registration.meeting
    capacity, limit = _lock_seats(meeting)
    db.session.refresh(registration)
    if not registration.is_active:
        raise DomainError(_("This registration is already cancelled or was not accepted."))
    freed = registration.holds_seat
    previous = registration.status
    registration.status = RegistrationStatus.CANCELLED
    registration.decided_at = now
    registration.waitlist_cause = None
    audit.record(
        "registration.cancel",
        meeting=meeting,
        obj=registration,
        summary=f"{registration.full_name} cancelled their registration",
        details={"from": previous},
        actor=_registrant(registration),
    )
    _email_decision(registration, "cancel")
    db.session.flush()
    promoted = _fill_free_seats(meeting, capacity, limit, now, actor=_registrant(registration)) if freed else []
    db.session.flush()
    return promoted


# The organizers' decisions ---------------------------------------------------------------------


def _clean_reason(action, reason) -> str:
    reason = (reason or "").strip()
    if action == "reject" and not reason:
        message = _("Give the reason for the rejection: it is sent to the registrant.")
        raise DomainError(message, fields={"reason": [message]})
    if len(reason) > REASON_LENGTH:
        message = _("The reason can have at most %(n)d characters.", n=REASON_LENGTH)
        raise DomainError(message, fields={"reason": [message]})
    return reason


def _already_checked_in(meeting, registration) -> str:
    moment = to_local(registration.checked_in_at, meeting.timezone)
    language = str(get_locale())
    return _(
        "Already checked in on %(day)s at %(time)s.",
        day=format_date(moment.date(), "long", locale=language),
        time=format_time(moment, "short", locale=language),
    )


def _decide_one(meeting, registration, action, reason, now) -> bool:
    """Apply `action`; returns whether a seat was freed. Raises DomainError when it does not apply."""
    if registration.status not in ACTIONS[action]:
        raise DomainError(str(ACTION_REFUSALS[action]))
    if action == "check_in" and registration.checked_in_at is not None:
        raise DomainError(_already_checked_in(meeting, registration))
    previous = registration.status
    freed = False
    if action == "confirm":
        _seat(meeting, registration, RegistrationStatus.CONFIRMED, now)
    elif action == "promote":
        _seat(meeting, registration, _seated_status(meeting, registration), now)
    elif action in ("reject", "cancel"):
        freed = registration.holds_seat
        registration.status = RegistrationStatus.REJECTED if action == "reject" else RegistrationStatus.CANCELLED
        registration.reason = reason
        registration.decided_at = now
        registration.waitlist_cause = None
    elif action == "check_in":
        registration.checked_in_at = registration.checked_in_at or now
    summaries = {
        "confirm": f"Confirmed the registration of {registration.full_name}",
        "promote": f"Moved {registration.full_name} off the waiting list",
        "reject": f"Rejected the registration of {registration.full_name}",
        "cancel": f"Cancelled the registration of {registration.full_name}",
        "check_in": f"Checked in {registration.full_name}",
    }
    details = {"from": previous, "to": registration.status}
    if reason:
        details["reason"] = reason
    audit.record(
        f"registration.{action}", meeting=meeting, obj=registration, summary=summaries[action], details=details
    )
    if action == "promote":
        _email_promoted(registration)
    elif action != "check_in":
        _email_decision(registration, action)
    return freed


def decide(meeting, registration_ids, action, reason="", now=None) -> BulkResult:
    """An organizer's action on one or more registrations of `meeting`, each with its email; the
    seats freed go to the waiting list. A registration the action does not apply to is left as it
    is and reported in `refused`; the others are done."""
    if action not in ACTIONS:
        raise DomainError(_("Unknown action “%(action)s”.", action=action))
    reason = _clean_reason(action, reason)
    now = now or utcnow()
    ids = sorted({int(registration_id) for registration_id in registration_ids})
    if not ids:
        raise DomainError(_("Tick the registrations first."))
    capacity, limit = _lock_seats(meeting)
    registrations = db.session.scalars(
        db.select(Registration)
        .where(Registration.meeting_id == meeting.id, Registration.id.in_(ids))
        .options(joinedload(Registration.organization))
        .order_by(Registration.id)
        .execution_options(populate_existing=True)
    ).all()
    if len(registrations) != len(ids):
        raise NotFound(_("There is no such registration for this meeting."))
    result = BulkResult()
    freed = False
    for registration in registrations:
        try:
            freed = _decide_one(meeting, registration, action, reason, now) or freed
        except DomainError as refused:
            result.refused.append((registration, refused.message))
        else:
            result.done.append(registration)
    db.session.flush()
    if freed:
        result.promoted = _fill_free_seats(meeting, capacity, limit, now)
        db.session.flush()
    return result


# Emails ----------------------------------------------------------------------------------------


def _queue(registration, template, subject, cause, *, write=queue_email, **context):
    meeting = registration.meeting
    language = registration.preferred_language
    token = context.pop("token", None) or personal_token(registration)
    deadline = changes_deadline(meeting)
    values = {
        "registration": registration,
        "link": external_url("registration.personal", token=token),
        "delegation": registration.delegation_name(language),
        "deadline": _moment(meeting, deadline, language) if deadline else "",
    }
    values.update(context)
    if "position" not in values:
        values["position"] = waitlist_position(registration)
    return write(
        template,
        to=registration.email,
        language=language,
        subject=subject,
        context=values,
        meeting=meeting,
        cause=f"registration.{cause}",
        cause_object=registration,
        recipient_name=registration.full_name,
    )


def _email_registered(registration, token, position, *, replacing=None) -> int:
    """The email of a new registration, written with `insert_email` (see `register`); its id."""
    title = registration.meeting.lazy_localized("title")  # in the recipient's language
    subjects = {
        RegistrationStatus.CONFIRMED: _l("Your registration for the %(title)s is confirmed", title=title),
        RegistrationStatus.PENDING: _l("We have received your registration for the %(title)s", title=title),
        RegistrationStatus.WAITLISTED: _l("You are on the waiting list for the %(title)s", title=title),
    }
    return _queue(
        registration,
        "registration_received",
        subjects[registration.status],
        "received",
        token=token,
        position=position,
        write=partial(insert_email, replacing=replacing),
    )


def _email_decision(registration, action) -> None:
    title = registration.meeting.lazy_localized("title")
    templates = {
        "confirm": ("registration_confirmed", _l("Your registration for the %(title)s is confirmed", title=title)),
        "reject": ("registration_rejected", _l("Your registration for the %(title)s was not accepted", title=title)),
        "cancel": ("registration_cancelled", _l("Your registration for the %(title)s is cancelled", title=title)),
    }
    template, subject = templates[action]
    _queue(registration, template, subject, action)


def _email_promoted(registration) -> None:
    title = registration.meeting.lazy_localized("title")
    _queue(
        registration,
        "registration_promoted",
        _l("A place is now available for you at the %(title)s", title=title),
        "promoted",
    )
