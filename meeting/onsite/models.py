"""What the on-site work keeps: the badge print runs made in the background, and the record that a
meeting's personal data was erased."""

from datetime import datetime
from enum import StrEnum

from flask_babel import lazy_pgettext as _lp
from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..core.models import UTCDateTime, utcnow
from ..extensions import db


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


JOB_STATUS_LABELS = {
    JobStatus.QUEUED: _lp("badge file status", "Waiting"),
    JobStatus.RUNNING: _lp("badge file status", "Being made"),
    JobStatus.DONE: _lp("badge file status", "Ready"),
    JobStatus.FAILED: _lp("badge file status", "Failed"),
}


def _in(column, values):
    return f"{column} IN ({', '.join(repr(str(v)) for v in values)})"


class BadgePrintJob(db.Model):
    """A PDF of many badges, made by `flask onsite badges` (jobs.py) and kept in the storage
    directory until the meeting's personal data is erased."""

    __tablename__ = "badge_print_jobs"
    __table_args__ = (
        CheckConstraint(_in("status", JobStatus), name="status"),
        CheckConstraint("layout IN ('a6', 'a4')", name="layout"),
        CheckConstraint("status <> 'done' OR storage_key IS NOT NULL", name="done_has_file"),
        # The worker's question: the oldest waiting job.
        Index("ix_badge_print_jobs_status_created_at", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    layout: Mapped[str] = mapped_column(String(4))
    # Which badges (onsite.badges.BadgeSelection.as_dict()).
    selection: Mapped[dict] = mapped_column(JSON, default=dict)
    badge_count: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(String(20), default=JobStatus.QUEUED)
    error: Mapped[str] = mapped_column(Text, default="")
    storage_key: Mapped[str | None] = mapped_column(String(40))
    size: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    meeting = relationship("Meeting")
    requested_by = relationship("User")

    @property
    def status_label(self) -> str:
        return str(JOB_STATUS_LABELS.get(self.status, self.status))

    @property
    def is_pending(self) -> bool:
        return self.status in (JobStatus.QUEUED, JobStatus.RUNNING)


class PersonalDataErasure(db.Model):
    """When and by whom a meeting's personal data was erased (erasure.py); the numbers, no names."""

    __tablename__ = "personal_data_erasures"

    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), primary_key=True)
    erased_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    erased_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    registrations: Mapped[int] = mapped_column(default=0)
    names_kept: Mapped[int] = mapped_column(default=0)

    erased_by = relationship("User")
