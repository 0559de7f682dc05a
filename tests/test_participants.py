"""The list of participants: sections in the order of the United Nations, delegations sorted by their
names in the list's language with locale-aware collation (or by the French names), heads of
delegation first, family names in capitals; the public edition lists only confirmed participants who
consented, and only once organizers have published it; HTML and PDF say the same."""

import html
import io
import re

import pytest
from flask_babel import force_locale, gettext
from pypdf import PdfReader
from sqlalchemy import event

from meeting.core.audit import AuditEntry
from meeting.directory.models import Organization
from meeting.extensions import db
from meeting.meetings.models import Meeting
from meeting.registration import participants

from . import factories

MANAGE = "/manage/meetings/avp-test/registrations/participants"

STATES = {
    # key: (English, French, Spanish)
    "civ": ("Côte d'Ivoire", "Côte d'Ivoire", "Côte d'Ivoire"),
    "croatia": ("Croatia", "Croatie", "Croacia"),
    "cuba": ("Cuba", "Cuba", "Cuba"),
    "egypt": ("Egypt", "Égypte", "Egipto"),
    "estonia": ("Estonia", "Estonie", "Estonia"),
    "spain": ("Spain", "Espagne", "España"),
    "usa": ("United States of America", "États-Unis d'Amérique", "Estados Unidos de América"),
}
MEMBER_STATES_IN_ORDER = {
    "en": ["Côte d'Ivoire", "Croatia", "Cuba", "Egypt", "Estonia", "Spain", "United States of America"],
    "fr": ["Côte d'Ivoire", "Croatie", "Cuba", "Égypte", "Espagne", "Estonie", "États-Unis d'Amérique"],
    "es": ["Côte d'Ivoire", "Croacia", "Cuba", "Egipto", "España", "Estados Unidos de América", "Estonia"],
}


def text_of(response):
    return response.get_data(as_text=True)


def delegation_names(page_html):
    return [html.unescape(name) for name in re.findall(r'class="participants-delegation-name">([^<]*)<', page_html)]


def section_titles(page_html):
    return [html.unescape(title) for title in re.findall(r'class="participants-section-title">([^<]*)<', page_html)]


def people(page_html):
    return [html.unescape(" ".join(line.split())) for line in re.findall(r"<li>([^<]*)</li>", page_html)]


def pdf_text(response):
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    reader = PdfReader(io.BytesIO(response.get_data()))
    return " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)


def translated(app, language, message, **variables):
    """`message` as the catalog of `language` says it: the list is printed in its own language."""
    with app.test_request_context(), force_locale(language):
        return gettext(message, **variables)


def assert_in_order(text, names):
    positions = [text.find(name) for name in names]
    assert -1 not in positions, [name for name, position in zip(names, positions, strict=True) if position == -1]
    assert positions == sorted(positions), names


@pytest.fixture
def meeting_id(app):
    """A meeting with seven Member States, an observer State, an IGO, two NGOs, an organization
    outside the directory and the Secretariat, one confirmed consenting delegate each; the
    delegation of Spain has a head, three members and a pending registration."""
    with app.app_context():
        meeting = factories.make_meeting()
        organizations = {}
        for key, (en, fr, es) in STATES.items():
            organizations[key] = factories.make_organization(name_en=en, name_fr=fr, name_es=es, iso_code=None)
        organizations["holy_see"] = factories.make_organization(
            kind="observer_state", name_en="Holy See", name_fr="Saint-Siège", name_es="Santa Sede", iso_code=None
        )
        organizations["eu"] = factories.make_organization(
            kind="igo", name_en="European Union", name_fr="Union européenne", name_es="Unión Europea", iso_code=None
        )
        # The same names in every language: "Ñ" sorts after "N…" in Spanish only.
        for key, name in (("nandu", "Ñandutí Teatro"), ("nuevo", "Nuevo Cine Latino")):
            organizations[key] = factories.make_organization(
                kind="ngo", name_en=name, name_fr=name, name_es=name, iso_code=None
            )
        for key, organization in organizations.items():
            if key != "spain":
                factories.make_registration(
                    meeting,
                    organization,
                    given_name="Delegate",
                    family_name=f"Of {organization.name_en}",
                    consent_public_list=True,
                )
        spain = organizations["spain"]
        for role, salutation, given, family in (
            ("delegate", "mr", "Álvaro", "Álvarez"),
            ("adviser", "dr", "Hans", "Großmann"),
            ("head_of_delegation", "he_ms", "Zoe", "Zúñiga"),
            ("delegate", "ms", "Beatriz", "Benítez"),
        ):
            factories.make_registration(
                meeting,
                spain,
                role=role,
                salutation=salutation,
                given_name=given,
                family_name=family,
                function="Ambassador, Permanent Representative" if role == "head_of_delegation" else "Counsellor",
                consent_public_list=True,
            )
        factories.make_registration(meeting, spain, given_name="Pending", family_name="Person", status="pending")
        factories.make_registration(meeting, None, organization_name_other="Independent Observers")
        factories.make_registration(
            meeting,
            None,
            role="secretariat",
            organization_name_other="Secretariat",
            salutation="ms",
            given_name="Ana",
            family_name="Secretary",
            function="Director",
            consent_public_list=True,
        )
        db.session.commit()
        return meeting.id


def listing(app, meeting_id, language="en", **options):
    with app.test_request_context():
        meeting = db.session.get(Meeting, meeting_id)
        options = {"public": False, "final": False, **options}
        return participants.list_of_participants(meeting, language, **options)


# Order -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["en", "fr", "es"])
def test_member_states_are_sorted_by_their_names_in_the_lists_language(app, meeting_id, language):
    result = listing(app, meeting_id, language)
    member_states = result.sections[0]
    assert member_states.key == "member_state"
    assert [delegation.name for delegation in member_states.delegations] == MEMBER_STATES_IN_ORDER[language]


@pytest.mark.parametrize("language", ["en", "fr", "es"])
def test_organizer_page_shows_the_sections_in_un_order_and_the_names_in_the_lists_language(
    app, organizer_client, meeting_id, language
):
    page = text_of(organizer_client.get(f"{MANAGE}?lang={language}&edition=provisional&audience=all"))
    assert f'<article class="participants-list" lang="{language}"' in page
    names = delegation_names(page)
    assert_in_order(" | ".join(names), [*MEMBER_STATES_IN_ORDER[language]])
    holy_see = {"en": "Holy See", "fr": "Saint-Siège", "es": "Santa Sede"}[language]
    eu = {"en": "European Union", "fr": "Union européenne", "es": "Unión Europea"}[language]
    ngos = ["Nuevo Cine Latino", "Ñandutí Teatro"] if language == "es" else ["Ñandutí Teatro", "Nuevo Cine Latino"]
    chair = translated(app, language, "Chair")  # "Chair", "Président(e)", "Presidencia"
    assert names == [*MEMBER_STATES_IN_ORDER[language], holy_see, eu, *ngos, "Independent Observers", chair]


def test_sections_come_in_un_order_numbered_with_the_officers_and_the_secretariat_last(organizer_client, meeting_id):
    page = text_of(organizer_client.get(f"{MANAGE}?lang=en"))
    assert section_titles(page) == [
        "I. Member States",
        "II. Observer States",
        "III. Intergovernmental organizations",
        "IV. Non-governmental organizations",
        "V. Other participants",
        "VI. Officers of the meeting",
        "VII. Secretariat",
    ]
    lines = people(page)
    assert lines[-2:] == ["Chairman of the WIPO General Assembly", "Ms. Ana SECRETARY, Director"]


def test_spanish_sorts_n_tilde_as_a_letter_after_n_and_the_root_order_does_not(app):
    names = ["Ñandutí", "Nuevo", "Noruega", "Omán", "Níger"]
    assert sorted(names, key=lambda name: participants.collation_key(name, "es")) == [
        "Níger",
        "Noruega",
        "Nuevo",
        "Ñandutí",
        "Omán",
    ]
    assert sorted(names, key=lambda name: participants.collation_key(name, "en"))[:2] == ["Ñandutí", "Níger"]


def test_sorting_by_french_names_orders_every_edition_like_the_french_one(organizer_client, meeting_id):
    page = text_of(organizer_client.get(f"{MANAGE}?lang=en&sort_by_french=y"))
    assert delegation_names(page)[:7] == [
        "Côte d'Ivoire",
        "Croatia",
        "Cuba",
        "Egypt",
        "Spain",  # Espagne
        "Estonia",  # Estonie
        "United States of America",  # États-Unis
    ]
    assert 'checked id="sort_by_french"' in page


def test_head_of_delegation_comes_first_then_the_others_by_family_name_in_capitals(organizer_client, meeting_id):
    page = text_of(organizer_client.get(f"{MANAGE}?lang=en"))
    lines = people(page)
    start = lines.index("H.E. Ms. Zoe ZÚÑIGA, Ambassador, Permanent Representative")
    assert lines[start : start + 4] == [
        "H.E. Ms. Zoe ZÚÑIGA, Ambassador, Permanent Representative",
        "Mr. Álvaro ÁLVAREZ, Counsellor",
        "Ms. Beatriz BENÍTEZ, Counsellor",
        "Dr. Hans GROSSMANN, Counsellor",
    ]
    assert "PERSON" not in page  # pending: not a participant yet


def test_pdf_lists_the_participants_in_the_same_order_as_the_page(app, organizer_client, meeting_id):
    response = organizer_client.get(f"{MANAGE}.pdf?lang=fr&edition=final&audience=all")
    assert response.headers["Content-Disposition"] == "inline; filename=avp-test-participants-final-fr.pdf"
    text = pdf_text(response)
    assert_in_order(text, MEMBER_STATES_IN_ORDER["fr"])
    assert_in_order(text, ["Saint-Siège", "Union européenne", "Ñandutí Teatro", "Nuevo Cine Latino"])
    # The French edition: "S. E. Mme Zoe ZÚÑIGA", "M. Álvaro ÁLVAREZ", "Mme Beatriz BENÍTEZ", "Dr Hans GROSSMANN".
    salutation = {english: translated(app, "fr", english) for english in ("H.E. Ms.", "Mr.", "Ms.", "Dr.")}
    assert_in_order(
        text,
        [
            f"{salutation['H.E. Ms.']} Zoe ZÚÑIGA",
            f"{salutation['Mr.']} Álvaro ÁLVAREZ",
            f"{salutation['Ms.']} Beatriz BENÍTEZ",
            f"{salutation['Dr.']} Hans GROSSMANN",
        ],
    )
    assert "AVP/IM/03/INF/1" in text and "Prov." not in text
    # "LISTE DES PARTICIPANTS", not "LISTE PROVISOIRE DES PARTICIPANTS".
    assert translated(app, "fr", "List of participants").upper() in text
    assert translated(app, "fr", "Provisional list of participants").upper() not in text and "PROVISOIRE" not in text


def test_spanish_pdf_follows_the_spanish_order(organizer_client, meeting_id):
    text = pdf_text(organizer_client.get(f"{MANAGE}.pdf?lang=es"))
    assert_in_order(text, MEMBER_STATES_IN_ORDER["es"])
    assert_in_order(text, ["Nuevo Cine Latino", "Ñandutí Teatro"])
    assert "AVP/IM/03/INF/1 Prov." in text


def test_the_title_symbol_and_dates_say_which_edition_it_is(app, meeting_id):
    provisional = listing(app, meeting_id, "en")
    final = listing(app, meeting_id, "fr", final=True)
    assert provisional.title == "Provisional list of participants"
    assert provisional.symbol == "AVP/IM/03/INF/1 Prov." and final.symbol == "AVP/IM/03/INF/1"
    with app.app_context():
        meeting = db.session.get(Meeting, meeting_id)
        month_fr = ("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc.")
        assert final.place_and_dates.startswith("Geneva, ") and str(meeting.starts_on.year) in final.place_and_dates
        assert any(month in final.place_and_dates for month in month_fr)
    assert final.meeting_title == "Ad hoc Informal Meeting on the Protection of Audiovisual Performances"


def test_the_list_as_plain_data_keeps_the_order_and_the_printed_lines(app, meeting_id):
    data = listing(app, meeting_id, "fr", public=True).as_dict()
    assert data["language"] == "fr" and data["public"] is True and data["symbol"] == "AVP/IM/03/INF/1 Prov."
    assert [section["key"] for section in data["sections"]] == [
        "member_state",
        "observer_state",
        "igo",
        "ngo",
        "officers",
        "secretariat",
    ]
    spain = next(d for d in data["sections"][0]["delegations"] if d["name"] == "Espagne")
    her_excellency = translated(app, "fr", "H.E. Ms.")  # "S. E. Mme"
    assert spain["participants"][0] == {
        "salutation": her_excellency,
        "given_name": "Zoe",
        "family_name": "ZÚÑIGA",
        "function": "Ambassador, Permanent Representative",
        "head_of_delegation": True,
        "line": f"{her_excellency} Zoe ZÚÑIGA, Ambassador, Permanent Representative",
    }


# Editions ----------------------------------------------------------------------------------------


def test_public_edition_lists_only_confirmed_participants_who_consented(app, organizer_client, meeting_id):
    with app.app_context():
        meeting = db.session.get(Meeting, meeting_id)
        cuba = db.session.scalar(db.select(Organization).where(Organization.name_en == "Cuba"))
        factories.make_registration(
            meeting, cuba, given_name="Private", family_name="Person", consent_public_list=False
        )
        factories.make_registration(meeting, cuba, given_name="Waiting", family_name="Person", status="waitlisted")
        factories.make_registration(meeting, cuba, given_name="Gone", family_name="Person", status="cancelled")
        db.session.commit()

    everyone = people(text_of(organizer_client.get(f"{MANAGE}?audience=all")))
    public = people(text_of(organizer_client.get(f"{MANAGE}?audience=public")))
    assert "Private PERSON" in everyone and "Private PERSON" not in public
    for name in ("Waiting PERSON", "Gone PERSON", "Pending PERSON"):
        assert name not in everyone and name not in public
    # "Independent Observers" was registered without consent by the factory.
    assert "Delegate NUMBER" not in " ".join(public)
    assert "Delegate OF CUBA" in public and len(public) == len(everyone) - 2


def test_public_pages_are_404_until_organizers_publish_and_after_they_withdraw(app, client, organizer, meeting_id):
    assert client.get("/meetings/avp-test/participants").status_code == 404
    assert client.get("/meetings/avp-test/participants.pdf").status_code == 404
    assert "/meetings/avp-test/participants" not in text_of(client.get("/meetings/avp-test"))

    client.post("/login", data={"email": "secretariat@example.org", "password": factories.PASSWORD})
    response = client.post(f"{MANAGE}/publish", data={"edition": "provisional"})
    assert response.status_code == 302 and response.headers["Location"].endswith(MANAGE)
    assert "The provisional list of participants is published" in text_of(client.get(MANAGE))
    client.post("/logout")

    page = text_of(client.get("/meetings/avp-test/participants?lang=fr"))
    assert "Côte d&#39;Ivoire" in page and "Croatie" in page
    assert "Delegate OF CUBA" in page
    assert client.get("/meetings/avp-test/participants.pdf?lang=es").mimetype == "application/pdf"
    assert "/meetings/avp-test/participants" in text_of(client.get("/meetings/avp-test"))

    client.post("/login", data={"email": "secretariat@example.org", "password": factories.PASSWORD})
    client.post(f"{MANAGE}/unpublish")
    client.post("/logout")
    assert client.get("/meetings/avp-test/participants").status_code == 404

    with app.app_context():
        actions = db.session.scalars(db.select(AuditEntry.action).order_by(AuditEntry.id)).all()
        assert actions[-2:] == ["participants_list.publish", "participants_list.unpublish"]
        assert db.session.get(Meeting, meeting_id).participants_list_published_at is None


def test_publishing_as_final_titles_the_public_list_as_final(app, organizer_client, meeting_id):
    organizer_client.post(f"{MANAGE}/publish", data={"edition": "final"})
    with app.app_context():
        meeting = db.session.get(Meeting, meeting_id)
        assert meeting.participants_list_final and meeting.participants_list_published_at is not None
        entry = db.session.scalars(db.select(AuditEntry).order_by(AuditEntry.id.desc())).first()
        assert entry.details == {"edition": "final", "previous": None}
    page = text_of(organizer_client.get("/meetings/avp-test/participants?lang=en"))
    assert ">List of participants</h1>" in page and "AVP/IM/03/INF/1<" in page


def test_unpublishing_a_list_that_is_not_published_says_so(organizer_client, meeting_id):
    response = organizer_client.post(f"{MANAGE}/unpublish", follow_redirects=True)
    assert "The list of participants is not published." in text_of(response)


def test_public_list_falls_back_to_an_offered_language(app, client, meeting_id):
    with app.app_context():
        meeting = db.session.get(Meeting, meeting_id)
        meeting.languages = "fr,es"
        meeting.participants_list_published_at = meeting.created_at
        db.session.commit()
    page = text_of(client.get("/meetings/avp-test/participants?lang=de", headers={"Accept-Language": "en"}))
    assert 'lang="fr"' in page and "Croatie" in page
    assert 'lang="es"' in text_of(client.get("/meetings/avp-test/participants?lang=es"))


def test_a_draft_meetings_published_list_stays_hidden(app, client, meeting_id):
    with app.app_context():
        meeting = db.session.get(Meeting, meeting_id)
        meeting.status = "draft"
        meeting.participants_list_published_at = meeting.created_at
        db.session.commit()
    assert client.get("/meetings/avp-test/participants").status_code == 404


def test_list_pages_require_an_organizer(client, meeting_id):
    for url in (MANAGE, f"{MANAGE}.pdf"):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert client.post(f"{MANAGE}/publish", data={"edition": "final"}).status_code == 302


def test_list_of_participants_queries_do_not_grow_with_the_participants(app, organizer_client):
    with app.app_context():
        meeting = factories.make_meeting()
        factories.make_delegations(meeting, 10)
        db.session.commit()
        meeting_id, engine = meeting.id, db.engine

    def queries_for(url):
        statements = []
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(engine, "before_cursor_execute", listener)
        try:
            response = organizer_client.get(url)
            assert response.status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        return len(statements), text_of(response)

    small, page = queries_for(MANAGE)
    assert page.count("<li>Ms. Given1 FAMILY1, Counsellor</li>") == 1
    with app.app_context():
        factories.make_delegations(db.session.get(Meeting, meeting_id), 30, start=11)
        db.session.commit()
    large, page = queries_for(MANAGE)
    assert large == small
    assert "40 participants in this edition." in page
