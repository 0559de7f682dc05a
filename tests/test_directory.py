"""The directory of organizations: States seeded from Babel, the organizers' pages (search,
filters, pagination, add, edit, deactivate) and the CSV import."""

import re

from sqlalchemy import event

from meeting.core.audit import AuditEntry
from meeting.directory import services
from meeting.directory.models import Contact, Organization
from meeting.extensions import db

from . import factories


def count_organizations(**criteria):
    query = db.select(db.func.count(Organization.id))
    for name, value in criteria.items():
        query = query.where(getattr(Organization, name) == value)
    return db.session.scalar(query)


def organization_by_iso(code):
    return db.session.scalar(db.select(Organization).where(Organization.iso_code == code))


def organization_named(name_en):
    return db.session.scalar(db.select(Organization).where(Organization.name_en == name_en))


def seed(app):
    with app.app_context():
        services.seed_states()
        db.session.commit()


def organization_form(**fields):
    data = {
        "kind": "ngo",
        "name_en": "International Federation of Actors",
        "name_fr": "Fédération internationale des acteurs",
        "name_es": "Federación Internacional de Actores",
        "acronym": "FIA",
        "iso_code": "",
        "accreditation": "permanent_observer",
        "preferred_language": "fr",
        "emails": "office@fia-actors.example.org\nlegal@fia-actors.example.org",
    }
    data.update(fields)
    return data


# Seeding the States


def test_seeding_adds_the_193_member_states_and_the_2_observer_states(app):
    with app.app_context():
        assert services.seed_states() == 195
        db.session.commit()
        assert count_organizations(kind="member_state") == 193
        assert count_organizations(kind="observer_state") == 2
        assert {organization_by_iso("VA").kind, organization_by_iso("PS").kind} == {"observer_state"}
        assert organization_by_iso("TW") is None


def test_seeded_states_are_named_in_english_french_and_spanish_from_babel(app):
    seed(app)
    with app.app_context():
        ivory_coast = organization_by_iso("CI")
        assert (ivory_coast.name_en, ivory_coast.name_fr, ivory_coast.name_es) == (
            "Côte d’Ivoire",
            "Côte d’Ivoire",
            "Côte d’Ivoire",
        )
        united_states = organization_by_iso("US")
        assert (united_states.name_en, united_states.name_fr, united_states.name_es) == (
            "United States",
            "États-Unis",
            "Estados Unidos",
        )
        palestine = organization_by_iso("PS")
        assert (palestine.name_en, palestine.name_fr, palestine.name_es) == (
            "State of Palestine",
            "État de Palestine",
            "Estado de Palestina",
        )
        assert organization_by_iso("VA").name_en == "Holy See"


def test_seeded_states_prefer_their_official_language_among_english_french_and_spanish(app):
    seed(app)
    with app.app_context():
        assert organization_by_iso("FR").preferred_language == "fr"
        assert organization_by_iso("MX").preferred_language == "es"
        assert organization_by_iso("US").preferred_language == "en"
        assert organization_by_iso("CN").preferred_language == "en"


def test_seeding_twice_adds_nothing_and_keeps_what_organizers_changed(app):
    seed(app)
    with app.app_context():
        france = organization_by_iso("FR")
        france.name_en = "French Republic"
        france.preferred_language = "en"
        france.active = False
        organization_by_iso("ES").name_es = ""
        db.session.commit()

        assert services.seed_states() == 0
        db.session.commit()

        assert count_organizations() == 195
        france = organization_by_iso("FR")
        assert (france.name_en, france.preferred_language, france.active) == ("French Republic", "en", False)
        assert organization_by_iso("ES").name_es == "España"


def test_seeding_is_recorded_once_in_the_audit_log_without_a_meeting(app):
    seed(app)
    seed(app)
    with app.app_context():
        entries = db.session.scalars(db.select(AuditEntry).where(AuditEntry.action == "directory.seed_states")).all()
        assert len(entries) == 1
        assert entries[0].meeting_id is None
        assert entries[0].actor == "command line"


# Listing, searching, filtering


def test_directory_pages_require_an_organizer_login(client):
    response = client.get("/manage/directory/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]
    assert client.post("/manage/directory/new", data=organization_form()).status_code == 302


def test_search_finds_cote_d_ivoire_without_accents_or_case(app, organizer_client):
    seed(app)
    for query in ("cote", "Côte", "CÔTE D'IVOIRE", "côte d’ivoire"):
        page = organizer_client.get("/manage/directory/", query_string={"q": query}).get_data(as_text=True)
        assert "Côte d’Ivoire" in page, query
        assert "1 organization" in page
        assert "Costa Rica" not in page


def test_search_matches_french_and_spanish_names_and_the_acronym(app, organizer_client):
    seed(app)
    with app.app_context():
        factories.make_organization(
            kind="igo", name_en="World Intellectual Property Organization", name_fr="", name_es="", iso_code=None
        ).acronym = "WIPO"
        db.session.commit()
    page = organizer_client.get("/manage/directory/?q=etats-unis").get_data(as_text=True)
    assert "United States" in page
    page = organizer_client.get("/manage/directory/?q=Estados Unidos").get_data(as_text=True)
    assert "United States" in page
    page = organizer_client.get("/manage/directory/?q=wipo").get_data(as_text=True)
    assert "World Intellectual Property Organization" in page
    assert "1 organization" in page


def test_search_treats_percent_and_underscore_literally(app, organizer_client):
    seed(app)
    page = organizer_client.get("/manage/directory/?q=%25").get_data(as_text=True)
    assert "No organization matches your search." in page


def test_directory_is_filtered_by_kind_and_by_status(app, organizer_client):
    seed(app)
    with app.app_context():
        factories.make_organization(kind="ngo", name_en="Actors Guild", name_fr="", name_es="", iso_code=None)
        organization_by_iso("FR").active = False
        db.session.commit()

    page = organizer_client.get("/manage/directory/?kind=ngo").get_data(as_text=True)
    assert "Actors Guild" in page and "Afghanistan" not in page

    page = organizer_client.get("/manage/directory/?kind=observer_state").get_data(as_text=True)
    assert "Holy See" in page and "State of Palestine" in page and "2 organizations" in page

    page = organizer_client.get("/manage/directory/?status=inactive").get_data(as_text=True)
    assert "France" in page and "1 organization" in page

    page = organizer_client.get("/manage/directory/?status=active&q=france").get_data(as_text=True)
    assert "No organization matches your search." in page


def test_directory_list_is_paginated_alphabetically_and_keeps_the_filters(app, organizer_client):
    seed(app)
    first = organizer_client.get("/manage/directory/?kind=member_state").get_data(as_text=True)
    assert "193 organizations" in first
    assert "Page 1 of 4" in first
    assert "Afghanistan" in first and "Zimbabwe" not in first
    next_link = re.search(r'href="([^"]+)" rel="next"', first).group(1)
    assert "page=2" in next_link and "kind=member_state" in next_link

    last = organizer_client.get("/manage/directory/?kind=member_state&page=4").get_data(as_text=True)
    assert "Page 4 of 4" in last
    assert "Zimbabwe" in last and "Afghanistan" not in last


def test_a_page_past_the_end_of_the_directory_says_so(app, organizer_client):
    seed(app)
    page = organizer_client.get("/manage/directory/?page=99")
    assert page.status_code == 200
    assert "This page is past the end of the list." in page.get_data(as_text=True)


def test_directory_list_sorts_accented_names_with_their_letters(app, organizer_client):
    seed(app)
    page = organizer_client.get("/manage/directory/?q=c&kind=member_state").get_data(as_text=True)
    assert page.index("Costa Rica") < page.index("Côte d’Ivoire") < page.index("Croatia")


def test_directory_list_lists_focal_points(app, organizer_client):
    with app.app_context():
        factories.make_organization(emails=["mission.france@example.org", "culture@example.org"])
        db.session.commit()
    page = organizer_client.get("/manage/directory/").get_data(as_text=True)
    assert "mission.france@example.org" in page and "culture@example.org" in page


def test_directory_list_queries_do_not_grow_with_the_organizations(app, organizer_client):
    def add_ngos(first, last):
        with app.app_context():
            for number in range(first, last):
                factories.make_organization(
                    kind="ngo",
                    name_en=f"Guild {number}",
                    iso_code=None,
                    emails=[f"a{number}@example.org", f"b{number}@example.org"],
                )
            db.session.commit()

    def statements_for_the_list():
        statements = []

        def count(conn, cursor, statement, *args):
            statements.append(statement)

        with app.app_context():
            engine = db.engine
        event.listen(engine, "before_cursor_execute", count)
        try:
            page = organizer_client.get("/manage/directory/").get_data(as_text=True)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return len(statements), page

    add_ngos(0, 2)
    few, _page = statements_for_the_list()
    add_ngos(2, 20)
    many, page = statements_for_the_list()
    assert "b19@example.org" in page
    assert many == few


# Adding, editing, deactivating


def test_organizer_adds_an_ngo_with_its_focal_points(app, organizer_client):
    response = organizer_client.post("/manage/directory/new", data=organization_form())
    assert response.status_code == 302
    page = organizer_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "International Federation of Actors has been added to the directory." in page

    with app.app_context():
        fia = organization_named("International Federation of Actors")
        assert (fia.kind, fia.acronym, fia.iso_code, fia.accreditation, fia.preferred_language) == (
            "ngo",
            "FIA",
            None,
            "permanent_observer",
            "fr",
        )
        assert fia.name_fr == "Fédération internationale des acteurs"
        assert fia.focal_point_emails == ["office@fia-actors.example.org", "legal@fia-actors.example.org"]
        entry = db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "directory.create"))
        assert (entry.object_id, entry.meeting_id, entry.actor) == (fia.id, None, "secretariat@example.org")


def test_a_state_added_with_its_english_name_gets_its_french_and_spanish_names_from_babel(app, organizer_client):
    response = organizer_client.post(
        "/manage/directory/new",
        data=organization_form(
            kind="member_state", name_en="Germany", name_fr="", name_es="", acronym="", iso_code="de", emails=""
        ),
    )
    assert response.status_code == 302
    with app.app_context():
        germany = organization_by_iso("DE")
        assert (germany.name_en, germany.name_fr, germany.name_es) == ("Germany", "Allemagne", "Alemania")
        assert germany.contacts == []


def test_organizer_edits_names_and_focal_points(app, organizer_client):
    with app.app_context():
        france = factories.make_organization(emails=["old@example.org", "kept@example.org"])
        france.contacts[1].name = "Counsellor"
        db.session.commit()
        france_id = france.id

    form = organizer_client.get(f"/manage/directory/{france_id}/edit").get_data(as_text=True)
    assert "old@example.org\nkept@example.org" in form
    assert 'value="FR"' in form

    response = organizer_client.post(
        f"/manage/directory/{france_id}/edit",
        data=organization_form(
            kind="member_state",
            name_en="France",
            name_fr="France",
            name_es="Francia",
            acronym="",
            iso_code="FR",
            accreditation="none",
            preferred_language="fr",
            emails="kept@example.org\n\n  New.Address@Example.org  \n",
        ),
    )
    assert response.status_code == 302
    with app.app_context():
        france = db.session.get(Organization, france_id)
        assert france.preferred_language == "fr"
        assert france.focal_point_emails == ["kept@example.org", "new.address@example.org"]
        assert france.contacts[0].name == "Counsellor"
        entry = db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "directory.update"))
        assert entry.meeting_id is None
        assert set(entry.details) == {"preferred_language", "emails"}


def test_organizer_deactivates_and_reactivates_an_organization(app, organizer_client):
    with app.app_context():
        france_id = factories.make_organization().id
        db.session.commit()

    response = organizer_client.post(f"/manage/directory/{france_id}/deactivate?kind=member_state&page=1")
    assert response.status_code == 302
    assert response.headers["Location"] == "/manage/directory/?kind=member_state&page=1"
    with app.app_context():
        assert db.session.get(Organization, france_id).active is False
    page = organizer_client.get("/manage/directory/?status=inactive").get_data(as_text=True)
    assert "France" in page and "Reactivate" in page

    organizer_client.post(f"/manage/directory/{france_id}/reactivate")
    with app.app_context():
        assert db.session.get(Organization, france_id).active is True
        actions = db.session.scalars(db.select(AuditEntry.action).order_by(AuditEntry.id)).all()
        assert actions == ["directory.deactivate", "directory.reactivate"]


def test_editing_an_unknown_organization_is_not_found(organizer_client):
    assert organizer_client.get("/manage/directory/999/edit").status_code == 404
    assert organizer_client.post("/manage/directory/999/deactivate").status_code == 404


# Validation


def test_a_state_with_an_unknown_iso_code_is_refused_next_to_the_field(app, organizer_client):
    response = organizer_client.post(
        "/manage/directory/new", data=organization_form(kind="member_state", name_en="Atlantis", iso_code="XX")
    )
    assert response.status_code == 422
    assert "“XX” is not an ISO 3166 country code." in response.get_data(as_text=True)
    with app.app_context():
        assert count_organizations() == 0


def test_a_state_needs_an_iso_code(app, organizer_client):
    response = organizer_client.post(
        "/manage/directory/new", data=organization_form(kind="observer_state", name_en="Holy See", iso_code="")
    )
    assert response.status_code == 422
    assert "A State needs its two-letter ISO 3166 country code" in response.get_data(as_text=True)
    with app.app_context():
        assert count_organizations() == 0


def test_an_iso_code_already_in_the_directory_is_refused(app, organizer_client):
    with app.app_context():
        factories.make_organization()
        db.session.commit()
    response = organizer_client.post(
        "/manage/directory/new", data=organization_form(kind="member_state", name_en="French Republic", iso_code="fr")
    )
    assert response.status_code == 422
    assert "France already has the ISO code FR." in response.get_data(as_text=True)
    with app.app_context():
        assert count_organizations() == 1


def test_an_igo_with_an_iso_code_is_refused(app, organizer_client):
    response = organizer_client.post("/manage/directory/new", data=organization_form(kind="igo", iso_code="CH"))
    assert response.status_code == 422
    assert "Only States have an ISO country code" in response.get_data(as_text=True)
    with app.app_context():
        assert count_organizations() == 0


def test_a_second_ngo_with_the_same_name_is_refused(app, organizer_client):
    organizer_client.post("/manage/directory/new", data=organization_form())
    response = organizer_client.post(
        "/manage/directory/new", data=organization_form(name_en="INTERNATIONAL FEDERATION OF ACTORS")
    )
    assert response.status_code == 422
    assert "is already in the directory" in response.get_data(as_text=True)
    with app.app_context():
        assert count_organizations() == 1


def test_an_invalid_focal_point_address_is_refused_and_changes_nothing(app, organizer_client):
    with app.app_context():
        france = factories.make_organization(emails=["mission@example.org"])
        db.session.commit()
        france_id = france.id
    response = organizer_client.post(
        f"/manage/directory/{france_id}/edit",
        data=organization_form(
            kind="member_state",
            name_en="République française",
            iso_code="FR",
            emails="mission@example.org\nnot-an-address\nfirst@example.org second@example.org",
        ),
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "“not-an-address” is not a valid email address." in page
    assert "Put one email address per line: “first@example.org second@example.org”." in page
    with app.app_context():
        france = db.session.get(Organization, france_id)
        assert france.name_en == "France"
        assert france.focal_point_emails == ["mission@example.org"]
        assert db.session.scalar(db.select(db.func.count(AuditEntry.id))) == 0


def test_the_english_name_is_required(app, organizer_client):
    response = organizer_client.post("/manage/directory/new", data=organization_form(name_en="  "))
    assert response.status_code == 422
    assert "This field is required." in response.get_data(as_text=True)
    with app.app_context():
        assert count_organizations() == 0


# CSV import


def write_csv(tmp_path, text, encoding="utf-8"):
    path = tmp_path / "organizations.csv"
    path.write_bytes(text.encode(encoding))
    return path


def test_csv_import_creates_and_updates_organizations(app, runner, tmp_path):
    with app.app_context():
        factories.make_organization(emails=["mission@example.org"])
        factories.make_organization(
            kind="ngo", name_en="Actors Guild", name_fr="", name_es="", iso_code=None, emails=[]
        )
        db.session.commit()
    path = write_csv(
        tmp_path,
        "kind,name_en,name_fr,name_es,acronym,iso_code,emails,accreditation,preferred_language\r\n"
        "member_state,France,,,,fr,culture@example.org; mission@example.org,,fr\r\n"
        "igo,World Intellectual Property Organization,Organisation Mondiale de la Propriété Intellectuelle,"
        "Organización Mundial de la Propiedad Intelectual,WIPO,,info@wipo.example.org,permanent_observer,en\r\n"
        "NGO,actors guild,,,,,,,\r\n"
        "member_state,Côte d’Ivoire,,,,CI,mission.ci@example.org other.ci@example.org,,\r\n",
        encoding="utf-8-sig",
    )
    result = runner.invoke(args=["directory", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "2 created, 1 updated, 1 unchanged." in result.output
    with app.app_context():
        assert count_organizations() == 4
        france = organization_by_iso("FR")
        assert (france.name_en, france.name_es, france.preferred_language) == ("France", "Francia", "fr")
        assert france.focal_point_emails == ["mission@example.org", "culture@example.org"]
        wipo = organization_named("World Intellectual Property Organization")
        assert (wipo.kind, wipo.acronym, wipo.accreditation, wipo.iso_code) == (
            "igo",
            "WIPO",
            "permanent_observer",
            None,
        )
        assert wipo.focal_point_emails == ["info@wipo.example.org"]
        ivory_coast = organization_by_iso("CI")
        assert (ivory_coast.kind, ivory_coast.name_fr, ivory_coast.name_es) == (
            "member_state",
            "Côte d’Ivoire",
            "Côte d’Ivoire",
        )
        assert ivory_coast.focal_point_emails == ["mission.ci@example.org", "other.ci@example.org"]
        entry = db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "directory.import"))
        assert entry.meeting_id is None
        assert len(entry.details["created"]) == 2


def test_csv_import_with_only_the_required_columns(app, runner, tmp_path):
    path = write_csv(tmp_path, "name_en,kind\nInternational Federation of Musicians,ngo\n")
    result = runner.invoke(args=["directory", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "1 created, 0 updated, 0 unchanged." in result.output
    with app.app_context():
        musicians = organization_named("International Federation of Musicians")
        assert (musicians.kind, musicians.accreditation, musicians.preferred_language) == ("ngo", "none", "en")


def test_csv_import_with_bad_rows_imports_nothing_and_names_every_bad_line(app, runner, tmp_path):
    path = write_csv(
        tmp_path,
        "kind,name_en,iso_code,emails\n"
        "igo,World Intellectual Property Organization,,info@wipo.example.org\n"
        "member_state,Atlantis,XX,\n"
        "ngo,Actors Guild,,guild@example.org;not-an-address\n"
        "member_state,Germany,DE,\n",
    )
    result = runner.invoke(args=["directory", "import", str(path)])
    assert result.exit_code != 0
    assert "line 3: “XX” is not an ISO 3166 country code." in result.output
    assert "line 4: “not-an-address” is not a valid email address." in result.output
    assert "line 2:" not in result.output and "line 5:" not in result.output
    assert "2 lines have errors; nothing was imported." in result.output
    with app.app_context():
        assert count_organizations() == 0
        assert db.session.scalar(db.select(db.func.count(Contact.id))) == 0


def test_csv_import_refuses_the_same_organization_twice_in_one_file(app, runner, tmp_path):
    path = write_csv(
        tmp_path,
        "kind,name_en,iso_code\nmember_state,France,FR\nngo,Actors Guild,\nmember_state,French Republic,fr\n"
        "ngo,ACTORS GUILD,\n",
    )
    result = runner.invoke(args=["directory", "import", str(path)])
    assert result.exit_code != 0
    assert "line 4: This organization is already on line 2." in result.output
    assert "line 5: This organization is already on line 3." in result.output
    with app.app_context():
        assert count_organizations() == 0


def test_csv_import_needs_a_header_naming_kind_and_name_en(app, runner, tmp_path):
    path = write_csv(tmp_path, "ngo,Actors Guild\n")
    result = runner.invoke(args=["directory", "import", str(path)])
    assert result.exit_code != 0
    assert "line 1: Unknown columns: ngo, actors guild." in result.output
    with app.app_context():
        assert count_organizations() == 0


def test_csv_import_refuses_a_kind_it_does_not_know_and_extra_values(app, runner, tmp_path):
    path = write_csv(tmp_path, "kind,name_en\nfoundation,Music Foundation\nngo,Actors Guild,extra\n")
    result = runner.invoke(args=["directory", "import", str(path)])
    assert result.exit_code != 0
    assert "line 2: “foundation” is not a kind of organization" in result.output
    assert "line 3: This line has more values than the header has columns." in result.output


def test_csv_import_refuses_a_file_that_is_not_utf8(app, runner, tmp_path):
    path = write_csv(tmp_path, "kind,name_en\nngo,Fédération\n", encoding="latin-1")
    result = runner.invoke(args=["directory", "import", str(path)])
    assert result.exit_code != 0
    assert "is not UTF-8 text" in result.output
