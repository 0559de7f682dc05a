"""The program inside the program sessions: slots (talks, breaks, discussions, statements), the
meeting's speakers with the windows of time they said they are available, the offers of a slot to a
speaker (answered through a personal link), and whether the program has been published.

A slot's `speaker_id` is the speaker of its open offer (offered or confirmed), kept in step by the
services; only a confirmed offer makes the speaker public (`Slot.confirmed_speaker`)."""

import secrets
import uuid
from datetime import datetime, timedelta
from enum import StrEnum

import markdown
import nh3
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext as _lp
from markupsafe import Markup
from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    and_,
    text,
)
from sqlalchemy.orm import Mapped, backref, mapped_column, relationship

from ..core.models import LocalizedText, TimestampMixin, Translatable, UTCDateTime, current_language, utcnow
from ..core.tokens import derived_token, hash_token
from ..extensions import db
from ..meetings.models import Meeting, ProgramSession


class Perspective(StrEnum):
    PERFORMER = "performer"
    CREATOR = "creator"
    PRODUCER = "producer"
    OTHER = "other"


class SlotKind(StrEnum):
    TALK = "talk"
    STATEMENT = "statement"
    DISCUSSION = "discussion"
    BREAK = "break"


class OfferStatus(StrEnum):
    OFFERED = "offered"
    CONFIRMED = "confirmed"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"


PERSPECTIVE_LABELS = {
    Perspective.PERFORMER: _l("Performer"),
    Perspective.CREATOR: _l("Creator"),
    Perspective.PRODUCER: _l("Producer"),
    Perspective.OTHER: _l("Other perspective"),
}

SLOT_KIND_LABELS = {
    SlotKind.TALK: _l("Talk"),
    SlotKind.STATEMENT: _l("Statement"),
    SlotKind.DISCUSSION: _l("Discussion"),
    SlotKind.BREAK: _l("Break"),
}

OFFER_STATUS_LABELS = {
    OfferStatus.OFFERED: _lp("speaker offer status", "Offered, awaiting an answer"),
    OfferStatus.CONFIRMED: _lp("speaker offer status", "Confirmed"),
    OfferStatus.DECLINED: _lp("speaker offer status", "Declined"),
    OfferStatus.WITHDRAWN: _lp("speaker offer status", "Withdrawn"),
}

# An offer in one of these holds its slot: a slot has at most one at a time.
OPEN_OFFER_STATUSES = (OfferStatus.OFFERED, OfferStatus.CONFIRMED)

TOKEN_PURPOSE = "speaker-offer"

# What a biography written in Markdown may become: text formatting, lists and links, nothing else.
BIOGRAPHY_TAGS = {"p", "br", "strong", "em", "b", "i", "ul", "ol", "li", "a", "blockquote", "code"}


def _in(column, values):
    return f"{column} IN ({', '.join(repr(str(v)) for v in values)})"


def markdown_to_html(source: str | None) -> Markup:
    """Markdown as HTML that is safe to put in a page: whatever raw HTML or script the text holds is
    removed by nh3, links keep only http(s) and mailto addresses and get rel="nofollow noopener"."""
    html = markdown.markdown(source or "", output_format="html")
    cleaned = nh3.clean(
        html,
        tags=BIOGRAPHY_TAGS,
        attributes={"a": {"href", "title"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="nofollow noopener noreferrer",
    )
    return Markup(cleaned)


class Speaker(TimestampMixin, db.Model):
    __tablename__ = "speakers"
    __table_args__ = (
        CheckConstraint(_in("perspective", Perspective), name="perspective"),
        UniqueConstraint("meeting_id", "email"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    affiliation: Mapped[str] = mapped_column(String(300), default="")
    perspective: Mapped[str] = mapped_column(String(20), default=Perspective.OTHER)
    biography: Mapped[str] = mapped_column(Text, default="")  # Markdown
    email: Mapped[str] = mapped_column(String(254))
    # The language of the emails the speaker receives (one the meeting offers).
    language: Mapped[str] = mapped_column(String(8), default="en")
    # The speaker's own IANA zone, to show them their slot in their time; empty: the meeting's.
    timezone: Mapped[str] = mapped_column(String(64), default="")
    # An optional portrait, kept by meeting.core.storage (JPEG or PNG).
    photo_key: Mapped[str | None] = mapped_column(String(40))
    photo_content_type: Mapped[str | None] = mapped_column(String(40))

    meeting: Mapped[Meeting] = relationship()
    availability: Mapped[list["SpeakerAvailability"]] = relationship(
        back_populates="speaker",
        order_by="SpeakerAvailability.starts_at",
        cascade="all, delete-orphan",
    )
    offers: Mapped[list["SpeakerOffer"]] = relationship(
        back_populates="speaker",
        order_by="SpeakerOffer.created_at.desc(), SpeakerOffer.id.desc()",
        cascade="all, delete-orphan",
    )

    @property
    def perspective_label(self) -> str:
        return str(PERSPECTIVE_LABELS.get(self.perspective, self.perspective))

    @property
    def biography_html(self) -> Markup:
        return markdown_to_html(self.biography)

    @property
    def zone_name(self) -> str:
        """The zone the speaker reads times in."""
        return self.timezone or self.meeting.timezone

    def is_available(self, starts_at: datetime, ends_at: datetime) -> bool:
        """No window given means no constraint; otherwise the whole time must fit in one window."""
        if not self.availability:
            return True
        return any(w.starts_at <= starts_at and ends_at <= w.ends_at for w in self.availability)


class SpeakerAvailability(db.Model):
    """A window of time in which a speaker can speak. A speaker with no window gave no constraint."""

    __tablename__ = "speaker_availability"
    __table_args__ = (CheckConstraint("ends_at > starts_at", name="times_in_order"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    speaker_id: Mapped[int] = mapped_column(ForeignKey("speakers.id", ondelete="CASCADE"), index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())

    speaker: Mapped[Speaker] = relationship(back_populates="availability")


class Slot(Translatable, TimestampMixin, db.Model):
    __tablename__ = "slots"
    __table_args__ = (
        CheckConstraint(_in("kind", SlotKind), name="kind"),
        CheckConstraint("duration_minutes > 0", name="duration_positive"),
        CheckConstraint("sequence >= 0", name="sequence_not_negative"),
        Index("ix_slots_program_session_id_starts_at", "program_session_id", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    program_session_id: Mapped[int] = mapped_column(ForeignKey("program_sessions.id", ondelete="CASCADE"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    duration_minutes: Mapped[int]
    topic: Mapped[str] = mapped_column(String(300), default="")
    kind: Mapped[str] = mapped_column(String(20), default=SlotKind.TALK)
    speaker_id: Mapped[int | None] = mapped_column(ForeignKey("speakers.id", ondelete="SET NULL"), index=True)
    # The order within the session (by start time; breaks ties between slots starting together).
    position: Mapped[int] = mapped_column(default=0)
    # iCalendar: the UID never changes; SEQUENCE goes up whenever what a calendar shows changes.
    uid: Mapped[str] = mapped_column(String(36), unique=True, default=lambda: str(uuid.uuid4()))
    sequence: Mapped[int] = mapped_column(default=0)

    # `ProgramSession.slots` is a backref: the sessions belong to the meetings module, which need
    # not know about slots. Deleting a session deletes its slots through the foreign key's ON DELETE CASCADE.
    session: Mapped[ProgramSession] = relationship(
        backref=backref("slots", order_by="(Slot.starts_at, Slot.position, Slot.id)", passive_deletes="all"),
    )
    speaker: Mapped[Speaker | None] = relationship()
    offers: Mapped[list["SpeakerOffer"]] = relationship(
        back_populates="slot",
        order_by="SpeakerOffer.created_at.desc(), SpeakerOffer.id.desc()",
        cascade="all, delete-orphan",
    )
    # The offer that holds the slot now, if any (the partial unique index allows at most one).
    current_offer: Mapped["SpeakerOffer | None"] = relationship(
        primaryjoin=lambda: and_(
            SpeakerOffer.slot_id == Slot.id, SpeakerOffer.status.in_([str(s) for s in OPEN_OFFER_STATUSES])
        ),
        viewonly=True,
        uselist=False,
    )

    @property
    def ends_at(self) -> datetime:
        return self.starts_at + timedelta(minutes=self.duration_minutes)

    @property
    def kind_label(self) -> str:
        return str(SLOT_KIND_LABELS.get(self.kind, self.kind))

    translatable_fields = ("topic",)

    @property
    def title(self) -> str:
        return self.topic or self.kind_label

    @property
    def content_languages(self) -> list[str]:
        return self.session.meeting.content_languages

    def localized_title(self, language: str | None = None) -> LocalizedText:
        """`title` in the reader's language: the topic (see `Translatable.localized`), or for a slot
        without one the kind of slot, a word of the interface and so in the language in force."""
        topic = self.localized("topic", language)
        if topic:
            return topic
        return LocalizedText(self.kind_label, current_language() or self.main_language)

    @property
    def confirmed_speaker(self) -> Speaker | None:
        """The speaker the public may see: one who confirmed the offer of this slot."""
        offer = self.current_offer
        if offer is not None and offer.status == OfferStatus.CONFIRMED and offer.speaker_id == self.speaker_id:
            return self.speaker
        return None

    def overlaps(self, other: "Slot") -> bool:
        return self.starts_at < other.ends_at and other.starts_at < self.ends_at


class SpeakerOffer(TimestampMixin, db.Model):
    """A slot offered to a speaker, answered through the speaker's personal link."""

    __tablename__ = "speaker_offers"
    __table_args__ = (
        CheckConstraint(_in("status", OfferStatus), name="status"),
        CheckConstraint("reminders_sent >= 0", name="reminders_sent_not_negative"),
        # At most one open offer per slot: two organizers offering the same slot at once cannot both win.
        Index(
            "uq_speaker_offers_open_slot",
            "slot_id",
            unique=True,
            postgresql_where=text("status IN ('offered', 'confirmed')"),
            sqlite_where=text("status IN ('offered', 'confirmed')"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slot_id: Mapped[int] = mapped_column(ForeignKey("slots.id", ondelete="CASCADE"), index=True)
    speaker_id: Mapped[int] = mapped_column(ForeignKey("speakers.id", ondelete="CASCADE"), index=True)
    # The link's token is rebuilt from the nonce (see `token`); only its SHA-256 is kept, for lookups.
    token_nonce: Mapped[str] = mapped_column(String(32))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(20), default=OfferStatus.OFFERED)
    note: Mapped[str] = mapped_column(Text, default="")  # the speaker's, with their answer
    offered_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reminders_sent: Mapped[int] = mapped_column(default=0)
    last_reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    slot: Mapped[Slot] = relationship(back_populates="offers")
    speaker: Mapped[Speaker] = relationship(back_populates="offers")

    @property
    def status_label(self) -> str:
        return str(OFFER_STATUS_LABELS.get(self.status, self.status))

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_OFFER_STATUSES

    def token(self) -> str:
        """The secret of the speaker's link, the same in the offer and in every reminder."""
        return derived_token(TOKEN_PURPOSE, f"{self.slot_id}:{self.speaker_id}", self.token_nonce)

    def renew_token(self) -> str:
        """A new link (the previous one stops working); `slot_id` and `speaker_id` must be set."""
        self.token_nonce = secrets.token_hex(16)
        token = self.token()
        self.token_hash = hash_token(token)
        return token


class ProgramState(db.Model):
    """Whether the program of a meeting (its slots and confirmed speakers) is public, and when it last
    changed after publication. A table of its own, so the program's publication is separate from the
    meeting's."""

    __tablename__ = "program_states"

    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), primary_key=True)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The last change the public can see, made after publication; None when unchanged since.
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def is_published(self) -> bool:
        return self.published_at is not None
