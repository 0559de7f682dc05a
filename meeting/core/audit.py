"""The audit log: who did what, when, to which meeting and object.

Services call `record()` in the caller's transaction, so an action and its audit entry are
committed or rolled back together."""

from datetime import datetime

from flask import g, has_request_context
from flask_login import current_user
from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .models import UTCDateTime, utcnow


class AuditEntry(db.Model):
    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor: Mapped[str] = mapped_column(String(200))
    meeting_id: Mapped[int | None] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(80))
    object_type: Mapped[str | None] = mapped_column(String(80))
    object_id: Mapped[int | None]
    summary: Mapped[str] = mapped_column(String(500), default="")
    details: Mapped[dict] = mapped_column(JSON, default=dict)

    user = relationship("User", lazy="joined")


def current_actor():
    """The user acting now and a label for the log: the signed-in organizer, an API token
    (set by the API in `g.audit_actor`), or the command line."""
    if has_request_context():
        if getattr(g, "audit_actor", None):
            return g.audit_actor
        if current_user and current_user.is_authenticated:
            return current_user._get_current_object(), current_user.email
        return None, "anonymous"
    return getattr(g, "audit_actor", None) or (None, "command line")


def record(action, *, meeting=None, obj=None, summary="", details=None, actor=None):
    user, label = actor or current_actor()
    entry = AuditEntry(
        user_id=user.id if user is not None else None,
        actor=label,
        meeting_id=meeting.id if meeting is not None else None,
        action=action,
        object_type=type(obj).__name__ if obj is not None else None,
        object_id=getattr(obj, "id", None),
        summary=summary[:500],
        details=details or {},
    )
    db.session.add(entry)
    return entry


def entries_for_meeting(meeting, page=1, per_page=50):
    query = (
        db.select(AuditEntry)
        .where(AuditEntry.meeting_id == meeting.id)
        .order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
    )
    return db.paginate(query, page=page, per_page=per_page, max_per_page=200, error_out=False)
