"""No overbooking: registrations and cancellations arriving at the same instant, each in its own
transaction on its own connection, are decided one after the other under the meeting's lock.

On PostgreSQL the transactions really run side by side and wait on the meeting row's lock; on SQLite
they wait for the database's write lock (with a busy timeout long enough for fifty of them)."""

import threading
from datetime import timedelta

import pytest

from meeting import create_app
from meeting.core.models import utcnow
from meeting.extensions import db
from meeting.mail.models import OutboxMessage
from meeting.meetings.models import Meeting
from meeting.registration import services
from meeting.registration.models import Registration

from . import factories
from .conftest import make_config

THREADS = 50


@pytest.fixture
def concurrent_app(app, database_url, backend, tmp_path):
    """A second app on the same database with a connection for every thread (the `app` fixture
    empties the tables afterwards)."""
    if backend == "sqlite":
        options = {"connect_args": {"timeout": 30}, "pool_size": THREADS, "max_overflow": 0}
    else:
        options = {"pool_size": THREADS, "max_overflow": 0, "pool_pre_ping": True}
    other = create_app(make_config(database_url, tmp_path, SQLALCHEMY_ENGINE_OPTIONS=options))
    yield other
    with other.app_context():
        db.engine.dispose()


def run_at_once(work, count):
    """Run `work(n)` in `count` threads released together; returns the exceptions raised."""
    barrier = threading.Barrier(count)
    errors = []

    def run(number):
        try:
            barrier.wait(timeout=60)
            work(number)
        except Exception as error:  # reported by the test
            errors.append(error)

    threads = [threading.Thread(target=run, args=(number,)) for number in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a registration never finished"
    return errors


def test_fifty_registrations_at_once_for_ten_remaining_seats_confirm_exactly_ten(app, concurrent_app):
    with app.app_context():
        meeting = factories.make_meeting(capacity=12)
        states = [factories.make_organization(name_en=f"State {n}", iso_code=None, emails=[]) for n in range(THREADS)]
        for state in states[:2]:
            factories.make_registration(meeting, state)
        db.session.commit()
        meeting_id, state_ids = meeting.id, [state.id for state in states]

    def register(number):
        with concurrent_app.app_context():
            meeting = db.session.get(Meeting, meeting_id)
            details = services.RegistrationDetails(
                role="delegate",
                given_name="Delegate",
                family_name=f"Number {number}",
                email=f"delegate.{number}@example.org",
                organization=state_ids[number],
            )
            try:
                services.register(meeting, details)
                db.session.commit()
            finally:
                db.session.remove()

    errors = run_at_once(register, THREADS)

    assert errors == []
    with app.app_context():
        rows = db.session.scalars(
            db.select(Registration).where(Registration.meeting_id == meeting_id).order_by(Registration.id)
        ).all()
        statuses = [registration.status for registration in rows]
        assert statuses.count("confirmed") == 12  # the 2 already there and exactly 10 new ones
        assert statuses.count("waitlisted") == 40
        meeting = db.session.get(Meeting, meeting_id)
        positions = services.waitlist_positions(meeting)
        assert sorted(positions.values()) == list(range(1, 41))
        # Everyone confirmed registered before everyone waitlisted: decisions were taken in turn.
        confirmed_last = max(r.created_at for r in rows[2:] if r.status == "confirmed")
        waitlisted_first = min(r.waitlisted_at for r in rows if r.status == "waitlisted")
        assert confirmed_last <= waitlisted_first
        # Each email tells what was decided under the lock, whatever was guessed before it: a
        # confirmation for the confirmed, and for the waitlisted their true position in the line.
        emails = {
            message.cause_object_id: message
            for message in db.session.scalars(db.select(OutboxMessage).where(OutboxMessage.meeting_id == meeting_id))
        }
        assert len(emails) == THREADS
        for registration in rows[2:]:
            email = emails[registration.id]
            if registration.status == "confirmed":
                assert "is confirmed" in email.subject
                assert "Your place at the meeting is confirmed." in email.body_text
            else:
                assert "waiting list" in email.subject
                assert f"on the waiting list, in position {positions[registration.id]}." in email.body_text


def test_cancellations_at_once_promote_each_waitlisted_registration_exactly_once(app, concurrent_app):
    seated, waiting = 10, 10
    with app.app_context():
        meeting = factories.make_meeting(capacity=seated)
        france = factories.make_organization()
        made = [factories.make_registration(meeting, france, email=f"seated{n}@example.org") for n in range(seated)]
        start = utcnow()
        for n in range(waiting):
            factories.make_registration(
                meeting,
                france,
                email=f"waiting{n}@example.org",
                status="waitlisted",
                waitlisted_at=start + timedelta(seconds=n),
            )
        db.session.commit()
        meeting_id, tokens = meeting.id, [registration.token() for registration in made]

    def cancel(number):
        with concurrent_app.app_context():
            try:
                services.cancel_own(services.registration_by_token(tokens[number]))
                db.session.commit()
            finally:
                db.session.remove()

    errors = run_at_once(cancel, seated)

    assert errors == []
    with app.app_context():
        rows = db.session.scalars(db.select(Registration).where(Registration.meeting_id == meeting_id)).all()
        assert sorted(r.status for r in rows if r.email.startswith("seated")) == ["cancelled"] * seated
        assert sorted(r.status for r in rows if r.email.startswith("waiting")) == ["confirmed"] * waiting
        promoted = db.session.scalars(
            db.select(OutboxMessage.recipients).where(OutboxMessage.cause == "registration.promoted")
        ).all()
        assert sorted(promoted) == sorted(f"waiting{n}@example.org" for n in range(waiting))
