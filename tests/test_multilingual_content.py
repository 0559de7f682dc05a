"""Content in several languages: organizers enter a meeting's title and description, the titles of the
program sessions, the topics of the slots and the titles of the documents in each language the meeting
offers; visitors read them in their language, and where a translation is missing they read the main
language's text, marked as such (lang="…" for screen readers, a note naming the language for the eye).
Emails and the list of participants use the recipient's or the list's language."""

import html
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from icalendar import Calendar

from meeting.core.audit import AuditEntry
from meeting.core.errors import DomainError
from meeting.documents.models import Document
from meeting.extensions import db
from meeting.invitations import services as invitation_services
from meeting.mail.models import OutboxMessage
from meeting.meetings import services as meeting_services
from meeting.meetings.models import Meeting, ProgramSession
from meeting.program import services as program_services
from meeting.program.models import Slot
from meeting.registration import services as registration_services
from meeting.registration.participants import list_of_participants

from . import factories

SLUG = "avp-test"
YEAR = date.today().year + 1
FIRST_DAY = date(YEAR, 11, 6)

TITLE_EN = "Ad hoc Informal Meeting on the Protection of Audiovisual Performances"
TITLE_FR = "Réunion informelle ad hoc sur la protection des interprétations et exécutions audiovisuelles"
TITLE_ES = "Reunión informal especial sobre la protección de las interpretaciones y ejecuciones audiovisuales"
DESCRIPTION_EN = "Convened after informal consultations with Member States."
DESCRIPTION_FR = "Convoquée après des consultations informelles avec les États membres."


def html_of(response):
    return html.unescape(response.get_data(as_text=True))


def h1_of(response):
    return re.search(r"<h1>(.*?)</h1>", html_of(response), re.S).group(1).strip()


def meeting_form(**overrides):
    data = {
        "slug": SLUG,
        "symbol_prefix": "AVP/IM/03",
        "title": TITLE_EN,
        "kind": "ad_hoc_informal",
        "description": DESCRIPTION_EN,
        "venue": "WIPO Headquarters",
        "city": "Geneva",
        "timezone": "Europe/Zurich",
        "starts_on": FIRST_DAY.isoformat(),
        "ends_on": (FIRST_DAY + timedelta(days=1)).isoformat(),
        "chair": "Chairman of the WIPO General Assembly",
        "registration_opens_at": "",
        "registration_closes_at": "",
        "capacity": "",
        "per_delegation_limit": "",
        "languages": ["en", "fr", "es"],
    }
    data.update(overrides)
    return data


@pytest.fixture
def meeting_id(app):
    """A published meeting in English, French and Spanish (English first: its main language), with an
    information session on its first day."""
    with app.app_context():
        meeting = factories.make_meeting(
            starts_on=FIRST_DAY, ends_on=FIRST_DAY + timedelta(days=1), description=DESCRIPTION_EN
        )
        factories.make_session(
            meeting,
            title="Information session",
            kind="information_session",
            starts_at=datetime(YEAR, 11, 6, 9, 30, tzinfo=UTC),
            ends_at=datetime(YEAR, 11, 6, 12, 0, tzinfo=UTC),
        )
        db.session.commit()
        return meeting.id


def the_meeting():
    return db.session.scalar(db.select(Meeting).where(Meeting.slug == SLUG))


def the_session():
    return db.session.scalar(db.select(ProgramSession))


def read_in(client, language):
    client.post("/language", data={"lang": language})
    return client.get(f"/meetings/{SLUG}")


def translate_meeting(app, **translations):
    with app.app_context():
        meeting = the_meeting()
        meeting.translations = translations
        db.session.commit()


# The organizers enter the translations ---------------------------------------------------------


def test_organizer_enters_french_and_spanish_titles_and_the_change_is_audited(app, organizer_client, meeting_id):
    form = html_of(organizer_client.get(f"/manage/meetings/{SLUG}/edit"))
    assert "Title in French" in form and "Description in Spanish" in form
    assert re.search(r'<input[^>]*id="title_fr"[^>]*lang="fr"|<input[^>]*lang="fr"[^>]*id="title_fr"', form)
    assert "In English, the meeting's main language." in form

    response = organizer_client.post(
        f"/manage/meetings/{SLUG}/edit",
        data=meeting_form(title_fr=f"  {TITLE_FR} ", description_fr=DESCRIPTION_FR, title_es=TITLE_ES),
    )
    assert response.status_code == 302

    with app.app_context():
        meeting = the_meeting()
        assert meeting.title == TITLE_EN
        assert meeting.translations == {
            "fr": {"title": TITLE_FR, "description": DESCRIPTION_FR},
            "es": {"title": TITLE_ES},
        }
        entry = db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "meeting.update"))
        assert "Title (French)" in entry.summary and "Description (French)" in entry.summary
        assert "Title (Spanish)" in entry.summary
        assert entry.details["changes"]["translations"][1]["es"] == {"title": TITLE_ES}

    # The form shows what was entered, and emptying a field removes that translation.
    form = html_of(organizer_client.get(f"/manage/meetings/{SLUG}/edit"))
    assert f'value="{TITLE_FR}"' in form
    organizer_client.post(
        f"/manage/meetings/{SLUG}/edit", data=meeting_form(title_fr=TITLE_FR, description_fr="", title_es="")
    )
    with app.app_context():
        assert the_meeting().translations == {"fr": {"title": TITLE_FR}}


def test_only_the_offered_languages_get_fields_and_other_languages_are_ignored(app, organizer_client, meeting_id):
    with app.app_context():
        the_meeting().languages = "en,fr"
        db.session.commit()

    form = html_of(organizer_client.get(f"/manage/meetings/{SLUG}/edit"))
    assert 'name="title_fr"' in form
    assert 'name="title_es"' not in form and "Title in Spanish" not in form and 'name="title_en"' not in form

    response = organizer_client.post(
        f"/manage/meetings/{SLUG}/edit",
        data=meeting_form(languages=["en", "fr"], title_fr=TITLE_FR, title_es=TITLE_ES, title_en="Another title"),
    )
    assert response.status_code == 302
    with app.app_context():
        meeting = the_meeting()
        assert meeting.translations == {"fr": {"title": TITLE_FR}}
        assert meeting.title == TITLE_EN


def test_a_new_meeting_form_has_no_translation_fields_until_the_languages_are_chosen(organizer_client):
    form = html_of(organizer_client.get("/manage/meetings/new"))
    assert 'name="title_fr"' not in form and 'name="title_es"' not in form
    assert "The first is the meeting's main language" in form


def test_a_translation_longer_than_its_column_is_refused_next_to_its_field_and_nothing_changes(
    app, organizer_client, meeting_id
):
    response = organizer_client.post(f"/manage/meetings/{SLUG}/edit", data=meeting_form(title_fr="x" * 301))
    assert response.status_code == 422
    assert re.search(r'id="title_fr-error"', html_of(response))
    with app.app_context():
        meeting = the_meeting()
        assert meeting.translations == {}
        # The service checks it too (the API and the forms share its rules).
        with pytest.raises(DomainError) as refused:
            meeting_services.update_meeting(meeting, {"translations": {"es": {"title": "y" * 301}}})
        assert refused.value.fields == {"title_es": ["At most 300 characters."]}


def test_the_main_language_cannot_be_withdrawn_and_stays_first_when_a_language_is_added(
    app, organizer_client, meeting_id
):
    response = organizer_client.post(f"/manage/meetings/{SLUG}/edit", data=meeting_form(languages=["fr", "es"]))
    assert response.status_code == 422
    assert "English is the main language of this meeting" in html_of(response)
    with app.app_context():
        assert the_meeting().languages == "en,fr,es"
        the_meeting().languages = "fr,es"
        db.session.commit()

    response = organizer_client.post(f"/manage/meetings/{SLUG}/edit", data=meeting_form(languages=["en", "fr", "es"]))
    assert response.status_code == 302
    with app.app_context():
        assert the_meeting().languages == "fr,en,es"


# Visitors read them in their language -----------------------------------------------------------


def test_the_meeting_page_in_french_shows_the_french_title_and_description_with_no_fallback_note(
    app, client, meeting_id
):
    translate_meeting(app, fr={"title": TITLE_FR, "description": DESCRIPTION_FR}, es={"title": TITLE_ES})
    response = read_in(client, "fr")
    page = html_of(response)
    assert '<html lang="fr">' in page
    assert h1_of(response) == TITLE_FR
    assert f"<title>{TITLE_FR} · " in page
    assert DESCRIPTION_FR in page and DESCRIPTION_EN not in page
    assert 'class="untranslated"' not in page.split("<main")[1].split("Program")[0]
    # A browser that asks for French, without choosing on the page, reads the same.
    assert (
        h1_of(app.test_client().get(f"/meetings/{SLUG}", headers={"Accept-Language": "fr-CH, fr;q=0.9, en;q=0.5"}))
        == TITLE_FR
    )


def test_in_spanish_a_missing_description_shows_the_english_one_marked_as_english(app, client, meeting_id):
    translate_meeting(app, fr={"title": TITLE_FR, "description": DESCRIPTION_FR}, es={"title": TITLE_ES})
    response = read_in(client, "es")
    page = html_of(response)
    assert h1_of(response) == TITLE_ES
    about = re.search(r'<section class="card meeting-description".*?</section>', page, re.S).group(0)
    assert re.search(r'<h2 id="about-heading">[^<]*<span class="untranslated">\(Inglés\)</span></h2>', about)
    assert re.search(rf'<div lang="en">\s*<p>{re.escape(DESCRIPTION_EN)}</p>\s*</div>', about)


def test_a_language_the_meeting_does_not_offer_reads_the_main_language_marked_as_such(app, client, meeting_id):
    with app.app_context():
        meeting = the_meeting()
        meeting.languages = "en,fr"
        meeting.translations = {"fr": {"title": TITLE_FR}, "es": {"title": TITLE_ES}}
        db.session.commit()
    response = read_in(client, "es")
    assert h1_of(response) == f'<span lang="en">{TITLE_EN}</span> <span class="untranslated">(Inglés)</span>'
    assert TITLE_ES not in html_of(response)
    # In English, the main language, nothing is marked.
    assert h1_of(read_in(client, "en")) == TITLE_EN


def test_the_list_of_meetings_and_the_organizer_pages_show_the_title_in_the_pages_language(
    app, organizer_client, meeting_id
):
    translate_meeting(app, fr={"title": TITLE_FR})
    organizer_client.post("/language", data={"lang": "fr"})
    assert TITLE_FR in html_of(organizer_client.get("/"))
    assert TITLE_FR in html_of(organizer_client.get("/manage/"))
    overview = organizer_client.get(f"/manage/meetings/{SLUG}")
    assert h1_of(overview).startswith(TITLE_FR)
    organizer_client.post("/language", data={"lang": "es"})
    spanish = html_of(organizer_client.get("/"))
    assert f'<span lang="en">{TITLE_EN}</span> <span class="untranslated">(Inglés)</span>' in spanish


# The program ------------------------------------------------------------------------------------


def slot_form(**overrides):
    data = {
        "starts_at": f"{FIRST_DAY.isoformat()}T10:30",
        "duration_minutes": "25",
        "topic": "Performing",
        "kind": "talk",
    }
    data.update(overrides)
    return data


def session_form(**overrides):
    data = {
        "title": "Information session",
        "kind": "information_session",
        "starts_at": f"{FIRST_DAY.isoformat()}T10:30",
        "ends_at": f"{FIRST_DAY.isoformat()}T13:00",
        "room": "Room A",
        "description": "",
    }
    data.update(overrides)
    return data


def test_session_titles_and_slot_topics_are_entered_per_language_and_read_in_the_visitors(
    app, client, organizer_client, meeting_id
):
    with app.app_context():
        session_id = the_session().id
    response = organizer_client.post(
        f"/manage/meetings/{SLUG}/sessions/{session_id}/edit",
        data=session_form(
            description="Four speakers, four perspectives.", title_fr="Séance d’information", title_es=""
        ),
    )
    assert response.status_code == 302
    timeline = html_of(organizer_client.get(f"/manage/meetings/{SLUG}/program/sessions/{session_id}"))
    assert "Topic in French" in timeline and "Topic in Spanish" in timeline
    response = organizer_client.post(
        f"/manage/meetings/{SLUG}/program/sessions/{session_id}/slots",
        data=slot_form(topic="The performer’s view", topic_fr="Le point de vue de l’artiste interprète"),
    )
    assert response.status_code == 302
    with app.app_context():
        meeting = the_meeting()
        slot = db.session.scalar(db.select(Slot))
        assert slot.translations == {"fr": {"topic": "Le point de vue de l’artiste interprète"}}
        assert the_session().translations == {"fr": {"title": "Séance d’information"}}
        program_services.publish_program(meeting)
        db.session.commit()

    french = html_of(read_in(client, "fr"))
    assert '<h4 class="session-title">Séance d’information</h4>' in french
    assert '<p class="slot-topic">Le point de vue de l’artiste interprète</p>' in french
    # The description has no French version: it is marked as English, its note just before it.
    assert re.search(
        r'<p class="meta"><span class="untranslated">\(Anglais\)</span></p>\s*'
        r'<div lang="en">\s*<p>Four speakers, four perspectives.</p>',
        french,
    )

    spanish = html_of(read_in(client, "es"))
    session_block = spanish.split('<div class="program-session">')[1]
    assert (
        '<h4 class="session-title"><span lang="en">Information session</span> '
        '<span class="untranslated">(Inglés)</span></h4>'
    ) in session_block
    # Title and description both untranslated: the title's note serves for both.
    assert session_block.count('class="untranslated"') == 2  # the title's and the slot topic's
    assert re.search(r'<div lang="en">\s*<p>Four speakers, four perspectives.</p>', session_block)
    assert (
        '<p class="slot-topic"><span lang="en">The performer’s view</span> '
        '<span class="untranslated">(Inglés)</span></p>'
    ) in spanish


def test_a_changed_topic_translation_raises_the_slots_sequence_and_is_audited(app, organizer_client, meeting_id):
    with app.app_context():
        slot = factories.make_slot(the_session(), starts_at=datetime(YEAR, 11, 6, 9, 30, tzinfo=UTC))
        db.session.commit()
        slot_id, sequence = slot.id, slot.sequence
    response = organizer_client.post(
        f"/manage/meetings/{SLUG}/program/slots/{slot_id}/edit",
        data=slot_form(
            starts_at=f"{FIRST_DAY.isoformat()}T10:30",
            duration_minutes="30",
            topic="Performing for the screen",
            topic_es="Actuar para la pantalla",
        ),
    )
    assert response.status_code == 302
    with app.app_context():
        slot = db.session.get(Slot, slot_id)
        assert slot.translations == {"es": {"topic": "Actuar para la pantalla"}}
        assert slot.sequence == sequence + 1
        entry = db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "slot.update"))
        assert "Topic (Spanish)" in entry.summary


def test_the_program_for_the_api_gives_every_translation_and_the_calendar_its_language(app, meeting_id):
    with app.app_context():
        session = the_session()
        session.translations = {"fr": {"title": "Séance d’information"}}
        slot = factories.make_slot(session, starts_at=session.starts_at)
        slot.translations = {"fr": {"topic": "Interpréter pour l’écran"}, "es": {"topic": "Actuar para la pantalla"}}
        factories.publish_program(the_meeting())
        db.session.commit()

        program = program_services.program_as_dict(the_meeting())
        assert program["languages"] == ["en", "fr", "es"]
        [session_dict] = program["sessions"]
        assert session_dict["title"] == "Information session"
        assert session_dict["translations"] == {"fr": {"title": "Séance d’information"}}
        assert session_dict["slots"][0]["topic"] == "Performing for the screen"
        assert session_dict["slots"][0]["translations"]["es"] == {"topic": "Actuar para la pantalla"}

        # In the main language unless asked otherwise, whatever the language in force.
        [event] = Calendar.from_ical(program_services.program_calendar(the_meeting())).events
        assert str(event["SUMMARY"]) == "Performing for the screen"
        [event] = Calendar.from_ical(program_services.program_calendar(the_meeting(), "fr")).events
        assert str(event["SUMMARY"]) == "Interpréter pour l’écran"
        assert event["SUMMARY"].params["LANGUAGE"] == "fr"
        assert str(event["DESCRIPTION"]).startswith("Séance d’information")
        [event] = Calendar.from_ical(program_services.program_calendar(the_meeting(), "es")).events
        assert str(event["SUMMARY"]) == "Actuar para la pantalla"
        # The session has no Spanish title: the English one, said to be English.
        assert event["DESCRIPTION"].params["LANGUAGE"] == "en"
        assert str(event["DESCRIPTION"]).startswith("Information session")


# Documents --------------------------------------------------------------------------------------


def test_document_titles_are_entered_per_language_and_read_in_the_visitors(app, client, organizer_client, meeting_id):
    new_form = html_of(organizer_client.get(f"/manage/meetings/{SLUG}/documents/new"))
    assert "Title in French" in new_form and "Title in Spanish" in new_form
    response = organizer_client.post(
        f"/manage/meetings/{SLUG}/documents/new",
        data={
            "symbol": "AVP/IM/03/4",
            "title": "Study on the transfer of rights",
            "title_fr": "Étude sur le transfert des droits",
            "kind": "study",
            "access": "public",
        },
    )
    assert response.status_code == 302
    with app.app_context():
        document = db.session.scalar(db.select(Document))
        assert document.translations == {"fr": {"title": "Étude sur le transfert des droits"}}
        factories.make_document_file(document, "en")
        document.published_at = datetime.now(UTC)
        db.session.commit()

    french = html_of(read_in(client, "fr"))
    assert '<h3 class="document-title">Étude sur le transfert des droits</h3>' in french
    spanish = html_of(read_in(client, "es"))
    assert (
        '<h3 class="document-title"><span lang="en">Study on the transfer of rights</span> '
        '<span class="untranslated">(Inglés)</span></h3>'
    ) in spanish


# Emails and the list of participants -----------------------------------------------------------


def test_an_invitation_to_a_spanish_speaking_organization_carries_the_spanish_title_in_its_subject(app, meeting_id):
    translate_meeting(app, fr={"title": TITLE_FR}, es={"title": TITLE_ES})
    with app.app_context():
        factories.make_organizations(2, languages=("es", "en"))
        db.session.commit()
        invitation_services.invite(the_meeting(), invitation_services.select_organizations(kind="ngo"))
        db.session.commit()
        messages = db.session.scalars(db.select(OutboxMessage).order_by(OutboxMessage.id)).all()
        subjects = {message.language: message.subject for message in messages}
        assert TITLE_ES in subjects["es"] and TITLE_EN not in subjects["es"]
        assert TITLE_EN in subjects["en"]


def test_a_registrants_email_names_the_meeting_in_their_language(app, meeting_id):
    translate_meeting(app, fr={"title": TITLE_FR})
    with app.app_context():
        factories.make_registration(the_meeting(), email="delegue@example.org", preferred_language="fr")
        db.session.commit()
        registration_services.send_link(the_meeting(), "delegue@example.org")
        db.session.commit()
        [message] = db.session.scalars(db.select(OutboxMessage)).all()
        assert TITLE_FR in message.subject


def test_the_list_of_participants_names_the_meeting_in_the_lists_language(app, meeting_id):
    translate_meeting(app, fr={"title": TITLE_FR})
    with app.app_context():
        meeting = the_meeting()
        assert list_of_participants(meeting, "fr", public=False, final=False).meeting_title == TITLE_FR
        spanish = list_of_participants(meeting, "es", public=False, final=False).meeting_title
        assert spanish == TITLE_EN and spanish.is_fallback and spanish.language == "en"
