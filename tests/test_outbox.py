"""The email outbox: queueing in the caller's transaction, delivery to a real SMTP server (aiosmtpd on
127.0.0.1) with retries, leases and parallel workers, and the organizers' outbox pages."""

import asyncio
import email
import email.policy
import os
import re
import signal
import smtplib
import socket
import threading
import time
import unicodedata
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from babel.dates import format_date
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError

from meeting import create_app
from meeting.core.audit import AuditEntry
from meeting.core.errors import DomainError
from meeting.core.models import utcnow
from meeting.extensions import db
from meeting.mail import services as mail_services
from meeting.mail.delivery import deliver, deliver_due
from meeting.mail.models import OutboxMessage
from meeting.mail.services import external_url, queue_email
from meeting.meetings.models import Meeting

from . import factories
from .conftest import make_config

# --- A real SMTP server -------------------------------------------------------------------------


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list
    message: email.message.EmailMessage
    mail_options: list


class CollectingHandler:
    """Keeps every message the server accepts; refuses the recipients in `refused` with a 550.
    It can take `delay` seconds over each message, and drop the connection instead of accepting
    once it has accepted `fail_after` messages (the server "goes down"). `most_at_once` is the
    largest number of messages it was receiving at the same time."""

    def __init__(self, refused=(), delay=0.0, fail_after=None):
        self.received = []
        self.refused = set(refused)
        self.delay, self.fail_after = delay, fail_after
        self.receiving = self.most_at_once = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refused:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.receiving += 1
        self.most_at_once = max(self.most_at_once, self.receiving)
        try:
            await asyncio.sleep(self.delay)
            if self.fail_after is not None and len(self.received) >= self.fail_after:
                server.transport.close()
                return "421 4.3.0 Going down"
            message = email.message_from_bytes(envelope.content, policy=email.policy.default)
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message, envelope.mail_options))
            return "250 Message accepted for delivery"
        finally:
            self.receiving -= 1


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class SmtpServer:
    """An aiosmtpd server on a fixed local port, which a test can start late (the server "comes back")."""

    def __init__(self, refused=(), **behaviour):
        self.port = free_port()
        self.handler = CollectingHandler(refused, **behaviour)
        self.controller = None

    @property
    def received(self):
        return self.handler.received

    def start(self):
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp_server():
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def stopped_smtp_server():
    server = SmtpServer()
    yield server
    server.stop()


@pytest.fixture
def make_mail_app(app, database_url, tmp_path):
    """An app that sends to a local SMTP port. It shares the test database of `app`, whose teardown
    empties the tables. SQLite gets a long busy timeout: parallel workers wait for the write lock."""
    created = []

    def make(port, **overrides):
        engine_options = {"pool_pre_ping": True}
        if database_url.startswith("sqlite"):
            engine_options["connect_args"] = {"timeout": 30}
        settings = {
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": port,
            "MAIL_SUPPRESS_SEND": False,
            "MAIL_DEFAULT_SENDER": "Meeting Secretariat <meetings@meeting.test>",
            "SQLALCHEMY_ENGINE_OPTIONS": engine_options,
        }
        config = make_config(database_url, tmp_path, **(settings | overrides))
        mail_app = create_app(config)
        created.append(mail_app)
        return mail_app

    yield make
    for mail_app in created:
        with mail_app.app_context():
            db.session.remove()
            db.engine.dispose()


def queue_test_messages(app, count):
    """`count` test messages to delegate0@, delegate1@…, queued and committed."""
    with app.app_context():
        for n in range(count):
            queue_test_message(n)
        db.session.commit()


def queue_test_message(n=1, *, to=None, language="en", meeting=None, **fields):
    return queue_email(
        "test_message",
        to=f"delegate{n}@example.org" if to is None else to,
        language=language,
        subject=fields.pop("subject", f"Test message {n}"),
        context={"queued_at": utcnow()},
        meeting=meeting,
        cause="test",
        **fields,
    )


def outbox_rows():
    return db.session.scalars(db.select(OutboxMessage).order_by(OutboxMessage.id)).all()


# --- Queueing -----------------------------------------------------------------------------------


def test_queued_email_arrives_over_smtp_in_the_recipients_language_with_its_message_id(make_mail_app, smtp_server):
    app = make_mail_app(smtp_server.port)
    with app.app_context():
        meeting = factories.make_meeting()
        queued = queue_email(
            "test_message",
            to=["mission.france@example.org", "geneve.fra@example.org"],
            recipient_name="Mission permanente de la France",
            language="fr",
            subject="Réunion informelle sur les interprétations audiovisuelles",
            context={"queued_at": utcnow()},
            meeting=meeting,
            cause="test",
        )
        db.session.commit()
        message_id = queued.id

        report = deliver(batch=10, worker_id="worker-1")

        assert (report.claimed, report.sent, report.failed, report.left) == (1, 1, 0, 0)
        row = db.session.get(OutboxMessage, message_id)
        assert row.status == "sent"
        assert row.sent_at is not None and row.attempts == 1 and row.claimed_by == "worker-1"
        assert row.lease_expires_at is None and row.last_error is None
        expected_date = format_date(row.created_at.date(), "long", locale="fr")

    [received] = smtp_server.received
    assert received.mail_from == "meetings@meeting.test"
    assert "BODY=8BITMIME" in received.mail_options  # the bodies are UTF-8, and the server takes 8 bits
    assert sorted(received.rcpt_tos) == ["geneve.fra@example.org", "mission.france@example.org"]
    mail = received.message
    assert mail["Subject"] == "Réunion informelle sur les interprétations audiovisuelles"
    assert mail["Message-ID"] == row.message_id
    assert row.message_id.endswith("@meeting.test>")
    assert mail["Content-Language"] == "fr"
    assert "Mission permanente de la France <mission.france@example.org>" in str(mail["To"])
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert expected_date in text and expected_date in html  # e.g. "29 novembre 2026"
    assert "http://meeting.test/manage/outbox/" in text
    assert 'href="http://meeting.test/manage/outbox/"' in html
    assert '<html lang="fr">' in html


def test_a_transaction_that_queues_an_email_and_then_fails_leaves_no_email(app):
    with app.app_context():
        factories.make_meeting(slug="avp-informal")
        db.session.commit()

        queue_test_message()
        with pytest.raises(IntegrityError):
            factories.make_meeting(slug="avp-informal")  # the action fails after queueing its email
        db.session.rollback()

        assert outbox_rows() == []


def test_a_committed_email_is_in_the_outbox_rendered_in_text_and_html(app):
    with app.app_context():
        queue_test_message(to="delegate@example.org", recipient_name="Ms. Delegate", language="es")
        db.session.commit()
        [row] = outbox_rows()
        assert row.status == "queued" and row.attempts == 0
        assert row.recipient_list == ["delegate@example.org"] and row.recipient_name == "Ms. Delegate"
        assert row.language == "es" and row.cause == "test"
        assert "http://meeting.test/manage/outbox/" in row.body_text
        assert row.body_html.startswith("<!doctype html>") and '<html lang="es">' in row.body_html
        assert format_date(row.created_at.date(), "long", locale="es") in row.body_text


def test_subject_is_translated_in_the_recipients_language_when_given_as_a_callable(app):
    from flask_babel import get_locale

    with app.app_context():
        queue_test_message(language="fr", subject=lambda: f"Sujet ({get_locale()})")
        db.session.flush()
        assert outbox_rows()[0].subject == "Sujet (fr)"


@pytest.mark.parametrize(
    "field, value",
    [
        ("recipient_name", "Permanent Mission\r\nBcc: spy@example.org"),
        ("recipient_name", "Permanent Mission\u2028Bcc: spy@example.org"),
        ("subject", "Invitation\nBcc: spy@example.org"),
        ("subject", lambda: "Invitation\r\nBcc: spy@example.org"),
        ("to", "mission@example.org\r\nBcc: spy@example.org"),
        ("to", ["mission@example.org", "other@example.org\nBcc: spy@example.org"]),
    ],
)
def test_a_line_break_in_the_name_subject_or_address_is_refused_and_nothing_is_queued(app, field, value):
    fields = {"to": "mission@example.org", "recipient_name": "Permanent Mission", "subject": "Invitation"}
    fields[field] = value
    with app.app_context():
        with pytest.raises(DomainError) as refused:
            queue_email(
                "test_message",
                language="en",
                context={"queued_at": utcnow()},
                cause="test",
                **fields,
            )
        assert "line break" in refused.value.message
        assert field in refused.value.fields
        db.session.commit()
        assert outbox_rows() == []


def test_a_line_break_is_every_character_of_the_categories_a_mail_library_may_end_a_line_at():
    # The check is one search of a character class; it must find exactly the characters of
    # Unicode's control (Cc), line separator (Zl) and paragraph separator (Zp) categories.
    breaking = {chr(code) for code in range(0x110000) if unicodedata.category(chr(code)) in ("Cc", "Zl", "Zp")}
    assert {"\r", "\n", "\x0b", "\x0c", "\x85", "\u2028", "\u2029"} <= breaking
    for code in range(0x110000):
        character = chr(code)
        assert mail_services._has_line_break(f"Mission{character}France") is (character in breaking), hex(code)
    assert not mail_services._has_line_break("Mission permanente de la Côte d’Ivoire")


@pytest.mark.parametrize("address", ["", "not-an-address", "two@at@example.org", "Name <x@example.org>"])
def test_an_invalid_address_is_refused(app, address):
    with app.app_context():
        with pytest.raises(DomainError):
            queue_test_message(to=address)
        db.session.commit()
        assert outbox_rows() == []


def test_an_overlong_subject_or_name_is_shortened_to_fit(app):
    with app.app_context():
        queue_test_message(subject="Invitation " + "x" * 600, recipient_name="Mission " + "y" * 400)
        db.session.commit()
        [row] = outbox_rows()
        assert len(row.subject) == 500 and row.subject.endswith("…")
        assert len(row.recipient_name) == 300 and row.recipient_name.endswith("…")


def test_links_in_emails_use_base_url_outside_a_request(app):
    with app.app_context():
        assert external_url("mail_manage.message", message_id=7) == "http://meeting.test/manage/outbox/7"
        app.config["BASE_URL"] = "https://example.org/meetings/"
        assert external_url("mail_manage.outbox", status="failed") == (
            "https://example.org/meetings/manage/outbox/?status=failed"
        )


def test_without_base_url_links_follow_the_request_and_the_worker_is_told_to_set_it(app):
    app.config["BASE_URL"] = None
    with app.test_request_context("/", base_url="https://meet.example.org"):
        assert external_url("mail_manage.outbox") == "https://meet.example.org/manage/outbox/"
    with app.app_context(), pytest.raises(RuntimeError, match="MEETING_BASE_URL"):
        external_url("mail_manage.outbox")


# --- Delivery -----------------------------------------------------------------------------------


def test_smtp_server_down_loses_nothing_and_each_email_arrives_once_when_it_is_back(make_mail_app, stopped_smtp_server):
    app = make_mail_app(stopped_smtp_server.port)
    with app.app_context():
        for n in range(3):
            queue_test_message(n)
        db.session.commit()
        before = utcnow()

        report = deliver(batch=10, worker_id="worker-1")

        assert (report.sent, report.retrying, report.failed, report.left) == (0, 3, 0, 3)
        assert report.server_down
        for row in outbox_rows():
            assert row.status == "queued" and row.attempts == 1
            assert "Connection refused" in row.last_error
            assert row.next_attempt_at >= before + timedelta(seconds=60)
        assert deliver(batch=10).claimed == 0  # nothing is due before the back-off ends

        stopped_smtp_server.start()
        later = utcnow() + timedelta(minutes=2)
        report = deliver(batch=10, worker_id="worker-1", now=later)

        assert (report.sent, report.left) == (3, 0)
        assert deliver(batch=10, now=later + timedelta(days=1)).claimed == 0
        rows = outbox_rows()
        assert {row.status for row in rows} == {"sent"} and {row.attempts for row in rows} == {2}
        message_ids = {row.message_id for row in rows}

    received = Counter(received.message["Message-ID"] for received in stopped_smtp_server.received)
    assert set(received) == message_ids and set(received.values()) == {1}


def test_retries_back_off_exponentially_and_fail_after_the_maximum_number_of_attempts(
    make_mail_app, stopped_smtp_server
):
    app = make_mail_app(stopped_smtp_server.port, MAIL_MAX_ATTEMPTS=3, MAIL_RETRY_BASE_SECONDS=60)
    with app.app_context():
        queue_test_message()
        db.session.commit()
        now = utcnow()
        delays = []
        for _ in range(2):
            report = deliver(now=now)
            assert report.retrying == 1
            [row] = outbox_rows()
            delays.append(row.next_attempt_at - now)
            now = row.next_attempt_at
        report = deliver(now=now)

        assert delays == [timedelta(seconds=60), timedelta(seconds=120)]
        assert (report.failed, report.left) == (1, 0)
        [row] = outbox_rows()
        assert row.status == "failed" and row.attempts == 3 and "Connection refused" in row.last_error
        assert deliver(now=now + timedelta(days=30)).claimed == 0


def test_a_recipient_refused_for_good_fails_at_once_and_the_rest_of_the_batch_is_sent(make_mail_app):
    server = SmtpServer(refused={"nobody@example.org"}).start()
    try:
        app = make_mail_app(server.port)
        with app.app_context():
            queue_test_message(1, to="nobody@example.org")
            queue_test_message(2, to="delegate@example.org")
            db.session.commit()

            report = deliver(batch=10)

            assert (report.sent, report.failed, report.retrying) == (1, 1, 0)
            refused, sent = outbox_rows()
            assert refused.status == "failed" and refused.attempts == 1
            assert "550" in refused.last_error and "nobody@example.org" in refused.last_error
            assert sent.status == "sent"
        assert [received.rcpt_tos for received in server.received] == [["delegate@example.org"]]
    finally:
        server.stop()


def test_an_expired_lease_is_reclaimed_and_sent_once_and_a_live_one_is_left_alone(make_mail_app, smtp_server):
    app = make_mail_app(smtp_server.port)
    with app.app_context():
        abandoned, held = queue_test_message(1), queue_test_message(2)
        db.session.flush()
        now = utcnow()
        abandoned.status, abandoned.claimed_by, abandoned.attempts = "sending", "dead-worker", 1
        abandoned.lease_expires_at = now - timedelta(seconds=1)
        held.status, held.claimed_by, held.attempts = "sending", "live-worker", 1
        held.lease_expires_at = now + timedelta(minutes=5)
        db.session.commit()
        abandoned_id, held_id, abandoned_message_id = abandoned.id, held.id, abandoned.message_id

        report = deliver(batch=10, worker_id="rescuer")
        assert (report.claimed, report.sent, report.left) == (1, 1, 1)
        assert deliver(batch=10, worker_id="rescuer").claimed == 0

        abandoned, held = db.session.get(OutboxMessage, abandoned_id), db.session.get(OutboxMessage, held_id)
        assert (abandoned.status, abandoned.claimed_by, abandoned.attempts) == ("sent", "rescuer", 2)
        assert (held.status, held.claimed_by) == ("sending", "live-worker")

    assert [received.message["Message-ID"] for received in smtp_server.received] == [abandoned_message_id]


def test_a_worker_dying_mid_batch_loses_nothing_and_sends_nothing_twice(make_mail_app, smtp_server, monkeypatch):
    app = make_mail_app(smtp_server.port, MAIL_LEASE_SECONDS=300)
    with app.app_context():
        for n in range(5):
            queue_test_message(n)
        db.session.commit()

        real_sendmail = smtplib.SMTP.sendmail
        sent_before_dying = []

        def send_then_die(smtp, sender, recipients, message, *args, **kwargs):
            if len(sent_before_dying) == 2:
                raise SystemExit("the worker process is killed")
            real_sendmail(smtp, sender, recipients, message, *args, **kwargs)
            sent_before_dying.append(message)

        monkeypatch.setattr(smtplib.SMTP, "sendmail", send_then_die)
        with pytest.raises(SystemExit):
            deliver(batch=10, worker_id="doomed")
        monkeypatch.undo()

        assert [row.status for row in outbox_rows()] == ["sent", "sent", "sending", "sending", "sending"]
        assert deliver(batch=10, worker_id="rescuer").claimed == 0  # the lease still runs
        report = deliver(batch=10, worker_id="rescuer", now=utcnow() + timedelta(seconds=301))
        assert (report.sent, report.left) == (3, 0)
        assert {row.status for row in outbox_rows()} == {"sent"}
        message_ids = {row.message_id for row in outbox_rows()}

    received = Counter(received.message["Message-ID"] for received in smtp_server.received)
    assert set(received) == message_ids and set(received.values()) == {1}


def test_a_worker_asked_to_stop_mid_batch_puts_the_unsent_emails_back_in_the_queue(
    make_mail_app, smtp_server, monkeypatch
):
    app = make_mail_app(smtp_server.port)
    stop = threading.Event()
    real_sendmail = smtplib.SMTP.sendmail

    def send_then_ask_to_stop(smtp, *args, **kwargs):
        real_sendmail(smtp, *args, **kwargs)
        if len(smtp_server.received) == 2:
            stop.set()  # what SIGTERM does in `flask outbox deliver`

    monkeypatch.setattr(smtplib.SMTP, "sendmail", send_then_ask_to_stop)
    with app.app_context():
        for n in range(5):
            queue_test_message(n)
        db.session.commit()

        report = deliver(batch=10, worker_id="stopping", stop=stop)

        assert (report.claimed, report.sent, report.released, report.left) == (5, 2, 3, 3)
        rows = outbox_rows()
        assert [(row.status, row.attempts) for row in rows] == [("sent", 1)] * 2 + [("queued", 0)] * 3
        assert {row.claimed_by for row in rows[2:]} == {None}
    assert len(smtp_server.received) == 2


def test_a_message_whose_worker_died_on_its_last_attempt_is_failed_not_reclaimed(make_mail_app, smtp_server):
    app = make_mail_app(smtp_server.port, MAIL_MAX_ATTEMPTS=3)
    with app.app_context():
        message = queue_test_message()
        db.session.flush()
        message.status, message.claimed_by, message.attempts = "sending", "dead-worker", 3
        message.lease_expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()

        assert deliver().claimed == 0
        [row] = outbox_rows()
        assert row.status == "failed" and "interrupted" in row.last_error
    assert smtp_server.received == []


def test_without_a_mail_server_emails_stay_queued_and_the_command_says_so(app, runner):
    with app.app_context():
        queue_test_message(1)
        queue_test_message(2)
        db.session.commit()

        report = deliver()
        assert report.dev_mode and (report.claimed, report.sent, report.left) == (0, 0, 2)

    result = runner.invoke(args=["outbox", "deliver"])
    assert result.exit_code == 0
    assert "MAIL_SERVER is not set" in result.output and "2 emails are kept in the outbox" in result.output
    with app.app_context():
        assert [(row.status, row.attempts) for row in outbox_rows()] == [("queued", 0), ("queued", 0)]


def test_deliver_command_sends_batch_after_batch_and_prints_progress(make_mail_app, smtp_server):
    app = make_mail_app(smtp_server.port)
    queue_test_messages(app, 3)

    result = app.test_cli_runner().invoke(args=["outbox", "deliver", "--batch", "2", "--connections", "1"])

    assert result.exit_code == 0, result.output
    assert "sent 2, failed 0, to retry later 0, left in the outbox 1" in result.output
    assert "sent 1, failed 0, to retry later 0, left in the outbox 0" in result.output
    assert "Done: sent 3, failed 0" in result.output
    assert len(smtp_server.received) == 3


def test_delivery_loop_sends_emails_queued_while_it_runs_and_stops_cleanly_on_sigterm(make_mail_app, smtp_server):
    app = make_mail_app(smtp_server.port)
    with app.app_context():
        queue_test_message(1)
        db.session.commit()
    problems = []

    def queue_another_then_stop():
        try:
            wait_for(lambda: len(smtp_server.received) == 1)
            with app.app_context():
                queue_test_message(2)
                db.session.commit()
            wait_for(lambda: len(smtp_server.received) == 2)
        except Exception as error:
            problems.append(error)
        finally:
            os.kill(os.getpid(), signal.SIGTERM)

    helper = threading.Thread(target=queue_another_then_stop)
    helper.start()
    result = app.test_cli_runner().invoke(args=["outbox", "deliver", "--loop", "--interval", "0.1"])
    helper.join(timeout=30)

    assert problems == []
    assert result.exit_code == 0, result.output
    assert result.output.count("sent 1, failed 0") == 2 and result.output.rstrip().endswith("Stopped.")
    assert [received.message["Subject"] for received in smtp_server.received] == ["Test message 1", "Test message 2"]


def wait_for(condition, seconds=20):
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.02)


def test_two_workers_in_parallel_send_each_email_exactly_once(make_mail_app, smtp_server):
    app = make_mail_app(smtp_server.port)
    queue_test_messages(app, 100)

    start, problems, claims = threading.Barrier(2), [], Counter()

    def worker(name):
        try:
            with app.app_context():
                start.wait()
                while report := deliver(batch=7, worker_id=name):
                    if not report.claimed:
                        break
                    claims[name] += report.claimed
        except Exception as error:
            problems.append(error)

    threads = [threading.Thread(target=worker, args=(f"worker-{n}",)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert problems == []
    assert sum(claims.values()) == 100
    with app.app_context():
        rows = outbox_rows()
        assert [row.status for row in rows] == ["sent"] * 100 and {row.attempts for row in rows} == {1}
        message_ids = {row.message_id for row in rows}
    received = Counter(received.message["Message-ID"] for received in smtp_server.received)
    assert len(message_ids) == 100 and set(received) == message_ids and set(received.values()) == {1}


def sent_once_each(server, message_ids):
    received = Counter(received.message["Message-ID"] for received in server.received)
    return set(received) == set(message_ids) and set(received.values()) <= {1}


def test_several_connections_at_once_send_each_email_exactly_once(make_mail_app):
    server = SmtpServer(delay=0.01).start()  # a relay that takes its time over each message
    try:
        app = make_mail_app(server.port)
        with app.app_context():
            for n in range(120):
                queue_test_message(n)
            db.session.commit()

            report = deliver_due(batch=10, connections=4, worker_id="host:42")

            assert (report.claimed, report.sent, report.failed, report.retrying, report.left) == (120, 120, 0, 0, 0)
            rows = outbox_rows()
            assert {row.status for row in rows} == {"sent"} and {row.attempts for row in rows} == {1}
            workers = {row.claimed_by for row in rows}
            assert workers <= {"host:42:1", "host:42:2", "host:42:3", "host:42:4"} and len(workers) > 1
            message_ids = [row.message_id for row in rows]
        assert len(server.received) == 120 and sent_once_each(server, message_ids)
        assert server.handler.most_at_once > 1
    finally:
        server.stop()


def test_a_server_that_is_down_is_tried_over_one_connection_only(make_mail_app, stopped_smtp_server):
    app = make_mail_app(stopped_smtp_server.port)
    with app.app_context():
        for n in range(30):
            queue_test_message(n)
        db.session.commit()

        report = deliver_due(batch=10, connections=4)

        assert report.server_down and (report.claimed, report.sent, report.retrying, report.left) == (10, 0, 10, 30)
        rows = outbox_rows()
        assert {row.status for row in rows} == {"queued"}
        assert sorted(row.attempts for row in rows) == [0] * 20 + [1] * 10  # the others never claimed a batch


def test_a_server_going_down_mid_round_stops_every_connection_and_loses_nothing(make_mail_app):
    server = SmtpServer(delay=0.005, fail_after=25).start()
    try:
        app = make_mail_app(server.port)
        with app.app_context():
            for n in range(100):
                queue_test_message(n)
            db.session.commit()

            report = deliver_due(batch=10, connections=3)

            assert report.server_down and report.sent == 25 and report.left == 75
            rows = outbox_rows()
            sent = [row for row in rows if row.status == "sent"]
            assert len(sent) == 25 and {row.status for row in rows} == {"sent", "queued"}
            # Each connection stopped after its batch: the emails it tried wait for their back-off,
            # and the rest of the outbox was not touched.
            assert report.retrying == len([row for row in rows if row.attempts == 1 and row.status == "queued"]) <= 30
            message_ids = [row.message_id for row in sent]
        assert len(server.received) == 25 and sent_once_each(server, message_ids)
    finally:
        server.stop()


def test_stopping_a_worker_with_several_connections_puts_every_unsent_email_back(make_mail_app, monkeypatch):
    server = SmtpServer(delay=0.005).start()
    stop = threading.Event()
    real_sendmail = smtplib.SMTP.sendmail

    def send_then_ask_to_stop(smtp, *args, **kwargs):
        real_sendmail(smtp, *args, **kwargs)
        if len(server.received) >= 15:
            stop.set()  # what SIGTERM does in `flask outbox deliver`

    monkeypatch.setattr(smtplib.SMTP, "sendmail", send_then_ask_to_stop)
    try:
        app = make_mail_app(server.port)
        with app.app_context():
            for n in range(60):
                queue_test_message(n)
            db.session.commit()

            report = deliver_due(batch=10, connections=3, stop=stop)

            rows = outbox_rows()
            sent = [row for row in rows if row.status == "sent"]
            waiting = [row for row in rows if row.status != "sent"]
            assert report.sent == len(sent) == len(server.received) >= 15 and report.left == len(waiting) > 0
            assert {(row.status, row.attempts, row.claimed_by) for row in waiting} == {("queued", 0, None)}
            message_ids = [row.message_id for row in sent]
        assert sent_once_each(server, message_ids)
    finally:
        server.stop()


def test_deliver_command_uses_several_connections_when_asked(make_mail_app):
    server = SmtpServer(delay=0.005).start()
    try:
        app = make_mail_app(server.port, MAIL_DELIVERY_CONNECTIONS=1)
        queue_test_messages(app, 23)

        result = app.test_cli_runner().invoke(args=["outbox", "deliver", "--batch", "5", "--connections", "3"])

        assert result.exit_code == 0, result.output
        assert result.output.rstrip().endswith("Done: sent 23, failed 0, to retry later 0, left in the outbox 0.")
        assert len(server.received) == 23 and server.handler.most_at_once > 1
        assert app.test_cli_runner().invoke(args=["outbox", "deliver", "--connections", "0"]).exit_code == 2
    finally:
        server.stop()


def test_with_mail_suppress_send_the_worker_marks_emails_sent_without_sending(make_mail_app, smtp_server):
    app = make_mail_app(smtp_server.port, MAIL_SUPPRESS_SEND=True)
    with app.app_context():
        queue_test_message(1, recipient_name="Délégation", attachments=[("slot.ics", "text/calendar", ICS)])
        db.session.commit()

        report = deliver(batch=10)

        assert (report.sent, report.left) == (1, 0)
        assert [row.status for row in outbox_rows()] == ["sent"]
    assert smtp_server.received == []


# --- The organizers' pages ----------------------------------------------------------------------


@pytest.fixture
def outbox(app):
    """Two meetings' emails in every state, and one that belongs to no meeting."""
    with app.app_context():
        avp = factories.make_meeting(slug="avp-informal", title="Audiovisual Performances")
        other = factories.make_meeting(slug="sccr-info", title="Information Meeting on Broadcasting")
        make = factories.make_outbox_message
        ids = {
            "queued": make(avp, recipients="mission.france@example.org", subject="Invitation AVP").id,
            "queued2": make(avp, recipients="mission.chile@example.org", subject="Invitation AVP").id,
            "failed": make(
                avp,
                recipients="ngo@example.org",
                subject="Programme",
                status="failed",
                attempts=8,
                last_error="SMTP 554",
            ).id,
            "sent": make(avp, recipients="igo@example.org", subject="Registration", status="sent", sent_at=utcnow()).id,
            "sending": make(avp, status="sending", attempts=1, claimed_by="w", lease_expires_at=utcnow()).id,
            "other_failed": make(other, recipients="mission.peru@example.org", status="failed", attempts=8).id,
            "cancelled": make(None, recipients="test@example.org", subject="Test", status="cancelled").id,
        }
        db.session.commit()
        return ids


def count_shown(html, status):
    return int(re.search(rf'id="count-{status}">(\d+)<', html).group(1))


def test_outbox_pages_require_an_organizer(client):
    response = client.get("/manage/outbox/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_outbox_shows_counts_by_status_overall_and_per_meeting(organizer_client, outbox):
    html = organizer_client.get("/manage/outbox/").get_data(as_text=True)
    assert [count_shown(html, s) for s in ("queued", "sending", "sent", "failed", "cancelled")] == [2, 1, 1, 2, 1]
    assert "Information Meeting on Broadcasting" in html

    html = organizer_client.get("/manage/outbox/?meeting=avp-informal").get_data(as_text=True)
    assert [count_shown(html, s) for s in ("queued", "sending", "sent", "failed", "cancelled")] == [2, 1, 1, 1, 0]
    assert "mission.peru@example.org" not in html and "mission.france@example.org" in html

    assert organizer_client.get("/manage/outbox/?meeting=no-such-meeting").status_code == 404


def test_outbox_list_filters_by_status_and_searches_recipients_and_subjects(organizer_client, outbox):
    html = organizer_client.get("/manage/outbox/?status=failed").get_data(as_text=True)
    assert "ngo@example.org" in html and "mission.peru@example.org" in html
    assert "mission.france@example.org" not in html and "igo@example.org" not in html

    html = organizer_client.get("/manage/outbox/?q=CHILE").get_data(as_text=True)
    assert "mission.chile@example.org" in html and "mission.france@example.org" not in html

    html = organizer_client.get("/manage/outbox/?q=programme&meeting=avp-informal").get_data(as_text=True)
    assert "ngo@example.org" in html and "mission.chile@example.org" not in html

    html = organizer_client.get("/manage/outbox/?q=100%25").get_data(as_text=True)
    assert "No email matches." in html


def test_outbox_list_is_paginated_and_its_queries_do_not_grow_with_the_rows(app, organizer_client):
    with app.app_context():
        meetings = [factories.make_meeting(slug=f"m{n}", title=f"Meeting {n}") for n in range(4)]
        for n in range(8):
            factories.make_outbox_message(meetings[n % 4], recipients=f"d{n}@example.org")
        db.session.commit()
        engine = db.engine

    def queries_for(url):
        statements = []
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(engine, "before_cursor_execute", listener)
        try:
            assert organizer_client.get(url).status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        return len(statements)

    small = queries_for("/manage/outbox/?q=d1@")
    with app.app_context():
        meetings = db.session.scalars(db.select(Meeting)).all()
        for n in range(60):
            factories.make_outbox_message(meetings[n % 4], recipients=f"bulk{n}@example.org")
        db.session.commit()
    assert queries_for("/manage/outbox/") == small

    app.config["PER_PAGE"] = 50
    html = organizer_client.get("/manage/outbox/?page=2").get_data(as_text=True)
    assert "Page 2 of 2" in html and html.count('href="/manage/outbox/') > 0


def test_no_mail_server_banner_says_emails_are_kept_and_not_sent(organizer_client, outbox):
    html = organizer_client.get("/manage/outbox/").get_data(as_text=True)
    assert "No mail server is configured: emails are kept here and not sent." in html


def test_one_email_is_shown_as_its_recipient_sees_it_and_its_html_is_sandboxed(organizer_client, outbox):
    html = organizer_client.get(f"/manage/outbox/{outbox['queued']}").get_data(as_text=True)
    assert "Permanent Mission &lt;mission.france@example.org&gt;" in html
    assert "Dear colleagues,\n\nYou are invited." in html
    assert f'src="/manage/outbox/{outbox["queued"]}/html"' in html and "sandbox" in html

    response = organizer_client.get(f"/manage/outbox/{outbox['queued']}/html")
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert response.get_data(as_text=True) == "<p>Dear colleagues,</p><p>You are invited.</p>"
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "sandbox" in policy and "script-src" not in policy
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    # The view's own policy replaces the pages' one; it is not sent beside it.
    assert len(response.headers.getlist("Content-Security-Policy")) == 1
    assert len(response.headers.getlist("X-Frame-Options")) == 1

    assert organizer_client.get("/manage/outbox/999999").status_code == 404


def audit_actions(app):
    with app.app_context():
        entries = db.session.scalars(db.select(AuditEntry).order_by(AuditEntry.id)).all()
        return [(entry.action, entry.meeting_id, entry.object_id, entry.actor) for entry in entries]


def test_organizer_retries_a_failed_email_and_it_is_queued_now(app, organizer_client, outbox):
    response = organizer_client.post(f"/manage/outbox/{outbox['failed']}/retry", follow_redirects=True)

    assert "will be sent again" in response.get_data(as_text=True)
    with app.app_context():
        row = db.session.get(OutboxMessage, outbox["failed"])
        assert (row.status, row.attempts) == ("queued", 0) and row.next_attempt_at <= utcnow()
        meeting_id = row.meeting_id
    assert audit_actions(app) == [("outbox.retry", meeting_id, outbox["failed"], "secretariat@example.org")]


def test_only_a_failed_email_can_be_retried(app, organizer_client, outbox):
    response = organizer_client.post(f"/manage/outbox/{outbox['sent']}/retry", follow_redirects=True)

    assert "Only an email that failed can be retried." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(OutboxMessage, outbox["sent"]).status == "sent"
    assert audit_actions(app) == []


def test_organizer_cancels_a_queued_email_but_not_one_being_sent(app, organizer_client, outbox):
    response = organizer_client.post(f"/manage/outbox/{outbox['queued']}/cancel", follow_redirects=True)
    assert "has been cancelled" in response.get_data(as_text=True)

    response = organizer_client.post(f"/manage/outbox/{outbox['sending']}/cancel", follow_redirects=True)
    assert "being sent right now" in response.get_data(as_text=True)

    with app.app_context():
        assert db.session.get(OutboxMessage, outbox["queued"]).status == "cancelled"
        assert db.session.get(OutboxMessage, outbox["sending"]).status == "sending"
        meeting_id = db.session.get(OutboxMessage, outbox["queued"]).meeting_id
    assert audit_actions(app) == [("outbox.cancel", meeting_id, outbox["queued"], "secretariat@example.org")]


def test_bulk_retry_of_a_meetings_failed_emails_and_then_of_all(app, organizer_client, outbox):
    response = organizer_client.post(
        "/manage/outbox/retry-failed",
        data={"scope": "all", "meeting": "avp-informal", "next": "/manage/outbox/?meeting=avp-informal&status=failed"},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/manage/outbox/?meeting=avp-informal&status=failed"
    with app.app_context():
        assert db.session.get(OutboxMessage, outbox["failed"]).status == "queued"
        assert db.session.get(OutboxMessage, outbox["other_failed"]).status == "failed"
        avp_id = db.session.get(OutboxMessage, outbox["failed"]).meeting_id
        other_id = db.session.get(OutboxMessage, outbox["other_failed"]).meeting_id

    response = organizer_client.post("/manage/outbox/retry-failed", data={"scope": "all"}, follow_redirects=True)
    assert "1 failed email will be sent again." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(OutboxMessage, outbox["other_failed"]).status == "queued"

    response = organizer_client.post("/manage/outbox/retry-failed", data={"scope": "all"}, follow_redirects=True)
    assert "There was no failed email to retry." in response.get_data(as_text=True)
    actions = [(action, meeting) for action, meeting, _, _ in audit_actions(app)]
    assert actions == [("outbox.retry_failed", avp_id), ("outbox.retry_failed", other_id)]


def test_bulk_retry_of_the_ticked_failed_emails_only(app, organizer_client, outbox):
    html = organizer_client.get("/manage/outbox/?status=failed").get_data(as_text=True)
    assert f'name="ids" value="{outbox["other_failed"]}"' in html and 'form="bulk-retry"' in html

    response = organizer_client.post(
        "/manage/outbox/retry-failed",
        data={"scope": "selected", "ids": [str(outbox["other_failed"]), str(outbox["sent"])]},
        follow_redirects=True,
    )

    assert "1 failed email will be sent again." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(OutboxMessage, outbox["other_failed"]).status == "queued"
        assert db.session.get(OutboxMessage, outbox["failed"]).status == "failed"
        assert db.session.get(OutboxMessage, outbox["sent"]).status == "sent"

    response = organizer_client.post("/manage/outbox/retry-failed", data={"scope": "selected"}, follow_redirects=True)
    assert "Tick the failed emails to retry first." in response.get_data(as_text=True)


def test_organizer_queues_a_test_email_in_a_chosen_language(app, organizer_client):
    form = organizer_client.get("/manage/outbox/test").get_data(as_text=True)
    assert 'value="secretariat@example.org"' in form

    response = organizer_client.post("/manage/outbox/test", data={"email": "me@example.org", "language": "fr"})

    assert response.status_code == 302
    with app.app_context():
        [row] = outbox_rows()
        assert (row.recipients, row.language, row.cause, row.status) == ("me@example.org", "fr", "test", "queued")
        assert response.headers["Location"] == f"/manage/outbox/{row.id}"
        assert format_date(row.created_at.date(), "long", locale="fr") in row.body_text
    assert audit_actions(app) == [("outbox.test_email", None, row.id, "secretariat@example.org")]
    page = organizer_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "kept here and not sent" in page


def test_a_test_email_to_an_invalid_address_is_refused_next_to_the_field(app, organizer_client):
    response = organizer_client.post(
        "/manage/outbox/test", data={"email": "me@example.org\r\nBcc: spy@example.org", "language": "en"}
    )
    assert response.status_code == 422
    assert 'aria-invalid="true"' in response.get_data(as_text=True)
    with app.app_context():
        assert outbox_rows() == []


# --- Attachments ----------------------------------------------------------------------------------

ICS = (
    b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Meeting//Program//EN\r\nBEGIN:VEVENT\r\nUID:slot-1\r\n"
    b"DTSTAMP:20261106T093000Z\r\nDTSTART:20261106T093000Z\r\nSUMMARY:Performing\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)


def test_an_email_with_an_ics_attachment_arrives_with_the_attachment(make_mail_app, smtp_server):
    app = make_mail_app(smtp_server.port)
    with app.app_context():
        queue_test_message(1, attachments=[("avp-slot-1.ics", "text/calendar", ICS)])
        db.session.commit()
        report = deliver(batch=10, worker_id="worker-1")
        assert report.sent == 1

    [received] = smtp_server.received
    [attachment] = list(received.message.iter_attachments())
    assert attachment.get_filename() == "avp-slot-1.ics"
    assert attachment.get_content_type() == "text/calendar"
    assert attachment.get_payload(decode=True) == ICS
    assert "This is a test message" in received.message.get_body(("plain",)).get_content()


def test_a_batch_loads_its_attachments_in_one_query(make_mail_app, smtp_server):
    app = make_mail_app(smtp_server.port)
    with app.app_context():
        for n in range(4):
            queue_test_message(
                n, attachments=[(f"slot-{n}.ics", "text/calendar", ICS), ("note.txt", "text/plain", b"n")]
            )
        queue_test_message(9)
        db.session.commit()
        statements = []
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            report = deliver(batch=10, worker_id="worker-1")
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        assert report.sent == 5
    assert len([sql for sql in statements if "FROM outbox_attachments" in sql]) == 1
    files = sorted(
        part.get_filename() for received in smtp_server.received for part in received.message.iter_attachments()
    )
    assert files == ["note.txt"] * 4 + [f"slot-{n}.ics" for n in range(4)]


@pytest.mark.parametrize(
    "attachment",
    [
        ("bad\nname.ics", "text/calendar", ICS),
        ("slot.ics", "text/calendar; method=PUBLISH", ICS),
        ("slot.ics", "text/calendar", "text"),
    ],
)
def test_an_invalid_attachment_is_refused_and_nothing_is_queued(app, attachment):
    with app.app_context():
        with pytest.raises(DomainError):
            queue_test_message(1, attachments=[attachment])
        db.session.commit()
        assert outbox_rows() == []
