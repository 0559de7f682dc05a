"""Invitations: one per meeting and organization, sent to the organization's focal points, answered
through a personal link (accept or decline).

What the invitation's own row records is the delegation's side of the story: drafted, queued, viewed,
accepted, declined, or revoked by the organizers. Whether its email went out is the outbox's to say:
"sent" and "failed" are read from the status of the invitation's latest email (see
`services.invitations_query`), so the delivery worker needs to know nothing about invitations and the
two can never disagree."""

import secrets
from datetime import datetime
from enum import StrEnum

from flask_babel import lazy_pgettext as _lp
from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, query_expression, relationship

from ..core.models import TimestampMixin, UTCDateTime
from ..core.tokens import derived_token, hash_token
from ..extensions import db
from ..meetings.models import paragraphs


class InvitationStatus(StrEnum):
    DRAFT = "draft"
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"
    VIEWED = "viewed"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    REVOKED = "revoked"


# What `invitations.status` holds; SENT and FAILED are shown for a QUEUED invitation after its email.
STORED_STATUSES = (
    InvitationStatus.DRAFT,
    InvitationStatus.QUEUED,
    InvitationStatus.VIEWED,
    InvitationStatus.ACCEPTED,
    InvitationStatus.DECLINED,
    InvitationStatus.REVOKED,
)
# Sent to the delegation and not answered yet: the ones a reminder is for.
AWAITING_ANSWER_STATUSES = (InvitationStatus.QUEUED, InvitationStatus.VIEWED)

STATUS_LABELS = {
    InvitationStatus.DRAFT: _lp("invitation status", "Draft"),
    InvitationStatus.QUEUED: _lp("invitation status", "Queued"),
    InvitationStatus.SENT: _lp("invitation status", "Sent"),
    InvitationStatus.FAILED: _lp("invitation status", "Failed"),
    InvitationStatus.VIEWED: _lp("invitation status", "Viewed"),
    InvitationStatus.ACCEPTED: _lp("invitation status", "Accepted"),
    InvitationStatus.DECLINED: _lp("invitation status", "Declined"),
    InvitationStatus.REVOKED: _lp("invitation status", "Revoked"),
}

TOKEN_PURPOSE = "invitation"


class Invitation(TimestampMixin, db.Model):
    __tablename__ = "invitations"
    __table_args__ = (
        UniqueConstraint("meeting_id", "organization_id"),
        CheckConstraint(
            f"status IN ({', '.join(repr(str(status)) for status in STORED_STATUSES)})",
            name="status",
        ),
        CheckConstraint("reminders_sent >= 0", name="reminders_sent_not_negative"),
        # The organizers' counts per meeting and status.
        Index("ix_invitations_meeting_id_status", "meeting_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"))
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    # The link's token is rebuilt from the nonce (see `token`); only its SHA-256 is kept, for lookups.
    token_nonce: Mapped[str] = mapped_column(String(32))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The focal-point addresses the invitation was sent to (a snapshot), one per line.
    recipients: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str] = mapped_column(String(8))
    personal_message: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default=InvitationStatus.DRAFT)
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    viewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decline_reason: Mapped[str] = mapped_column(Text, default="")
    reminders_sent: Mapped[int] = mapped_column(default=0)
    last_reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    meeting = relationship("Meeting")
    organization = relationship("Organization")

    # Loaded by `services.invitations_query` from the invitation's latest email in the outbox.
    shown_status: Mapped[str | None] = query_expression()
    email_sent_at: Mapped[datetime | None] = query_expression()
    # Loaded by `services.invitations_page`: the active registrations made through the invitation.
    registered: Mapped[int | None] = query_expression()

    @property
    def recipient_list(self) -> list[str]:
        return [address for address in self.recipients.splitlines() if address]

    @property
    def message_paragraphs(self) -> list[list[str]]:
        return paragraphs(self.personal_message)

    @property
    def status_shown(self) -> str:
        return self.shown_status or self.status

    @property
    def status_label(self) -> str:
        return str(STATUS_LABELS.get(self.status_shown, self.status_shown))

    def token(self) -> str:
        """The secret of the invitation's link, the same every time it is asked for."""
        return derived_token(TOKEN_PURPOSE, f"{self.meeting_id}:{self.organization_id}", self.token_nonce)

    def renew_token(self) -> str:
        """A new link: the previous one stops working. `meeting_id` and `organization_id` must be set."""
        self.token_nonce = secrets.token_hex(16)
        token = self.token()
        self.token_hash = hash_token(token)
        return token
