"""Registration: delegates register inside the window, observers wait for accreditation, seats and
the waiting list follow the capacity and the per-delegation limit, every registrant gets a personal
link by email, and organizers decide, singly and in bulk."""

import hashlib
import io
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from flask_babel import force_locale, gettext
from sqlalchemy import event
from wtforms.widgets import Select

from meeting.core import storage
from meeting.core.audit import AuditEntry
from meeting.core.models import utcnow
from meeting.core.web import LARGEST_ID, record_id, record_ids
from meeting.directory.models import Organization
from meeting.extensions import db
from meeting.mail.models import OutboxMessage
from meeting.meetings.models import Meeting
from meeting.registration import forms, services, views
from meeting.registration.models import Registration

from . import factories

PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde"


def text_of(response):
    return response.get_data(as_text=True)


@pytest.fixture
def directory(app):
    """A Member State, an observer State, an NGO, an IGO with permanent observer status; their ids."""
    with app.app_context():
        organizations = {
            "france": factories.make_organization(),
            "holy_see": factories.make_organization(
                kind="observer_state", name_en="Holy See", name_fr="Saint-Siège", name_es="Santa Sede", iso_code="VA"
            ),
            "chile": factories.make_organization(
                name_en="Chile", name_fr="Chili", name_es="Chile", iso_code="CL", emails=["mission.chile@example.org"]
            ),
            "ngo": factories.make_organization(
                kind="ngo",
                name_en="International Federation of Actors",
                acronym="FIA",
                iso_code=None,
                emails=["fia@example.org"],
            ),
            "igo": factories.make_organization(
                kind="igo",
                name_en="European Union",
                acronym="EU",
                iso_code=None,
                accreditation="permanent_observer",
                emails=["eu@example.org"],
            ),
        }
        db.session.commit()
        return {name: organization.id for name, organization in organizations.items()}


@pytest.fixture
def meeting_id(app):
    with app.app_context():
        meeting = factories.make_meeting()
        db.session.commit()
        return meeting.id


def form(organization, **overrides):
    data = {
        "role": "delegate",
        "salutation": "mr",
        "given_name": "Jean",
        "family_name": "Dupont",
        "function": "Counsellor, Permanent Mission",
        "email": "jean.dupont@example.org",
        "phone": "+41 22 000 00 00",
        "preferred_language": "en",
        "attendance": "in_person",
        "organization": str(organization),
        "organization_name_other": "",
        "consent_public_list": "y",
        "accessibility_needs": "",
    }
    data.update(overrides)
    return data


def register(client, organization, slug="avp-test", query="", **overrides):
    return client.post(f"/meetings/{slug}/register{query}", data=form(organization, **overrides))


def token_from(response):
    assert response.status_code == 302, text_of(response)
    match = re.fullmatch(r"/r/([A-Za-z0-9_-]+)", response.headers["Location"])
    assert match, response.headers["Location"]
    return match.group(1)


def registrations(app):
    with app.app_context():
        return db.session.scalars(db.select(Registration).order_by(Registration.id)).all()


def emails(app, cause=None):
    with app.app_context():
        query = db.select(OutboxMessage).order_by(OutboxMessage.id)
        if cause:
            query = query.where(OutboxMessage.cause == cause)
        return db.session.scalars(query).all()


def stored_files(app):
    root = Path(app.config["STORAGE_DIR"])
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []


def set_meeting(app, meeting_id, **values):
    with app.app_context():
        meeting = db.session.get(Meeting, meeting_id)
        for name, value in values.items():
            setattr(meeting, name, value)
        db.session.commit()


# The form and its window -------------------------------------------------------------------------


def test_registration_form_offers_the_directory_grouped_by_kind_and_other(app, client, meeting_id, directory):
    html = text_of(client.get("/meetings/avp-test/register"))

    assert '<optgroup label="Member State">' in html and '<optgroup label="Non-governmental organization">' in html
    assert f'<option value="{directory["france"]}">France</option>' in html
    assert "International Federation of Actors (FIA)" in html
    assert '<option value="other">Other (not in the list)</option>' in html
    assert html.index("Chile") < html.index("France")
    assert 'for="given_name"' in html and 'autocomplete="family-name"' in html
    assert 'id="access"' in html  # "Email me my link" is always offered


def test_the_delegation_list_follows_every_change_to_the_directory_at_once(app, client, meeting_id, directory):
    """The list is made once per language and state of the directory (every delegate opening the
    form has the same): an organization added, renamed or withdrawn shows in the next form."""
    page = "/meetings/avp-test/register"
    assert f'<option value="{directory["france"]}">France</option>' in text_of(client.get(page))
    french = text_of(client.get(page, headers={"Accept-Language": "fr"}))
    assert f'<option value="{directory["chile"]}">Chili</option>' in french
    assert '<optgroup label="État membre">' in french and '<optgroup label="Member State">' not in french
    with app.test_request_context(headers={"Accept-Language": "en"}):  # made for Spanish on an English page
        assert {
            choice.optgroup for choice in forms.organization_choices(services.registration_form_organizations(), "es")
        } >= {"Estado miembro"}

    with app.app_context():
        added = factories.make_organization(name_en="Ruritania", name_fr="Ruritanie", iso_code="RU")
        france = db.session.get(Organization, directory["france"])
        france.name_en = "French Republic"
        db.session.get(Organization, directory["chile"]).active = False
        db.session.commit()
        added_id = added.id

    html = text_of(client.get(page))
    assert f'<option value="{added_id}">Ruritania</option>' in html
    assert f'<option value="{directory["france"]}">French Republic</option>' in html
    assert f'value="{directory["chile"]}"' not in html
    french = text_of(client.get(page, headers={"Accept-Language": "fr"}))
    assert f'<option value="{added_id}">Ruritanie</option>' in french
    assert f'value="{directory["chile"]}"' not in french


@pytest.mark.parametrize("chosen", [None, "france", "other"])
def test_the_delegation_list_is_written_exactly_as_wtforms_writes_a_select(app, meeting_id, directory, chosen):
    """The registration form writes its hundreds of options with a faster widget of its own: its HTML
    is WTForms' own, escaping, groups and the chosen option included."""
    with app.app_context():
        factories.make_organization(kind="ngo", name_en='Actors <&> "Friends"', acronym="A&F", iso_code=None)
        db.session.commit()
    with app.test_request_context("/meetings/avp-test/register"):
        meeting = db.session.get(Meeting, meeting_id)
        value = {None: None, "france": str(directory["france"]), "other": "other"}[chosen]
        form = forms.RegistrationForm(
            meeting, services.registration_form_organizations(), "en", formdata=None, data={"organization": value}
        )

        html = form.organization(class_="wide")

        assert str(html) == str(Select()(form.organization, class_="wide"))
        assert "Actors &lt;&amp;&gt; &#34;Friends&#34; (A&amp;F)" in html
        assert ("<option selected value=" in html) == (chosen is not None)


def test_before_registration_opens_the_form_says_when_and_saves_nothing(app, client, meeting_id, directory):
    opens = datetime(date.today().year + 1, 1, 15, 8, 0, tzinfo=UTC)
    set_meeting(
        app,
        meeting_id,
        registration_opens_at=opens,
        registration_closes_at=datetime(opens.year, 2, 27, tzinfo=UTC),
        starts_on=date(opens.year, 3, 1),
        ends_on=date(opens.year, 3, 2),
    )

    page = text_of(client.get("/meetings/avp-test/register"))
    assert "Registration opens on" in page and "(Europe/Zurich time)" in page
    assert 'name="given_name"' not in page

    response = register(client, directory["france"])
    assert response.status_code == 422
    assert "Registration opens on" in text_of(response)
    assert registrations(app) == [] and emails(app) == []


def test_after_registration_closes_the_form_says_so_and_saves_nothing(app, client, meeting_id, directory):
    set_meeting(app, meeting_id, registration_closes_at=utcnow() - timedelta(minutes=1))

    assert "Registration for this meeting is closed." in text_of(client.get("/meetings/avp-test/register"))
    response = register(client, directory["france"])

    assert response.status_code == 422
    assert "Registration for this meeting is closed." in text_of(response)
    assert registrations(app) == [] and emails(app) == []


def test_a_draft_meeting_has_no_registration_page(app, client, directory):
    with app.app_context():
        factories.make_meeting(status="draft")
        db.session.commit()

    assert client.get("/meetings/avp-test/register").status_code == 404
    assert register(client, directory["france"]).status_code == 404
    assert registrations(app) == []


def test_missing_fields_are_shown_next_to_them_and_nothing_is_saved(app, client, meeting_id, directory):
    response = register(client, "", given_name="", email="not-an-email")

    html = text_of(response)
    assert response.status_code == 422
    assert 'id="given_name-error"' in html and 'id="email-error"' in html
    assert registrations(app) == []

    response = register(client, "other", organization_name_other="")
    assert response.status_code == 422
    assert "Give the name of your organization." in text_of(response)
    assert registrations(app) == []


@pytest.mark.parametrize("choice", ["unknown", "inactive", "2147483648", "99999999999999999999", "12abc", "-1"])
def test_a_delegation_that_is_not_in_the_directory_is_refused_next_to_the_field(
    app, client, meeting_id, directory, choice
):
    """A forged choice (an id no organization has, one too large for an id, not a number, an
    organization withdrawn from the directory) is answered with the form, never an error page."""
    with app.app_context():
        withdrawn = factories.make_organization(name_en="Ruritania", iso_code="RU", active=False)
        db.session.commit()
        chosen = {"unknown": str(max(directory.values()) + 100), "inactive": str(withdrawn.id)}.get(choice, choice)

    response = register(client, chosen)

    assert response.status_code == 422
    assert "Choose your delegation or organization from the list, or “Other” and give its name." in text_of(response)
    assert registrations(app) == [] and emails(app) == []


# Who is confirmed at once ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("organization", "role", "requires_credentials", "status", "shown"),
    [
        ("france", "head_of_delegation", False, "confirmed", "Your place at the meeting is confirmed."),
        ("holy_see", "delegate", False, "confirmed", "Your place at the meeting is confirmed."),
        ("igo", "observer", False, "confirmed", "Your place at the meeting is confirmed."),
        ("ngo", "observer", False, "pending", "Pending accreditation"),
        ("other", "observer", False, "pending", "Pending accreditation"),
        ("france", "press", False, "pending", "Pending press accreditation"),
        ("france", "delegate", True, "pending", "Pending credentials check"),
        ("igo", "observer", True, "pending", "Pending credentials check"),
    ],
)
def test_status_on_registering_follows_the_kind_of_delegation(
    app, client, meeting_id, directory, organization, role, requires_credentials, status, shown
):
    set_meeting(app, meeting_id, requires_credentials=requires_credentials)
    data = {"role": role}
    if organization == "other":
        data["organization_name_other"] = "Audiovisual Performers Network"
    if requires_credentials:
        data["credentials"] = (io.BytesIO(PDF), "Note verbale.pdf")
    response = client.post("/meetings/avp-test/register", data=form(directory.get(organization, "other"), **data))
    token = token_from(response)

    [registration] = registrations(app)
    assert registration.status == status
    assert shown in text_of(client.get(f"/r/{token}"))
    [email] = emails(app)
    assert email.cause == "registration.received" and email.recipients == "jean.dupont@example.org"
    assert f"http://meeting.test/r/{token}" in email.body_text and f"http://meeting.test/r/{token}" in email.body_html


def test_confirmation_email_goes_out_in_the_registrants_language_with_the_details(app, client, meeting_id, directory):
    token_from(register(client, directory["france"], preferred_language="fr"))

    [email] = emails(app)
    assert email.language == "fr"
    assert email.recipient_name == "Jean Dupont"
    # "Ad hoc Informal Meeting on the Protection of Audiovisual Performances : votre inscription est confirmée"
    with app.test_request_context(), force_locale("fr"):
        title = db.session.get(Meeting, meeting_id).title
        assert email.subject == gettext("Your registration for the %(title)s is confirmed", title=title)
    assert "DUPONT" in email.body_text and "France" in email.body_text


@pytest.mark.parametrize(("accept_language", "expected"), [("fr", "fr"), ("es", "en")])
def test_without_a_language_chosen_emails_are_in_the_pages_language_when_the_meeting_has_it(
    app, client, meeting_id, directory, accept_language, expected
):
    set_meeting(app, meeting_id, languages="en,fr")
    data = form(directory["france"])
    del data["preferred_language"]

    response = client.post("/meetings/avp-test/register", data=data, headers={"Accept-Language": accept_language})

    token_from(response)
    assert [r.preferred_language for r in registrations(app)] == [expected]
    assert [e.language for e in emails(app)] == [expected]


@pytest.mark.parametrize(
    ("sent", "consents"), [("y", True), ("on", True), ("", False), ("false", False), (None, False)]
)
def test_the_public_list_consent_counts_only_when_its_box_is_ticked(app, client, meeting_id, directory, sent, consents):
    data = form(directory["france"], consent_public_list=sent)
    if sent is None:  # an unticked box is not sent at all
        del data["consent_public_list"]

    token_from(client.post("/meetings/avp-test/register", data=data))

    assert [r.consent_public_list for r in registrations(app)] == [consents]


def test_a_refused_registration_shows_each_reason_next_to_its_field_with_what_was_typed(
    app, client, meeting_id, directory
):
    response = register(
        client,
        directory["france"],
        given_name="G" * 201,
        family_name="Dupont-Moretti",
        function="F" * 301,
        email="jean.dupont@",
        role="secretariat",
    )

    html = text_of(response)
    assert response.status_code == 422
    for field in ("given_name", "function", "email", "role"):
        assert f'id="{field}-error"' in html, field
    assert 'id="family_name-error"' not in html
    assert "At most 200 characters." in html and "At most 300 characters." in html
    assert "is not a valid email address." in html and "Choose your role from the list." in html
    assert 'value="Dupont-Moretti"' in html  # what was typed is kept
    assert registrations(app) == [] and emails(app) == []


def test_a_language_the_meeting_does_not_offer_is_refused(app, client, meeting_id, directory):
    set_meeting(app, meeting_id, languages="en,fr")

    response = register(client, directory["france"], preferred_language="es")

    assert response.status_code == 422
    assert "Choose one of the meeting&#39;s languages." in text_of(response)


def test_meeting_requiring_credentials_refuses_a_registration_without_them(app, client, meeting_id, directory):
    set_meeting(app, meeting_id, requires_credentials=True)

    response = register(client, directory["france"])

    assert response.status_code == 422
    assert 'id="credentials-error"' in text_of(response)
    assert "This meeting asks for credentials" in text_of(response)
    assert registrations(app) == []


# Uploads ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (
            b"Dear Sir, this is not a PDF at all.\n" * 10,
            "Note verbale.pdf",
            "is not one of the accepted kinds of file (PDF, JPEG, PNG)",
        ),
        (PNG, "letter.pdf", "is named like another kind of file than it contains (PNG)"),
        (PDF, "letter.docx", "This kind of file is not accepted."),
        (b"", "empty.pdf", "The file is empty."),
    ],
)
def test_an_upload_whose_content_is_not_what_its_name_says_is_refused_next_to_the_field(
    app, client, meeting_id, directory, content, name, message
):
    response = register(client, directory["france"], credentials=(io.BytesIO(content), name))

    html = text_of(response)
    assert response.status_code == 422
    assert 'id="credentials-error"' in html
    assert message in html.replace("&#34;", '"')
    assert registrations(app) == [] and emails(app) == [] and stored_files(app) == []


def test_an_oversized_upload_is_refused_clearly_and_nothing_is_kept(app, client, meeting_id, directory):
    # Small enough for the test client to keep the request in memory.
    app.config["CREDENTIALS_MAX_BYTES"] = 200 * 1024
    big = PDF + b"0" * (200 * 1024)

    response = register(client, directory["france"], credentials=(io.BytesIO(big), "scan.pdf"))

    assert response.status_code == 422
    assert "The file is larger than 200 KB." in text_of(response)
    assert registrations(app) == [] and stored_files(app) == []


def test_credentials_are_kept_with_their_hash_and_only_organizers_download_them(
    app, client, meeting_id, directory, organizer
):
    name = "Note verbale – Côte d’Ivoire.pdf"
    token_from(register(client, directory["france"], credentials=(io.BytesIO(PDF), name)))

    [registration] = registrations(app)
    assert registration.credentials_name == name
    assert registration.credentials_content_type == "application/pdf"
    assert registration.credentials_size == len(PDF)
    assert registration.credentials_sha256 == hashlib.sha256(PDF).hexdigest()
    assert name not in registration.credentials_key
    with app.app_context():
        assert storage.path_for(registration.credentials_key).read_bytes() == PDF

    url = f"/manage/meetings/avp-test/registrations/{registration.id}/credentials"
    assert client.get(url).status_code == 302  # to the sign-in page
    client.post("/login", data={"email": "secretariat@example.org", "password": factories.PASSWORD})
    with client.get(url) as response:
        assert response.status_code == 200 and response.data == PDF
        assert response.mimetype == "application/pdf"
        assert "attachment" in response.headers["Content-Disposition"]
        assert "C%C3%B4te" in response.headers["Content-Disposition"]
        etag = response.headers["ETag"]
    with client.get(url, headers={"If-None-Match": etag}) as response:
        assert response.status_code == 304


def test_replacing_the_credentials_deletes_the_earlier_file_once_saved(app, client, meeting_id, directory):
    token = token_from(register(client, directory["france"], credentials=(io.BytesIO(PDF), "First note.pdf")))
    [first] = stored_files(app)

    refused = client.post(
        f"/r/{token}", data=form(directory["france"], given_name="", credentials=(io.BytesIO(PDF), "Second.pdf"))
    )
    assert refused.status_code == 422
    assert stored_files(app) == [first]  # nothing saved: the earlier file stays, the new one is gone

    response = client.post(f"/r/{token}", data=form(directory["france"], credentials=(io.BytesIO(PDF), "Second.pdf")))
    assert response.status_code == 302
    [registration] = registrations(app)
    assert registration.credentials_name == "Second.pdf"
    with app.app_context():
        assert stored_files(app) == [storage.path_for(registration.credentials_key)]
    assert not first.exists()


def test_a_file_replaced_in_a_transaction_rolled_back_is_kept(app):
    with app.app_context():
        path = storage.path_for("ab/" + "0" * 32)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(PDF)
        db.session.scalar(db.select(db.func.count(Registration.id)))  # a transaction is under way
        storage.delete_after_commit(db.session(), "ab/" + "0" * 32)
        db.session.rollback()
        db.session.commit()
        assert path.exists()
        storage.delete_after_commit(db.session(), "ab/" + "0" * 32)
        db.session.commit()
        assert not path.exists()


def test_storage_keys_cannot_point_outside_the_storage_folder(app):
    with app.app_context():
        for key in ("../secret", "ab/../../etc/passwd", "/etc/passwd", "AB/" + "0" * 32):
            with pytest.raises(ValueError):
                storage.path_for(key)


# Capacity, delegation limit and the waiting list -------------------------------------------------


def test_past_capacity_a_registration_is_waitlisted_with_its_position(app, client, meeting_id, directory):
    set_meeting(app, meeting_id, capacity=2)
    for number in range(2):
        token_from(register(client, directory["france"], email=f"d{number}@example.org"))

    first = token_from(register(client, directory["chile"], email="w1@example.org"))
    second = token_from(register(client, directory["chile"], email="w2@example.org", given_name="Ana"))

    statuses = [(r.email, r.status, r.waitlist_cause) for r in registrations(app)]
    assert statuses[2:] == [("w1@example.org", "waitlisted", "capacity"), ("w2@example.org", "waitlisted", "capacity")]
    assert "You are number 1 on the waiting list." in text_of(client.get(f"/r/{first}"))
    assert "You are number 2 on the waiting list." in text_of(client.get(f"/r/{second}"))
    [email] = [e for e in emails(app) if e.recipients == "w2@example.org"]
    assert "waiting list" in email.subject and "in position 2" in email.body_text


def stale_guess(monkeypatch, **counts):
    """Make the count taken before the lock (the guess) see `counts`, as if other registrations had
    been decided between it and the lock; the count under the lock stays the real one."""
    real = services._seat_counts

    def counts_seen(meeting, registration, *, email=None):
        row = real(meeting, registration, email=email)
        return SimpleNamespace(**(row._asdict() | counts)) if email is not None else row

    monkeypatch.setattr(services, "_seat_counts", counts_seen)


def test_the_last_seat_taken_before_the_lock_puts_the_registration_on_the_waiting_list(
    app, client, meeting_id, directory, monkeypatch
):
    set_meeting(app, meeting_id, capacity=1)
    token_from(register(client, directory["france"], email="first@example.org"))
    stale_guess(monkeypatch, seated=0)  # the guess: a seat is free, so confirmed

    token = token_from(register(client, directory["chile"], email="late@example.org"))

    late = registrations(app)[1]
    assert (late.status, late.waitlist_cause) == ("waitlisted", "capacity")
    assert late.waitlisted_at is not None
    # One email, written again for what was decided under the lock.
    [email] = [e for e in emails(app) if e.recipients == "late@example.org"]
    assert "waiting list" in email.subject
    assert "in position 1" in email.body_text and "in position 1" in email.body_html
    assert "confirmed" not in email.body_text.lower()
    assert "You are number 1 on the waiting list." in text_of(client.get(f"/r/{token}"))


def test_a_seat_freed_before_the_lock_confirms_the_registration_guessed_waitlisted(
    app, client, meeting_id, directory, monkeypatch
):
    set_meeting(app, meeting_id, capacity=1)
    stale_guess(monkeypatch, seated=1, waiting=4)  # the guess: full, fifth in line

    token_from(register(client, directory["france"], email="lucky@example.org"))

    [lucky] = registrations(app)
    assert (lucky.status, lucky.waitlist_cause, lucky.waitlisted_at) == ("confirmed", None, None)
    [email] = emails(app)
    assert "is confirmed" in email.subject and "Your place at the meeting is confirmed." in email.body_text
    assert "waiting list" not in email.body_text


def test_a_waitlisted_guess_gets_its_true_position_under_the_lock(app, client, meeting_id, directory, monkeypatch):
    set_meeting(app, meeting_id, capacity=1)
    token_from(register(client, directory["france"], email="seated@example.org"))
    token_from(register(client, directory["chile"], email="w1@example.org"))
    stale_guess(monkeypatch, waiting=0)  # the guess: first in line; the truth: second

    token_from(register(client, directory["chile"], email="w2@example.org", given_name="Ana"))

    [email] = [e for e in emails(app) if e.recipients == "w2@example.org"]
    assert "in position 2" in email.body_text and "in position 1" not in email.body_text


def test_a_pending_registration_holds_its_seat(app, client, meeting_id, directory):
    set_meeting(app, meeting_id, capacity=1)

    token_from(register(client, directory["ngo"], role="observer", email="ngo@example.org"))
    token_from(register(client, directory["france"], email="late@example.org"))

    assert [(r.email, r.status) for r in registrations(app)] == [
        ("ngo@example.org", "pending"),
        ("late@example.org", "waitlisted"),
    ]


def test_per_delegation_limit_waitlists_the_extra_delegate_only(app, client, meeting_id, directory):
    set_meeting(app, meeting_id, per_delegation_limit=2)
    for number in range(3):
        token_from(register(client, directory["france"], email=f"fr{number}@example.org"))
    token_from(register(client, directory["chile"], email="cl@example.org"))

    assert [(r.email, r.status, r.waitlist_cause) for r in registrations(app)] == [
        ("fr0@example.org", "confirmed", None),
        ("fr1@example.org", "confirmed", None),
        ("fr2@example.org", "waitlisted", "delegation_limit"),
        ("cl@example.org", "confirmed", None),
    ]
    with app.app_context():
        token = registrations(app)[2].token()
    html = text_of(client.get(f"/r/{token}"))
    assert "Your delegation has all the places it can have." in html


def test_per_delegation_limit_counts_an_organization_not_in_the_directory_by_its_name_in_any_case(
    app, client, meeting_id, directory
):
    set_meeting(app, meeting_id, per_delegation_limit=1)
    token_from(register(client, "other", email="a@example.org", organization_name_other="Geneva Daily"))
    token_from(register(client, "other", email="b@example.org", organization_name_other="GENEVA DAILY"))
    token_from(
        register(client, "other", email="c@example.org", organization_name_other="Audiovisual Performers Network")
    )
    token_from(register(client, directory["france"], email="d@example.org"))

    assert [(r.email, r.status, r.waitlist_cause) for r in registrations(app)] == [
        ("a@example.org", "pending", None),
        ("b@example.org", "waitlisted", "delegation_limit"),
        ("c@example.org", "pending", None),
        ("d@example.org", "confirmed", None),
    ]


def test_cancelling_promotes_the_oldest_waitlisted_and_emails_both(app, client, meeting_id, directory):
    set_meeting(app, meeting_id, capacity=1)
    seated = token_from(register(client, directory["france"], email="seated@example.org"))
    token_from(register(client, directory["chile"], email="first@example.org"))
    later = token_from(register(client, directory["chile"], email="second@example.org"))

    confirm_page = text_of(client.get(f"/r/{seated}/cancel"))
    assert "Your place will be given to the next person on the waiting list." in confirm_page
    response = client.post(f"/r/{seated}/cancel")
    assert response.status_code == 302 and response.headers["Location"] == f"/r/{seated}"

    assert [(r.email, r.status) for r in registrations(app)] == [
        ("seated@example.org", "cancelled"),
        ("first@example.org", "confirmed"),
        ("second@example.org", "waitlisted"),
    ]
    cancelled = emails(app, "registration.cancel")
    promoted = emails(app, "registration.promoted")
    assert [e.recipients for e in cancelled] == ["seated@example.org"]
    assert [e.recipients for e in promoted] == ["first@example.org"]
    assert "Your place at the meeting is confirmed." in promoted[0].body_text
    assert "You are number 1 on the waiting list." in text_of(client.get(f"/r/{later}"))
    assert "This registration is cancelled." in text_of(client.get(f"/r/{seated}"))


def test_promotion_skips_a_delegation_at_its_limit_and_gives_the_seat_to_the_next_that_fits(
    app, organizer_client, meeting_id, directory
):
    set_meeting(app, meeting_id, capacity=3, per_delegation_limit=2)
    for email in ("fr1@example.org", "fr2@example.org", "cl1@example.org"):
        organization = directory["france"] if email.startswith("fr") else directory["chile"]
        token_from(register(organizer_client, organization, email=email))
    token_from(register(organizer_client, directory["france"], email="fr3@example.org"))  # delegation full
    token_from(register(organizer_client, directory["ngo"], role="observer", email="ngo@example.org"))
    chile = next(r for r in registrations(app) if r.email == "cl1@example.org")

    organizer_client.post(
        f"/manage/meetings/avp-test/registrations/{chile.id}/reject", data={"reason": "Not accredited by its mission."}
    )

    statuses = {r.email: r.status for r in registrations(app)}
    assert statuses == {
        "fr1@example.org": "confirmed",
        "fr2@example.org": "confirmed",
        "cl1@example.org": "rejected",
        "fr3@example.org": "waitlisted",
        "ngo@example.org": "pending",  # promoted, and an NGO still waits for accreditation
    }
    assert [e.recipients for e in emails(app, "registration.promoted")] == ["ngo@example.org"]
    assert [e.recipients for e in emails(app, "registration.reject")] == ["cl1@example.org"]


# Duplicates ------------------------------------------------------------------------------------


def test_a_second_registration_with_the_same_email_says_already_registered_and_offers_the_link(
    app, client, meeting_id, directory
):
    token_from(register(client, directory["france"]))

    response = register(client, directory["france"], email="  Jean.Dupont@EXAMPLE.org ")

    html = text_of(response)
    assert response.status_code == 422
    assert "This email address is already registered for this meeting." in html
    assert 'action="/meetings/avp-test/access"' in html and 'value="Jean.Dupont@EXAMPLE.org"' in html
    assert len(registrations(app)) == 1 and len(emails(app)) == 1


def test_a_duplicate_that_slips_past_the_check_is_caught_by_the_unique_index(
    app, client, meeting_id, directory, monkeypatch
):
    token_from(register(client, directory["france"]))
    # Two submits racing: the second passed the check before the first was saved.
    monkeypatch.setattr(services, "_active_registration", lambda meeting_id, email: None)

    response = register(client, directory["france"], credentials=(io.BytesIO(PDF), "note.pdf"))

    assert response.status_code == 422
    assert "This email address is already registered for this meeting." in text_of(response)
    assert len(registrations(app)) == 1 and len(emails(app)) == 1
    assert stored_files(app) == []


def test_after_cancelling_the_same_email_can_register_again(app, client, meeting_id, directory):
    token = token_from(register(client, directory["france"]))
    client.post(f"/r/{token}/cancel")

    token_from(register(client, directory["france"]))

    assert [r.status for r in registrations(app)] == ["cancelled", "confirmed"]


# The personal link -----------------------------------------------------------------------------


def test_personal_link_shows_the_registration_and_opens_a_participant_session(app, client, meeting_id, directory):
    token = token_from(register(client, directory["france"]))
    with app.app_context():
        # A new client: the link comes from the email, in another browser.
        other_browser = app.test_client()

    with other_browser:
        html = text_of(other_browser.get(f"/r/{token}"))
        assert "Jean Dupont" in html and "France" in html and "Counsellor, Permanent Mission" in html
        meeting = db.session.get(Meeting, meeting_id)
        participant = services.current_participant(meeting)
        assert participant is not None and participant.email == "jean.dupont@example.org"

    response = other_browser.get(f"/r/{token}")
    assert response.headers["Cache-Control"] == "no-store"


def test_participant_session_ends_when_the_registration_is_no_longer_confirmed(app, client, meeting_id, directory):
    token = token_from(register(client, directory["france"]))
    ngo_token = token_from(register(client, directory["ngo"], role="observer", email="ngo@example.org"))
    client.post(f"/r/{token}/cancel")

    with client:
        client.get(f"/r/{token}")
        assert services.current_participant(db.session.get(Meeting, meeting_id)) is None
        client.get(f"/r/{ngo_token}")  # pending accreditation: no participant documents yet
        assert services.current_participant(db.session.get(Meeting, meeting_id)) is None


def test_registrant_changes_details_but_not_email_nor_delegation(app, client, meeting_id, directory):
    token = token_from(register(client, directory["france"]))

    response = client.post(
        f"/r/{token}",
        data=form(
            directory["chile"],
            given_name="Jean-Pierre",
            function="Minister Counsellor",
            attendance="online",
            preferred_language="es",
            email="someone.else@example.org",
            consent_public_list="",
        ),
    )

    assert response.status_code == 302 and response.headers["Location"] == f"/r/{token}"
    [registration] = registrations(app)
    assert (registration.given_name, registration.function, registration.attendance) == (
        "Jean-Pierre",
        "Minister Counsellor",
        "online",
    )
    assert registration.preferred_language == "es" and registration.consent_public_list is False
    assert registration.email == "jean.dupont@example.org"
    assert registration.organization_id == directory["france"]
    with app.app_context():
        entry = db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "registration.update"))
        assert entry.actor == "Jean-Pierre Dupont <jean.dupont@example.org> (personal link)"
        assert entry.details["changes"]["function"] == ["Counsellor, Permanent Mission", "Minister Counsellor"]


def test_registrant_cannot_move_to_the_press_by_changing_details(app, client, meeting_id, directory):
    token = token_from(register(client, directory["france"]))

    response = client.post(f"/r/{token}", data=form(directory["france"], role="press"))

    assert response.status_code == 422
    assert "To change between press and delegation" in text_of(response)
    assert registrations(app)[0].role == "delegate"


def test_after_the_modification_deadline_details_can_no_longer_be_changed(app, client, meeting_id, directory):
    token = token_from(register(client, directory["france"]))
    set_meeting(app, meeting_id, modification_deadline=utcnow() - timedelta(minutes=5))

    page = text_of(client.get(f"/r/{token}"))
    assert "Your registration can no longer be changed online." in page and 'name="given_name"' not in page

    response = client.post(f"/r/{token}", data=form(directory["france"], given_name="Changed"))
    assert response.status_code == 422
    assert registrations(app)[0].given_name == "Jean"
    assert "Cancel my registration" in page  # cancelling stays possible until the meeting


def test_wrong_personal_link_is_a_404(app, client, meeting_id, directory):
    token = token_from(register(client, directory["france"]))
    wrong = token[:-1] + ("A" if token[-1] != "A" else "B")

    for url in (f"/r/{wrong}", "/r/nonsense", f"/r/{wrong}/cancel", "/r/" + "x" * 200):
        assert client.get(url).status_code == 404, url
    assert client.post(f"/r/{wrong}/cancel").status_code == 404
    assert client.post(f"/r/{wrong}", data=form(directory["france"])).status_code == 404
    assert registrations(app)[0].status == "confirmed"


def test_a_registrants_link_never_reveals_or_changes_another_registration(app, client, meeting_id, directory):
    mine = token_from(register(client, directory["france"], email="mine@example.org", given_name="Alice"))
    theirs = token_from(
        register(client, directory["chile"], email="theirs@example.org", given_name="Bob", family_name="Zuckerberg")
    )
    assert mine != theirs

    with app.app_context():
        stranger = app.test_client()
    with stranger:
        html = text_of(stranger.get(f"/r/{mine}"))
        assert "Alice" in html and "mine@example.org" in html
        assert (
            "Bob" not in html and "theirs@example.org" not in html and "Zuckerberg" not in html and "Chile" not in html
        )
        assert services.current_participant(db.session.get(Meeting, meeting_id)).email == "mine@example.org"

    stranger.post(f"/r/{mine}", data=form(directory["france"], given_name="Mallory"))
    stranger.post(f"/r/{mine}/cancel")
    by_email = {r.email: r for r in registrations(app)}
    assert by_email["theirs@example.org"].given_name == "Bob"
    assert by_email["theirs@example.org"].status == "confirmed"


# "Email me my link" ----------------------------------------------------------------------------


def test_link_request_answers_the_same_for_registered_and_unknown_emails_and_emails_only_the_registered(
    app, client, meeting_id, directory
):
    token = token_from(register(client, directory["france"]))

    known = client.post("/meetings/avp-test/access", data={"email": "Jean.Dupont@example.org"}, follow_redirects=True)
    unknown = client.post("/meetings/avp-test/access", data={"email": "nobody@example.org"}, follow_redirects=True)

    message = "If this address is registered for the meeting, we have sent the personal link to it."
    assert message in text_of(known) and message in text_of(unknown)
    assert known.status_code == unknown.status_code == 200
    [link_email] = emails(app, "registration.link")
    assert link_email.recipients == "jean.dupont@example.org"
    assert f"http://meeting.test/r/{token}" in link_email.body_text  # the same link as the first email
    assert client.get(f"/r/{token}").status_code == 200


def test_link_request_works_after_registration_has_closed(app, client, meeting_id, directory):
    token_from(register(client, directory["france"]))
    set_meeting(app, meeting_id, registration_closes_at=utcnow() - timedelta(minutes=1))

    client.post("/meetings/avp-test/access", data={"email": "jean.dupont@example.org"})

    assert [e.recipients for e in emails(app, "registration.link")] == ["jean.dupont@example.org"]


# From an invitation ----------------------------------------------------------------------------


def test_registering_from_an_invitation_locks_the_organization_and_records_the_invitation(
    app, client, meeting_id, directory
):
    with app.app_context():
        meeting = db.session.get(Meeting, meeting_id)
        invitation = factories.make_invitation(meeting, db.session.get(factories.Organization, directory["france"]))
        invitation_token, invitation_id = invitation.token(), invitation.id
        db.session.commit()

    html = text_of(client.get(f"/meetings/avp-test/register?invitation={invitation_token}"))
    assert "You are registering in the delegation of France" in html
    assert 'name="organization"' not in html

    token_from(register(client, "other", query=f"?invitation={invitation_token}", organization_name_other="Fake"))

    [registration] = registrations(app)
    assert registration.organization_id == directory["france"] and registration.organization_name_other == ""
    assert registration.invitation_id == invitation_id and registration.status == "confirmed"


def test_an_unknown_invitation_token_is_a_404(app, client, meeting_id, directory):
    assert client.get("/meetings/avp-test/register?invitation=not-a-token").status_code == 404
    assert register(client, directory["france"], query="?invitation=not-a-token").status_code == 404
    assert registrations(app) == []


# Organizers ------------------------------------------------------------------------------------


def make_registrations(app, meeting_id, directory):
    """Seven registrations of every kind; their ids by email."""
    with app.app_context():
        meeting = db.session.get(Meeting, meeting_id)
        organization = {name: db.session.get(factories.Organization, oid) for name, oid in directory.items()}
        made = [
            factories.make_registration(
                meeting,
                organization["france"],
                email="hod@fr.example.org",
                given_name="Marie",
                family_name="Curie",
                role="head_of_delegation",
            ),
            factories.make_registration(
                meeting,
                organization["france"],
                email="adv@fr.example.org",
                given_name="Louis",
                family_name="Pasteur",
                role="adviser",
            ),
            factories.make_registration(
                meeting, organization["chile"], email="cl@example.org", given_name="Gabriela", family_name="Mistral"
            ),
            factories.make_registration(
                meeting,
                organization["ngo"],
                email="ngo1@example.org",
                role="observer",
                given_name="Ana",
                family_name="Actor",
                status="pending",
            ),
            factories.make_registration(
                meeting,
                organization["ngo"],
                email="ngo2@example.org",
                role="observer",
                given_name="Ben",
                family_name="Player",
                status="pending",
            ),
            factories.make_registration(
                meeting,
                None,
                email="press@example.org",
                role="press",
                given_name="Pat",
                family_name="Reporter",
                status="pending",
                organization_name_other="Geneva Daily",
            ),
            factories.make_registration(
                meeting,
                organization["chile"],
                email="wait@example.org",
                given_name="Pablo",
                family_name="Neruda",
                status="waitlisted",
            ),
        ]
        db.session.commit()
        return {registration.email: registration.id for registration in made}


def test_registration_pages_require_an_organizer(app, client, meeting_id):
    for url in ("/manage/meetings/avp-test/registrations/", "/manage/meetings/avp-test/registrations/1"):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert client.post("/manage/meetings/avp-test/registrations/bulk", data={"action": "confirm"}).status_code == 302


def test_organizer_list_counts_filters_and_searches(app, organizer_client, meeting_id, directory):
    make_registrations(app, meeting_id, directory)
    url = "/manage/meetings/avp-test/registrations/"

    html = text_of(organizer_client.get(url))
    assert '<span class="status-count" id="count-confirmed">3</span>' in html
    assert '<span class="status-count" id="count-pending">3</span>' in html
    assert '<span class="status-count" id="count-waitlisted">1</span>' in html
    assert "7 registrations" in html and "Seats held (confirmed and pending): 6" in html

    def names(query):
        page = text_of(organizer_client.get(url + query))
        return {
            name for name in ("CURIE", "PASTEUR", "MISTRAL", "ACTOR", "PLAYER", "REPORTER", "NERUDA") if name in page
        }

    assert names("?status=pending") == {"ACTOR", "PLAYER", "REPORTER"}
    assert names("?kind=ngo") == {"ACTOR", "PLAYER"}
    assert names("?kind=other") == {"REPORTER"}
    assert names(f"?organization={directory['chile']}") == {"MISTRAL", "NERUDA"}
    assert names("?role=adviser") == {"PASTEUR"}
    assert names("?q=curie") == {"CURIE"}
    assert names("?q=ngo2@") == {"PLAYER"}
    assert names("?q=Gabriela+Mistral") == {"MISTRAL"}
    assert names("?status=waitlisted&kind=member_state") == {"NERUDA"}
    assert "position 1" in text_of(organizer_client.get(url + "?status=waitlisted"))
    assert "No registration matches." in text_of(organizer_client.get(url + "?q=nobody"))


def test_organizer_list_is_paginated_and_its_queries_do_not_grow_with_the_registrations(
    app, organizer_client, meeting_id, monkeypatch
):
    def add(count, start):
        with app.app_context():
            meeting = db.session.get(Meeting, meeting_id)
            for number in range(start, start + count):
                organization = factories.make_organization(
                    name_en=f"State {number}", iso_code=None, kind="member_state", emails=[]
                )
                factories.make_registration(
                    meeting,
                    organization,
                    email=f"p{number}@example.org",
                    status="waitlisted" if number % 3 else "confirmed",
                )
            db.session.commit()
            return db.engine

    engine = add(10, 0)

    def queries_for(url):
        statements = []
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(engine, "before_cursor_execute", listener)
        try:
            assert organizer_client.get(url).status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        return len(statements)

    small = queries_for("/manage/meetings/avp-test/registrations/")
    add(30, 10)
    assert queries_for("/manage/meetings/avp-test/registrations/") == small

    monkeypatch.setattr(views, "PER_PAGE", 25)
    html = text_of(organizer_client.get("/manage/meetings/avp-test/registrations/?page=2"))
    assert "Page 2 of 2" in html and html.count('name="ids"') == 15


def test_organizer_confirms_a_pending_registration_which_is_emailed_and_audited(
    app, organizer_client, meeting_id, directory
):
    ids = make_registrations(app, meeting_id, directory)

    response = organizer_client.post(f"/manage/meetings/avp-test/registrations/{ids['ngo1@example.org']}/confirm")

    assert response.status_code == 302
    registration = {r.email: r for r in registrations(app)}["ngo1@example.org"]
    assert registration.status == "confirmed" and registration.decided_at is not None
    [email] = emails(app, "registration.confirm")
    assert email.recipients == "ngo1@example.org" and "is confirmed" in email.subject
    with app.app_context():
        entry = db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "registration.confirm"))
        assert entry.actor == "secretariat@example.org" and entry.object_id == registration.id
    page = text_of(organizer_client.get(response.headers["Location"]))
    assert "1 registration confirmed. Each registrant has been emailed." in page
    assert "is confirmed" in page  # the email, listed on the registration


def test_rejecting_needs_a_reason_which_is_sent_to_the_registrant(app, organizer_client, meeting_id, directory):
    ids = make_registrations(app, meeting_id, directory)
    url = f"/manage/meetings/avp-test/registrations/{ids['ngo2@example.org']}/reject"

    response = organizer_client.post(url, data={"reason": "  "})
    assert response.status_code == 422
    assert "Give the reason for the rejection" in text_of(response)
    assert {r.email: r.status for r in registrations(app)}["ngo2@example.org"] == "pending"

    organizer_client.post(url, data={"reason": "The organization is not accredited to the Organization."})
    registration = {r.email: r for r in registrations(app)}["ngo2@example.org"]
    assert registration.status == "rejected"
    assert registration.reason == "The organization is not accredited to the Organization."
    [email] = emails(app, "registration.reject")
    assert "The organization is not accredited to the Organization." in email.body_text


def test_organizer_cancels_a_confirmed_registration_and_the_seat_goes_to_the_waiting_list(
    app, organizer_client, meeting_id, directory
):
    ids = make_registrations(app, meeting_id, directory)
    set_meeting(app, meeting_id, capacity=6)

    organizer_client.post(
        f"/manage/meetings/avp-test/registrations/{ids['cl@example.org']}/cancel", data={"reason": ""}
    )

    statuses = {r.email: r.status for r in registrations(app)}
    assert statuses["cl@example.org"] == "cancelled" and statuses["wait@example.org"] == "confirmed"
    assert [e.recipients for e in emails(app, "registration.cancel")] == ["cl@example.org"]
    assert [e.recipients for e in emails(app, "registration.promoted")] == ["wait@example.org"]


def test_organizer_moves_a_registration_off_the_waiting_list(app, organizer_client, meeting_id, directory):
    ids = make_registrations(app, meeting_id, directory)

    organizer_client.post(f"/manage/meetings/avp-test/registrations/{ids['wait@example.org']}/promote")
    response = organizer_client.post(f"/manage/meetings/avp-test/registrations/{ids['cl@example.org']}/promote")

    assert {r.email: r.status for r in registrations(app)}["wait@example.org"] == "confirmed"
    assert [e.recipients for e in emails(app, "registration.promoted")] == ["wait@example.org"]
    follow = text_of(organizer_client.get(response.headers["Location"]))
    assert "Only a registration on the waiting list can be moved off it." in follow


def test_ids_too_large_for_any_row_are_ignored_by_the_list_and_the_bulk_actions(
    app, organizer_client, meeting_id, directory
):
    """A forged number in the filters or the ticked boxes finds nothing (PostgreSQL would refuse a
    number beyond its integers): the page answers, and the real ids ticked beside it are acted on."""
    ids = make_registrations(app, meeting_id, directory)
    huge = "99999999999999999999"

    listing = organizer_client.get(f"/manage/meetings/avp-test/registrations/?organization={huge}")
    assert listing.status_code == 200 and "Marie Curie" in text_of(listing)

    response = organizer_client.post(
        "/manage/meetings/avp-test/registrations/bulk",
        data={"action": "confirm", "ids": [huge, "2147483648", str(ids["ngo1@example.org"])]},
    )
    assert response.status_code == 302
    assert {r.email: r.status for r in registrations(app)}["ngo1@example.org"] == "confirmed"


def test_record_ids_keep_the_numbers_a_row_can_have():
    assert record_id("12") == 12 and record_id(str(LARGEST_ID)) == LARGEST_ID
    assert [record_id(value) for value in ("", None, "0", "-1", "1.5", "12abc", "2147483648", "9" * 40)] == [None] * 8
    assert record_ids(["3", "x", "99999999999", "4"]) == [3, 4]


def test_bulk_actions_apply_to_the_ticked_registrations_and_report_those_they_do_not_fit(
    app, organizer_client, meeting_id, directory
):
    ids = make_registrations(app, meeting_id, directory)
    url = "/manage/meetings/avp-test/registrations/bulk"
    ticked = [ids["ngo1@example.org"], ids["ngo2@example.org"], ids["hod@fr.example.org"]]

    response = organizer_client.post(
        url,
        data={
            "action": "confirm",
            "ids": [str(i) for i in ticked],
            "next": "/manage/meetings/avp-test/registrations/?status=pending",
        },
    )

    assert response.headers["Location"] == "/manage/meetings/avp-test/registrations/?status=pending"
    statuses = {r.email: r.status for r in registrations(app)}
    assert statuses["ngo1@example.org"] == statuses["ngo2@example.org"] == "confirmed"
    assert sorted(e.recipients for e in emails(app, "registration.confirm")) == ["ngo1@example.org", "ngo2@example.org"]
    page = text_of(organizer_client.get(response.headers["Location"]))
    assert "2 registrations confirmed." in page
    assert "Marie Curie: Only a pending or waitlisted registration can be confirmed." in page

    response = organizer_client.post(
        url, data={"action": "reject", "ids": [str(ids["press@example.org"])], "reason": ""}
    )
    assert {r.email: r.status for r in registrations(app)}["press@example.org"] == "pending"
    assert "Give the reason for the rejection" in text_of(organizer_client.get(response.headers["Location"]))

    organizer_client.post(
        url,
        data={
            "action": "reject",
            "ids": [str(ids["press@example.org"]), str(ids["wait@example.org"])],
            "reason": "No seats for the press.",
        },
    )
    statuses = {r.email: r.status for r in registrations(app)}
    assert statuses["press@example.org"] == statuses["wait@example.org"] == "rejected"
    assert sorted(e.recipients for e in emails(app, "registration.reject")) == ["press@example.org", "wait@example.org"]

    response = organizer_client.post(url, data={"action": "confirm"})
    assert "Tick the registrations first." in text_of(organizer_client.get(response.headers["Location"]))


def test_registration_detail_shows_everything_with_the_credentials_link(app, organizer_client, meeting_id, directory):
    token_from(
        register(
            organizer_client,
            directory["ngo"],
            role="observer",
            accessibility_needs="Wheelchair access",
            credentials=(io.BytesIO(PDF), "letter.pdf"),
        )
    )
    [registration] = registrations(app)

    html = text_of(organizer_client.get(f"/manage/meetings/avp-test/registrations/{registration.id}"))

    assert "Jean DUPONT" in html and "International Federation of Actors" in html
    assert "Pending accreditation" in html and "Wheelchair access" in html
    assert f'href="/manage/meetings/avp-test/registrations/{registration.id}/credentials">letter.pdf</a>' in html
    assert "We have received your registration" in html  # its email
    assert organizer_client.get("/manage/meetings/avp-test/registrations/999").status_code == 404


def test_organizer_corrects_the_email_and_the_change_is_audited(app, organizer_client, meeting_id, directory):
    ids = make_registrations(app, meeting_id, directory)
    url = f"/manage/meetings/avp-test/registrations/{ids['cl@example.org']}/edit"
    assert 'value="cl@example.org"' in text_of(organizer_client.get(url))

    taken = organizer_client.post(url, data=form(directory["chile"], email="hod@fr.example.org", role="delegate"))
    assert taken.status_code == 422
    assert "Another registration for this meeting already uses this email address." in text_of(taken)

    response = organizer_client.post(
        url,
        data=form(
            directory["chile"],
            email="gabriela@example.org",
            role="speaker",
            given_name="Gabriela",
            family_name="Mistral",
        ),
    )
    assert response.status_code == 302
    registration = db_registration(app, ids["cl@example.org"])
    assert registration.email == "gabriela@example.org" and registration.role == "speaker"
    with app.app_context():
        entry = db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "registration.update"))
        assert entry.actor == "secretariat@example.org"
        assert entry.details["changes"]["email"] == ["cl@example.org", "gabriela@example.org"]


def db_registration(app, registration_id):
    with app.app_context():
        return db.session.get(Registration, registration_id)


# Meeting settings used by registration -----------------------------------------------------------


def test_organizer_sets_credentials_and_the_modification_deadline_on_the_meeting(app, organizer_client, meeting_id):
    with app.app_context():
        meeting = db.session.get(Meeting, meeting_id)
        year = meeting.starts_on.year
        data = {
            "slug": "avp-test",
            "title": meeting.title,
            "kind": meeting.kind,
            "timezone": "Europe/Zurich",
            "starts_on": meeting.starts_on.isoformat(),
            "ends_on": meeting.ends_on.isoformat(),
            "venue": meeting.venue,
            "languages": ["en", "fr", "es"],
            "requires_credentials": "y",
            "modification_deadline": f"{meeting.starts_on - timedelta(days=2):%Y-%m-%d}T18:00",
        }

    response = organizer_client.post("/manage/meetings/avp-test/edit", data=data)

    assert response.status_code == 302, text_of(response)
    with app.app_context():
        meeting = db.session.get(Meeting, meeting_id)
        assert meeting.requires_credentials is True
        local = meeting.local(meeting.modification_deadline)
        assert (local.date(), local.hour, local.year) == (meeting.starts_on - timedelta(days=2), 18, year)
    html = text_of(organizer_client.get("/manage/meetings/avp-test/edit"))
    assert 'name="requires_credentials"' in html and "checked" in html


def test_raising_the_capacity_moves_the_waiting_list_up_and_emails_the_promoted(
    app, organizer_client, meeting_id, directory
):
    set_meeting(app, meeting_id, capacity=1)
    for email in ("first@example.org", "second@example.org", "third@example.org"):
        token_from(register(organizer_client, directory["france"], email=email))
    with app.app_context():
        meeting = db.session.get(Meeting, meeting_id)
        data = {name: getattr(meeting, name) for name in ("slug", "title", "kind", "timezone", "venue")}
        data.update(starts_on=meeting.starts_on.isoformat(), ends_on=meeting.ends_on.isoformat(), capacity="2")
        data["languages"] = meeting.language_codes

    assert organizer_client.post("/manage/meetings/avp-test/edit", data=data).status_code == 302

    assert [(r.email, r.status) for r in registrations(app)] == [
        ("first@example.org", "confirmed"),
        ("second@example.org", "confirmed"),
        ("third@example.org", "waitlisted"),
    ]
    assert [e.recipients for e in emails(app, "registration.promoted")] == ["second@example.org"]


def test_organizer_checks_in_a_confirmed_participant_without_emailing_them(
    app, organizer_client, meeting_id, directory
):
    ids = make_registrations(app, meeting_id, directory)

    organizer_client.post(f"/manage/meetings/avp-test/registrations/{ids['hod@fr.example.org']}/check_in")
    refused = organizer_client.post(f"/manage/meetings/avp-test/registrations/{ids['ngo1@example.org']}/check_in")

    assert db_registration(app, ids["hod@fr.example.org"]).checked_in_at is not None
    assert db_registration(app, ids["ngo1@example.org"]).checked_in_at is None
    assert "Only a confirmed registration can be checked in." in text_of(
        organizer_client.get(refused.headers["Location"])
    )
    assert emails(app) == []
