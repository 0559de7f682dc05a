"""Badge print runs too long for a request, made by a worker: `flask onsite badges [--loop]`.

WeasyPrint takes some 20 ms a badge on one idle core (300 A6 badges: about 6 s, twice that on a
busy server), so a run of more than BADGES_INLINE_LIMIT badges is queued as a `BadgePrintJob` row in
the request's transaction, with the check-in codes already made (the worker only reads them, so two
print runs can never give one person two different codes). The worker takes the oldest waiting job
with a conditional UPDATE (safe with several workers, on PostgreSQL and SQLite alike), renders the
PDF and keeps it in the storage directory; the organizers' badge page shows the job's progress and
then offers the file. A job left running by a worker that was stopped is marked failed after
JOB_TIMEOUT (a run of 2,000 badges takes about a minute), and the organizer asks again."""

import io
import logging
import time
from datetime import timedelta

from sqlalchemy import update
from werkzeug.datastructures import FileStorage

from ..core.models import utcnow
from ..core.storage import PDF, delete_stored, store_upload
from ..extensions import db
from ..meetings.models import Meeting
from . import badges
from .models import BadgePrintJob, JobStatus

log = logging.getLogger("meeting.onsite")
JOB_TIMEOUT = timedelta(minutes=10)
MAX_PDF_BYTES = 1024**3


def queue_job(meeting, selection: badges.BadgeSelection, layout, count, user=None) -> BadgePrintJob:
    job = BadgePrintJob(
        meeting_id=meeting.id,
        requested_by_id=user.id if user is not None else None,
        layout=layout,
        selection=selection.as_dict(),
        badge_count=count,
        status=JobStatus.QUEUED,
    )
    db.session.add(job)
    db.session.flush()
    return job


def jobs_for_meeting(meeting, limit=10) -> list[BadgePrintJob]:
    return db.session.scalars(
        db.select(BadgePrintJob)
        .where(BadgePrintJob.meeting_id == meeting.id)
        .order_by(BadgePrintJob.created_at.desc(), BadgePrintJob.id.desc())
        .limit(limit)
    ).all()


def _give_up_stale(now) -> None:
    db.session.execute(
        update(BadgePrintJob)
        .where(BadgePrintJob.status == JobStatus.RUNNING, BadgePrintJob.started_at < now - JOB_TIMEOUT)
        .values(status=JobStatus.FAILED, finished_at=now, error="The worker stopped while making the badges.")
        .execution_options(synchronize_session=False)
    )


def _claim(now) -> BadgePrintJob | None:
    """The oldest waiting job, now ours; None when there is none (or another worker took it first)."""
    job_id = db.session.scalar(
        db.select(BadgePrintJob.id)
        .where(BadgePrintJob.status == JobStatus.QUEUED)
        .order_by(BadgePrintJob.created_at, BadgePrintJob.id)
        .limit(1)
    )
    if job_id is None:
        return None
    claimed = db.session.execute(
        update(BadgePrintJob)
        .where(BadgePrintJob.id == job_id, BadgePrintJob.status == JobStatus.QUEUED)
        .values(status=JobStatus.RUNNING, started_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return db.session.get(BadgePrintJob, job_id) if claimed == 1 else None


def _store_pdf(pdf: bytes, filename: str):
    return store_upload(FileStorage(io.BytesIO(pdf), filename=filename), PDF, MAX_PDF_BYTES)


def run_job(job) -> None:
    """Render the job's badges and keep the PDF; a failure is recorded on the job."""
    meeting = db.session.get(Meeting, job.meeting_id)
    stored = None
    try:
        registrations = badges.selected_registrations(meeting, badges.BadgeSelection.from_dict(job.selection))
        sheet = badges.badge_sheet(meeting, registrations, job.layout)
        stored = _store_pdf(badges.render_pdf(sheet), badges.pdf_filename(meeting, sheet))
        job.badge_count = len(sheet.badges)
        job.storage_key = stored.key
        job.size = stored.size
        job.status = JobStatus.DONE
        job.finished_at = utcnow()
        db.session.commit()
    except Exception as error:
        db.session.rollback()
        if stored is not None:
            delete_stored(stored.key)
        log.exception("badge print job %s failed", job.id)
        job = db.session.get(BadgePrintJob, job.id)
        job.status = JobStatus.FAILED
        job.error = f"{type(error).__name__}: {error}"[:2000]
        job.finished_at = utcnow()
        db.session.commit()


def run_queued() -> int:
    """Make every waiting job; returns how many were made."""
    done = 0
    while True:
        now = utcnow()
        _give_up_stale(now)
        job = _claim(now)
        if job is None:
            db.session.commit()
            return done
        run_job(job)
        done += 1


def run_worker(interval: float, stop) -> None:
    while not stop():
        if run_queued() == 0:
            time.sleep(interval)
        db.session.remove()
