"""Organizer accounts: sign-in, lockout, passwords, API tokens, organizer management, CLI."""

from datetime import timedelta

from meeting.accounts import services
from meeting.accounts.models import ApiToken, User
from meeting.core.models import utcnow
from meeting.core.tokens import hash_token
from meeting.extensions import db

from . import factories


def sign_in(client, email="secretariat@example.org", password=factories.PASSWORD, next_url=None):
    url = "/login" + (f"?next={next_url}" if next_url else "")
    return client.post(url, data={"email": email, "password": password})


def test_organizer_signs_in_and_reaches_the_page_asked_for(client, organizer):
    response = sign_in(client, next_url="/manage/account")
    assert response.status_code == 302
    assert response.location == "/manage/account"
    page = client.get("/manage/account").get_data(as_text=True)
    assert "secretariat@example.org" in page


def test_sign_in_does_not_follow_a_foreign_next_address(client, organizer):
    response = sign_in(client, next_url="https://evil.example/")
    assert response.location == "/manage/"


def test_wrong_password_is_refused_with_a_message(client, organizer):
    response = sign_in(client, password="not the password")
    assert response.status_code == 422
    assert "The email address or the password is not correct." in response.get_data(as_text=True)
    assert client.get("/manage/account").status_code == 302


def test_unknown_email_gets_the_same_message_as_a_wrong_password(client, organizer):
    response = sign_in(client, email="nobody@example.org")
    assert "The email address or the password is not correct." in response.get_data(as_text=True)


def test_account_is_locked_for_15_minutes_after_5_failed_sign_ins(app, client, organizer):
    for _ in range(5):
        sign_in(client, password="wrong password")
    response = sign_in(client)  # the right password, but the account is locked
    assert "locked after too many failed sign-ins" in response.get_data(as_text=True)
    assert client.get("/manage/account").status_code == 302
    with app.app_context():
        user = db.session.get(User, organizer)
        remaining = user.locked_until - utcnow()
        assert timedelta(minutes=14) < remaining <= timedelta(minutes=15)
        user.locked_until = utcnow() - timedelta(seconds=1)  # the 15 minutes have passed
        db.session.commit()
    assert sign_in(client).status_code == 302
    assert client.get("/manage/account").status_code == 200


def test_four_failures_then_a_success_reset_the_count(app, client, organizer):
    for _ in range(4):
        sign_in(client, password="wrong password")
    assert sign_in(client).status_code == 302
    with app.app_context():
        user = db.session.get(User, organizer)
        assert user.failed_logins == 0 and user.locked_until is None


def test_deactivated_organizer_cannot_sign_in(app, client, organizer):
    with app.app_context():
        db.session.get(User, organizer).active = False
        db.session.commit()
    response = sign_in(client)
    assert "deactivated" in response.get_data(as_text=True)


def test_passwords_are_stored_hashed_with_scrypt(app, client):
    with app.app_context():
        user = services.create_organizer("new.officer@example.org", factories.PASSWORD, name="New Officer")
        db.session.commit()
        assert user.password_hash.startswith("scrypt:")
        assert factories.PASSWORD not in user.password_hash

    response = client.post("/login", data={"email": "new.officer@example.org", "password": factories.PASSWORD})
    assert response.status_code == 302


def test_sign_out_ends_the_session(organizer_client):
    response = organizer_client.post("/logout")
    assert response.status_code == 302
    assert organizer_client.get("/manage/account").status_code == 302


def test_organizer_changes_password(app, organizer_client, organizer):
    response = organizer_client.post(
        "/manage/account/password",
        data={
            "current_password": factories.PASSWORD,
            "password": "a new long password",
            "confirm": "a new long password",
        },
    )
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(User, organizer).check_password("a new long password")


def test_password_change_with_wrong_current_password_changes_nothing(app, organizer_client, organizer):
    response = organizer_client.post(
        "/manage/account/password",
        data={"current_password": "wrong", "password": "a new long password", "confirm": "a new long password"},
    )
    assert response.status_code == 422
    assert "The current password is not correct." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(User, organizer).check_password(factories.PASSWORD)


def test_too_short_new_password_is_refused_next_to_the_field(organizer_client):
    response = organizer_client.post(
        "/manage/account/password",
        data={"current_password": factories.PASSWORD, "password": "short", "confirm": "short"},
    )
    assert response.status_code == 422
    assert 'id="password-error"' in response.get_data(as_text=True)


def test_api_token_is_shown_once_and_stored_hashed(app, organizer_client, organizer):
    response = organizer_client.post("/manage/account/tokens", data={"label": "badge printer"})
    page = response.get_data(as_text=True)
    assert "shown only once" in page
    plain = page.split('id="new-token">')[1].split("<")[0]
    assert len(plain) >= 40
    with app.app_context():
        token = db.session.scalar(db.select(ApiToken))
        assert token.label == "badge printer"
        assert token.token_hash == hash_token(plain)
        assert plain not in token.token_hash
        user, found = services.user_for_api_token(plain)
        assert user.id == organizer and found.id == token.id
    later = organizer_client.get("/manage/account").get_data(as_text=True)
    assert "badge printer" in later and plain not in later


def test_revoked_token_no_longer_authenticates(app, organizer_client, organizer):
    with app.app_context():
        token, plain = services.issue_api_token(db.session.get(User, organizer), "spreadsheet")
        db.session.commit()
        token_id = token.id
    response = organizer_client.post(f"/manage/account/tokens/{token_id}/revoke")
    assert response.status_code == 302
    with app.app_context():
        assert services.user_for_api_token(plain) is None
        assert services.user_for_api_token("not-a-token") is None


def test_organizer_cannot_revoke_another_organizers_token(app, organizer_client):
    with app.app_context():
        other = factories.make_organizer(email="other@example.org")
        token, plain = services.issue_api_token(other, "theirs")
        db.session.commit()
        token_id = token.id
    assert organizer_client.post(f"/manage/account/tokens/{token_id}/revoke").status_code == 404
    with app.app_context():
        assert services.user_for_api_token(plain) is not None


def test_only_admins_manage_organizer_accounts(organizer_client):
    assert organizer_client.get("/manage/organizers").status_code == 403


def test_admin_creates_and_deactivates_an_organizer(app, admin_client):
    response = admin_client.post(
        "/manage/organizers",
        data={"email": "New.Officer@Example.org", "name": "New Officer", "password": "long enough pw"},
    )
    assert response.status_code == 302
    with app.app_context():
        user = db.session.scalar(db.select(User).where(User.email == "new.officer@example.org"))
        assert user.role == "organizer" and user.active
        user_id = user.id
    admin_client.post(f"/manage/organizers/{user_id}/active", data={"active": "0"})
    with app.app_context():
        assert not db.session.get(User, user_id).active
    page = admin_client.get("/manage/organizers").get_data(as_text=True)
    assert "new.officer@example.org" in page and "deactivated" in page


def test_admin_cannot_create_a_duplicate_account(app, admin_client):
    response = admin_client.post(
        "/manage/organizers", data={"email": "admin@example.org", "password": "long enough pw"}
    )
    assert response.status_code == 422
    assert "already exists" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(User.id))) == 1


def test_cli_creates_an_organizer_and_issues_a_token(app, runner):
    result = runner.invoke(args=["organizer", "create", "chief@example.org", "--password", "long enough pw", "--admin"])
    assert result.exit_code == 0, result.output
    assert "Created admin chief@example.org" in result.output
    result = runner.invoke(args=["organizer", "token", "chief@example.org", "--name", "portal"])
    assert result.exit_code == 0
    plain = result.output.strip()
    with app.app_context():
        user, token = services.user_for_api_token(plain)
        assert user.email == "chief@example.org" and token.label == "portal"


def test_cli_asks_for_the_password_when_not_given(app, runner):
    result = runner.invoke(args=["organizer", "create", "asked@example.org"], input="long enough pw\nlong enough pw\n")
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.scalar(db.select(User).where(User.email == "asked@example.org")).check_password(
            "long enough pw"
        )


def test_cli_refuses_a_short_password_and_a_duplicate(app, runner):
    result = runner.invoke(args=["organizer", "create", "x@example.org", "--password", "short"])
    assert result.exit_code != 0 and "at least 10 characters" in result.output
    runner.invoke(args=["organizer", "create", "x@example.org", "--password", "long enough pw"])
    result = runner.invoke(args=["organizer", "create", "x@example.org", "--password", "long enough pw"])
    assert result.exit_code != 0 and "already exists" in result.output


def test_cli_token_for_unknown_email_fails(runner):
    result = runner.invoke(args=["organizer", "token", "ghost@example.org"])
    assert result.exit_code != 0 and "No organizer" in result.output
