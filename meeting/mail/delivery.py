"""The delivery worker: sends what the outbox holds, so that nothing is lost and nothing goes twice.

A worker claims a batch of due messages in one short transaction (`FOR UPDATE SKIP LOCKED` on
PostgreSQL, so that workers running at once take different messages; SQLite serialises writers):
each claimed message gets status `sending`, the worker's id and a lease. The batch then goes over
one SMTP connection, and each message is marked sent and committed right after the server accepted
it. A worker that dies mid-batch leaves its unsent messages `sending` with a lease that expires, and
any worker reclaims them then: at most the message in flight is sent again (with the same
Message-ID). An SMTP error is recorded on the message, which is retried later with exponential
back-off and marked failed after MAIL_MAX_ATTEMPTS attempts; a server that is down releases the
whole batch for a later retry. Without MAIL_SERVER nothing is sent (development mode).

Several connections at once. Most of an email's time is waiting: for the server's answers to MAIL,
RCPT and DATA, and for the database's commit of the mark. With a relay 10-50 ms away, that waiting
is what an invitation round to 5,000 organizations is made of, and a worker divides it by keeping
MAIL_DELIVERY_CONNECTIONS connections busy at once (`flask outbox deliver --connections N`): one
thread each, each claiming its own batches with its own database session and worker id
(host:pid:n), exactly as separate workers would. The first connection goes alone until it is open
with a full batch claimed; only then do the others start, so that a server that is down sees one
attempt rather than N, and a few messages do not open N connections. A connection that finds the
server down stops the others after their current batch.

Cheap per email. The email is built by `message.py` (about 0.03 ms, where Flask-Mail's
Message took 1 ms) and sent with smtplib. Its mark is one UPDATE, built and compiled once, on the
batch's own autocommit connection; on PostgreSQL that connection does not wait for each commit to
reach the disk (`SET synchronous_commit = off`, on that connection only, for the batch). The price:
should the database server itself crash, the marks of its last fraction of a second may be lost;
those messages are then `sending` again, and are sent a second time when their lease expires — a
duplicate, never a lost email. A worker that dies loses no mark: the server has each one already."""

import logging
import os
import smtplib
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import and_, bindparam, func, or_, update
from sqlalchemy.engine import Row
from sqlalchemy.exc import SQLAlchemyError

from ..core.models import UTCDateTime, utcnow
from ..extensions import db
from .message import UnsendableMessage, message_builder
from .models import OutboxAttachment, OutboxMessage, OutboxStatus
from .services import Attachment, mail_server_configured

log = logging.getLogger("meeting.mail")

# The connection is gone: every message still to send in the batch is affected, not just this one.
CONNECTION_LOST = (smtplib.SMTPServerDisconnected, ConnectionError, TimeoutError)
# Each connection is a thread that holds a database connection for its marks while it sends, and
# borrows another for a moment to claim: ten leave room in SQLAlchemy's default pool (5 + 10
# overflow), and are more than most relays accept from one client at once.
MAX_CONNECTIONS = 10


def setting(name):
    """A delivery setting (defaults in meeting/config.py)."""
    return current_app.config[name]


def connections_setting() -> int:
    """MAIL_DELIVERY_CONNECTIONS, within 1 and MAX_CONNECTIONS."""
    return max(1, min(int(setting("MAIL_DELIVERY_CONNECTIONS")), MAX_CONNECTIONS))


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
    """What the worker needs of a claimed message, read by the claim itself (so that sending does
    not reload every row): its columns that make the email, and its attachments."""

    id: int
    attempts: int
    message: Row = field(repr=False)
    attachments: list[Attachment] = field(default_factory=list, repr=False)


# The columns a claim reads back (RETURNING): what `MessageBuilder` needs, and the order of sending.
_CLAIMED_COLUMNS = (
    OutboxMessage.id,
    OutboxMessage.attempts,
    OutboxMessage.next_attempt_at,
    OutboxMessage.recipients,
    OutboxMessage.recipient_name,
    OutboxMessage.subject,
    OutboxMessage.body_text,
    OutboxMessage.body_html,
    OutboxMessage.language,
    OutboxMessage.message_id,
)


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


def _lock_due_ids(batch: int, now: datetime) -> list[int]:
    """Up to `batch` due messages, locked, on PostgreSQL: those whose lease has expired first, then
    the queued ones. Two index range scans, each stopping after `batch` rows: the OR of `_due`
    would read and sort every due message at each claim, and an invitation round queues thousands
    at once (with one `next_attempt_at`, so that they are taken in the index's order, not by id)."""
    expired = db.session.scalars(
        db.select(OutboxMessage.id)
        .where(OutboxMessage.status == OutboxStatus.SENDING, OutboxMessage.lease_expires_at <= now)
        .order_by(OutboxMessage.lease_expires_at)
        .limit(batch)
        .with_for_update(skip_locked=True)
    ).all()
    if len(expired) == batch:
        return expired
    return (
        expired
        + db.session.scalars(
            db.select(OutboxMessage.id)
            .where(OutboxMessage.status == OutboxStatus.QUEUED, OutboxMessage.next_attempt_at <= now)
            .order_by(OutboxMessage.next_attempt_at)
            .limit(batch - len(expired))
            .with_for_update(skip_locked=True)
        ).all()
    )


def _claim(batch: int, worker_id: str, now: datetime) -> list[_Envelope]:
    """Take up to `batch` due messages for this worker, in one short transaction."""
    _give_up_abandoned(now)
    if db.session.get_bind().dialect.name == "postgresql":
        # Lock the chosen rows until the claim commits; rows another worker is claiming are skipped,
        # and the lock is taken on rows that are still due. (Not a subquery of the UPDATE: PostgreSQL
        # may run that again and go past the LIMIT.) The UPDATE then finds them by primary key.
        chosen = (OutboxMessage.id.in_(_lock_due_ids(batch, now)),)
    else:
        # SQLite has no row locks: the choice is a subquery of the UPDATE, which runs under the
        # database's write lock, so a second worker waits and then chooses among what is left; the
        # due condition is checked again by the UPDATE itself: a message is claimed by one worker only.
        candidates = (
            db.select(OutboxMessage.id)
            .where(_due(now))
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(batch)
            .correlate(None)
        )
        chosen = (OutboxMessage.id.in_(candidates), _due(now))
    claimed = db.session.execute(
        update(OutboxMessage)
        .where(*chosen)
        .values(
            status=OutboxStatus.SENDING,
            attempts=OutboxMessage.attempts + 1,
            claimed_by=worker_id,
            lease_expires_at=now + timedelta(seconds=setting("MAIL_LEASE_SECONDS")),
            updated_at=now,
        )
        .returning(*_CLAIMED_COLUMNS)
        .execution_options(synchronize_session=False)
    ).all()
    claimed.sort(key=lambda row: (row.next_attempt_at, row.id))
    attachments: dict[int, list[Attachment]] = {}
    if claimed:
        for attachment in db.session.execute(
            db.select(
                OutboxAttachment.message_id,
                OutboxAttachment.filename,
                OutboxAttachment.content_type,
                OutboxAttachment.content,
            )
            .where(OutboxAttachment.message_id.in_([row.id for row in claimed]))
            .order_by(OutboxAttachment.id)
        ):
            attachments.setdefault(attachment.message_id, []).append(
                (attachment.filename, attachment.content_type, attachment.content)
            )
    db.session.commit()
    return [_Envelope(row.id, row.attempts, row, attachments.get(row.id, [])) for row in claimed]


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
    return isinstance(error, UnsendableMessage)


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


# Built once, so that SQLAlchemy compiles it once: it runs for every email.
_MARK_SENT = (
    update(OutboxMessage)
    .where(
        OutboxMessage.id == bindparam("outbox_id"),
        OutboxMessage.status == OutboxStatus.SENDING,
        OutboxMessage.claimed_by == bindparam("worker_id"),
    )
    .values(
        status=OutboxStatus.SENT,
        sent_at=bindparam("now", type_=UTCDateTime()),
        lease_expires_at=None,
        last_error=None,
        updated_at=bindparam("now", type_=UTCDateTime()),
    )
)


def _mark_sent(marks, envelope, worker_id, now, report) -> None:
    """Record that the server accepted the message, at once and for good: one autocommitted UPDATE on
    `marks`, the batch's own connection (see `_open_marks`)."""
    result = marks.execute(_MARK_SENT, {"outbox_id": envelope.id, "worker_id": worker_id, "now": now})
    report.sent += 1
    if result.rowcount != 1:
        log.warning("email %s was sent after its claim by %s had expired", envelope.id, worker_id)


def _open_marks():
    """The batch's connection for its marks, in autocommit mode: one round trip to the database per
    message, where a session's commit costs four (the pool's ping at checkout, BEGIN, UPDATE,
    COMMIT). On PostgreSQL its commits do not wait for the disk (see the module's docstring)."""
    marks = db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    if marks.dialect.name == "postgresql":
        marks.exec_driver_sql("SET synchronous_commit TO off")
    return marks


def _close_marks(marks) -> None:
    try:
        if marks.dialect.name == "postgresql":
            marks.exec_driver_sql("RESET synchronous_commit")  # before it goes back to the pool
    except SQLAlchemyError:
        marks.invalidate()  # not back to the pool with the setting of the batch
    finally:
        marks.close()


def _open_smtp() -> smtplib.SMTP | None:
    """One SMTP session for the batch, with Flask-Mail's settings (MAIL_SERVER, MAIL_PORT,
    MAIL_USE_SSL, MAIL_USE_TLS, MAIL_USERNAME, MAIL_PASSWORD), and none under MAIL_SUPPRESS_SEND (on
    by default when testing): the messages are then built and marked sent, not sent. Raises OSError
    (smtplib's errors are OSErrors) when the server cannot be reached, or refuses TLS or the login."""
    config = current_app.config
    if config.get("MAIL_SUPPRESS_SEND", current_app.testing):
        return None
    session_class = smtplib.SMTP_SSL if config.get("MAIL_USE_SSL") else smtplib.SMTP
    smtp = session_class(config["MAIL_SERVER"], config.get("MAIL_PORT", 25), timeout=setting("MAIL_TIMEOUT"))
    try:
        if config.get("MAIL_USE_TLS"):
            smtp.starttls()
        if config.get("MAIL_USERNAME") and config.get("MAIL_PASSWORD"):
            smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
        smtp.ehlo_or_helo_if_needed()
    except BaseException:
        smtp.close()
        raise
    return smtp


def _close_smtp(smtp) -> None:
    if smtp is not None:
        try:
            smtp.quit()
        except OSError:  # the server dropped the session already
            smtp.close()


def _send_batch(envelopes, builder, worker_id, clock, report, stop, connected) -> None:
    # Stop taking new messages well before the lease ends, so no other worker reclaims one we send.
    deadline = time.monotonic() + setting("MAIL_LEASE_SECONDS") / 2
    try:
        smtp = _open_smtp()
    except OSError as error:  # refused, unreachable, TLS or login failure: the server is down for us
        report.server_down = True
        for envelope in envelopes:
            _record_failure(envelope, error, worker_id, clock(), report)
        db.session.commit()
        return
    if connected is not None:
        connected(len(envelopes))
    # The bodies are 8bit UTF-8 (see message.py), which a server that offers 8BITMIME is told.
    options = ["BODY=8BITMIME"] if smtp is not None and smtp.has_extn("8bitmime") else []
    marks = _open_marks()
    try:
        for index, envelope in enumerate(envelopes):
            if time.monotonic() > deadline or (stop is not None and stop.is_set()):
                _release(envelopes[index:], worker_id, clock(), report)
                break
            try:
                data = builder.build(envelope.message, envelope.attachments)
                if smtp is not None:
                    smtp.sendmail(builder.envelope_from, builder.recipients(envelope.message), data, options)
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
        _close_marks(marks)
        _close_smtp(smtp)


def deliver(
    batch: int = 50, worker_id: str | None = None, now: datetime | None = None, stop=None, connected=None
) -> DeliveryReport:
    """Claim up to `batch` due messages and send them over one SMTP connection.

    `now` fixes the clock (tests use it to move time forward); by default it is the real time.
    When the `stop` event is set mid-batch, the messages not yet sent go back to the queue.
    `connected`, when given, is called with the number of messages claimed once the SMTP session
    is open."""
    clock: Callable[[], datetime] = (lambda: now) if now is not None else utcnow
    if not mail_server_configured():
        report = DeliveryReport(left=pending_count(), dev_mode=True)
        db.session.commit()
        log.info("MAIL_SERVER is not set: %s emails stay in the outbox, none is sent", report.left)
        return report
    worker_id = worker_id or default_worker_id()
    builder = message_builder(setting("MAIL_DEFAULT_SENDER"))  # a sender that cannot be used fails here
    envelopes = _claim(batch, worker_id, clock())
    report = DeliveryReport(claimed=len(envelopes))
    if envelopes:
        try:
            _send_batch(envelopes, builder, worker_id, clock, report, stop, connected)
        finally:
            db.session.rollback()  # after an unexpected error, the claims stay and their lease expires
    report.left = pending_count()
    db.session.commit()  # end the read transaction: an idle worker holds no snapshot
    if report.claimed:
        log.info("outbox: %s", report.summary())
    return report


class _Round:
    """One `deliver_due`: what its connections share. Each connection delivers batch after batch
    until nothing is due; a server that is down (or an error) stops them all after their batch."""

    def __init__(self, batch, stop, progress):
        self.batch, self.stop, self.progress = batch, stop, progress
        self.total = DeliveryReport()
        self.lock = threading.Lock()
        self.halted = threading.Event()
        self.first_connected = threading.Event()  # or the first connection has finished
        self.more_than_a_batch = False
        self.errors: list[BaseException] = []

    def going(self) -> bool:
        return not self.halted.is_set() and (self.stop is None or not self.stop.is_set())

    def deliver_batches(self, worker_id, connected=None) -> None:
        while self.going():
            report = deliver(batch=self.batch, worker_id=worker_id, stop=self.stop, connected=connected)
            with self.lock:
                self.total.merge(report)
                if self.progress is not None and report.claimed:
                    self.progress(report)
            if report.dev_mode or report.server_down:
                self.halted.set()
            if report.dev_mode or report.server_down or report.claimed < self.batch:
                break

    def _first_session_open(self, claimed) -> None:
        if not self.first_connected.is_set():
            self.more_than_a_batch = claimed == self.batch
            self.first_connected.set()

    def start(self, app, worker_id, *, first=False) -> threading.Thread:
        def run():
            try:
                with app.app_context():
                    self.deliver_batches(worker_id, connected=self._first_session_open if first else None)
            except BaseException as error:  # handed to the caller of deliver_due
                self.halted.set()
                self.errors.append(error)
            finally:
                self.first_connected.set()

        thread = threading.Thread(target=run, name=f"outbox delivery {worker_id}")
        thread.start()
        return thread


def deliver_due(
    *, batch: int = 50, connections: int | None = None, worker_id=None, stop=None, progress=None
) -> DeliveryReport:
    """Deliver batch after batch until nothing is due, the server is down or `stop` is set, over
    up to `connections` SMTP connections at once (by default MAIL_DELIVERY_CONNECTIONS; see the
    module's docstring). `progress` is called with the report of each batch, one at a time."""
    connections = connections or connections_setting()
    worker_id = worker_id or default_worker_id()
    delivery = _Round(batch, stop, progress)
    if connections <= 1:
        delivery.deliver_batches(worker_id)
        return delivery.total
    app = current_app._get_current_object()
    threads = [delivery.start(app, f"{worker_id}:1", first=True)]
    delivery.first_connected.wait()
    if delivery.more_than_a_batch and delivery.going():
        threads += [delivery.start(app, f"{worker_id}:{n}") for n in range(2, connections + 1)]
    for thread in threads:
        thread.join()
    if delivery.errors:
        raise delivery.errors[0]
    return delivery.total


def run_worker(
    *, batch: int, interval: float, stop, connections: int | None = None, worker_id=None, progress=None, idle=None
) -> None:
    """Keep delivering until `stop` is set; sleep `interval` seconds whenever nothing is due. A
    database that is briefly unreachable is waited for, not fatal."""
    while not stop.is_set():
        try:
            total = deliver_due(batch=batch, connections=connections, worker_id=worker_id, stop=stop, progress=progress)
        except SQLAlchemyError:
            log.exception("outbox delivery interrupted by a database error; retrying in %s s", interval)
            db.session.rollback()
        else:
            if idle is not None and not total.claimed:
                idle(total)
        finally:
            db.session.remove()
        stop.wait(interval)
