"""`POST /api/v1/meetings/<slug>/invitations`: bearer-token authentication, the invitations it creates,
and its JSON errors."""

import pytest

from meeting.accounts.models import User
from meeting.accounts.services import issue_api_token, revoke_api_token
from meeting.core.audit import AuditEntry
from meeting.extensions import db
from meeting.invitations.models import Invitation
from meeting.mail.models import OutboxMessage

from . import factories

URL = "/api/v1/meetings/avp-test/invitations"


@pytest.fixture
def api_token(app, organizer):
    """A meeting, the directory (France, Spain, an IGO without address) and an organizer's token."""
    with app.app_context():
        factories.make_meeting()
        factories.make_organization(name_en="France", preferred_language="fr")
        factories.make_organization(name_en="Spain", iso_code="ES", preferred_language="es")
        factories.make_organization(kind="igo", name_en="World Trade Organization", iso_code=None, emails=[])
        _token, plain = issue_api_token(db.session.get(User, organizer), "Invitation script")
        db.session.commit()
        return plain


def post(client, token, body, **options):
    return client.post(URL, json=body, headers={"Authorization": f"Bearer {token}"}, **options)


def organization_id(name):
    return db.session.scalar(db.select(factories.Organization.id).where(factories.Organization.name_en == name))


def invitations():
    return db.session.scalars(db.select(Invitation).order_by(Invitation.id)).all()


def assert_error(response, status, code, fields=()):
    assert response.status_code == status
    assert response.is_json
    error = response.get_json()["error"]
    assert error["code"] == code
    assert error["message"]
    assert set(fields) <= set(error["fields"])
    return error


# --- Authentication -----------------------------------------------------------------------------


@pytest.mark.parametrize("header", [None, "Basic c2VjcmV0YXJpYXQ6eA==", "Bearer", "Bearer "])
def test_without_a_bearer_token_the_answer_is_401(client, api_token, header):
    headers = {"Authorization": header} if header is not None else {}
    response = client.post(URL, json={"kind": "member_state"}, headers=headers)

    assert_error(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_an_unknown_token_is_401_with_invalid_token(client, api_token):
    response = post(client, api_token + "x", {"kind": "member_state"})

    assert_error(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="api", error="invalid_token"'


def test_a_revoked_token_is_401_and_invites_nobody(app, client, organizer, api_token):
    with app.app_context():
        user = db.session.get(User, organizer)
        revoke_api_token(user, user.api_tokens[0].id)
        db.session.commit()

    response = post(client, api_token, {"kind": "member_state"})

    assert_error(response, 401, "unauthorized")
    with app.app_context():
        assert invitations() == []


def test_the_token_of_a_deactivated_organizer_is_401(app, client, organizer, api_token):
    with app.app_context():
        db.session.get(User, organizer).active = False
        db.session.commit()
    assert_error(post(client, api_token, {"kind": "member_state"}), 401, "unauthorized")


# --- Inviting -----------------------------------------------------------------------------------


def test_inviting_all_member_states_answers_201_with_what_was_done(app, client, api_token):
    app.config["WTF_CSRF_ENABLED"] = True  # the API needs no CSRF token: it has no cookie session

    response = post(client, api_token, {"kind": "member_state", "message": "Welcome to Geneva."})

    assert response.status_code == 201
    body = response.get_json()
    assert body["created"] == 2 and body["already_invited"] == 0 and body["skipped"] == []
    assert sorted(item["organization"]["name"] for item in body["invitations"]) == ["France", "Spain"]
    assert {item["status"] for item in body["invitations"]} == {"queued"}
    with app.app_context():
        rows = invitations()
        assert sorted(item["id"] for item in body["invitations"]) == [row.id for row in rows]
        assert {row.personal_message for row in rows} == {"Welcome to Geneva."}
        emails = db.session.scalars(db.select(OutboxMessage)).all()
        assert sorted(message.language for message in emails) == ["es", "fr"]


def test_inviting_a_list_of_organizations_reports_those_already_invited_and_skipped(app, client, api_token):
    with app.app_context():
        france, wto = organization_id("France"), organization_id("World Trade Organization")
    assert post(client, api_token, {"organization_ids": [france]}).status_code == 201

    response = post(client, api_token, {"organization_ids": [france, wto]})

    assert response.status_code == 201
    assert response.get_json() == {
        "created": 0,
        "already_invited": 1,
        "skipped": [{"organization": {"id": wto, "name": "World Trade Organization"}, "reason": "no_focal_point"}],
        "invitations": [],
    }
    with app.app_context():
        assert [invitation.organization_id for invitation in invitations()] == [france]


def test_the_audit_entry_names_the_api_token(app, client, organizer, api_token):
    post(client, api_token, {"kind": "member_state"})

    with app.app_context():
        entry = db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "invitation.invite"))
        assert entry.user_id == organizer
        assert entry.actor == "secretariat@example.org (API token “Invitation script”)"
        assert entry.meeting_id is not None
        assert db.session.get(User, organizer).api_tokens[0].last_used_at is not None


# --- Errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body, fields",
    [
        ({"kind": "planet"}, ["kind"]),
        ({"kind": 3}, ["kind"]),
        ({"organization_ids": "1,2"}, ["organization_ids"]),
        ({"organization_ids": [1, "2"]}, ["organization_ids"]),
        ({"organization_ids": [True]}, ["organization_ids"]),
        ({"organization_ids": []}, ["organization_ids"]),
        ({"organization_ids": [999999]}, ["organization_ids"]),
        ({"kind": "member_state", "organization_ids": [1]}, ["kind", "organization_ids"]),
        ({}, ["kind", "organization_ids"]),
        ({"kind": "member_state", "message": ["not", "text"]}, ["message"]),
        ({"kind": "member_state", "colour": "blue"}, ["colour"]),
        ([1, 2], []),
    ],
)
def test_invalid_bodies_are_refused_with_422_naming_the_fields_and_nothing_is_created(
    app, client, api_token, body, fields
):
    response = post(client, api_token, body)

    assert_error(response, 422, "invalid", fields)
    with app.app_context():
        assert invitations() == []


def test_a_body_that_is_not_json_is_400(client, api_token):
    response = client.post(
        URL,
        data="{not json",
        headers={"Authorization": f"Bearer {api_token}", "Content-Type": "application/json"},
    )
    assert_error(response, 400, "bad_request")


def test_a_body_of_another_type_is_415(client, api_token):
    response = client.post(URL, data={"kind": "member_state"}, headers={"Authorization": f"Bearer {api_token}"})
    assert_error(response, 415, "unsupported_media_type")


def test_an_unknown_meeting_is_404_in_json(client, api_token):
    response = client.post(
        "/api/v1/meetings/no-such-meeting/invitations",
        json={"kind": "member_state"},
        headers={"Authorization": f"Bearer {api_token}"},
    )
    assert_error(response, 404, "not_found")


def test_a_wrong_method_is_405_in_json(client, api_token):
    response = client.get(URL, headers={"Authorization": f"Bearer {api_token}"})
    assert_error(response, 405, "method_not_allowed")


def test_a_closed_meeting_refuses_invitations_with_422(app, client, api_token):
    with app.app_context():
        db.session.scalar(db.select(factories.Meeting)).status = "closed"
        db.session.commit()
    error = assert_error(post(client, api_token, {"kind": "member_state"}), 422, "invalid")
    assert "over" in error["message"]
