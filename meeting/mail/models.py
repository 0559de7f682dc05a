"""The outbox: every email the service sends is first a row here, written in the transaction of the
action that caused it, then sent by a delivery worker (`flask outbox deliver`).

`recipients` holds the To addresses as text, one address per line (searchable with LIKE on every
database). Attachments (a speaker's slot as an .ics file...) are small and live in their own table,
`outbox_attachments`, one row per file, so this table keeps one row per email and the due-messages
query stays narrow."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..core.models import TimestampMixin, UTCDateTime, utcnow
from ..extensions import db


class OutboxStatus(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"


NAME_LENGTH = 300  # an organization's name, as the directory keeps it
SUBJECT_LENGTH = 500


def _in(column, values):
    return f"{column} IN ({', '.join(repr(str(v)) for v in values)})"


class OutboxMessage(TimestampMixin, db.Model):
    __tablename__ = "outbox_messages"
    __table_args__ = (
        CheckConstraint(_in("status", OutboxStatus), name="status"),
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        # The delivery worker's two questions: which queued messages are due, and which claims
        # have expired.
        Index("ix_outbox_messages_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_outbox_messages_status_lease_expires_at", "status", "lease_expires_at"),
        # The organizers' counts per meeting and status.
        Index("ix_outbox_messages_meeting_id_status", "meeting_id", "status"),
        # The emails of one invitation, registration... (their senders show the delivery status).
        Index("ix_outbox_messages_cause_object", "cause_object_type", "cause_object_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int | None] = mapped_column(ForeignKey("meetings.id", ondelete="SET NULL"))
    recipients: Mapped[str] = mapped_column(Text)
    recipient_name: Mapped[str] = mapped_column(String(NAME_LENGTH), default="")
    subject: Mapped[str] = mapped_column(String(SUBJECT_LENGTH))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str] = mapped_column(String(8))
    # What made the email, e.g. "invitation", "registration.confirmation", and the object concerned.
    cause: Mapped[str] = mapped_column(String(80))
    cause_object_type: Mapped[str | None] = mapped_column(String(80))
    cause_object_id: Mapped[int | None]
    status: Mapped[str] = mapped_column(String(20), default=OutboxStatus.QUEUED)
    # Delivery attempts started; a claim counts as an attempt, so a message that crashes its
    # worker again and again still ends up failed.
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # A worker's claim: until the lease expires no other worker takes the message.
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    # The Message-ID header, set when the message is queued so that a resend carries the same one.
    message_id: Mapped[str] = mapped_column(String(255))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    meeting = relationship("Meeting")
    # Loaded on purpose only: the delivery worker reads a batch's attachments in one query.
    attachments: Mapped[list["OutboxAttachment"]] = relationship(
        back_populates="message", order_by="OutboxAttachment.id", cascade="all, delete-orphan"
    )

    @property
    def recipient_list(self) -> list[str]:
        return [address for address in self.recipients.splitlines() if address]

    @property
    def is_pending(self) -> bool:
        return self.status in (OutboxStatus.QUEUED, OutboxStatus.SENDING)


class OutboxAttachment(db.Model):
    """A file sent with an email, kept with it until the email is gone."""

    __tablename__ = "outbox_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("outbox_messages.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    content: Mapped[bytes] = mapped_column(LargeBinary)

    message: Mapped[OutboxMessage] = relationship(back_populates="attachments")
