"""The delivery worker: sends what the outbox holds, so that nothing is lost and nothing goes twice.

A worker claims a batch of due messages in one short transaction (`FOR UPDATE SKIP LOCKED` on
PostgreSQL, so that workers running at once take different messages; SQLite serialises writers):
each claimed message gets status `sending`, the worker's id and a lease. The batch then goes over
one SMTP connection, and each message is marked sent and committed right after the server accepted
it. A worker that dies mid-batch leaves its unsent messages `sending` with a lease that expires, and
any worker reclaims them then: at most the message in flight is sent again (with the same
Message-ID). An SMTP error is recorded on the message, which is retried later with exponential
back-off and marked failed after MAIL_MAX_ATTEMPTS attempts; a server that is down releases the
whole batch for a later retry. Without MAIL_SERVER nothing is sent (development mode)."""

import logging
import os
import smtplib
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from flask_mail import BadHeaderError, Message
from sqlalchemy import and_, func, or_, update
from sqlalchemy.exc import SQLAlchemyError

from ..core.models import utcnow
from ..extensions import db, mail
from .models import OutboxAttachment, OutboxMessage, OutboxStatus
from .services import mail_server_configured

log = logging.getLogger("meeting.mail")

# The connection is gone: every message still to send in the batch is affected, not just this one.
CONNECTION_LOST = (smtplib.SMTPServerDisconnected, ConnectionError, TimeoutError)


def setting(name):
    """A delivery setting (defaults in meeting/config.py)."""
    return current_app.config[name]


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class DeliveryReport:
    claimed: int = 0
    sent: int = 0
    retrying: int = 0  # failed this time, will be retried later
    failed: int = 0  # failed for good
    released: int = 0  # claimed but not attempted, back in the queue
    left: int = 0  # still queued or being sent, in the whole outbox
    dev_mode: bool = False
    server_down: bool = False

    def merge(self, other: "DeliveryReport") -> None:
        for name in ("claimed", "sent", "retrying", "failed", "released"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.left = other.left
        self.dev_mode = other.dev_mode
        self.server_down = self.server_down or other.server_down

    def summary(self) -> str:
        return f"sent {self.sent}, failed {self.failed}, to retry later {self.retrying}, left in the outbox {self.left}"


@dataclass
class _Envelope:
    """What the worker needs of a claimed message, read before the claim commits (so that sending
    does not reload every row)."""

    id: int
    attempts: int
    message: Message = field(repr=False)


def pending_count() -> int:
    return db.session.scalar(
        db.select(func.count(OutboxMessage.id)).where(
            OutboxMessage.status.in_([OutboxStatus.QUEUED, OutboxStatus.SENDING])
        )
    )


def _due(now):
    return or_(
        and_(OutboxMessage.status == OutboxStatus.QUEUED, OutboxMessage.next_attempt_at <= now),
        and_(OutboxMessage.status == OutboxStatus.SENDING, OutboxMessage.lease_expires_at <= now),
    )


def _give_up_abandoned(now) -> None:
    """A message whose worker died while holding it, attempt after attempt, is failed rather than
    reclaimed forever (it may be what kills the worker)."""
    db.session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.status == OutboxStatus.SENDING,
            OutboxMessage.lease_expires_at <= now,
            OutboxMessage.attempts >= setting("MAIL_MAX_ATTEMPTS"),
        )
        .values(
            status=OutboxStatus.FAILED,
            last_error="Delivery was interrupted (the worker stopped) on the last attempt; "
            "the email may not have been sent.",
            lease_expires_at=None,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )


def _envelope(message: OutboxMessage, attachments: list[OutboxAttachment]) -> _Envelope:
    name = message.recipient_name
    mail_message = Message(
        subject=message.subject,
        recipients=[(name, address) if name else address for address in message.recipient_list],
        body=message.body_text,
        html=message.body_html or None,
        extra_headers={"Content-Language": message.language, "Auto-Submitted": "auto-generated"},
    )
    mail_message.msgId = message.message_id
    for attachment in attachments:
        mail_message.attach(attachment.filename, attachment.content_type, attachment.content)
    return _Envelope(id=message.id, attempts=message.attempts, message=mail_message)


def _claim(batch: int, worker_id: str, now: datetime) -> list[_Envelope]:
    """Take up to `batch` due messages for this worker, in one short transaction."""
    _give_up_abandoned(now)
    candidates = (
        db.select(OutboxMessage.id)
        .where(_due(now))
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(batch)
        .correlate(None)
    )
    if db.session.get_bind().dialect.name == "postgresql":
        # Lock the chosen rows until the claim commits; rows another worker is claiming are skipped.
        # (Not a subquery of the UPDATE: PostgreSQL may run that again and go past the LIMIT.)
        chosen = OutboxMessage.id.in_(db.session.scalars(candidates.with_for_update(skip_locked=True)).all())
    else:
        # SQLite has no row locks: the choice is a subquery of the UPDATE, which runs under the
        # database's write lock, so a second worker waits and then chooses among what is left.
        chosen = OutboxMessage.id.in_(candidates)
    # The due condition is checked again by the UPDATE itself: a message is claimed by one worker only.
    claimed_ids = db.session.scalars(
        update(OutboxMessage)
        .where(chosen, _due(now))
        .values(
            status=OutboxStatus.SENDING,
            attempts=OutboxMessage.attempts + 1,
            claimed_by=worker_id,
            lease_expires_at=now + timedelta(seconds=setting("MAIL_LEASE_SECONDS")),
            updated_at=now,
        )
        .returning(OutboxMessage.id)
        .execution_options(synchronize_session=False)
    ).all()
    envelopes = []
    if claimed_ids:
        messages = db.session.scalars(
            db.select(OutboxMessage)
            .where(OutboxMessage.id.in_(claimed_ids))
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .execution_options(populate_existing=True)
        ).all()
        attachments: dict[int, list[OutboxAttachment]] = {}
        for attachment in db.session.scalars(
            db.select(OutboxAttachment)
            .where(OutboxAttachment.message_id.in_(claimed_ids))
            .order_by(OutboxAttachment.id)
        ):
            attachments.setdefault(attachment.message_id, []).append(attachment)
        envelopes = [_envelope(message, attachments.get(message.id, [])) for message in messages]
    db.session.commit()
    return envelopes


def _describe(error: Exception) -> str:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return "Recipients refused: " + "; ".join(
            f"{address}: {code} {_text(reply)}" for address, (code, reply) in error.recipients.items()
        )
    if isinstance(error, smtplib.SMTPResponseException):
        return f"SMTP {error.smtp_code} {_text(error.smtp_error)}"
    return f"{type(error).__name__}: {error}"


def _text(reply) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def _is_permanent(error: Exception) -> bool:
    """Retrying cannot help: every recipient was refused for good (5xx), or the message is malformed."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in error.recipients.values())
    return isinstance(error, BadHeaderError)


def _backoff(attempts: int) -> timedelta:
    seconds = setting("MAIL_RETRY_BASE_SECONDS") * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=min(seconds, setting("MAIL_RETRY_MAX_SECONDS")))


def _still_ours(envelope_ids, worker_id):
    return (
        OutboxMessage.id.in_(envelope_ids),
        OutboxMessage.status == OutboxStatus.SENDING,
        OutboxMessage.claimed_by == worker_id,
    )


def _record_failure(envelope, error, worker_id, now, report) -> None:
    give_up = _is_permanent(error) or envelope.attempts >= setting("MAIL_MAX_ATTEMPTS")
    values = {"last_error": _describe(error)[:2000], "lease_expires_at": None, "updated_at": now}
    if give_up:
        values["status"] = OutboxStatus.FAILED
        report.failed += 1
    else:
        values.update(status=OutboxStatus.QUEUED, next_attempt_at=now + _backoff(envelope.attempts))
        report.retrying += 1
    db.session.execute(
        update(OutboxMessage)
        .where(*_still_ours([envelope.id], worker_id))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    log.warning("email %s not sent (attempt %s): %s", envelope.id, envelope.attempts, values["last_error"])


def _release(envelopes, worker_id, now, report) -> None:
    """Claimed but not attempted (the lease is running out, or the worker is stopping): back in the
    queue, the attempt not counted."""
    db.session.execute(
        update(OutboxMessage)
        .where(*_still_ours([e.id for e in envelopes], worker_id))
        .values(
            status=OutboxStatus.QUEUED,
            attempts=OutboxMessage.attempts - 1,
            lease_expires_at=None,
            claimed_by=None,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    report.released += len(envelopes)


def _mark_sent(marks, envelope, worker_id, now, report) -> None:
    """Record that the server accepted the message, at once and for good: one autocommitted UPDATE on
    `marks`, the batch's own connection (see `_send_batch`)."""
    result = marks.execute(
        update(OutboxMessage)
        .where(*_still_ours([envelope.id], worker_id))
        .values(status=OutboxStatus.SENT, sent_at=now, lease_expires_at=None, last_error=None, updated_at=now)
    )
    report.sent += 1
    if result.rowcount != 1:
        log.warning("email %s was sent after its claim by %s had expired", envelope.id, worker_id)


def _open_smtp():
    """One SMTP session for the batch (none under MAIL_SUPPRESS_SEND); raises OSError when the server
    cannot be reached. Flask-Mail opens the session in `Connection.__enter__`."""
    connection = mail.connect()
    connection.__enter__()
    if connection.host is not None:
        connection.host.timeout = setting("MAIL_TIMEOUT")
        connection.host.sock.settimeout(setting("MAIL_TIMEOUT"))
    return connection


def _close_smtp(connection) -> None:
    # Not Flask-Mail's `__exit__`: QUIT on a session the server already dropped would raise.
    if connection.host is not None:
        try:
            connection.host.quit()
        except OSError:
            connection.host.close()


def _send_batch(envelopes, worker_id, clock, report, stop) -> None:
    # Stop taking new messages well before the lease ends, so no other worker reclaims one we send.
    deadline = time.monotonic() + setting("MAIL_LEASE_SECONDS") / 2
    try:
        connection = _open_smtp()
    except OSError as error:  # refused, unreachable, TLS or login failure: the server is down for us
        report.server_down = True
        for envelope in envelopes:
            _record_failure(envelope, error, worker_id, clock(), report)
        db.session.commit()
        return
    # Each message is marked sent in a transaction of its own as soon as the server has accepted it, on a
    # connection kept for the batch in autocommit mode: one round trip to the database per message,
    # where a session's commit costs four (the pool's ping at checkout, BEGIN, UPDATE, COMMIT).
    marks = db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    try:
        for index, envelope in enumerate(envelopes):
            if time.monotonic() > deadline or (stop is not None and stop.is_set()):
                _release(envelopes[index:], worker_id, clock(), report)
                break
            try:
                connection.send(envelope.message)
            except CONNECTION_LOST as error:
                report.server_down = True
                for lost in envelopes[index:]:
                    _record_failure(lost, error, worker_id, clock(), report)
                db.session.commit()
                break
            except Exception as error:  # this message only: a refused recipient, a rejected body...
                _record_failure(envelope, error, worker_id, clock(), report)
                db.session.commit()
                continue
            _mark_sent(marks, envelope, worker_id, clock(), report)
    finally:
        marks.close()
        _close_smtp(connection)


def deliver(batch: int = 50, worker_id: str | None = None, now: datetime | None = None, stop=None) -> DeliveryReport:
    """Claim up to `batch` due messages and send them over one SMTP connection.

    `now` fixes the clock (tests use it to move time forward); by default it is the real time.
    When the `stop` event is set mid-batch, the messages not yet sent go back to the queue."""
    clock: Callable[[], datetime] = (lambda: now) if now is not None else utcnow
    if not mail_server_configured():
        report = DeliveryReport(left=pending_count(), dev_mode=True)
        db.session.commit()
        log.info("MAIL_SERVER is not set: %s emails stay in the outbox, none is sent", report.left)
        return report
    worker_id = worker_id or default_worker_id()
    envelopes = _claim(batch, worker_id, clock())
    report = DeliveryReport(claimed=len(envelopes))
    if envelopes:
        try:
            _send_batch(envelopes, worker_id, clock, report, stop)
        finally:
            db.session.rollback()  # after an unexpected error, the claims stay and their lease expires
    report.left = pending_count()
    db.session.commit()  # end the read transaction: an idle worker holds no snapshot
    if report.claimed:
        log.info("outbox: %s", report.summary())
    return report


def deliver_due(*, batch: int = 50, worker_id=None, stop=None, progress=None) -> DeliveryReport:
    """Deliver batch after batch until nothing is due, the server is down or `stop` is set."""
    total = DeliveryReport()
    while stop is None or not stop.is_set():
        report = deliver(batch=batch, worker_id=worker_id, stop=stop)
        total.merge(report)
        if progress is not None and report.claimed:
            progress(report)
        if report.dev_mode or report.server_down or report.claimed < batch:
            break
    return total


def run_worker(*, batch: int, interval: float, stop, worker_id=None, progress=None, idle=None) -> None:
    """Keep delivering until `stop` is set; sleep `interval` seconds whenever nothing is due. A
    database that is briefly unreachable is waited for, not fatal."""
    while not stop.is_set():
        try:
            total = deliver_due(batch=batch, worker_id=worker_id, stop=stop, progress=progress)
        except SQLAlchemyError:
            log.exception("outbox delivery interrupted by a database error; retrying in %s s", interval)
            db.session.rollback()
        else:
            if idle is not None and not total.claimed:
                idle(total)
        finally:
            db.session.remove()
        stop.wait(interval)
