"""Registrations: one person's place at a meeting, from the form to the organizers' decision.

A registration belongs to a meeting and to a delegation — an organization of the directory, or for
an NGO not yet in it, a name given by the registrant ("other"). Its status moves

    pending ──┬─> confirmed ──> cancelled
    waitlisted┘      │
        │            └──> rejected (also from pending and waitlisted)
        └──> cancelled

and the rules that move it (accreditation, capacity, the per-delegation limit, the waiting list)
live in `services.py`. The database holds what must never be broken, whatever the code does: one
active registration per email and meeting (a partial unique index), the allowed values, the
personal token's hash unique."""

import secrets
from datetime import datetime
from enum import StrEnum

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext as _lp
from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, false, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..core.models import TimestampMixin, UTCDateTime
from ..core.tokens import derived_token, hash_token
from ..directory.models import Accreditation
from ..extensions import db
from ..invitations.models import Invitation  # noqa: F401  (the invitation_id foreign key needs its table)


class RegistrationStatus(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    WAITLISTED = "waitlisted"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


class RegistrationRole(StrEnum):
    HEAD_OF_DELEGATION = "head_of_delegation"
    DELEGATE = "delegate"
    ADVISER = "adviser"
    OBSERVER = "observer"
    PRESS = "press"
    SPEAKER = "speaker"
    SECRETARIAT = "secretariat"


class Attendance(StrEnum):
    IN_PERSON = "in_person"
    ONLINE = "online"


class Salutation(StrEnum):
    MR = "mr"
    MS = "ms"
    MX = "mx"
    DR = "dr"
    PROF = "prof"
    HE_MR = "he_mr"
    HE_MS = "he_ms"


class WaitlistCause(StrEnum):
    CAPACITY = "capacity"  # the meeting was full
    DELEGATION_LIMIT = "delegation_limit"  # the delegation had all its places


# Holding a place at the meeting: these count against the capacity and the per-delegation limit.
SEATED_STATUSES = (RegistrationStatus.PENDING, RegistrationStatus.CONFIRMED)
# At most one of these per email and meeting.
ACTIVE_STATUSES = (*SEATED_STATUSES, RegistrationStatus.WAITLISTED)
# Roles a registrant chooses on the public form; speakers and the Secretariat are added by organizers.
PUBLIC_ROLES = (
    RegistrationRole.HEAD_OF_DELEGATION,
    RegistrationRole.DELEGATE,
    RegistrationRole.ADVISER,
    RegistrationRole.OBSERVER,
    RegistrationRole.PRESS,
)

STATUS_LABELS = {
    RegistrationStatus.PENDING: _lp("registration status", "Pending"),
    RegistrationStatus.CONFIRMED: _lp("registration status", "Confirmed"),
    RegistrationStatus.WAITLISTED: _lp("registration status", "Waiting list"),
    RegistrationStatus.REJECTED: _lp("registration status", "Rejected"),
    RegistrationStatus.CANCELLED: _lp("registration status", "Cancelled"),
}

ROLE_LABELS = {
    RegistrationRole.HEAD_OF_DELEGATION: _l("Head of delegation"),
    RegistrationRole.DELEGATE: _l("Delegate"),
    RegistrationRole.ADVISER: _l("Adviser"),
    RegistrationRole.OBSERVER: _l("Observer"),
    RegistrationRole.PRESS: _l("Press"),
    RegistrationRole.SPEAKER: _l("Speaker"),
    RegistrationRole.SECRETARIAT: _l("Secretariat"),
}

ATTENDANCE_LABELS = {
    Attendance.IN_PERSON: _l("In person"),
    Attendance.ONLINE: _l("Online"),
}

# As printed before a name in a list of participants, in the list's language.
SALUTATION_LABELS = {
    Salutation.MR: _l("Mr."),
    Salutation.MS: _l("Ms."),
    Salutation.MX: _l("Mx."),
    Salutation.DR: _l("Dr."),
    Salutation.PROF: _l("Prof."),
    Salutation.HE_MR: _l("H.E. Mr."),
    Salutation.HE_MS: _l("H.E. Ms."),
}

PENDING_LABELS = {
    "credentials": _l("Pending credentials check"),
    "accreditation": _l("Pending accreditation"),
    "press": _l("Pending press accreditation"),
}

TOKEN_PURPOSE = "registration"


def _in(column, values, nullable=False):
    condition = f"{column} IN ({', '.join(repr(str(v)) for v in values)})"
    return f"{column} IS NULL OR {condition}" if nullable else condition


_ACTIVE_SQL = _in("status", ACTIVE_STATUSES)


class Registration(TimestampMixin, db.Model):
    __tablename__ = "registrations"
    __table_args__ = (
        CheckConstraint(_in("status", RegistrationStatus), name="status"),
        CheckConstraint(_in("role", RegistrationRole), name="role"),
        CheckConstraint(_in("attendance", Attendance), name="attendance"),
        CheckConstraint(f"salutation = '' OR {_in('salutation', Salutation)}", name="salutation"),
        CheckConstraint(_in("waitlist_cause", WaitlistCause, nullable=True), name="waitlist_cause"),
        CheckConstraint("email = lower(email)", name="email_lowercase"),
        # A delegation is an organization of the directory or, for "other", a name.
        CheckConstraint(
            "organization_id IS NOT NULL OR organization_name_other <> ''", name="organization_or_other_name"
        ),
        CheckConstraint("(credentials_key IS NULL) = (credentials_sha256 IS NULL)", name="credentials_complete"),
        # The waiting list is ordered by the time a registration joined it.
        CheckConstraint("status <> 'waitlisted' OR waitlisted_at IS NOT NULL", name="waitlisted_has_time"),
        # One active registration per person and meeting; a cancelled or rejected one does not
        # stop the person from registering again. The emails are lowercase (checked above), so this
        # index on the column is one on lower(email) — and, unlike an expression index, SQLite can
        # reflect it, which keeps `flask db check` quiet.
        Index(
            "uq_registrations_active_email",
            "meeting_id",
            "email",
            unique=True,
            postgresql_where=text(_ACTIVE_SQL),
            sqlite_where=text(_ACTIVE_SQL),
        ),
        # The organizers' list and counts per status; the seat counts under the lock.
        Index("ix_registrations_meeting_id_status", "meeting_id", "status"),
        Index("ix_registrations_meeting_id_organization_id", "meeting_id", "organization_id"),
        Index("ix_registrations_meeting_id_waitlisted_at", "meeting_id", "waitlisted_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"))
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"), index=True)
    # For an organization not in the directory ("other"); empty otherwise.
    organization_name_other: Mapped[str] = mapped_column(String(300), default="")
    invitation_id: Mapped[int | None] = mapped_column(ForeignKey("invitations.id", ondelete="SET NULL"), index=True)

    role: Mapped[str] = mapped_column(String(30))
    salutation: Mapped[str] = mapped_column(String(10), default="")
    given_name: Mapped[str] = mapped_column(String(200))
    family_name: Mapped[str] = mapped_column(String(200))
    function: Mapped[str] = mapped_column(String(300), default="")
    email: Mapped[str] = mapped_column(String(254))
    phone: Mapped[str] = mapped_column(String(50), default="")
    preferred_language: Mapped[str] = mapped_column(String(8), default="en")
    attendance: Mapped[str] = mapped_column(String(20), default=Attendance.IN_PERSON)
    consent_public_list: Mapped[bool] = mapped_column(default=False)
    accessibility_needs: Mapped[str] = mapped_column(Text, default="")

    # The note verbale or letter of appointment, kept by core.storage.
    credentials_key: Mapped[str | None] = mapped_column(String(40))
    credentials_name: Mapped[str | None] = mapped_column(String(255))
    credentials_content_type: Mapped[str | None] = mapped_column(String(100))
    credentials_size: Mapped[int | None]
    credentials_sha256: Mapped[str | None] = mapped_column(String(64))

    status: Mapped[str] = mapped_column(String(20), default=RegistrationStatus.PENDING)
    # Why the organizers rejected or cancelled it (told to the registrant).
    reason: Mapped[str] = mapped_column(Text, default="")
    waitlisted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    waitlist_cause: Mapped[str | None] = mapped_column(String(20))
    # The last change of status after registering (confirmation, rejection, cancellation, promotion).
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    # The personal link's token is rebuilt from the nonce (see `token`); only its hash is kept.
    token_nonce: Mapped[str] = mapped_column(String(32))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The check-in code printed on the badge (onsite/badges.py) is rebuilt from this nonce, so that a
    # badge can be printed again; only its hash is kept, from the first badge on.
    checkin_nonce: Mapped[str | None] = mapped_column(String(32), default=lambda: secrets.token_hex(16))
    checkin_code_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    # Documents (documents/distribution.py): the participant turned off the emails announcing new
    # documents on their personal page; and when they last saw the meeting page, kept here rather than
    # in the browser's session so that "new since your last visit" holds across browsers and devices.
    document_emails_opt_out: Mapped[bool] = mapped_column(default=False, server_default=false())
    last_seen_documents_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    meeting = relationship("Meeting")
    organization = relationship("Organization")
    invitation = relationship("Invitation")

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}".strip()

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def holds_seat(self) -> bool:
        return self.status in SEATED_STATUSES

    @property
    def has_credentials(self) -> bool:
        return self.credentials_key is not None

    def delegation_name(self, language: str = "en") -> str:
        if self.organization is not None:
            return self.organization.name(language)
        return self.organization_name_other

    @property
    def delegation_kind(self) -> str:
        """The organization's kind; "other" for a name outside the directory."""
        return self.organization.kind if self.organization is not None else "other"

    @property
    def pending_reason(self) -> str | None:
        """What a pending registration waits for: 'press', 'credentials' or 'accreditation'."""
        if self.status != RegistrationStatus.PENDING:
            return None
        if self.role == RegistrationRole.PRESS:
            return "press"
        if self.organization is not None and (
            self.organization.is_state or self.organization.accreditation == Accreditation.PERMANENT_OBSERVER
        ):
            # Those are confirmed at once unless the meeting asks for credentials.
            return "credentials"
        return "accreditation"

    @property
    def status_label(self) -> str:
        if self.status == RegistrationStatus.PENDING:
            return str(PENDING_LABELS[self.pending_reason])
        return str(STATUS_LABELS.get(self.status, self.status))

    @property
    def role_label(self) -> str:
        return str(ROLE_LABELS.get(self.role, self.role))

    @property
    def attendance_label(self) -> str:
        return str(ATTENDANCE_LABELS.get(self.attendance, self.attendance))

    @property
    def salutation_label(self) -> str:
        return str(SALUTATION_LABELS[self.salutation]) if self.salutation else ""

    def token(self) -> str:
        """The secret of the personal link, the same every time it is asked for (so that "email me
        my link" sends the link of the first email)."""
        return derived_token(TOKEN_PURPOSE, self.meeting_id, self.token_nonce)

    def renew_token(self) -> str:
        """A new personal link; the previous one stops working. `meeting_id` must be set."""
        self.token_nonce = secrets.token_hex(16)
        token = self.token()
        self.token_hash = hash_token(token)
        return token
