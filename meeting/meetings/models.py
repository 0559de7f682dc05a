"""Meetings and the blocks of their program."""

from datetime import date, datetime
from enum import StrEnum

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext as _lp
from sqlalchemy import CheckConstraint, ForeignKey, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..core.models import TimestampMixin, Translatable, UTCDateTime, paragraphs, utcnow
from ..core.timeutil import to_local
from ..extensions import db


class MeetingStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    CLOSED = "closed"
    ARCHIVED = "archived"


class MeetingKind(StrEnum):
    AD_HOC_INFORMAL = "ad_hoc_informal"
    INFORMATION = "information"
    CONSULTATION = "consultation"
    COMMITTEE_SESSION = "committee_session"


class SessionKind(StrEnum):
    OPENING = "opening"
    INFORMATION_SESSION = "information_session"
    DISCUSSION = "discussion"
    CLOSING = "closing"
    OTHER = "other"


MEETING_STATUS_LABELS = {
    MeetingStatus.DRAFT: _lp("meeting status", "Draft"),
    MeetingStatus.PUBLISHED: _lp("meeting status", "Published"),
    MeetingStatus.CLOSED: _lp("meeting status", "Closed"),
    MeetingStatus.ARCHIVED: _lp("meeting status", "Archived"),
}

MEETING_KIND_LABELS = {
    MeetingKind.AD_HOC_INFORMAL: _l("Ad hoc informal meeting"),
    MeetingKind.INFORMATION: _l("Information meeting"),
    MeetingKind.CONSULTATION: _l("Consultation"),
    MeetingKind.COMMITTEE_SESSION: _l("Session of a committee"),
}

SESSION_KIND_LABELS = {
    SessionKind.OPENING: _l("Opening"),
    SessionKind.INFORMATION_SESSION: _l("Information session"),
    SessionKind.DISCUSSION: _l("Discussion"),
    SessionKind.CLOSING: _l("Closing"),
    SessionKind.OTHER: _l("Other"),
}

# Closed meetings stay visible (their program and documents remain useful); archived ones do not.
PUBLIC_STATUSES = (MeetingStatus.PUBLISHED, MeetingStatus.CLOSED)


def _in(column, values):
    return f"{column} IN ({', '.join(repr(str(v)) for v in values)})"


class Meeting(Translatable, TimestampMixin, db.Model):
    __tablename__ = "meetings"
    __table_args__ = (
        CheckConstraint(_in("status", MeetingStatus), name="status"),
        CheckConstraint(_in("kind", MeetingKind), name="kind"),
        CheckConstraint("ends_on >= starts_on", name="dates_in_order"),
        CheckConstraint("capacity IS NULL OR capacity > 0", name="capacity_positive"),
        CheckConstraint(
            "per_delegation_limit IS NULL OR per_delegation_limit > 0", name="per_delegation_limit_positive"
        ),
        CheckConstraint(
            "registration_opens_at IS NULL OR registration_closes_at IS NULL "
            "OR registration_closes_at > registration_opens_at",
            name="registration_window_in_order",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    symbol_prefix: Mapped[str] = mapped_column(String(40), default="")
    title: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(30), default=MeetingKind.AD_HOC_INFORMAL)
    description: Mapped[str] = mapped_column(Text, default="")
    venue: Mapped[str] = mapped_column(String(300), default="")
    city: Mapped[str] = mapped_column(String(100), default="")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    chair: Mapped[str] = mapped_column(String(300), default="")
    status: Mapped[str] = mapped_column(String(20), default=MeetingStatus.DRAFT, index=True)
    registration_opens_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    registration_closes_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    capacity: Mapped[int | None]
    per_delegation_limit: Mapped[int | None]
    # Registrants send a note verbale or letter of appointment, and the Secretariat checks it
    # before anyone is confirmed.
    requires_credentials: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Until when registrants may change their details (registration closing time when not set).
    modification_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Comma-separated language codes, e.g. "en,fr,es". The first is the main language, in which the
    # meeting's texts (title, description, program, document titles) are entered; the others may
    # have translations (core.models.Translatable).
    languages: Mapped[str] = mapped_column(String(60), default="en")
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The list of participants is public from this moment (None: organizers have not published it),
    # as the final edition or the provisional one (registration/participants.py).
    participants_list_published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    participants_list_final: Mapped[bool] = mapped_column(default=False, server_default=false())

    translatable_fields = ("title", "description")

    sessions: Mapped[list["ProgramSession"]] = relationship(
        back_populates="meeting",
        order_by="(ProgramSession.starts_at, ProgramSession.id)",
        cascade="all, delete-orphan",
    )

    @property
    def language_codes(self) -> list[str]:
        return [code for code in self.languages.split(",") if code]

    @property
    def content_languages(self) -> list[str]:
        """The languages of the meeting's texts: its own columns hold the first, its main language."""
        return self.language_codes or [current_app.config["BABEL_DEFAULT_LOCALE"]]

    @property
    def is_public(self) -> bool:
        return self.status in PUBLIC_STATUSES

    @property
    def status_label(self) -> str:
        return str(MEETING_STATUS_LABELS.get(self.status, self.status))

    @property
    def kind_label(self) -> str:
        return str(MEETING_KIND_LABELS.get(self.kind, self.kind))

    @property
    def description_paragraphs(self) -> list[list[str]]:
        return paragraphs(self.description)

    def local(self, moment: datetime | None) -> datetime | None:
        """An instant as the wall-clock time where the meeting takes place."""
        return to_local(moment, self.timezone) if moment is not None else None

    def has_ended(self, now: datetime | None = None) -> bool:
        """Whether the last day is over where the meeting takes place."""
        return to_local(now or utcnow(), self.timezone).date() > self.ends_on

    def sessions_by_day(self) -> list[tuple[date, list["ProgramSession"]]]:
        """The program as (local day, sessions of that day), in the meeting's timezone."""
        days: dict[date, list[ProgramSession]] = {}
        for session in self.sessions:
            days.setdefault(session.local_day, []).append(session)
        return list(days.items())

    def registration_state(self, now: datetime | None = None) -> str:
        """'open', 'not_yet' (opens later), 'closed' or 'none' (no window set)."""
        now = now or utcnow()
        if self.status != MeetingStatus.PUBLISHED:
            return "closed" if self.status != MeetingStatus.DRAFT else "none"
        if self.has_ended(now):
            return "closed"
        if self.registration_opens_at is None and self.registration_closes_at is None:
            return "none"
        if self.registration_opens_at is not None and now < self.registration_opens_at:
            return "not_yet"
        if self.registration_closes_at is not None and now >= self.registration_closes_at:
            return "closed"
        return "open"


class ProgramSession(Translatable, TimestampMixin, db.Model):
    __tablename__ = "program_sessions"
    __table_args__ = (
        CheckConstraint(_in("kind", SessionKind), name="kind"),
        CheckConstraint("ends_at > starts_at", name="times_in_order"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(30), default=SessionKind.OTHER)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    room: Mapped[str] = mapped_column(String(200), default="")
    description: Mapped[str] = mapped_column(Text, default="")

    meeting: Mapped[Meeting] = relationship(back_populates="sessions")

    translatable_fields = ("title", "description")

    @property
    def content_languages(self) -> list[str]:
        return self.meeting.content_languages

    @property
    def kind_label(self) -> str:
        return str(SESSION_KIND_LABELS.get(self.kind, self.kind))

    @property
    def description_paragraphs(self) -> list[list[str]]:
        return paragraphs(self.description)

    @property
    def local_day(self) -> date:
        return to_local(self.starts_at, self.meeting.timezone).date()
