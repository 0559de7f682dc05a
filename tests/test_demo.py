"""`flask demo` seeds the meeting modelled on the Ad hoc Informal Meeting on the Protection of
Audiovisual Performances, and running it again changes nothing."""

from datetime import date, timedelta

from meeting.accounts.models import User
from meeting.core.audit import AuditEntry
from meeting.directory.models import Contact, Organization
from meeting.extensions import db
from meeting.meetings.models import Meeting, ProgramSession
from meeting.program.models import ProgramState, Slot, Speaker, SpeakerOffer
from meeting.program.services import find_conflicts, program_as_dict

from . import factories

MODELS = (Meeting, ProgramSession, Organization, Contact, User, AuditEntry, Speaker, Slot, SpeakerOffer, ProgramState)


def row_counts():
    return {model.__name__: db.session.scalar(db.select(db.func.count()).select_from(model)) for model in MODELS}


def test_demo_seeds_the_audiovisual_performances_meeting(app, runner, client):
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    assert "Organizer login: organizer@meeting.example / geneva-demo-2026" in result.output
    with app.app_context():
        meeting = db.session.scalar(db.select(Meeting).where(Meeting.slug == "avp-informal"))
        assert meeting.title == "Ad hoc Informal Meeting on the Protection of Audiovisual Performances"
        assert meeting.city == "Geneva" and "WIPO" in meeting.venue
        assert meeting.chair == "The Chairman of the WIPO General Assembly"
        assert meeting.starts_on == date.today() + timedelta(weeks=4)
        assert meeting.ends_on == meeting.starts_on + timedelta(days=1)
        assert meeting.registration_state() == "open"
        kinds = [session.kind for session in meeting.sessions]
        assert kinds[0] == "opening" and "information_session" in kinds and kinds[-1] == "closing"
        states = db.session.scalar(db.select(db.func.count(Organization.id)).where(Organization.kind == "member_state"))
        assert states == 193
        acronyms = set(db.session.scalars(db.select(Organization.acronym).where(Organization.kind == "igo")))
        assert {"ILO", "UNESCO", "EU"} <= acronyms
        assert db.session.scalar(db.select(db.func.count(Organization.id)).where(Organization.kind == "ngo")) >= 2
        assert db.session.scalar(db.select(User).where(User.email == "organizer@meeting.example")).is_admin
    page = client.get("/meetings/avp-informal").get_data(as_text=True)
    assert "Audiovisual Performances" in page and "Geneva" in page


def test_demo_information_session_has_four_confirmed_speakers_and_a_published_program(app, runner, client):
    runner.invoke(args=["demo"])
    with app.app_context():
        meeting = db.session.scalar(db.select(Meeting).where(Meeting.slug == "avp-informal"))
        speakers = db.session.scalars(db.select(Speaker).where(Speaker.meeting_id == meeting.id)).all()
        assert sorted(speaker.perspective for speaker in speakers) == ["creator", "other", "performer", "producer"]
        offers = db.session.scalars(db.select(SpeakerOffer)).all()
        assert len(offers) == 4 and {offer.status for offer in offers} == {"confirmed"}
        assert find_conflicts(meeting) == []
        program = program_as_dict(meeting)
        assert program["published"] is True
        [session] = [s for s in program["sessions"] if s["kind"] == "information_session"]
        kinds = [slot["kind"] for slot in session["slots"]]
        assert (
            kinds[0] == "statement" and kinds.count("talk") == 4 and "discussion" in kinds and kinds[-1] == "statement"
        )
        names = [slot["speaker"]["name"] for slot in session["slots"] if slot["speaker"]]
        assert len(names) == 4 and sorted(names) == sorted(speaker.name for speaker in speakers)
        assert session["slots"][1]["starts_at"].startswith(f"{meeting.starts_on.isoformat()}T10:40:00+")
    page = client.get("/meetings/avp-informal").get_data(as_text=True)
    assert "Amara Okafor" in page and "Henrik Lindqvist" in page and "Questions and discussion" in page
    assert client.get("/meetings/avp-informal/program.ics").get_data(as_text=True).count("BEGIN:VEVENT") == 7


def test_running_the_demo_twice_changes_nothing(app, runner):
    runner.invoke(args=["demo"])
    with app.app_context():
        before = row_counts()
        stamps = db.session.scalars(db.select(Organization.updated_at).order_by(Organization.id)).all()
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0
    assert "nothing was added" in result.output
    with app.app_context():
        assert row_counts() == before
        assert db.session.scalars(db.select(Organization.updated_at).order_by(Organization.id)).all() == stamps


def test_demo_if_empty_leaves_a_database_with_meetings_alone(app, runner):
    with app.app_context():
        factories.make_meeting(slug="other-meeting")
        db.session.commit()
    result = runner.invoke(args=["demo", "--if-empty"])
    assert result.exit_code == 0
    assert "not seeded" in result.output
    with app.app_context():
        assert db.session.scalar(db.select(Meeting.id).where(Meeting.slug == "avp-informal")) is None


def test_demo_does_not_print_a_password_that_was_changed(app, runner):
    runner.invoke(args=["demo"])
    with app.app_context():
        user = db.session.scalar(db.select(User).where(User.email == "organizer@meeting.example"))
        user.set_password("a private password")
        db.session.commit()
    result = runner.invoke(args=["demo"])
    assert "geneva-demo-2026" not in result.output
    assert "its password has been changed" in result.output
