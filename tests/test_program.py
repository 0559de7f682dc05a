"""The program of a meeting: organizers build each session's slots on a timeline, keep speakers and
offer them slots; conflicts are found and block publication; speakers confirm or decline through
their personal link; the public sees confirmed speakers only, on the meeting page, in program.ics and
in the program for the API."""

import html
import re
import struct
import zlib
from datetime import UTC, date, datetime, timedelta
from io import BytesIO
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar
from sqlalchemy import event

from meeting.core.audit import AuditEntry
from meeting.core.tokens import hash_token
from meeting.extensions import db
from meeting.mail.models import OutboxAttachment, OutboxMessage
from meeting.meetings.models import ProgramSession
from meeting.program import services
from meeting.program.models import ProgramState, Slot, Speaker, SpeakerAvailability, SpeakerOffer

from . import factories

# November is winter time in Geneva (UTC+1) every year; next year's is always in the future.
YEAR = date.today().year + 1
FIRST_DAY = date(YEAR, 11, 6)
ZURICH = ZoneInfo("Europe/Zurich")


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def zurich(*args):
    return datetime(*args, tzinfo=ZURICH).astimezone(UTC)


def last_sunday_of_october(year):
    day = date(year, 10, 31)
    return day - timedelta(days=(day.weekday() + 1) % 7)


def html_of(response):
    """The page's markup with entities decoded and Babel's narrow spaces made plain."""
    return html.unescape(response.get_data(as_text=True)).replace("\u202f", " ").replace("\xa0", " ")


def text_of(response):
    """The page's text as a reader sees it: no tags, whitespace collapsed."""
    return " ".join(re.sub(r"<[^>]+>", "", html_of(response)).split())


def link_token(body):
    match = re.search(r"http://meeting\.test/speakers/([A-Za-z0-9_-]+)", body)
    assert match, body
    return match.group(1)


def outbox(cause=None):
    query = db.select(OutboxMessage).order_by(OutboxMessage.id)
    if cause:
        query = query.where(OutboxMessage.cause == cause)
    return db.session.scalars(query).all()


def parse_ics(data: bytes) -> Calendar:
    return Calendar.from_ical(data)


@pytest.fixture
def geneva(app):
    """A published meeting in Geneva with its information session, 10:30–13:00 local (UTC+1)."""
    with app.app_context():
        meeting = factories.make_meeting(
            slug="avp", starts_on=FIRST_DAY, ends_on=FIRST_DAY + timedelta(days=1), timezone="Europe/Zurich"
        )
        session = factories.make_session(
            meeting,
            title="Information session",
            kind="information_session",
            starts_at=zurich(YEAR, 11, 6, 10, 30),
            ends_at=zurich(YEAR, 11, 6, 13, 0),
            room="Room A",
        )
        db.session.commit()
        return {"meeting": meeting.id, "session": session.id}


def get_meeting():
    from meeting.meetings.models import Meeting

    return db.session.scalar(db.select(Meeting).where(Meeting.slug == "avp"))


def get_session(geneva):
    return db.session.get(ProgramSession, geneva["session"])


def slot_form(**overrides):
    data = {
        "starts_at": f"{FIRST_DAY.isoformat()}T10:30",
        "duration_minutes": "25",
        "topic": "Performing",
        "kind": "talk",
    }
    data.update(overrides)
    return data


def speaker_form(**overrides):
    data = {
        "name": "Lucía Fernández Ortega",
        "affiliation": "Screenwriter and director, Buenos Aires",
        "perspective": "creator",
        "email": "lucia.fernandez@example.org",
        "language": "es",
        "timezone": "America/Argentina/Buenos_Aires",
        "biography": "",
    }
    data.update(overrides)
    return data


# Slots on the timeline -------------------------------------------------------------------------


def test_organizer_adds_slots_in_local_time_and_sees_them_on_the_session_timeline(app, organizer_client, geneva):
    url = f"/manage/meetings/avp/program/sessions/{geneva['session']}"
    response = organizer_client.post(f"{url}/slots", data=slot_form(topic="The performer's view"))
    assert response.status_code == 302 and response.headers["Location"].endswith(url)
    organizer_client.post(
        f"{url}/slots",
        data=slot_form(starts_at=f"{FIRST_DAY.isoformat()}T11:05", duration_minutes="30", topic="The producer's view"),
    )

    with app.app_context():
        slots = db.session.scalars(db.select(Slot).order_by(Slot.starts_at)).all()
        assert [(slot.starts_at, slot.duration_minutes) for slot in slots] == [
            (utc(YEAR, 11, 6, 9, 30), 25),
            (utc(YEAR, 11, 6, 10, 5), 30),
        ]
        assert [slot.position for slot in slots] == [0, 1]
        assert all(len(slot.uid) == 36 and slot.sequence == 0 for slot in slots)
        assert db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "slot.create")).user_id is not None

    page = text_of(organizer_client.get(url))
    page = page[page.index("Timeline") :]
    assert page.index("10:30 AM–10:55 AM") < page.index("The performer's view") < page.index("Free: 10 minutes")
    assert page.index("Free: 10 minutes") < page.index("11:05 AM–11:35 AM") < page.index("The producer's view")
    assert "Free: 85 minutes" in page  # until the end of the session at 13:00
    # 25 minutes: two quarter hours high.
    assert 'class="timeline-entry timeline-slot timeline-talk tl-steps-2"' in html_of(organizer_client.get(url))


def test_an_invalid_slot_is_refused_next_to_its_field_and_nothing_is_saved(app, organizer_client, geneva):
    url = f"/manage/meetings/avp/program/sessions/{geneva['session']}/slots"
    response = organizer_client.post(url, data=slot_form(duration_minutes="0"))
    assert response.status_code == 422
    response = organizer_client.post(url, data=slot_form(topic="", kind="talk"))
    assert response.status_code == 422
    assert "Give the slot a topic (only a break may go without one)." in text_of(response)
    assert organizer_client.post(url, data=slot_form(topic="", kind="break")).status_code == 302
    with app.app_context():
        assert [slot.kind for slot in db.session.scalars(db.select(Slot))] == ["break"]


def test_the_timeline_across_the_end_of_daylight_saving_time_shows_local_times_and_real_durations(
    app, organizer_client
):
    """On the last Sunday of October clocks in Zurich go back from 03:00 to 02:00: a slot from 01:30
    lasting two real hours ends at 02:30, and one entered as 03:00 starts at 02:00 UTC."""
    day = last_sunday_of_october(YEAR)
    with app.app_context():
        meeting = factories.make_meeting(slug="night", starts_on=day, ends_on=day, timezone="Europe/Zurich")
        session = factories.make_session(
            meeting,
            title="Night session",
            starts_at=datetime(day.year, day.month, day.day, 0, 30, tzinfo=ZURICH).astimezone(UTC),
            ends_at=datetime(day.year, day.month, day.day, 4, 30, tzinfo=ZURICH).astimezone(UTC),
        )
        db.session.commit()
        session_id = session.id
    url = f"/manage/meetings/night/program/sessions/{session_id}"
    organizer_client.post(
        f"{url}/slots", data=slot_form(starts_at=f"{day.isoformat()}T01:30", duration_minutes="120", topic="Before")
    )
    organizer_client.post(
        f"{url}/slots", data=slot_form(starts_at=f"{day.isoformat()}T03:00", duration_minutes="60", topic="After")
    )

    with app.app_context():
        before, after = db.session.scalars(db.select(Slot).order_by(Slot.starts_at)).all()
        eve = day - timedelta(days=1)
        assert before.starts_at == utc(eve.year, eve.month, eve.day, 23, 30)  # 01:30 summer time (UTC+2)
        assert before.ends_at == utc(day.year, day.month, day.day, 1, 30)  # 02:30 winter time (UTC+1)
        assert after.starts_at == utc(day.year, day.month, day.day, 2, 0)  # 03:00 winter time
        assert services.find_conflicts(get_meeting_by_slug("night")) == []

    page = text_of(organizer_client.get(url))
    page = page[page.index("Timeline") :]
    assert "Free: 60 minutes" in page  # 00:30–01:30
    assert page.index("1:30 AM–2:30 AM") < page.index("120 minutes") < page.index("Before")
    assert page.index("Before") < page.index("Free: 30 minutes") < page.index("3:00 AM–4:00 AM")
    assert page.index("3:00 AM–4:00 AM") < page.index("After")
    assert page.rindex("Free: 30 minutes") > page.index("After")  # 04:00–04:30

    # The calendar keeps the zone: its times are the same instants.
    with app.app_context():
        meeting = get_meeting_by_slug("night")
        factories.publish_program(meeting)
        db.session.commit()
    calendar = parse_ics(organizer_client.get("/meetings/night/program.ics").data)
    starts = sorted(event.start for event in calendar.events)
    assert starts == [utc(eve.year, eve.month, eve.day, 23, 30), utc(day.year, day.month, day.day, 2, 0)]
    assert [str(event.start.tzinfo) for event in sorted(calendar.events, key=lambda e: e.start)] == [
        "Europe/Zurich",
        "Europe/Zurich",
    ]


def get_meeting_by_slug(slug):
    from meeting.meetings.models import Meeting

    return db.session.scalar(db.select(Meeting).where(Meeting.slug == slug))


def test_moving_a_slot_changes_its_start_in_local_time_raises_its_sequence_and_keeps_its_uid(
    app, organizer_client, geneva
):
    with app.app_context():
        slot = factories.make_slot(get_session(geneva), topic="Creating")
        db.session.commit()
        slot_id, uid = slot.id, slot.uid
    response = organizer_client.post(
        f"/manage/meetings/avp/program/slots/{slot_id}/move", data={f"move-{slot_id}-starts_at": "11:15"}
    )
    assert response.status_code == 302
    with app.app_context():
        slot = db.session.get(Slot, slot_id)
        assert slot.starts_at == utc(YEAR, 11, 6, 10, 15)
        assert (slot.uid, slot.sequence) == (uid, 1)


def test_up_and_down_swap_neighbouring_slots_keeping_the_gap_between_them(app, organizer_client, geneva):
    with app.app_context():
        session = get_session(geneva)
        first = factories.make_slot(session, topic="First", starts_at=zurich(YEAR, 11, 6, 10, 30), duration_minutes=20)
        second = factories.make_slot(session, topic="Second", starts_at=zurich(YEAR, 11, 6, 11, 0), duration_minutes=40)
        db.session.commit()
        first_id, second_id = first.id, second.id

    organizer_client.post(f"/manage/meetings/avp/program/slots/{second_id}/up")

    with app.app_context():
        first, second = db.session.get(Slot, first_id), db.session.get(Slot, second_id)
        # Second now takes the start of the pair, the 10 minutes between them stay, and the pair still ends at 11:40.
        assert second.starts_at == zurich(YEAR, 11, 6, 10, 30)
        assert first.starts_at == zurich(YEAR, 11, 6, 11, 20) and first.ends_at == zurich(YEAR, 11, 6, 11, 40)
        assert (second.position, first.position) == (0, 1)
        assert (first.sequence, second.sequence) == (1, 1)

    response = organizer_client.post(f"/manage/meetings/avp/program/slots/{second_id}/up", follow_redirects=True)
    assert "“Second” is already the first slot of the session." in text_of(response)
    organizer_client.post(f"/manage/meetings/avp/program/slots/{second_id}/down")
    with app.app_context():
        assert db.session.get(Slot, first_id).starts_at == zurich(YEAR, 11, 6, 10, 30)
        assert db.session.get(Slot, second_id).starts_at == zurich(YEAR, 11, 6, 11, 0)


def test_editing_a_slot_raises_its_sequence_only_when_what_a_calendar_shows_changes(app, organizer_client, geneva):
    with app.app_context():
        slot = factories.make_slot(get_session(geneva), topic="Producing", starts_at=zurich(YEAR, 11, 6, 11, 0))
        db.session.commit()
        slot_id = slot.id
    url = f"/manage/meetings/avp/program/slots/{slot_id}/edit"
    assert 'value="Producing"' in html_of(organizer_client.get(url))
    same = slot_form(starts_at=f"{FIRST_DAY.isoformat()}T11:00", duration_minutes="30", topic="Producing")
    organizer_client.post(url, data=same)
    with app.app_context():
        assert db.session.get(Slot, slot_id).sequence == 0
    organizer_client.post(url, data={**same, "topic": "Producing audiovisual works"})
    with app.app_context():
        slot = db.session.get(Slot, slot_id)
        assert (slot.topic, slot.sequence) == ("Producing audiovisual works", 1)


def test_deleting_a_session_deletes_its_slots(app, organizer_client, geneva):
    with app.app_context():
        session = get_session(geneva)
        slot = factories.make_slot(session)
        factories.make_offer(slot, factories.make_speaker(session.meeting), status="declined")
        db.session.commit()
    organizer_client.post(f"/manage/meetings/avp/sessions/{geneva['session']}/delete")
    with app.app_context():
        assert db.session.scalars(db.select(Slot)).all() == []
        assert db.session.scalars(db.select(SpeakerOffer)).all() == []
        assert len(db.session.scalars(db.select(Speaker)).all()) == 1


def test_a_slot_held_by_an_offer_cannot_be_deleted(app, organizer_client, geneva):
    with app.app_context():
        session = get_session(geneva)
        slot = factories.make_slot(session, topic="Performing")
        factories.make_offer(slot, factories.make_speaker(session.meeting))
        db.session.commit()
        slot_id = slot.id
    response = organizer_client.post(f"/manage/meetings/avp/program/slots/{slot_id}/delete", follow_redirects=True)
    assert "withdraw the offer before deleting the slot" in text_of(response)
    with app.app_context():
        assert db.session.get(Slot, slot_id) is not None


# Conflicts -------------------------------------------------------------------------------------


def kinds(conflicts):
    return [(conflict.level, conflict.kind) for conflict in conflicts]


def test_a_slot_outside_its_session_is_an_error(app, geneva):
    with app.app_context():
        session = get_session(geneva)
        inside = factories.make_slot(session, starts_at=zurich(YEAR, 11, 6, 12, 30), duration_minutes=30)
        late = factories.make_slot(
            session, topic="Too late", starts_at=zurich(YEAR, 11, 6, 12, 45), duration_minutes=30
        )
        inside.starts_at = zurich(YEAR, 11, 6, 12, 0)
        db.session.flush()
        [conflict] = services.find_conflicts(get_meeting())
        assert (conflict.level, conflict.kind, conflict.slot_ids) == ("error", "outside_session", (late.id,))
        assert "“Too late”" in conflict.message and "outside its session" in conflict.message
        assert "fits in the session" in conflict.action


def test_two_overlapping_slots_in_one_session_are_an_error(app, organizer_client, geneva):
    with app.app_context():
        session = get_session(geneva)
        first = factories.make_slot(session, topic="Performing", duration_minutes=30)
        second = factories.make_slot(session, topic="Creating", starts_at=session.starts_at + timedelta(minutes=20))
        db.session.commit()
        [conflict] = services.find_conflicts(get_meeting())
        assert (conflict.level, conflict.kind, conflict.slot_ids) == (
            "error",
            "overlap_in_session",
            (first.id, second.id),
        )

    page = text_of(organizer_client.get(f"/manage/meetings/avp/program/sessions/{geneva['session']}"))
    assert "“Performing” and “Creating” (10:50 AM–11:20 AM) overlap in the same session." in page.replace(
        f"{FIRST_DAY.month}/{FIRST_DAY.day}/{str(YEAR)[2:]}, ", ""
    )
    assert "Overlaps the slot before it." in page


def test_overlapping_slots_of_two_sessions_in_one_room_are_an_error_and_in_two_rooms_are_not(app, geneva):
    with app.app_context():
        meeting = get_meeting()
        session = get_session(geneva)
        side = factories.make_session(
            meeting, title="Side event", starts_at=session.starts_at, ends_at=session.ends_at, room="room a "
        )
        mine = factories.make_slot(session, topic="Performing")
        theirs = factories.make_slot(side, topic="Side talk", starts_at=session.starts_at + timedelta(minutes=15))
        conflicts = services.find_conflicts(meeting)
        assert kinds(conflicts) == [("error", "overlap_in_room"), ("warning", "sessions_share_room")]
        assert conflicts[0].slot_ids == (mine.id, theirs.id)
        assert "take place at the same time in room a" in conflicts[0].message

        side.room = "Room B"
        db.session.flush()
        assert services.find_conflicts(meeting) == []


def test_a_speaker_in_two_overlapping_slots_is_an_error(app, geneva):
    with app.app_context():
        meeting = get_meeting()
        session = get_session(geneva)
        other = factories.make_session(
            meeting, title="Workshop", starts_at=session.starts_at, ends_at=session.ends_at, room="Room B"
        )
        speaker = factories.make_speaker(meeting, name="Henrik Lindqvist")
        factories.make_offer(factories.make_slot(session, topic="Producing"), speaker, status="confirmed")
        factories.make_offer(factories.make_slot(other, topic="Financing"), speaker)
        [conflict] = services.find_conflicts(meeting)
        assert (conflict.level, conflict.kind) == ("error", "speaker_double_booked")
        assert conflict.message.startswith("Henrik Lindqvist is to speak in “Producing” and in “Financing”")


def test_a_speaker_outside_the_times_they_gave_is_a_warning(app, organizer_client, geneva):
    with app.app_context():
        meeting = get_meeting()
        speaker = factories.make_speaker(meeting)
        factories.make_offer(factories.make_slot(get_session(geneva), duration_minutes=30), speaker)
        db.session.commit()
        speaker_id = speaker.id
    url = f"/manage/meetings/avp/speakers/{speaker_id}/availability"
    response = organizer_client.post(
        url, data={"starts_at": f"{FIRST_DAY.isoformat()}T11:00", "ends_at": f"{FIRST_DAY.isoformat()}T13:00"}
    )
    assert response.status_code == 302
    with app.app_context():
        [window] = db.session.scalars(db.select(SpeakerAvailability)).all()
        assert (window.starts_at, window.ends_at) == (utc(YEAR, 11, 6, 10), utc(YEAR, 11, 6, 12))
        [conflict] = services.find_conflicts(get_meeting())
        assert (conflict.level, conflict.kind) == ("warning", "speaker_unavailable")
        assert "outside the times they gave" in conflict.message

    page = text_of(organizer_client.get("/manage/meetings/avp/program"))
    assert "0 errors, 1 warning." in page and "outside the times they gave" in page

    organizer_client.post(
        url, data={"starts_at": f"{FIRST_DAY.isoformat()}T10:00", "ends_at": f"{FIRST_DAY.isoformat()}T11:00"}
    )
    with app.app_context():
        assert services.find_conflicts(get_meeting()) == []


def test_publication_is_refused_while_an_error_stands_and_the_refusal_lists_it(app, organizer_client, geneva):
    with app.app_context():
        session = get_session(geneva)
        factories.make_slot(session, topic="Performing", duration_minutes=30)
        clash = factories.make_slot(session, topic="Creating", starts_at=session.starts_at + timedelta(minutes=10))
        db.session.commit()
        clash_id = clash.id

    response = organizer_client.post("/manage/meetings/avp/program/publish", follow_redirects=True)
    page = text_of(response)
    assert "The program cannot be published while these conflicts stand:" in page
    assert "“Performing” and “Creating”" in page
    with app.app_context():
        assert services.program_state(get_meeting()).published_at is None

    organizer_client.post(
        f"/manage/meetings/avp/program/slots/{clash_id}/move", data={f"move-{clash_id}-starts_at": "11:00"}
    )
    response = organizer_client.post("/manage/meetings/avp/program/publish", follow_redirects=True)
    assert "The program is published" in text_of(response)
    with app.app_context():
        state = db.session.get(ProgramState, geneva["meeting"])
        assert state.published_at is not None and state.updated_at is None
        assert db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "program.publish")) is not None


# Speakers and offers ---------------------------------------------------------------------------


def test_organizer_adds_a_speaker_and_a_duplicate_email_or_unknown_zone_is_refused(app, organizer_client, geneva):
    response = organizer_client.post("/manage/meetings/avp/speakers/new", data=speaker_form())
    assert response.status_code == 302
    with app.app_context():
        speaker = db.session.scalar(db.select(Speaker))
        assert (speaker.name, speaker.perspective, speaker.language) == ("Lucía Fernández Ortega", "creator", "es")
        assert speaker.timezone == "America/Argentina/Buenos_Aires"

    response = organizer_client.post(
        "/manage/meetings/avp/speakers/new",
        data=speaker_form(name="Someone else", email="LUCIA.FERNANDEZ@example.org"),
    )
    assert response.status_code == 422
    assert "Another speaker of this meeting has this email address." in text_of(response)
    response = organizer_client.post(
        "/manage/meetings/avp/speakers/new", data=speaker_form(email="x@example.org", timezone="Mars/Olympus")
    )
    assert response.status_code == 422
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Speaker.id))) == 1


def test_offering_a_slot_holds_it_and_emails_the_speaker_a_personal_link(app, organizer_client, geneva):
    with app.app_context():
        slot = factories.make_slot(get_session(geneva), topic="Performing for the screen")
        speaker = factories.make_speaker(get_meeting(), language="fr", timezone="America/New_York")
        db.session.commit()
        slot_id, speaker_id = slot.id, speaker.id

    response = organizer_client.post(
        f"/manage/meetings/avp/speakers/{speaker_id}/offer", data={"slot_id": slot_id}, follow_redirects=True
    )
    assert "has been offered to Amara Okafor" in text_of(response)

    with app.app_context():
        offer = db.session.scalar(db.select(SpeakerOffer))
        assert (offer.status, offer.slot_id, offer.speaker_id) == ("offered", slot_id, speaker_id)
        assert db.session.get(Slot, slot_id).speaker_id == speaker_id
        [message] = outbox("speaker.offer")
        assert message.recipients == "amara.okafor@example.org" and message.language == "fr"
        assert message.cause_object_type == "SpeakerOffer" and message.cause_object_id == offer.id
        token = link_token(message.body_text)
        assert len(token) >= 43  # 256 bits
        assert offer.token_hash == hash_token(token) and token not in (offer.token_hash, offer.token_nonce)
        assert "Performing for the screen" in message.body_text
        assert "(America/New_York)" in message.body_text  # the speaker's own time too

    response = organizer_client.post(
        f"/manage/meetings/avp/speakers/{speaker_id}/offer", data={"slot_id": slot_id}, follow_redirects=True
    )
    assert "is already offered to Amara Okafor" in text_of(response)
    with app.app_context():
        assert len(outbox("speaker.offer")) == 1


def test_the_speaker_page_shows_the_slot_in_the_meetings_time_and_in_their_own(app, client, geneva):
    with app.app_context():
        slot = factories.make_slot(get_session(geneva), topic="Performing", starts_at=zurich(YEAR, 11, 6, 10, 30))
        speaker = factories.make_speaker(get_meeting(), timezone="America/New_York")
        token = factories.make_offer(slot, speaker).token()
        db.session.commit()

    response = client.get(f"/speakers/{token}")
    assert response.status_code == 200
    assert "no-store" in response.headers["Cache-Control"]
    page = text_of(response)
    assert "Dear Amara Okafor, the Secretariat invites you to speak in this slot." in page
    assert "Information session" in page and "Performing" in page
    assert "When (Europe/Zurich time, where the meeting takes place)" in page
    assert f"Saturday, November 6, {YEAR}, 10:30 AM–11:00 AM" in page
    # 09:30 UTC, and New York is still on summer time (UTC−4) until the first Sunday of November.
    assert f"In your time (America/New_York) Saturday, November 6, {YEAR}, 5:30 AM–6:00 AM" in page
    assert 'value="confirm"' in html_of(response) and 'value="decline"' in html_of(response)


def test_a_wrong_token_is_a_404(app, client, geneva):
    with app.app_context():
        slot = factories.make_slot(get_session(geneva))
        token = factories.make_offer(slot, factories.make_speaker(get_meeting()), status="confirmed").token()
        db.session.commit()
    wrong = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert client.get(f"/speakers/{wrong}").status_code == 404
    assert client.post(f"/speakers/{wrong}", data={"answer": "confirm"}).status_code == 404
    assert client.get(f"/speakers/{wrong}/slot.ics").status_code == 404
    assert client.get("/speakers/" + "x" * 300).status_code == 404
    assert client.get(f"/speakers/{token}").status_code == 200


def test_a_speaker_confirms_through_the_link_and_gets_the_slot_as_an_ics_attachment(app, client, geneva):
    with app.app_context():
        slot = factories.make_slot(get_session(geneva), topic="Performing", starts_at=zurich(YEAR, 11, 6, 10, 30))
        speaker = factories.make_speaker(get_meeting(), timezone="Africa/Lagos")
        offer = factories.make_offer(slot, speaker)
        factories.publish_program(get_meeting())
        db.session.commit()
        token, offer_id, slot_id, uid = offer.token(), offer.id, slot.id, slot.uid
    assert "Amara Okafor" not in text_of(client.get("/meetings/avp"))

    response = client.post(f"/speakers/{token}", data={"answer": "confirm", "note": "I will need a projector."})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/speakers/{token}")
    page = text_of(client.get(response.headers["Location"]))
    assert "Thank you: your slot is confirmed." in page and "You confirmed this slot on" in page

    with app.app_context():
        offer = db.session.get(SpeakerOffer, offer_id)
        assert (offer.status, offer.note) == ("confirmed", "I will need a projector.")
        assert offer.answered_at is not None
        slot = db.session.get(Slot, slot_id)
        assert slot.sequence == 1 and slot.confirmed_speaker.name == "Amara Okafor"
        [message] = outbox("speaker.confirmed")
        assert message.recipients == "amara.okafor@example.org"
        [attachment] = db.session.scalars(db.select(OutboxAttachment)).all()
        assert attachment.message_id == message.id
        assert (attachment.filename, attachment.content_type) == (f"avp-slot-{slot_id}.ics", "text/calendar")
        [calendar_event] = parse_ics(attachment.content).events
        assert str(calendar_event["UID"]) == uid and calendar_event["SEQUENCE"] == 1
        assert (calendar_event.start, calendar_event.end) == (slot.starts_at, slot.ends_at)
        assert "Amara Okafor" in str(calendar_event["DESCRIPTION"])
        entry = db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "speaker.confirm"))
        assert entry.actor == "speaker amara.okafor@example.org" and entry.details["note"] == "I will need a projector."

    assert "Amara Okafor" in text_of(client.get("/meetings/avp"))
    assert client.get(f"/speakers/{token}/slot.ics").headers["Content-Type"].startswith("text/calendar")

    # Confirming twice sends nothing more.
    client.post(f"/speakers/{token}", data={"answer": "confirm"})
    with app.app_context():
        assert len(outbox("speaker.confirmed")) == 1


def test_a_speaker_declines_the_slot_is_freed_and_every_active_organizer_is_told(app, client, geneva):
    with app.app_context():
        factories.make_organizer(email="chief@example.org", name="Chief of Section")
        factories.make_organizer(email="gone@example.org", active=False)
        slot = factories.make_slot(get_session(geneva), topic="Producing")
        offer = factories.make_offer(slot, factories.make_speaker(get_meeting(), name="Henrik Lindqvist"))
        db.session.commit()
        token, offer_id, slot_id = offer.token(), offer.id, slot.id

    response = client.post(
        f"/speakers/{token}", data={"answer": "decline", "note": "I am filming that week."}, follow_redirects=True
    )
    assert "Thank you for letting us know. The Secretariat has been told." in text_of(response)
    assert "You declined this slot on" in text_of(response)
    assert 'value="confirm"' not in html_of(response)

    with app.app_context():
        offer = db.session.get(SpeakerOffer, offer_id)
        assert (offer.status, offer.note) == ("declined", "I am filming that week.")
        slot = db.session.get(Slot, slot_id)
        assert slot.speaker_id is None and slot.current_offer is None
        messages = outbox("speaker.declined")
        assert sorted(message.recipients for message in messages) == ["chief@example.org"]
        assert "Henrik Lindqvist" in messages[0].subject and "I am filming that week." in messages[0].body_text
        assert f"http://meeting.test/manage/meetings/avp/program/sessions/{geneva['session']}" in messages[0].body_text
        assert services.offerable_slots(get_meeting()) == [slot]

    # A declined offer cannot be confirmed afterwards.
    response = client.post(f"/speakers/{token}", data={"answer": "confirm"}, follow_redirects=True)
    assert "This offer is no longer open, so it cannot be confirmed." in text_of(response)
    with app.app_context():
        assert db.session.get(SpeakerOffer, offer_id).status == "declined"


def test_a_confirmed_speaker_who_declines_leaves_the_public_program_and_the_calendar_is_updated(app, client, geneva):
    with app.app_context():
        slot = factories.make_slot(get_session(geneva), topic="Producing")
        offer = factories.make_offer(slot, factories.make_speaker(get_meeting(), name="Henrik Lindqvist"), "confirmed")
        factories.publish_program(get_meeting())
        db.session.commit()
        token, slot_id = offer.token(), slot.id
    assert "Henrik Lindqvist" in text_of(client.get("/meetings/avp"))

    client.post(f"/speakers/{token}", data={"answer": "decline"})

    page = text_of(client.get("/meetings/avp"))
    assert "Henrik Lindqvist" not in page and "Program updated on" in page
    with app.app_context():
        assert db.session.get(Slot, slot_id).sequence == 1
        [calendar_event] = parse_ics(services.program_calendar(get_meeting())).events
        assert calendar_event["SEQUENCE"] == 1 and "Henrik" not in str(calendar_event["DESCRIPTION"])


def test_a_reminder_carries_the_same_link_as_the_offer(app, organizer_client, geneva):
    with app.app_context():
        slot = factories.make_slot(get_session(geneva))
        speaker = factories.make_speaker(get_meeting())
        db.session.commit()
        slot_id, speaker_id = slot.id, speaker.id
    organizer_client.post(f"/manage/meetings/avp/speakers/{speaker_id}/offer", data={"slot_id": slot_id})
    with app.app_context():
        offer = db.session.scalar(db.select(SpeakerOffer))
        offer_id = offer.id
    response = organizer_client.post(f"/manage/meetings/avp/offers/{offer_id}/remind", follow_redirects=True)
    assert "A reminder to Amara Okafor is in the outbox." in text_of(response)
    with app.app_context():
        [first] = outbox("speaker.offer")
        [reminder] = outbox("speaker.reminder")
        assert link_token(reminder.body_text) == link_token(first.body_text)
        assert db.session.get(SpeakerOffer, offer_id).reminders_sent == 1
    page = text_of(organizer_client.get("/manage/meetings/avp/speakers"))
    assert "Offered, awaiting an answer" in page and "1 reminder" in page


def test_a_withdrawn_offer_frees_the_slot_tells_the_speaker_and_can_no_longer_be_confirmed(
    app, organizer_client, geneva
):
    with app.app_context():
        slot = factories.make_slot(get_session(geneva), topic="Creating")
        offer = factories.make_offer(slot, factories.make_speaker(get_meeting()))
        db.session.commit()
        token, offer_id, slot_id = offer.token(), offer.id, slot.id

    response = organizer_client.post(f"/manage/meetings/avp/offers/{offer_id}/withdraw", follow_redirects=True)
    assert "has been withdrawn and the slot is free" in text_of(response)
    with app.app_context():
        assert db.session.get(SpeakerOffer, offer_id).status == "withdrawn"
        assert db.session.get(Slot, slot_id).speaker_id is None
        [message] = outbox("speaker.withdrawn")
        assert message.recipients == "amara.okafor@example.org"

    response = organizer_client.post(f"/speakers/{token}", data={"answer": "confirm"}, follow_redirects=True)
    assert "This offer is no longer open, so it cannot be confirmed." in text_of(response)
    assert "The Secretariat has withdrawn this offer" in text_of(response)
    with app.app_context():
        assert db.session.get(SpeakerOffer, offer_id).status == "withdrawn"
        assert outbox("speaker.confirmed") == []


def test_a_biography_is_markdown_and_anything_unsafe_is_removed(app, client, geneva):
    biography = (
        "Actress and **union delegate**, see [her work](https://example.org/amara).\n\n"
        "<script>alert(1)</script><img src=x onerror=alert(2)> [click](javascript:alert(3))"
    )
    with app.app_context():
        slot = factories.make_slot(get_session(geneva))
        factories.make_offer(slot, factories.make_speaker(get_meeting(), biography=biography), "confirmed")
        factories.publish_program(get_meeting())
        db.session.commit()
    raw = client.get("/meetings/avp").get_data(as_text=True)
    assert "<strong>union delegate</strong>" in raw
    assert '<a href="https://example.org/amara" rel="nofollow noopener noreferrer">her work</a>' in raw
    assert "<script>alert(1)" not in raw and "onerror" not in raw and "javascript:" not in raw


def test_a_speakers_photo_is_public_only_once_they_confirmed(app, organizer_client, client, geneva):
    with app.app_context():
        slot = factories.make_slot(get_session(geneva))
        speaker = factories.make_speaker(get_meeting())
        offer = factories.make_offer(slot, speaker)
        factories.publish_program(get_meeting())
        db.session.commit()
        speaker_id, token = speaker.id, offer.token()
    response = organizer_client.post(
        f"/manage/meetings/avp/speakers/{speaker_id}/photo",
        data={"photo": (BytesIO(tiny_png()), "amara.png")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    photo = organizer_client.get(f"/meetings/avp/speakers/{speaker_id}/photo")
    assert photo.data == tiny_png()
    photo.close()
    refused = organizer_client.post(
        f"/manage/meetings/avp/speakers/{speaker_id}/photo",
        data={"photo": (BytesIO(b"not an image"), "amara.png")},
        content_type="multipart/form-data",
    )
    assert refused.status_code == 422
    organizer_client.post("/logout")

    assert client.get(f"/meetings/avp/speakers/{speaker_id}/photo").status_code == 404
    client.post(f"/speakers/{token}", data={"answer": "confirm"})
    response = client.get(f"/meetings/avp/speakers/{speaker_id}/photo")
    assert response.status_code == 200 and response.mimetype == "image/png"
    response.close()
    assert f'src="/meetings/avp/speakers/{speaker_id}/photo"' in html_of(client.get("/meetings/avp"))


def tiny_png():
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
        + chunk(b"IEND", b"")
    )


# Publication, the public page, the calendar and the API ----------------------------------------


@pytest.fixture
def program_with_three_speakers(app, geneva):
    """A published program: a confirmed speaker, one who has not answered and one who declined."""
    with app.app_context():
        meeting = get_meeting()
        session = get_session(geneva)
        confirmed = factories.make_slot(session, topic="Performing", starts_at=zurich(YEAR, 11, 6, 10, 30))
        offered = factories.make_slot(session, topic="Creating", starts_at=zurich(YEAR, 11, 6, 11, 0))
        declined = factories.make_slot(session, topic="Producing", starts_at=zurich(YEAR, 11, 6, 11, 30))
        factories.make_offer(
            confirmed, factories.make_speaker(meeting, name="Amara Okafor", affiliation="Actress"), "confirmed"
        )
        factories.make_offer(offered, factories.make_speaker(meeting, name="Not Yet Answered", email="n@example.org"))
        factories.make_offer(
            declined, factories.make_speaker(meeting, name="Said No", email="s@example.org"), "declined"
        )
        factories.publish_program(meeting)
        db.session.commit()
        return {"confirmed": confirmed.id, "offered": offered.id, "declined": declined.id}


def test_unconfirmed_speakers_never_appear_on_the_public_page_in_the_calendar_or_in_the_api(
    app, client, program_with_three_speakers
):
    page = text_of(client.get("/meetings/avp"))
    assert "Amara Okafor" in page and "Actress" in page
    assert "Performing" in page and "Creating" in page and "Producing" in page
    assert "Not Yet Answered" not in page and "Said No" not in page

    ics = client.get("/meetings/avp/program.ics").get_data(as_text=True)
    assert "Amara Okafor" in ics and "Not Yet Answered" not in ics and "Said No" not in ics

    with app.app_context():
        program = services.program_as_dict(get_meeting())
    [session] = program["sessions"]
    speakers = [slot["speaker"] for slot in session["slots"]]
    assert [slot["topic"] for slot in session["slots"]] == ["Performing", "Creating", "Producing"]
    assert speakers[0]["name"] == "Amara Okafor" and speakers[1:] == [None, None]
    assert "Not Yet Answered" not in repr(program) and "n@example.org" not in repr(program)


def test_the_program_as_a_dict_gives_local_times_with_their_offset_and_utc(app, program_with_three_speakers):
    with app.app_context():
        program = services.program_as_dict(get_meeting())
    assert program["published"] is True and program["timezone"] == "Europe/Zurich"
    slot = program["sessions"][0]["slots"][0]
    assert slot["starts_at"] == f"{YEAR}-11-06T10:30:00+01:00"
    assert slot["starts_at_utc"] == f"{YEAR}-11-06T09:30:00Z"
    assert slot["ends_at"] == f"{YEAR}-11-06T11:00:00+01:00"
    assert slot["duration_minutes"] == 30 and len(slot["uid"]) == 36
    assert program["sessions"][0]["starts_at"] == f"{YEAR}-11-06T10:30:00+01:00"


def test_the_program_ics_parses_and_its_times_equal_the_slots_times(app, client, program_with_three_speakers):
    response = client.get("/meetings/avp/program.ics")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    calendar = parse_ics(response.data)
    assert [timezone.tz_name for timezone in calendar.timezones] == ["Europe/Zurich"]
    events = {str(calendar_event["UID"]): calendar_event for calendar_event in calendar.events}
    with app.app_context():
        slots = db.session.scalars(db.select(Slot).order_by(Slot.starts_at)).all()
        assert set(events) == {slot.uid for slot in slots}
        for slot in slots:
            calendar_event = events[slot.uid]
            assert calendar_event.start == slot.starts_at and calendar_event.end == slot.ends_at
            assert calendar_event.start.tzinfo.key == "Europe/Zurich"
            assert str(calendar_event["SUMMARY"]) == slot.topic
            assert str(calendar_event["LOCATION"]) == "Room A, WIPO Headquarters, Geneva"
            assert calendar_event["SEQUENCE"] == slot.sequence
    assert f"DTSTART;TZID=Europe/Zurich:{YEAR}1106T103000" in response.get_data(as_text=True)


def test_the_calendar_uid_stays_and_its_sequence_goes_up_when_a_slot_changes(
    app, client, organizer_client, program_with_three_speakers
):
    slot_id = program_with_three_speakers["offered"]

    def event_of_slot():
        with app.app_context():
            uid = db.session.get(Slot, slot_id).uid
        calendar = parse_ics(client.get("/meetings/avp/program.ics").data)
        return next(e for e in calendar.events if str(e["UID"]) == uid)

    before = event_of_slot()
    organizer_client.post(
        f"/manage/meetings/avp/program/slots/{slot_id}/edit",
        data=slot_form(starts_at=f"{FIRST_DAY.isoformat()}T12:00", duration_minutes="30", topic="Creating"),
    )
    after = event_of_slot()
    assert str(after["UID"]) == str(before["UID"])
    assert after["SEQUENCE"] == before["SEQUENCE"] + 1
    assert after.start == zurich(YEAR, 11, 6, 12, 0)


def test_a_change_after_publication_is_shown_as_updated_on(app, client, organizer_client, program_with_three_speakers):
    page = text_of(client.get("/meetings/avp"))
    assert "Program updated on" not in page and "Add the program to your calendar" in page

    organizer_client.post(
        f"/manage/meetings/avp/program/slots/{program_with_three_speakers['declined']}/edit",
        data=slot_form(starts_at=f"{FIRST_DAY.isoformat()}T11:30", duration_minutes="30", topic="Producing films"),
    )

    with app.app_context():
        updated_at = db.session.get(ProgramState, get_meeting().id).updated_at
        assert updated_at is not None
    page = text_of(client.get("/meetings/avp"))
    assert f"Program updated on November 6, {YEAR}" not in page  # the date of the change, not of the meeting
    local = updated_at.astimezone(ZURICH)
    assert f"Program updated on {local:%B} {local.day}, {local.year}" in page
    organizer_page = text_of(organizer_client.get("/manage/meetings/avp/program"))
    assert "Updated on" in organizer_page


def test_slots_stay_hidden_until_the_program_is_published(app, client, organizer_client, geneva):
    with app.app_context():
        slot = factories.make_slot(get_session(geneva), topic="Performing for the screen")
        factories.make_offer(slot, factories.make_speaker(get_meeting()), "confirmed")
        db.session.commit()
    page = text_of(client.get("/meetings/avp"))
    assert "Information session" in page and "Performing for the screen" not in page and "Amara" not in page
    assert "BEGIN:VEVENT" not in client.get("/meetings/avp/program.ics").get_data(as_text=True)
    with app.app_context():
        program = services.program_as_dict(get_meeting())
        assert program["published"] is False and program["sessions"][0]["slots"] == []

    organizer_client.post("/manage/meetings/avp/program/publish")
    organizer_client.post("/logout")
    page = text_of(client.get("/meetings/avp"))
    assert "Performing for the screen" in page and "Amara Okafor" in page

    with app.app_context():
        get_meeting().status = "draft"
        db.session.commit()
    assert client.get("/meetings/avp/program.ics").status_code == 404


def test_the_public_page_needs_the_same_number_of_queries_for_more_slots_and_speakers(app, client, geneva):
    with app.app_context():
        factories.publish_program(get_meeting())
        db.session.commit()
        engine = db.engine

    def add_confirmed_slots(count, offset):
        with app.app_context():
            session, meeting = get_session(geneva), get_meeting()
            for number in range(count):
                slot = factories.make_slot(
                    session, starts_at=session.starts_at + timedelta(minutes=5 * (offset + number))
                )
                speaker = factories.make_speaker(
                    meeting,
                    name=f"Speaker {offset + number}",
                    email=f"s{offset + number}@example.org",
                    biography="**Bold**",
                )
                factories.make_offer(slot, speaker, "confirmed")
            db.session.commit()

    def queries():
        statements = []
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(engine, "before_cursor_execute", listener)
        try:
            assert client.get("/meetings/avp").status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        return len(statements)

    add_confirmed_slots(2, 0)
    few = queries()
    add_confirmed_slots(10, 2)
    assert queries() == few
    assert "Speaker 11" in text_of(client.get("/meetings/avp"))


# Organizer pages -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/manage/meetings/avp/program",
        "/manage/meetings/avp/program/sessions/1",
        "/manage/meetings/avp/speakers",
        "/manage/meetings/avp/speakers/new",
    ],
)
def test_program_pages_ask_visitors_to_sign_in(client, geneva, path):
    response = client.get(path)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_visitors_cannot_publish_a_program_or_offer_a_slot(app, client, geneva):
    assert client.post("/manage/meetings/avp/program/publish").status_code == 302
    with app.app_context():
        assert db.session.get(ProgramState, geneva["meeting"]) is None


def test_the_speakers_page_lists_offers_with_their_status_and_the_slots_still_free(
    app, organizer_client, program_with_three_speakers
):
    with app.app_context():
        session = get_session(
            {"session": db.session.get(Slot, program_with_three_speakers["offered"]).program_session_id}
        )
        factories.make_slot(session, topic="Closing remarks", kind="statement", starts_at=zurich(YEAR, 11, 6, 12, 30))
        factories.make_slot(session, topic="", kind="break", starts_at=zurich(YEAR, 11, 6, 12, 0))
        db.session.commit()
    page = html_of(organizer_client.get("/manage/meetings/avp/speakers"))
    assert page.index("Amara Okafor") < page.index("Confirmed")
    assert "Offered, awaiting an answer" in page and "Declined" in page
    options = re.findall(r"<option value=\"\d+\">([^<]*)</option>", page)
    # Free slots only (the declined one is free again); never a break.
    assert {option.rsplit(" · ", 1)[1] for option in options} == {"Producing", "Closing remarks"}
    overview = text_of(organizer_client.get("/manage/meetings/avp/program"))
    assert "Publication" in overview and "Sessions and their slots" in overview


def test_organizer_edits_a_speaker_removes_a_window_and_deletes_a_speaker_who_holds_no_slot(
    app, organizer_client, geneva
):
    with app.app_context():
        meeting = get_meeting()
        speaker = factories.make_speaker(meeting, biography="*Actress*")
        busy = factories.make_speaker(meeting, name="Busy Speaker", email="busy@example.org")
        factories.make_offer(factories.make_slot(get_session(geneva)), busy)
        window = SpeakerAvailability(speaker=speaker, starts_at=utc(YEAR, 11, 6, 9), ends_at=utc(YEAR, 11, 6, 12))
        db.session.add(window)
        db.session.commit()
        speaker_id, busy_id, window_id = speaker.id, busy.id, window.id
    url = f"/manage/meetings/avp/speakers/{speaker_id}"

    page = html_of(organizer_client.get(url))
    assert 'value="Amara Okafor"' in page and "<em>Actress</em>" in page
    # The window 09:00–12:00 UTC, in local time.
    assert f"11/6/{YEAR % 100}, 10:00 AM – 11/6/{YEAR % 100}, 1:00 PM" in text_of(organizer_client.get(url))

    response = organizer_client.post(url, data=speaker_form(name="Amara N. Okafor", email="amara.okafor@example.org"))
    assert response.status_code == 302
    organizer_client.post(f"{url}/availability/{window_id}/delete")
    with app.app_context():
        speaker = db.session.get(Speaker, speaker_id)
        assert speaker.name == "Amara N. Okafor" and speaker.availability == []
        entry = db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "speaker.update"))
        assert "Name" in entry.summary

    response = organizer_client.post(f"/manage/meetings/avp/speakers/{busy_id}/delete", follow_redirects=True)
    assert "Busy Speaker holds a slot: withdraw the offer before deleting the speaker." in text_of(response)
    response = organizer_client.post(f"{url}/delete", follow_redirects=True)
    assert "Amara N. Okafor has been deleted." in text_of(response)
    with app.app_context():
        assert [speaker.name for speaker in db.session.scalars(db.select(Speaker))] == ["Busy Speaker"]


def test_the_program_of_another_meeting_is_not_found(app, organizer_client, geneva):
    with app.app_context():
        other = factories.make_meeting(slug="other")
        other_slot = factories.make_slot(factories.make_session(other))
        other_speaker = factories.make_speaker(other)
        db.session.commit()
        slot_id, speaker_id = other_slot.id, other_speaker.id
    assert organizer_client.get(f"/manage/meetings/avp/program/slots/{slot_id}/edit").status_code == 404
    assert organizer_client.get(f"/manage/meetings/avp/speakers/{speaker_id}").status_code == 404
    assert (
        organizer_client.post(
            f"/manage/meetings/avp/speakers/{speaker_id}/offer", data={"slot_id": slot_id}
        ).status_code
        == 404
    )
    assert organizer_client.get("/manage/meetings/avp/program/sessions/999").status_code == 404


def test_a_new_room_for_a_session_raises_the_sequence_of_its_slots_and_dates_the_program(
    app, program_with_three_speakers
):
    with app.app_context():
        slot = db.session.get(Slot, program_with_three_speakers["confirmed"])
        slot.session.room = "Room B"
        services.session_changed(slot.session, {"room"})
        db.session.commit()
        assert {slot.sequence for slot in db.session.scalars(db.select(Slot))} == {1}
        assert db.session.get(ProgramState, get_meeting().id).updated_at is not None
        calendar = parse_ics(services.program_calendar(get_meeting()))
        assert {str(calendar_event["LOCATION"]) for calendar_event in calendar.events} == {
            "Room B, WIPO Headquarters, Geneva"
        }


def test_an_organizer_moving_a_session_to_another_room_updates_the_calendar_of_its_slots(
    app, program_with_three_speakers
):
    from meeting.meetings import services as meeting_services

    with app.app_context():
        slot = db.session.get(Slot, program_with_three_speakers["confirmed"])
        sequence = slot.sequence
        meeting_services.update_session(slot.session, {"room": "Room C"})
        db.session.commit()
        assert db.session.get(Slot, slot.id).sequence == sequence + 1
        assert db.session.get(ProgramState, get_meeting().id).updated_at is not None
