"""Participation figures: registered (confirmed) and attended (checked in) delegations and persons by
kind of organization and by role, against a known set of registrations; the sentence for the report
with its plurals in each of the meeting's languages; the page with its chart and the CSV."""

import csv
import io
import re

import pytest

from meeting.core.models import utcnow
from meeting.extensions import db
from meeting.meetings.models import Meeting
from meeting.onsite import figures

from . import factories

FIGURES = "/manage/meetings/avp-test/figures"


@pytest.fixture
def meeting_id(app):
    """Who registered and who came:

    Member States  France (2 confirmed, 1 came), Germany (1 confirmed, came), Italy (1 confirmed, did
                   not come), Spain (1 pending, came to the desk anyway: not counted)
    observer State Holy See (1 confirmed, came)
    IGOs           OIF (2 confirmed, both came)
    NGOs           Performers United (1 confirmed, came), Producers' Guild (1 confirmed, did not come),
                   Creators' Forum (1 checked in, then cancelled: not counted)
    other          "Independent Observers" and "independent observers" (one delegation; 2 confirmed,
                   1 came), a journalist of "Daily News" (press, came)
    Secretariat    2 confirmed (1 came), registered under the name "WIPO Secretariat"
    """
    with app.app_context():
        meeting = factories.make_meeting()
        now = utcnow()

        def organization(kind, name, iso=None):
            return factories.make_organization(kind=kind, name_en=name, iso_code=iso, emails=[])

        france, germany = organization("member_state", "France", "FR"), organization("member_state", "Germany", "DE")
        italy, spain = organization("member_state", "Italy", "IT"), organization("member_state", "Spain", "ES")
        holy_see = organization("observer_state", "Holy See", "VA")
        oif = organization("igo", "Organisation internationale de la Francophonie")
        performers, producers = organization("ngo", "Performers United"), organization("ngo", "Producers' Guild")
        creators = organization("ngo", "Creators' Forum")

        def register(org=None, came=False, **fields):
            factories.make_registration(meeting, org, checked_in_at=now if came else None, **fields)

        register(france, came=True, role="head_of_delegation")
        register(france, role="adviser")
        register(germany, came=True)
        register(italy)
        register(spain, came=True, status="pending")
        register(holy_see, came=True, role="observer")
        register(oif, came=True, role="observer")
        register(oif, came=True, role="observer")
        register(performers, came=True, role="observer")
        register(producers, role="observer")
        register(creators, came=True, role="observer", status="cancelled")
        register(None, came=True, role="observer", organization_name_other="Independent Observers")
        register(None, role="observer", organization_name_other="independent observers")
        register(None, came=True, role="press", organization_name_other="Daily News")
        register(None, came=True, role="secretariat", organization_name_other="WIPO Secretariat")
        register(None, role="secretariat", organization_name_other="WIPO Secretariat")
        db.session.commit()
        return meeting.id


def numbers(rows):
    return {
        row.key: (row.delegations_registered, row.delegations_attended, row.persons_registered, row.persons_attended)
        for row in rows
    }


def test_delegations_and_persons_by_kind_of_organization(app, meeting_id):
    with app.app_context():
        data = figures.figures(db.session.get(Meeting, meeting_id))
    assert numbers(data.kinds) == {
        "member_state": (3, 2, 4, 2),
        "observer_state": (1, 1, 1, 1),
        "igo": (1, 1, 2, 2),
        "ngo": (2, 1, 2, 1),
        "other": (2, 2, 3, 2),
    }
    assert (data.secretariat.persons_registered, data.secretariat.persons_attended) == (2, 1)
    assert numbers([data.total])["total"] == (9, 7, 14, 9)


def test_persons_by_role(app, meeting_id):
    with app.app_context():
        data = figures.figures(db.session.get(Meeting, meeting_id))
    by_role = {row.key: (row.persons_registered, row.persons_attended) for row in data.roles}
    assert by_role == {
        "head_of_delegation": (1, 1),
        "delegate": (2, 1),
        "adviser": (1, 0),
        "observer": (7, 5),
        "press": (1, 1),
        "speaker": (0, 0),
        "secretariat": (2, 1),
    }


def test_the_report_sentence_counts_the_delegations_that_attended_with_plurals(app, meeting_id):
    with app.app_context():
        data = figures.figures(db.session.get(Meeting, meeting_id))
        assert [code for code, _name, _sentence in data.sentences] == ["en", "fr", "es"]
        english = data.sentences[0][2]
        assert english == (
            "The meeting was attended by 2 Member States, 1 observer State, 1 intergovernmental organization "
            "and 1 non-governmental organization."
        )
        assert figures.report_sentence({"member_state": 1, "igo": 3, "ngo": 12}, "en") == (
            "The meeting was attended by 1 Member State, 3 intergovernmental organizations "
            "and 12 non-governmental organizations."
        )
        assert figures.report_sentence({"member_state": 45}, "en") == "The meeting was attended by 45 Member States."
        assert figures.report_sentence({}, "en") == (
            "No delegation of a State or an organization has been checked in at the meeting."
        )
        # One sentence per language of the meeting, each from that language's catalog.
        assert all("2" in sentence for _code, _name, sentence in data.sentences)
        assert [name for _code, name, _sentence in data.sentences] == ["English", "Français", "Español"]


def test_the_page_shows_the_tables_the_chart_and_the_sentences(organizer_client, meeting_id):
    response = organizer_client.get(FIGURES)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    row = re.search(r'<tr id="kind-member_state">(.*?)</tr>', body, re.S).group(1)
    assert re.findall(r'<td class="number">(\d+)</td>', row) == ["3", "2", "4", "2"]
    total = re.search(r'<tr id="kind-total">(.*?)</tr>', body, re.S).group(1)
    assert re.findall(r'<td class="number">(\d+)</td>', total) == ["9", "7", "14", "9"]
    assert 'id="sentence-en"' in body and '<q lang="fr" id="sentence-fr">' in body and 'lang="es"' in body
    # The chart: server-side SVG with a title and a description; no inline style anywhere.
    assert body.count('role="img"') == 2
    assert '<title id="delegations-chart-title">Delegations registered and attended' in body
    assert "7 of 9 delegations registered attended the meeting." in body
    assert "9 of 14 participants registered attended the meeting." in body
    assert "style=" not in body and "<script" not in body


def test_the_csv_gives_the_same_figures(organizer_client, meeting_id):
    response = organizer_client.get(f"{FIGURES}.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == 'attachment; filename="participation-avp-test.csv"'
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0] == [
        "Breakdown",
        "Group",
        "Delegations registered",
        "Delegations attended",
        "Participants registered",
        "Participants attended",
    ]
    assert ["Kind of organization", "Member States", "3", "2", "4", "2"] in rows
    assert ["Kind of organization", "Intergovernmental organizations", "1", "1", "2", "2"] in rows
    assert ["Role", "Secretariat", "", "", "2", "1"] in rows
    assert ["Role", "Observer", "", "", "7", "5"] in rows
    assert rows[-1] == ["Total", "", "9", "7", "14", "9"]


def test_figures_are_for_organizers_only(client, meeting_id):
    assert client.get(FIGURES).status_code == 302
    assert client.get(f"{FIGURES}.csv").status_code == 302
