"""The JSON API v1: tokens, the public endpoints, the organizers' endpoints, pagination, filters, the
one error shape, CORS and the description (openapi.json, /api/v1/docs)."""

from datetime import UTC, datetime

import pytest

from meeting.accounts.models import User
from meeting.accounts.services import revoke_api_token
from meeting.core.audit import AuditEntry
from meeting.extensions import db
from meeting.mail.models import OutboxMessage
from meeting.meetings.models import Meeting
from meeting.registration.models import Registration

from . import factories

BASE = "/api/v1/meetings/avp-test"
TOKEN_LABEL = "Registration desk script"
ACTOR = f"secretariat@example.org (API token “{TOKEN_LABEL}”)"
ORGANIZER_REQUESTS = [
    ("get", f"{BASE}/registrations", None),
    ("get", f"{BASE}/list-of-participants", None),
    ("patch", BASE, {"capacity": 10}),
    ("post", f"{BASE}/registrations/1/status", {"action": "confirm"}),
    ("post", f"{BASE}/invitations", {"kind": "member_state"}),
]
PUBLIC_PATHS = ["/api/v1/meetings", BASE, f"{BASE}/program", f"{BASE}/documents"]


@pytest.fixture
def token(app, organizer):
    """The published meeting `avp-test` with its program, documents and registrations, and the
    organizer's API token."""
    with app.app_context():
        factories.make_full_meeting()
        plain = factories.make_api_token(db.session.get(User, organizer), TOKEN_LABEL)
        db.session.commit()
        return plain


def call(client, method, path, token=None, **options):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return getattr(client, method)(path, headers=headers, **options)


def assert_error(response, status, code, fields=()):
    assert response.status_code == status
    assert response.is_json
    body = response.get_json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "fields"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    assert set(fields) <= set(body["error"]["fields"])
    return body["error"]


def registration_id(family_name):
    return db.session.scalar(db.select(Registration.id).where(Registration.family_name == family_name))


def the_meeting(slug="avp-test"):
    return db.session.scalar(db.select(Meeting).where(Meeting.slug == slug))


def audit_entries(action):
    return db.session.scalars(db.select(AuditEntry).where(AuditEntry.action == action)).all()


# Tokens ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("method, path, body", ORGANIZER_REQUESTS)
@pytest.mark.parametrize("header", [None, "Bearer", "Basic c2VjcmV0YXJpYXQ6eA==", "Token abc"])
def test_organizer_endpoints_without_a_bearer_token_are_401_with_a_challenge(client, token, method, path, body, header):
    headers = {"Authorization": header} if header else {}
    response = getattr(client, method)(path, json=body, headers=headers)

    assert_error(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="api"'


@pytest.mark.parametrize("method, path, body", ORGANIZER_REQUESTS)
def test_an_unknown_token_is_401_invalid_token_and_changes_nothing(app, client, token, method, path, body):
    response = call(client, method, path, token + "x", json=body)

    assert_error(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="api", error="invalid_token"'
    with app.app_context():
        assert the_meeting().capacity is None
        assert audit_entries("meeting.update") == []


def test_a_revoked_token_is_401(app, client, organizer, token):
    with app.app_context():
        user = db.session.get(User, organizer)
        revoke_api_token(user, user.api_tokens[0].id)
        db.session.commit()

    assert_error(call(client, "get", f"{BASE}/registrations", token), 401, "unauthorized")


def test_the_token_of_a_deactivated_organizer_is_401(app, client, organizer, token):
    with app.app_context():
        db.session.get(User, organizer).active = False
        db.session.commit()

    assert_error(call(client, "get", f"{BASE}/registrations", token), 401, "unauthorized")


def test_a_valid_token_reads_the_registrations_and_its_use_is_recorded(app, client, organizer, token):
    response = call(client, "get", f"{BASE}/registrations", token)

    assert response.status_code == 200
    assert response.get_json()["total"] == 5
    with app.app_context():
        assert db.session.get(User, organizer).api_tokens[0].last_used_at is not None


@pytest.mark.parametrize("path", PUBLIC_PATHS)
def test_public_endpoints_need_no_token(client, token, path):
    assert client.get(path).status_code == 200


def test_organizer_endpoints_work_on_a_draft_meeting(app, client, token):
    with app.app_context():
        the_meeting().status = "draft"
        db.session.commit()

    assert call(client, "get", f"{BASE}/registrations", token).status_code == 200
    assert call(client, "get", f"{BASE}/list-of-participants", token).status_code == 200
    response = call(client, "patch", BASE, token, json={"action": "publish"})
    assert response.status_code == 200
    assert response.get_json()["status"] == "published"


# Public endpoints ------------------------------------------------------------------------------


def test_the_list_of_meetings_shows_published_and_closed_meetings_only(app, client, token):
    with app.app_context():
        factories.make_meeting(slug="closed-one", status="closed")
        factories.make_meeting(slug="a-draft", status="draft")
        factories.make_meeting(slug="archived-one", status="archived")
        db.session.commit()

    body = client.get("/api/v1/meetings").get_json()

    assert sorted(item["slug"] for item in body["items"]) == ["avp-test", "closed-one"]
    assert (body["total"], body["page"], body["per_page"], body["pages"]) == (2, 1, 20, 1)


@pytest.mark.parametrize("status", ["draft", "archived"])
@pytest.mark.parametrize("path", PUBLIC_PATHS[1:])
def test_a_meeting_that_is_not_public_is_404_on_every_public_endpoint(app, client, token, status, path):
    with app.app_context():
        the_meeting().status = status
        db.session.commit()

    assert_error(client.get(path), 404, "not_found")
    assert_error(call(client, "get", path, token), 404, "not_found")  # a token does not open them


@pytest.mark.parametrize("path", ["/api/v1/meetings/no-such-meeting", "/api/v1/meetings/no-such-meeting/program"])
def test_an_unknown_meeting_is_404_in_json(client, token, path):
    assert_error(client.get(path), 404, "not_found")


def test_a_meeting_says_its_dates_status_languages_and_registration(client, token):
    body = client.get(BASE).get_json()

    assert body["title"] == "Ad hoc Informal Meeting on the Protection of Audiovisual Performances"
    assert body["status"] == "published"
    assert body["languages"] == ["en", "fr", "es"]
    assert body["registration_state"] == "open"
    assert body["url"] == "http://localhost/meetings/avp-test"
    assert body["starts_on"] < body["ends_on"]
    assert datetime.fromisoformat(body["registration_opens_at"]).tzinfo is not None
    assert "capacity" not in body  # the seat rules are the organizers'


def test_the_program_names_only_the_speakers_who_confirmed(client, token):
    body = client.get(f"{BASE}/program").get_json()

    assert body["published"] is True
    assert [session["title"] for session in body["sessions"]] == ["Opening of the meeting", "Information session"]
    slots = body["sessions"][1]["slots"]
    assert [slot["topic"] for slot in slots] == ["Performing for the screen", "Producing"]
    assert slots[0]["speaker"]["name"] == "Amara Okafor"
    assert slots[1]["speaker"] is None
    assert "Kwame Mensah" not in str(body)
    assert slots[0]["starts_at"].endswith("+01:00") and slots[0]["starts_at_utc"].endswith("Z")


def test_an_unpublished_program_shows_its_sessions_without_slots(app, client, token):
    with app.app_context():
        from meeting.program.models import ProgramState

        db.session.execute(db.delete(ProgramState))
        db.session.commit()

    body = client.get(f"{BASE}/program").get_json()

    assert body["published"] is False
    assert len(body["sessions"]) == 2
    assert all(session["slots"] == [] for session in body["sessions"])


def test_the_documents_are_the_published_ones_with_their_language_versions_and_download_urls(client, token):
    body = client.get(f"{BASE}/documents").get_json()

    assert body["total"] == 2
    study, survey = body["items"]
    assert (study["symbol"], study["participants_only"], study["access"]) == ("AVP/IM/03/4", False, "public")
    assert [file["language"] for file in study["files"]] == ["en", "fr"]
    assert study["files"][1]["language_name"] == "Français"
    assert (survey["symbol"], survey["participants_only"]) == ("AVP/IM/03/2", True)
    assert "Draft report" not in str(body)
    with client.get(study["files"][1]["url"].removeprefix("http://localhost")) as download:
        assert download.status_code == 200
        assert download.data.startswith(b"%PDF")
    assert client.get(survey["files"][0]["url"].removeprefix("http://localhost")).status_code == 403


# Pagination ------------------------------------------------------------------------------------


def test_lists_are_paginated_and_say_the_total(app, client, token):
    with app.app_context():
        for number in range(4):
            factories.make_meeting(slug=f"meeting-{number}")
        db.session.commit()

    pages = [client.get(f"/api/v1/meetings?per_page=2&page={page}").get_json() for page in (1, 2, 3, 4)]

    assert [len(page["items"]) for page in pages] == [2, 2, 1, 0]
    assert {(page["total"], page["pages"], page["per_page"]) for page in pages} == {(5, 3, 2)}
    slugs = [item["slug"] for page in pages for item in page["items"]]
    assert sorted(slugs) == sorted(["avp-test", *(f"meeting-{number}" for number in range(4))])


def test_a_page_can_hold_one_hundred_items(client, token):
    assert call(client, "get", f"{BASE}/registrations?per_page=100", token).get_json()["per_page"] == 100


@pytest.mark.parametrize(
    "query, field",
    [
        ("page=0", "page"),
        ("page=-1", "page"),
        ("page=two", "page"),
        ("page=1.5", "page"),
        ("per_page=0", "per_page"),
        ("per_page=101", "per_page"),
        ("per_page=all", "per_page"),
    ],
)
@pytest.mark.parametrize("path", ["/api/v1/meetings", f"{BASE}/documents", f"{BASE}/registrations"])
def test_pages_out_of_bounds_are_refused_with_422_naming_the_parameter(client, token, path, query, field):
    response = call(client, "get", f"{path}?{query}", token)

    error = assert_error(response, 422, "invalid", [field])
    assert field in error["message"]


# Registrations ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query, names",
    [
        ("", {"Dupont", "Martin", "Lopez", "Wei", "Carter"}),
        ("status=confirmed", {"Dupont", "Martin"}),
        ("status=waitlisted", {"Wei"}),
        ("organization_kind=member_state", {"Dupont", "Martin"}),
        ("organization_kind=ngo", {"Lopez", "Wei"}),
        ("organization_kind=other", {"Carter"}),
        ("role=observer", {"Lopez", "Wei"}),
        ("role=head_of_delegation", {"Dupont"}),
        ("search=dupo", {"Dupont"}),
        ("search=Jeanne%20Dupont", {"Dupont"}),
        ("search=independent", {"Carter"}),
        ("status=pending&organization_kind=ngo", {"Lopez"}),
        ("status=pending&organization_kind=member_state", set()),
    ],
)
def test_registrations_are_filtered(client, token, query, names):
    body = call(client, "get", f"{BASE}/registrations?{query}", token).get_json()

    assert {item["family_name"] for item in body["items"]} == names
    assert body["total"] == len(names)


def test_registrations_are_filtered_by_organization(app, client, token):
    with app.app_context():
        france = db.session.scalar(db.select(factories.Organization.id).where(factories.Organization.iso_code == "FR"))

    body = call(client, "get", f"{BASE}/registrations?organization_id={france}", token).get_json()

    assert {item["family_name"] for item in body["items"]} == {"Dupont", "Martin"}
    assert body["items"][0]["organization"] == {"id": france, "name": "France", "kind": "member_state", "acronym": ""}


@pytest.mark.parametrize(
    "query, field",
    [
        ("status=flying", "status"),
        ("organization_kind=planet", "organization_kind"),
        ("organization_id=abc", "organization_id"),
        ("organization_id=0", "organization_id"),
        ("role=king", "role"),
        ("search=" + "x" * 201, "search"),
        ("search=a%00b", "search"),
    ],
)
def test_bad_filters_are_refused_with_422(client, token, query, field):
    assert_error(call(client, "get", f"{BASE}/registrations?{query}", token), 422, "invalid", [field])


def test_a_registration_tells_its_delegation_and_status(client, token):
    items = call(client, "get", f"{BASE}/registrations?search=carter", token).get_json()["items"]

    (carter,) = items
    assert carter["organization"] is None
    assert carter["delegation_name"] == "Independent Observers"
    assert carter["delegation_kind"] == "other"
    assert carter["status"] == "cancelled"
    lopez = call(client, "get", f"{BASE}/registrations?search=lopez", token).get_json()["items"][0]
    assert (lopez["status"], lopez["pending_reason"], lopez["status_label"]) == (
        "pending",
        "accreditation",
        "Pending accreditation",
    )


# Changing a meeting ----------------------------------------------------------------------------


def test_patch_changes_the_seat_rules_and_window_with_an_audit_entry_naming_the_token(app, client, token):
    response = call(
        client,
        "patch",
        BASE,
        token,
        json={
            "capacity": 120,
            "per_delegation_limit": 6,
            "registration_opens_at": "2026-01-05T09:00:00",
            "registration_closes_at": "2026-01-20T17:00:00+00:00",
        },
    )

    assert response.status_code == 200
    body = response.get_json()
    assert (body["capacity"], body["per_delegation_limit"]) == (120, 6)
    assert body["registration_opens_at"] == "2026-01-05T08:00:00+00:00"  # read in Geneva time
    with app.app_context():
        meeting = the_meeting()
        assert (meeting.capacity, meeting.per_delegation_limit) == (120, 6)
        assert meeting.registration_closes_at == datetime(2026, 1, 20, 17, tzinfo=UTC)
        (entry,) = audit_entries("meeting.update")
        assert entry.actor == ACTOR
        assert entry.meeting_id == meeting.id
        assert entry.details["changes"]["capacity"] == [None, 120]


def test_patch_with_null_removes_a_limit(app, client, token):
    call(client, "patch", BASE, token, json={"capacity": 50})

    response = call(client, "patch", BASE, token, json={"capacity": None})

    assert response.get_json()["capacity"] is None
    with app.app_context():
        assert the_meeting().capacity is None


def test_patch_raising_the_capacity_moves_the_waiting_list_up(app, client, token):
    with app.app_context():
        the_meeting().capacity = 3
        db.session.commit()

    assert call(client, "patch", BASE, token, json={"capacity": 4}).status_code == 200

    with app.app_context():
        assert db.session.get(Registration, registration_id("Wei")).status == "pending"
        assert audit_entries("registration.promote")[0].actor == ACTOR


def test_patch_moves_the_status_by_action_or_by_target_status(app, client, token):
    closed = call(client, "patch", BASE, token, json={"action": "close"})
    reopened = call(client, "patch", BASE, token, json={"status": "published"})
    unchanged = call(client, "patch", BASE, token, json={"status": "published"})

    assert [closed.get_json()["status"], reopened.get_json()["status"], unchanged.status_code] == [
        "closed",
        "published",
        200,
    ]
    with app.app_context():
        assert [entry.actor for entry in audit_entries("meeting.close") + audit_entries("meeting.reopen")] == [
            ACTOR,
            ACTOR,
        ]


@pytest.mark.parametrize(
    "body, field",
    [
        ({"status": "archived"}, "status"),  # published → archived skips "closed"
        ({"status": "cancelled"}, "status"),
        ({"action": "archive"}, None),
        ({"action": "explode"}, "action"),
        ({"action": "close", "status": "closed"}, "action"),
        ({"capacity": 0}, "capacity"),
        ({"capacity": "ten"}, "capacity"),
        ({"capacity": 2.5}, "capacity"),
        ({"capacity": True}, "capacity"),
        ({"per_delegation_limit": -1}, "per_delegation_limit"),
        ({"registration_opens_at": "next monday"}, "registration_opens_at"),
        ({"registration_opens_at": "0001-01-01T00:00:00"}, "registration_opens_at"),
        (
            {"registration_opens_at": "2026-02-01T09:00:00", "registration_closes_at": "2026-01-01T09:00:00"},
            "registration_closes_at",
        ),
        ({"title": "A new title"}, "title"),
    ],
)
def test_refused_changes_are_422_naming_the_field_and_change_nothing(app, client, token, body, field):
    response = call(client, "patch", BASE, token, json=body)

    assert_error(response, 422, "invalid", [field] if field else [])
    with app.app_context():
        meeting = the_meeting()
        assert (meeting.status, meeting.capacity, meeting.per_delegation_limit) == ("published", None, None)
        assert db.session.scalars(db.select(AuditEntry)).all() == []


def test_an_empty_patch_changes_nothing(app, client, token):
    response = call(client, "patch", BASE, token, json={})

    assert response.status_code == 200
    with app.app_context():
        assert db.session.scalars(db.select(AuditEntry)).all() == []


# Deciding on registrations ---------------------------------------------------------------------


def status_url(app, family_name):
    with app.app_context():
        return f"{BASE}/registrations/{registration_id(family_name)}/status"


def test_confirming_a_pending_registration_emails_the_registrant_and_is_audited(app, client, token):
    response = call(client, "post", status_url(app, "Lopez"), token, json={"action": "confirm"})

    assert response.status_code == 200
    body = response.get_json()
    assert body["registration"]["status"] == "confirmed"
    assert body["promoted"] == []
    with app.app_context():
        registration = db.session.get(Registration, registration_id("Lopez"))
        assert registration.status == "confirmed"
        assert audit_entries("registration.confirm")[0].actor == ACTOR
        emails = db.session.scalars(
            db.select(OutboxMessage).where(OutboxMessage.cause_object_id == registration.id)
        ).all()
        assert [email.recipients for email in emails] == [registration.email]


def test_a_rejection_needs_a_reason_which_is_kept(app, client, token):
    url = status_url(app, "Lopez")

    refused = call(client, "post", url, token, json={"action": "reject"})
    assert_error(refused, 422, "invalid", ["reason"])
    response = call(client, "post", url, token, json={"action": "reject", "reason": "Not accredited to WIPO."})

    assert response.get_json()["registration"]["status"] == "rejected"
    with app.app_context():
        registration = db.session.get(Registration, registration_id("Lopez"))
        assert (registration.status, registration.reason) == ("rejected", "Not accredited to WIPO.")


def test_checking_in_a_confirmed_registration_records_the_time(app, client, token):
    response = call(client, "post", status_url(app, "Dupont"), token, json={"action": "check_in"})

    assert response.status_code == 200
    assert response.get_json()["registration"]["checked_in_at"] is not None
    with app.app_context():
        assert db.session.get(Registration, registration_id("Dupont")).checked_in_at is not None
        assert audit_entries("registration.check_in")[0].actor == ACTOR


def test_a_second_check_in_is_refused_and_keeps_the_first_time(app, client, token):
    url = status_url(app, "Dupont")
    first = call(client, "post", url, token, json={"action": "check_in"}).get_json()["registration"]["checked_in_at"]

    response = call(client, "post", url, token, json={"action": "check_in"})

    error = assert_error(response, 409, "conflict")
    assert error["message"].startswith("Already checked in on ")
    with app.app_context():
        registration = db.session.get(Registration, registration_id("Dupont"))
        assert registration.checked_in_at.isoformat().startswith(first[:19])
        assert len(audit_entries("registration.check_in")) == 1


def test_checking_in_a_registration_that_is_not_confirmed_is_refused_with_409(app, client, token):
    response = call(client, "post", status_url(app, "Lopez"), token, json={"action": "check_in"})

    error = assert_error(response, 409, "conflict")
    assert error["message"] == (
        "Only a confirmed registration can be checked in. This registration is pending accreditation."
    )
    with app.app_context():
        registration = db.session.get(Registration, registration_id("Lopez"))
        assert (registration.status, registration.checked_in_at) == ("pending", None)
        assert audit_entries("registration.check_in") == []


def test_cancelling_frees_a_seat_for_the_waiting_list(app, client, token):
    with app.app_context():
        the_meeting().capacity = 3
        db.session.commit()

    response = call(client, "post", status_url(app, "Dupont"), token, json={"action": "cancel"})

    body = response.get_json()
    assert body["registration"]["status"] == "cancelled"
    assert [(item["family_name"], item["status"]) for item in body["promoted"]] == [("Wei", "pending")]


@pytest.mark.parametrize(
    "body, field",
    [
        ({"action": "teleport"}, "action"),
        ({}, "action"),
        ({"action": "reject", "reason": "x" * 2001}, "reason"),
        ({"action": "confirm", "comment": "hello"}, "comment"),
    ],
)
def test_a_bad_decision_is_422(app, client, token, body, field):
    assert_error(call(client, "post", status_url(app, "Lopez"), token, json=body), 422, "invalid", [field])


def test_a_registration_of_another_meeting_is_404(app, client, token):
    with app.app_context():
        other = factories.make_meeting(slug="other-meeting")
        stranger = factories.make_registration(other, None, email="stranger@example.org")
        db.session.commit()
        url = f"{BASE}/registrations/{stranger.id}/status"

    assert_error(call(client, "post", url, token, json={"action": "confirm"}), 404, "not_found")


# List of participants --------------------------------------------------------------------------


def test_the_list_of_participants_has_every_confirmed_participant_by_section(client, token):
    body = call(client, "get", f"{BASE}/list-of-participants", token).get_json()

    assert (body["language"], body["public"], body["participant_count"]) == ("en", False, 2)
    (states, officers) = body["sections"]
    assert (states["number"], states["title"]) == ("I", "Member States")
    participants = states["delegations"][0]["participants"]
    assert [participant["line"] for participant in participants] == ["Jeanne DUPONT", "Pierre MARTIN"]
    assert officers["key"] == "officers"


def test_the_public_edition_in_french_lists_only_those_who_consented(client, token):
    body = call(client, "get", f"{BASE}/list-of-participants?lang=fr&public=true", token).get_json()

    assert (body["language"], body["public"]) == ("fr", True)
    names = [p["family_name"] for s in body["sections"] for d in s["delegations"] for p in d["participants"]]
    assert "MARTIN" in names and "DUPONT" not in names


@pytest.mark.parametrize("query, field", [("lang=de", "lang"), ("public=perhaps", "public")])
def test_a_bad_list_request_is_422(client, token, query, field):
    assert_error(call(client, "get", f"{BASE}/list-of-participants?{query}", token), 422, "invalid", [field])


# Errors ----------------------------------------------------------------------------------------


def test_a_body_that_is_not_json_is_400(client, token):
    response = client.patch(
        BASE, data="{capacity: 3", headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    )
    assert_error(response, 400, "bad_request")


@pytest.mark.parametrize("data", ["capacity=3", ""])
def test_a_body_of_another_type_is_415(client, token, data):
    response = client.patch(
        BASE,
        data=data,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert_error(response, 415, "unsupported_media_type")


def test_a_method_the_address_does_not_accept_is_405_with_allow(client, token):
    response = call(client, "delete", BASE, token)

    assert_error(response, 405, "method_not_allowed")
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS", "PATCH"}


def test_an_unknown_address_under_the_api_is_404_in_json(client, token):
    assert_error(client.get("/api/v1/nothing-here"), 404, "not_found")


def test_a_list_body_is_422(client, token):
    assert_error(call(client, "patch", BASE, token, json=[1, 2]), 422, "invalid")


# CORS ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [*PUBLIC_PATHS, "/api/v1/openapi.json", "/api/v1/meetings/no-such-meeting"])
def test_public_reads_are_open_to_other_origins(client, token, path):
    response = client.get(path, headers={"Origin": "https://mission.example.org"})

    assert response.headers["Access-Control-Allow-Origin"] == "*"
    preflight = client.options(
        path, headers={"Origin": "https://mission.example.org", "Access-Control-Request-Method": "GET"}
    )
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert preflight.headers["Access-Control-Allow-Methods"] == "GET, HEAD, OPTIONS"


@pytest.mark.parametrize("method, path, body", ORGANIZER_REQUESTS)
def test_organizer_endpoints_are_closed_to_other_origins(client, token, method, path, body):
    origin = {"Origin": "https://elsewhere.example.org"}
    response = getattr(client, method)(path, json=body, headers={**origin, "Authorization": f"Bearer {token}"})
    preflight = client.options(path, headers={**origin, "Access-Control-Request-Method": method.upper()})

    assert "Access-Control-Allow-Origin" not in response.headers
    # The preflight lets no other site send this method (PATCH shares its address with the public GET).
    if "Access-Control-Allow-Origin" in preflight.headers:
        assert method.upper() not in preflight.headers["Access-Control-Allow-Methods"]


# The description -------------------------------------------------------------------------------


def test_the_openapi_document_describes_every_endpoint_from_the_schemas(client):
    spec = client.get("/api/v1/openapi.json").get_json()

    assert spec["openapi"].startswith("3.")
    operations = {
        (method.upper(), path) for path, item in spec["paths"].items() for method in item if method != "parameters"
    }
    assert operations == {
        ("GET", "/api/v1/meetings"),
        ("GET", "/api/v1/meetings/{slug}"),
        ("PATCH", "/api/v1/meetings/{slug}"),
        ("GET", "/api/v1/meetings/{slug}/program"),
        ("GET", "/api/v1/meetings/{slug}/documents"),
        ("GET", "/api/v1/meetings/{slug}/registrations"),
        ("POST", "/api/v1/meetings/{slug}/registrations/{registration_id}/status"),
        ("GET", "/api/v1/meetings/{slug}/list-of-participants"),
        ("POST", "/api/v1/meetings/{slug}/invitations"),
    }
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An organizer's API token.",
    }
    assert spec["paths"]["/api/v1/meetings"]["get"]["security"] == []
    assert "security" not in spec["paths"]["/api/v1/meetings/{slug}"]["patch"]  # the document's default: a token
    change = spec["components"]["schemas"]["MeetingChange"]["properties"]
    assert change["capacity"] == {"type": "integer", "minimum": 1, "maximum": 100000, "nullable": True}
    assert change["action"]["enum"] == ["publish", "unpublish", "close", "reopen", "archive"]
    parameters = {p["name"] for p in spec["paths"]["/api/v1/meetings/{slug}/registrations"]["get"]["parameters"]}
    assert parameters == {"page", "per_page", "status", "organization_kind", "organization_id", "role", "search"}
    error = spec["components"]["schemas"]["ErrorDetail"]
    assert set(error["required"]) == {"code", "message", "fields"}


def test_the_docs_page_presents_the_api_without_any_script(client):
    response = client.get("/api/v1/docs")

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "<script" not in page
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert "PATCH /api/v1/meetings/{slug}" in page
    assert 'id="schema-Registration"' in page
    assert "Bearer" in page
