"""Meetings: organizers create and edit meetings, move them through their lifecycle and build the
program; visitors see published meetings with times in the meeting's timezone."""

import re
from datetime import UTC, date, datetime, timedelta

import pytest

from meeting.core.audit import AuditEntry, record
from meeting.extensions import db
from meeting.meetings.models import Meeting, MeetingStatus, ProgramSession

from . import factories

# November is winter time in Geneva (UTC+1) every year; next year's is always in the future.
YEAR = date.today().year + 1
FIRST_DAY = date(YEAR, 11, 6)
LAST_DAY = date(YEAR, 11, 7)


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def meeting_form(**overrides):
    data = {
        "slug": "avp-informal",
        "symbol_prefix": "AVP/IM/03",
        "title": "Ad hoc Informal Meeting on the Protection of Audiovisual Performances",
        "kind": "ad_hoc_informal",
        "description": "Convened after informal consultations.",
        "venue": "WIPO Headquarters",
        "city": "Geneva",
        "timezone": "Europe/Zurich",
        "starts_on": FIRST_DAY.isoformat(),
        "ends_on": LAST_DAY.isoformat(),
        "chair": "Chairman of the WIPO General Assembly",
        "registration_opens_at": f"{YEAR}-09-01T09:00",
        "registration_closes_at": f"{YEAR}-11-05T18:00",
        "capacity": "200",
        "per_delegation_limit": "6",
        "languages": ["en", "fr", "es"],
    }
    data.update(overrides)
    return data


def session_form(**overrides):
    data = {
        "title": "Information session",
        "kind": "information_session",
        "starts_at": f"{FIRST_DAY.isoformat()}T10:00",
        "ends_at": f"{FIRST_DAY.isoformat()}T12:30",
        "room": "Room A",
        "description": "",
    }
    data.update(overrides)
    return data


def make_geneva_meeting(**fields):
    values = {"starts_on": FIRST_DAY, "ends_on": LAST_DAY, "timezone": "Europe/Zurich"}
    values.update(fields)
    return factories.make_meeting(**values)


def count(app, model):
    with app.app_context():
        return db.session.scalar(db.select(db.func.count()).select_from(model))


def text_of(response):
    return response.get_data(as_text=True)


def unspaced(html):
    """Babel puts narrow no-break spaces in times ("10:00 AM"); compare with plain spaces."""
    return html.replace("\u202f", " ").replace("\xa0", " ")


# Creating and editing ----------------------------------------------------------------------------


def test_organizer_creates_a_meeting_as_a_draft_with_times_stored_in_utc(app, organizer_client):
    response = organizer_client.post("/manage/meetings/new", data=meeting_form())

    assert response.status_code == 302
    assert response.headers["Location"] == "/manage/meetings/avp-informal"
    with app.app_context():
        meeting = db.session.scalar(db.select(Meeting).where(Meeting.slug == "avp-informal"))
        assert meeting.status == MeetingStatus.DRAFT
        assert meeting.title.startswith("Ad hoc Informal Meeting")
        assert (meeting.starts_on, meeting.ends_on) == (FIRST_DAY, LAST_DAY)
        # 09:00 summer time and 18:00 winter time in Geneva
        assert meeting.registration_opens_at == utc(YEAR, 9, 1, 7, 0)
        assert meeting.registration_closes_at == utc(YEAR, 11, 5, 17, 0)
        assert (meeting.capacity, meeting.per_delegation_limit) == (200, 6)
        assert meeting.languages == "en,fr,es"
    page = organizer_client.get(response.headers["Location"])
    assert "has been created as a draft" in text_of(page)


def test_creating_a_meeting_writes_an_audit_entry_naming_the_organizer(app, organizer_client):
    organizer_client.post("/manage/meetings/new", data=meeting_form())

    with app.app_context():
        entries = db.session.scalars(db.select(AuditEntry)).all()
        assert [(entry.action, entry.actor, entry.object_type) for entry in entries] == [
            ("meeting.create", "secretariat@example.org", "Meeting")
        ]
        assert "avp-informal" in entries[0].summary
        assert entries[0].meeting_id is not None


def test_languages_are_kept_in_the_order_of_the_application(app, organizer_client):
    organizer_client.post("/manage/meetings/new", data=meeting_form(languages=["es", "en"]))

    with app.app_context():
        assert db.session.scalar(db.select(Meeting.languages)) == "en,es"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"slug": "AVP Informal!"}, "Use only lowercase letters, digits and hyphens"),
        ({"slug": "avp--informal"}, "Use only lowercase letters, digits and hyphens"),
        ({"ends_on": (FIRST_DAY - timedelta(days=1)).isoformat()}, "The last day cannot be before the first day."),
        ({"timezone": "Mars/Olympus_Mons"}, "Choose a timezone from the list"),
        ({"languages": []}, "Offer at least one language."),
        ({"languages": ["en", "de"]}, "Only these languages can be offered: en, fr, es."),
        ({"capacity": "0"}, "Give a whole number of at least 1"),
        ({"per_delegation_limit": "-2"}, "Give a whole number of at least 1"),
        ({"registration_closes_at": f"{YEAR}-08-01T09:00"}, "Registration must close after it opens."),
        ({"title": ""}, "This field is required."),
    ],
)
def test_invalid_meeting_is_refused_with_a_message_next_to_the_field(app, organizer_client, overrides, message):
    field = next(iter(overrides))

    response = organizer_client.post("/manage/meetings/new", data=meeting_form(**overrides))

    assert response.status_code == 422
    html = text_of(response)
    error = re.search(rf'<p class="error" id="{field}-error">([^<]*)</p>', html)
    assert error is not None, f"no error shown next to {field}"
    assert message in error.group(1).replace("&#34;", '"')
    assert count(app, Meeting) == 0
    assert count(app, AuditEntry) == 0


def test_a_slug_already_used_by_another_meeting_is_refused(app, organizer_client):
    with app.app_context():
        factories.make_meeting(slug="avp-informal", title="The first one")
        db.session.commit()

    response = organizer_client.post("/manage/meetings/new", data=meeting_form())

    assert response.status_code == 422
    assert "Another meeting already uses the address “avp-informal”." in text_of(response)
    assert count(app, Meeting) == 1


def test_organizer_edits_a_meeting_and_the_audit_log_says_what_changed(app, organizer_client):
    organizer_client.post("/manage/meetings/new", data=meeting_form())

    response = organizer_client.post(
        "/manage/meetings/avp-informal/edit",
        data=meeting_form(venue="Centre international de conférences de Genève", capacity="150"),
    )

    assert response.status_code == 302
    with app.app_context():
        meeting = db.session.scalar(db.select(Meeting))
        assert (meeting.venue, meeting.capacity) == ("Centre international de conférences de Genève", 150)
        update = db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "meeting.update"))
        assert update.summary == "Changed: Venue, Capacity."
        assert update.details["changes"]["capacity"] == [200, 150]


def test_saving_an_unchanged_meeting_writes_no_audit_entry(app, organizer_client):
    organizer_client.post("/manage/meetings/new", data=meeting_form())

    organizer_client.post("/manage/meetings/avp-informal/edit", data=meeting_form())

    assert count(app, AuditEntry) == 1


def test_edit_form_shows_the_registration_window_in_the_meetings_timezone(app, organizer_client):
    with app.app_context():
        make_geneva_meeting(
            slug="avp", registration_opens_at=utc(YEAR, 9, 1, 7, 0), registration_closes_at=utc(YEAR, 11, 5, 17, 0)
        )
        db.session.commit()

    html = text_of(organizer_client.get("/manage/meetings/avp/edit"))

    assert f'value="{YEAR}-09-01T09:00"' in html
    assert f'value="{YEAR}-11-05T18:00"' in html
    assert '<option selected value="Europe/Zurich">' in html


def test_changing_the_slug_to_one_in_use_is_refused_and_changes_nothing(app, organizer_client):
    with app.app_context():
        make_geneva_meeting(slug="avp", title="First")
        make_geneva_meeting(slug="taken", title="Second")
        db.session.commit()

    response = organizer_client.post("/manage/meetings/avp/edit", data=meeting_form(slug="taken", title="Renamed"))

    assert response.status_code == 422
    assert "Another meeting already uses the address “taken”." in text_of(response)
    with app.app_context():
        assert db.session.scalar(db.select(Meeting.title).where(Meeting.slug == "avp")) == "First"
        assert count(app, AuditEntry) == 0


def test_new_dates_that_would_leave_sessions_outside_the_meeting_are_refused(app, organizer_client):
    with app.app_context():
        meeting = make_geneva_meeting(slug="avp")
        factories.make_session(
            meeting,
            title="Closing of the meeting",
            starts_at=utc(YEAR, 11, 7, 15, 0),
            ends_at=utc(YEAR, 11, 7, 16, 0),
        )
        db.session.commit()

    response = organizer_client.post("/manage/meetings/avp/edit", data=meeting_form(slug="avp", ends_on=FIRST_DAY))

    assert response.status_code == 422
    assert "1 program session(s) would fall outside the meeting&#39;s days, such as “Closing of the meeting”" in (
        text_of(response)
    )
    with app.app_context():
        assert db.session.scalar(db.select(Meeting.ends_on)) == LAST_DAY


def test_an_archived_meeting_cannot_be_changed(app, organizer_client):
    with app.app_context():
        make_geneva_meeting(slug="avp", status=MeetingStatus.ARCHIVED, title="Old title")
        db.session.commit()

    response = organizer_client.post("/manage/meetings/avp/edit", data=meeting_form(slug="avp", title="New title"))

    assert response.status_code == 422
    assert "An archived meeting cannot be changed." in text_of(response)
    with app.app_context():
        assert db.session.scalar(db.select(Meeting.title)) == "Old title"


# Lifecycle ---------------------------------------------------------------------------------------


def status_of(app, slug="avp"):
    with app.app_context():
        return db.session.scalar(db.select(Meeting.status).where(Meeting.slug == slug))


def test_a_meeting_goes_from_draft_to_published_to_closed_to_archived(app, organizer_client):
    with app.app_context():
        make_geneva_meeting(slug="avp", status=MeetingStatus.DRAFT)
        db.session.commit()

    response = organizer_client.post("/manage/meetings/avp/status/publish")
    assert response.status_code == 302
    assert response.headers["Location"] == "/manage/meetings/avp"
    assert status_of(app) == "published"
    with app.app_context():
        assert db.session.scalar(db.select(Meeting.published_at)) is not None

    organizer_client.post("/manage/meetings/avp/status/close")
    assert status_of(app) == "closed"
    organizer_client.post("/manage/meetings/avp/status/archive")
    assert status_of(app) == "archived"

    with app.app_context():
        actions = db.session.scalars(db.select(AuditEntry.action).order_by(AuditEntry.id)).all()
        assert actions == ["meeting.publish", "meeting.close", "meeting.archive"]


def test_a_published_meeting_can_go_back_to_draft_and_a_closed_one_be_reopened(app, organizer_client):
    with app.app_context():
        make_geneva_meeting(slug="avp", status=MeetingStatus.PUBLISHED, published_at=utc(YEAR - 1, 1, 1))
        make_geneva_meeting(slug="closed", status=MeetingStatus.CLOSED)
        db.session.commit()

    organizer_client.post("/manage/meetings/avp/status/unpublish")
    organizer_client.post("/manage/meetings/closed/status/reopen")

    assert status_of(app, "avp") == "draft"
    assert status_of(app, "closed") == "published"
    with app.app_context():
        assert db.session.scalar(db.select(Meeting.published_at).where(Meeting.slug == "avp")) is None


@pytest.mark.parametrize(
    ("status", "action", "message"),
    [
        ("draft", "archive", "Only a closed meeting can be archived. This meeting is draft."),
        ("draft", "close", "Only a published meeting can be closed."),
        ("published", "publish", "Only a draft can be published."),
        ("published", "archive", "Only a closed meeting can be archived."),
        ("archived", "reopen", "Only a closed meeting can be reopened."),
        ("archived", "publish", "Only a draft can be published."),
        ("closed", "unpublish", "Only a published meeting can go back to draft."),
        ("draft", "delete", "Unknown action “delete”."),
    ],
)
def test_a_transition_the_lifecycle_does_not_allow_is_refused(app, organizer_client, status, action, message):
    with app.app_context():
        make_geneva_meeting(slug="avp", status=status)
        db.session.commit()

    response = organizer_client.post(f"/manage/meetings/avp/status/{action}", follow_redirects=True)

    assert message in text_of(response)
    assert status_of(app) == status
    assert count(app, AuditEntry) == 0


def test_a_meeting_without_a_venue_cannot_be_published(app, organizer_client):
    with app.app_context():
        make_geneva_meeting(slug="avp", status=MeetingStatus.DRAFT, venue="")
        db.session.commit()

    response = organizer_client.post("/manage/meetings/avp/status/publish", follow_redirects=True)

    assert "Before publishing, give the meeting its venue." in text_of(response)
    assert status_of(app) == "draft"


def test_overview_offers_only_the_status_actions_allowed_now(app, organizer_client):
    with app.app_context():
        make_geneva_meeting(slug="avp", status=MeetingStatus.PUBLISHED)
        db.session.commit()

    html = text_of(organizer_client.get("/manage/meetings/avp"))

    assert 'action="/manage/meetings/avp/status/close"' in html
    assert 'action="/manage/meetings/avp/status/unpublish"' in html
    assert 'action="/manage/meetings/avp/status/publish"' not in html
    assert 'action="/manage/meetings/avp/status/archive"' not in html
    assert 'aria-label="Breadcrumb"' in html


# Program sessions --------------------------------------------------------------------------------


def sessions_of(app):
    with app.app_context():
        return db.session.scalars(db.select(ProgramSession).order_by(ProgramSession.starts_at)).all()


def test_organizer_adds_a_session_entered_in_the_meetings_local_time(app, organizer_client):
    with app.app_context():
        make_geneva_meeting(slug="avp")
        db.session.commit()

    response = organizer_client.post("/manage/meetings/avp/sessions/new", data=session_form())

    assert response.status_code == 302
    assert response.headers["Location"] == "/manage/meetings/avp/sessions"
    [session] = sessions_of(app)
    assert (session.starts_at, session.ends_at) == (utc(YEAR, 11, 6, 9, 0), utc(YEAR, 11, 6, 11, 30))
    with app.app_context():
        entry = db.session.scalar(db.select(AuditEntry))
        assert entry.action == "session.create"
        assert "Information session" in entry.summary


def test_a_session_just_after_midnight_on_the_first_day_is_accepted_though_it_is_the_day_before_in_utc(
    app, organizer_client
):
    with app.app_context():
        make_geneva_meeting(slug="avp")
        db.session.commit()

    response = organizer_client.post(
        "/manage/meetings/avp/sessions/new",
        data=session_form(starts_at=f"{FIRST_DAY}T00:30", ends_at=f"{FIRST_DAY}T01:30"),
    )

    assert response.status_code == 302
    [session] = sessions_of(app)
    assert session.starts_at == utc(YEAR, 11, 5, 23, 30)


def test_a_session_running_past_midnight_after_the_last_day_is_refused(app, organizer_client):
    with app.app_context():
        make_geneva_meeting(slug="avp")
        db.session.commit()

    response = organizer_client.post(
        "/manage/meetings/avp/sessions/new",
        data=session_form(starts_at=f"{LAST_DAY}T23:30", ends_at=f"{LAST_DAY + timedelta(days=1)}T00:30"),
    )

    assert response.status_code == 422
    error = re.search(r'<p class="error" id="ends_at-error">([^<]*)</p>', text_of(response))
    assert error is not None
    assert "The session must take place during the meeting" in error.group(1)
    assert "Europe/Zurich" in error.group(1)
    assert sessions_of(app) == []
    assert count(app, AuditEntry) == 0


def test_a_session_before_the_first_day_in_local_time_is_refused(app, organizer_client):
    with app.app_context():
        make_geneva_meeting(slug="avp")
        db.session.commit()

    day_before = FIRST_DAY - timedelta(days=1)
    response = organizer_client.post(
        "/manage/meetings/avp/sessions/new",
        data=session_form(starts_at=f"{day_before}T23:30", ends_at=f"{FIRST_DAY}T00:30"),
    )

    assert response.status_code == 422
    assert re.search(r'id="starts_at-error">The session must take place during the meeting', text_of(response))
    assert sessions_of(app) == []


def test_a_session_ending_before_it_starts_is_refused(app, organizer_client):
    with app.app_context():
        make_geneva_meeting(slug="avp")
        db.session.commit()

    response = organizer_client.post(
        "/manage/meetings/avp/sessions/new",
        data=session_form(starts_at=f"{FIRST_DAY}T11:00", ends_at=f"{FIRST_DAY}T10:00"),
    )

    assert response.status_code == 422
    assert "The session must end after it starts." in text_of(response)
    assert sessions_of(app) == []


def test_organizer_edits_and_deletes_a_session(app, organizer_client):
    with app.app_context():
        meeting = make_geneva_meeting(slug="avp")
        session_id = factories.make_session(
            meeting, starts_at=utc(YEAR, 11, 6, 9, 0), ends_at=utc(YEAR, 11, 6, 10, 0)
        ).id
        db.session.commit()

    edit_page = text_of(organizer_client.get(f"/manage/meetings/avp/sessions/{session_id}/edit"))
    assert f'value="{FIRST_DAY}T10:00"' in edit_page

    response = organizer_client.post(
        f"/manage/meetings/avp/sessions/{session_id}/edit",
        data=session_form(title="Opening", kind="opening", starts_at=f"{LAST_DAY}T09:30", ends_at=f"{LAST_DAY}T10:00"),
    )
    assert response.status_code == 302
    [session] = sessions_of(app)
    assert (session.title, session.starts_at) == ("Opening", utc(YEAR, 11, 7, 8, 30))
    with app.app_context():
        summary = db.session.scalar(db.select(AuditEntry.summary).where(AuditEntry.action == "session.update"))
        assert summary == "Changed the program session “Opening”: Title, Starts, Ends."

    response = organizer_client.post(f"/manage/meetings/avp/sessions/{session_id}/delete")
    assert response.status_code == 302
    assert sessions_of(app) == []
    with app.app_context():
        actions = db.session.scalars(db.select(AuditEntry.action).order_by(AuditEntry.id)).all()
        assert actions == ["session.update", "session.delete"]


def test_a_session_of_another_meeting_is_not_found(app, organizer_client):
    with app.app_context():
        make_geneva_meeting(slug="avp")
        other = make_geneva_meeting(slug="other")
        session_id = factories.make_session(other, starts_at=utc(YEAR, 11, 6, 9), ends_at=utc(YEAR, 11, 6, 10)).id
        db.session.commit()

    assert organizer_client.get(f"/manage/meetings/avp/sessions/{session_id}/edit").status_code == 404
    assert organizer_client.post(f"/manage/meetings/avp/sessions/{session_id}/delete").status_code == 404
    assert len(sessions_of(app)) == 1


def test_program_management_lists_sessions_by_day_in_local_time(app, organizer_client):
    with app.app_context():
        meeting = make_geneva_meeting(slug="avp")
        factories.make_session(meeting, title="Opening", starts_at=utc(YEAR, 11, 6, 9), ends_at=utc(YEAR, 11, 6, 10))
        db.session.commit()

    html = unspaced(text_of(organizer_client.get("/manage/meetings/avp/sessions")))

    assert "Opening" in html
    assert "10:00 AM – 11:00 AM" in html
    assert f"November 6, {YEAR}" in html


# Public pages ------------------------------------------------------------------------------------


def test_draft_and_archived_meetings_are_invisible_to_the_public(app, client):
    with app.app_context():
        make_geneva_meeting(slug="draft", title="Draft meeting", status=MeetingStatus.DRAFT)
        make_geneva_meeting(slug="archived", title="Archived meeting", status=MeetingStatus.ARCHIVED)
        make_geneva_meeting(slug="closed", title="Closed meeting", status=MeetingStatus.CLOSED)
        db.session.commit()

    assert client.get("/meetings/draft").status_code == 404
    assert client.get("/meetings/archived").status_code == 404
    assert client.get("/meetings/closed").status_code == 200
    home = text_of(client.get("/"))
    assert "Draft meeting" not in home
    assert "Archived meeting" not in home
    assert "Closed meeting" in home


def test_an_organizer_previews_a_draft_with_a_banner(app, organizer_client):
    with app.app_context():
        make_geneva_meeting(slug="draft", title="Draft meeting", status=MeetingStatus.DRAFT)
        make_geneva_meeting(slug="published", title="Published meeting")
        db.session.commit()

    draft = organizer_client.get("/meetings/draft")
    published = organizer_client.get("/meetings/published")

    assert draft.status_code == 200
    assert "Draft – not public." in text_of(draft)
    assert "not public" not in text_of(published)


def test_home_page_lists_upcoming_meetings_soonest_first_then_past_ones_most_recent_first(app, client):
    today = date.today()
    with app.app_context():
        for slug, title, start in [
            ("later", "Later meeting", today + timedelta(days=60)),
            ("past-old", "Old past meeting", today - timedelta(days=400)),
            ("soon", "Soon meeting", today + timedelta(days=10)),
            ("past-recent", "Recent past meeting", today - timedelta(days=30)),
            ("ongoing", "Ongoing meeting", today - timedelta(days=1)),
        ]:
            factories.make_meeting(
                slug=slug,
                title=title,
                starts_on=start,
                ends_on=start + timedelta(days=2),
                timezone="UTC",
                registration_opens_at=None,
                registration_closes_at=None,
            )
        db.session.commit()

    html = text_of(client.get("/"))

    order = [
        "Ongoing meeting",
        "Soon meeting",
        "Later meeting",
        "Past meetings",
        "Recent past meeting",
        "Old past meeting",
    ]
    positions = [html.index(text) for text in order]
    assert positions == sorted(positions)


def test_home_page_shows_dates_place_and_registration_state(app, client):
    with app.app_context():
        make_geneva_meeting(
            slug="avp",
            registration_opens_at=utc(YEAR, 9, 1, 7),
            registration_closes_at=utc(YEAR, 11, 5, 17),
        )
        db.session.commit()

    html = unspaced(text_of(client.get("/")))

    assert f"November 6, {YEAR} – November 7, {YEAR}" in html
    assert "WIPO Headquarters, Geneva" in html
    assert f"Registration opens on September 1, {YEAR}, 9:00 AM (Europe/Zurich time)." in html


def test_meeting_page_shows_the_program_by_day_in_the_meetings_timezone(app, client):
    with app.app_context():
        meeting = make_geneva_meeting(slug="avp", chair="Chairman of the WIPO General Assembly")
        factories.make_session(
            meeting, title="Early start", starts_at=utc(YEAR, 11, 5, 23, 30), ends_at=utc(YEAR, 11, 6, 0, 30)
        )
        factories.make_session(
            meeting, title="Information session", starts_at=utc(YEAR, 11, 7, 13), ends_at=utc(YEAR, 11, 7, 15)
        )
        db.session.commit()

    html = unspaced(text_of(client.get("/meetings/avp")))

    assert "Times are local time in Europe/Zurich." in html
    assert "Chairman of the WIPO General Assembly" in html
    first_day, second_day = html.index(f"November 6, {YEAR}</h3>"), html.index(f"November 7, {YEAR}</h3>")
    assert first_day < html.index("Early start") < second_day < html.index("Information session")
    assert "12:30 AM</time>" in html  # 23:30 UTC the day before
    assert "2:00 PM</time>" in html  # 13:00 UTC


def test_meeting_description_is_plain_text_with_paragraphs(app, client):
    with app.app_context():
        make_geneva_meeting(slug="avp", description="First paragraph.\n\n<script>alert(1)</script>\nSecond line.")
        db.session.commit()

    html = text_of(client.get("/meetings/avp"))

    assert "<p>First paragraph.</p>" in html
    assert "<p>&lt;script&gt;alert(1)&lt;/script&gt;<br>Second line.</p>" in html
    assert "<script>alert" not in html


@pytest.mark.parametrize(
    ("opens", "closes", "status", "expected"),
    [
        (-1, 30, "published", "Registration is open until"),
        (5, 30, "published", "Registration opens on"),
        (-30, -1, "published", "Registration is closed."),
        (-1, 30, "closed", "Registration is closed."),
        (None, None, "published", "Registration dates have not been announced yet."),
    ],
)
def test_meeting_page_says_whether_registration_is_open(app, client, opens, closes, status, expected):
    now = datetime.now(UTC)
    with app.app_context():
        make_geneva_meeting(
            slug="avp",
            status=status,
            registration_opens_at=now + timedelta(days=opens) if opens is not None else None,
            registration_closes_at=now + timedelta(days=closes) if closes is not None else None,
        )
        db.session.commit()

    assert expected in text_of(client.get("/meetings/avp"))


def test_registration_of_a_meeting_that_has_ended_is_closed(app, client):
    with app.app_context():
        factories.make_meeting(
            slug="old",
            starts_on=date.today() - timedelta(days=10),
            ends_on=date.today() - timedelta(days=9),
            registration_opens_at=None,
            registration_closes_at=None,
        )
        db.session.commit()

    assert "Registration is closed." in text_of(client.get("/meetings/old"))
    assert "Registration closed" in text_of(client.get("/"))


def test_register_button_appears_only_when_registration_is_served(app, client):
    with app.app_context():
        make_geneva_meeting(slug="avp", registration_opens_at=datetime.now(UTC) - timedelta(days=1))
        db.session.commit()
    if "registration.register" not in app.view_functions:
        app.add_url_rule("/meetings/<slug>/register", endpoint="registration.register", view_func=lambda slug: slug)

    assert 'href="/meetings/avp/register"' in text_of(client.get("/meetings/avp"))

    del app.view_functions["registration.register"]
    assert 'href="/meetings/avp/register"' not in text_of(client.get("/meetings/avp"))


# Organizer pages ---------------------------------------------------------------------------------


def test_organizer_list_shows_every_meeting_with_its_status(app, organizer_client):
    with app.app_context():
        make_geneva_meeting(slug="draft", title="Draft meeting", status=MeetingStatus.DRAFT)
        make_geneva_meeting(slug="archived", title="Archived meeting", status=MeetingStatus.ARCHIVED)
        db.session.commit()

    html = text_of(organizer_client.get("/manage/"))

    assert "Draft meeting" in html and "Archived meeting" in html
    assert '<span class="badge badge-draft">Draft</span>' in html
    assert '<span class="badge badge-archived">Archived</span>' in html


def test_audit_log_lists_the_actions_with_the_organizers_email(app, organizer_client):
    organizer_client.post("/manage/meetings/new", data=meeting_form())
    organizer_client.post("/manage/meetings/avp-informal/status/publish")
    organizer_client.post("/manage/meetings/avp-informal/sessions/new", data=session_form())

    html = text_of(organizer_client.get("/manage/meetings/avp-informal/audit"))

    assert html.count("secretariat@example.org") >= 3
    for action in ("meeting.create", "meeting.publish", "session.create"):
        assert f"<code>{action}</code>" in html
    assert html.index("session.create") < html.index("meeting.publish") < html.index("meeting.create")
    assert "Published the meeting." in html


def test_audit_log_is_paginated(app, organizer_client):
    with app.app_context():
        meeting = make_geneva_meeting(slug="avp")
        for number in range(55):
            record("meeting.update", meeting=meeting, summary=f"Change number {number}", actor=(None, "script"))
        db.session.commit()

    first = text_of(organizer_client.get("/manage/meetings/avp/audit"))
    second = text_of(organizer_client.get("/manage/meetings/avp/audit?page=2"))

    assert "Page 1 of 2" in first
    assert 'href="/manage/meetings/avp/audit?page=2"' in first
    assert first.count("<code>meeting.update</code>") == 50
    assert second.count("<code>meeting.update</code>") == 5


@pytest.mark.parametrize(
    "path",
    [
        "/meetings/nowhere",
        "/manage/meetings/nowhere",
        "/manage/meetings/nowhere/edit",
        "/manage/meetings/nowhere/sessions",
        "/manage/meetings/nowhere/sessions/new",
        "/manage/meetings/nowhere/audit",
    ],
)
def test_unknown_meeting_is_not_found(organizer_client, path):
    response = organizer_client.get(path)

    assert response.status_code == 404
    assert "Page not found" in text_of(response)


@pytest.mark.parametrize(
    "path",
    ["/manage/meetings/new", "/manage/meetings/avp", "/manage/meetings/avp/audit", "/manage/meetings/avp/sessions"],
)
def test_organizer_pages_ask_visitors_to_sign_in(app, client, path):
    with app.app_context():
        make_geneva_meeting(slug="avp")
        db.session.commit()

    response = client.get(path)

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_visitors_cannot_change_a_meetings_status(app, client):
    with app.app_context():
        make_geneva_meeting(slug="avp", status=MeetingStatus.DRAFT)
        db.session.commit()

    response = client.post("/manage/meetings/avp/status/publish")

    assert response.status_code == 302
    assert status_of(app) == "draft"
