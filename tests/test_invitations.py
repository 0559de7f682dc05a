"""Invitations: inviting organizations (once each, in their language, through the outbox), the
delegation's link (view, accept, decline), and the organizers' pages (status with counts, reminders,
resend, revoke, preview)."""

import email
import email.policy
import re
import socket
from datetime import date, timedelta

import pytest
from aiosmtpd.controller import Controller
from flask_babel import force_locale, gettext
from jinja2 import Environment, Template
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError

from meeting import create_app
from meeting.core.audit import AuditEntry
from meeting.core.errors import DomainError
from meeting.core.models import utcnow
from meeting.core.tokens import derived_token, hash_token
from meeting.directory.models import Contact, Organization
from meeting.extensions import db
from meeting.invitations import services
from meeting.invitations.models import Invitation
from meeting.mail.delivery import deliver
from meeting.mail.models import OutboxMessage
from meeting.mail.services import _batch_bodies, render_email
from meeting.meetings.models import Meeting

from . import factories
from .conftest import make_config

LINK = re.compile(r"http://meeting\.test/invitations/([A-Za-z0-9_-]+)")


def invitations():
    return db.session.scalars(db.select(Invitation).order_by(Invitation.id)).all()


def outbox(cause=None):
    query = db.select(OutboxMessage).order_by(OutboxMessage.id)
    if cause:
        query = query.where(OutboxMessage.cause == cause)
    return db.session.scalars(query).all()


def the_meeting():
    return db.session.scalar(db.select(Meeting))


def organization_named(name):
    return db.session.scalar(db.select(Organization).where(Organization.name_en == name))


def invite_all(kind="ngo", **options):
    return services.invite(the_meeting(), services.select_organizations(kind=kind), **options)


def translated(app, language, message, **variables):
    """`message` as the catalog of `language` says it (what a reader of that language sees)."""
    with app.test_request_context(), force_locale(language):
        return gettext(message, **variables)


# --- A real SMTP server -------------------------------------------------------------------------


class Collector:
    def __init__(self):
        self.received = []

    async def handle_DATA(self, server, session, envelope):
        self.received.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    collector = Collector()
    controller = Controller(collector, hostname="127.0.0.1", port=port)
    controller.start()
    yield port, collector.received
    controller.stop()


@pytest.fixture
def mail_app(app, database_url, tmp_path, smtp_server):
    """An app that delivers to the local SMTP server; it shares the test database of `app`."""
    port, _received = smtp_server
    mail_app = create_app(
        make_config(
            database_url,
            tmp_path,
            MAIL_SERVER="127.0.0.1",
            MAIL_PORT=port,
            MAIL_SUPPRESS_SEND=False,
            MAIL_DEFAULT_SENDER="Meeting Secretariat <meetings@meeting.test>",
        )
    )
    yield mail_app
    with mail_app.app_context():
        db.session.remove()
        db.engine.dispose()


# --- Inviting -----------------------------------------------------------------------------------


NAMES = [
    'Actors <&> "Friends" of the Stage',
    "Fédération d'Acteurs & Interprètes",
    "Asociación de Intérpretes <AI>",
    "Performers' Rights Society",
]


@pytest.mark.parametrize("kind", ["invitations", "reminders"])
def test_a_rounds_emails_rendered_once_per_language_are_those_each_organization_would_get_alone(app, kind, monkeypatch):
    """A round renders its templates once per language and writes each organization's name and link
    in them (`_batch_bodies`): every body is exactly what rendering that email on its own gives, for
    names with quotes, ampersands and angle brackets, and a personal message, in the three languages."""
    template = {"invitations": "invitation", "reminders": "invitation_reminder"}[kind]
    with app.test_request_context():
        factories.make_meeting()
        for number, (name, language) in enumerate(
            (name, language) for language in ("en", "fr", "es") for name in NAMES
        ):
            factories.make_organization(
                kind="ngo",
                name_en=name,
                iso_code=None,
                preferred_language=language,
                emails=[f"ngo{number}@example.org"],
            )
        db.session.commit()
        if kind == "reminders":
            result = invite_all(personal_message="We hope to see you in Geneva.\n\nWith <best> regards & thanks.")
            db.session.commit()
        renderings = []
        render = Template.render
        monkeypatch.setattr(
            Template, "render", lambda self, *a, **k: renderings.append(self.name) or render(self, *a, **k)
        )
        if kind == "reminders":
            services.remind(the_meeting(), [invitation.id for invitation in result.invitations])
        else:
            invite_all(personal_message="We hope to see you in Geneva.\n\nWith <best> regards & thanks.")
        monkeypatch.setattr(Template, "render", render)
        db.session.commit()
        messages = outbox(cause={"invitations": "invitation", "reminders": "invitation.reminder"}[kind])

        # Per language, the text and HTML templates twice: once with the marks, once for the first email.
        emails = [name for name in renderings if name.startswith(f"email/{template}.")]
        assert len(messages) == 12 and len(emails) == 3 * 2 * 2
        for message in messages:
            invitation = db.session.get(Invitation, message.cause_object_id)
            alone = services._email(invitation)
            context = {
                **alone.context,
                "language": alone.language,
                "recipient_name": alone.recipient_name,
                "subject": message.subject,
                "meeting": invitation.meeting,
            }
            assert (message.body_text, message.body_html) == render_email(template, alone.language, context)
            assert f"/invitations/{services._link_token(invitation)}" in message.body_text
        assert "Actors &lt;&amp;&gt; &#34;Friends&#34; of the Stage" in " ".join(m.body_html for m in messages)


@pytest.mark.parametrize(
    ("text", "contexts", "expected"),
    [
        # A template that does more with a slot than print it: found out on the first email.
        ("{{ name|upper }}", [{"name": "a&b"}, {"name": "c"}], ["A&B", "C"]),
        # Contexts that differ outside the slots: each email rendered on its own.
        ("{% if flag %}yes {% endif %}{{ name }}", [{"name": "x", "flag": True}, {"name": "y"}], ["yes x", "y"]),
        # A slot that some emails lack (the template's default then shows): each rendered on its own.
        ("Dear {{ name|default('colleague') }}", [{}, {"name": "x"}], ["Dear colleague", "Dear x"]),
        ("Dear {{ name|default('colleague') }}", [{"name": "x"}, {}], ["Dear x", "Dear colleague"]),
        # Only printed: one rendering with marks, filled in (escaped in the HTML).
        ("Dear {{ name }}", [{"name": "a&b"}, {"name": "<c>"}], ["Dear a&b", "Dear <c>"]),
    ],
)
def test_emails_of_a_batch_are_rendered_on_their_own_when_the_slots_do_not_fit(text, contexts, expected):
    templates = (Environment().from_string(text), Environment(autoescape=True).from_string(f"<p>{text}</p>"))

    bodies = _batch_bodies(templates, contexts, slots=("name",))

    assert [body for body, _html in bodies] == expected
    assert [html for _text, html in bodies] == [str(templates[1].render(context)) for context in contexts]


def test_200_invited_organizations_each_receive_a_working_link_in_their_language(mail_app, smtp_server):
    _port, received = smtp_server
    with mail_app.app_context():
        factories.make_meeting()
        factories.make_organizations(200, languages=("en", "fr", "es"))
        db.session.commit()

        result = invite_all()
        db.session.commit()
        assert result.created == 200

        while deliver(batch=50).claimed:
            pass
        assert {message.status for message in outbox()} == {"sent"}
        languages = {
            invitation.recipients: invitation.language
            for invitation in invitations()
            if invitation.language == invitation.organization.preferred_language
        }

    assert len(received) == 200
    assert len(languages) == 200  # every invitation is in its organization's preferred language
    client = mail_app.test_client()
    tokens = set()
    for message in received:
        language = languages[message["To"].addresses[0].addr_spec]
        assert message["Content-Language"] == language
        html = message.get_body(("html",)).get_content()
        text = message.get_body(("plain",)).get_content()
        assert f'<html lang="{language}">' in html
        [token] = set(LINK.findall(text))
        assert f'href="http://meeting.test/invitations/{token}"' in html
        tokens.add(token)
        page = client.get(f"/invitations/{token}")
        assert page.status_code == 200
        assert "Ad hoc Informal Meeting on the Protection of Audiovisual Performances" in page.get_data(as_text=True)
    assert len(tokens) == 200

    with mail_app.app_context():
        assert all(invitation.status == "viewed" and invitation.viewed_at for invitation in invitations())


def test_an_invitation_email_names_the_meeting_the_organization_and_the_personal_message(app):
    with app.app_context():
        factories.make_meeting()
        factories.make_organization(kind="igo", name_en="World Trade Organization", iso_code=None, emails=["a@wto.int"])
        db.session.commit()

        invite_all("igo", personal_message="Please confirm by 1 October.")
        db.session.commit()

        [message] = outbox("invitation")
        [invitation] = invitations()
        assert message.recipient_list == ["a@wto.int"]
        assert message.recipient_name == "World Trade Organization"
        assert message.subject == "Invitation: Ad hoc Informal Meeting on the Protection of Audiovisual Performances"
        assert (message.cause_object_type, message.cause_object_id) == ("Invitation", invitation.id)
        assert "World Trade Organization" in message.body_text
        assert (
            "Please confirm by 1 October." in message.body_text and "Please confirm by 1 October." in message.body_html
        )
        assert "WIPO Headquarters, Geneva" in message.body_text
        assert f"http://meeting.test/invitations/{invitation.token()}" in message.body_text
        assert invitation.status == "queued" and invitation.queued_at is not None
        assert invitation.personal_message == "Please confirm by 1 October."


def test_inviting_again_creates_no_duplicate_and_sends_no_second_email(app):
    with app.app_context():
        factories.make_meeting()
        factories.make_organizations(3)
        db.session.commit()
        invite_all()
        db.session.commit()
        factories.make_organizations(1, name_en="Newcomer")
        db.session.commit()

        result = invite_all()
        db.session.commit()

        assert (result.created, result.already_invited) == (1, 3)
        assert [invitation.organization.name_en for invitation in result.invitations] == ["Newcomer"]
        assert len(invitations()) == 4
        assert len(outbox("invitation")) == 4


def test_inactive_organizations_and_those_without_a_focal_point_are_skipped_and_reported(app):
    with app.app_context():
        factories.make_meeting()
        factories.make_organization(kind="ngo", name_en="No Address", iso_code=None, emails=[])
        factories.make_organization(kind="ngo", name_en="Dormant", iso_code=None, active=False)
        factories.make_organization(kind="ngo", name_en="Active", iso_code=None)
        db.session.commit()

        result = invite_all()
        db.session.commit()

        assert result.created == 1
        assert sorted((organization.name_en, reason) for organization, reason in result.skipped) == [
            ("Dormant", "inactive"),
            ("No Address", "no_focal_point"),
        ]
        assert [invitation.organization.name_en for invitation in invitations()] == ["Active"]


def test_inviting_all_member_states_takes_a_handful_of_queries(app, backend):
    from meeting.directory.services import seed_states

    with app.app_context():
        factories.make_meeting()
        seed_states()
        for organization in db.session.scalars(db.select(Organization)):
            organization.contacts = [Contact(email=f"mission.{organization.iso_code.lower()}@example.org")]
        db.session.commit()
        statements = []
        event.listen(db.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))

        result = services.invite(the_meeting(), services.select_organizations(kind="member_state"))
        db.session.flush()

        assert result.created == 193
        assert len([statement for statement in statements if not statement.startswith("INSERT")]) <= 5
        if backend == "postgresql":
            # The rows go in batches too. (SQLAlchemy inserts row by row on SQLite, whose RETURNING
            # cannot be matched to the rows of a multi-row INSERT.)
            assert len(statements) <= 8


def test_the_email_is_in_an_offered_language_when_the_meeting_does_not_offer_the_organizations(app):
    with app.app_context():
        factories.make_meeting(languages="en,fr")
        factories.make_organizations(1, languages=("es",))
        db.session.commit()

        invite_all()
        db.session.commit()

        [invitation] = invitations()
        [message] = outbox("invitation")
        assert invitation.language == "en" and message.language == "en"


def test_a_closed_meeting_sends_no_invitation(app):
    with app.app_context():
        factories.make_meeting(status="closed")
        factories.make_organizations(2)
        db.session.commit()

        with pytest.raises(DomainError, match="over"):
            invite_all()
        db.session.rollback()
        assert invitations() == [] and outbox() == []


def test_a_transaction_that_queues_invitations_and_then_fails_leaves_no_invitation_and_no_email(app):
    with app.app_context():
        factories.make_meeting()
        factories.make_organizations(5)
        db.session.commit()

        invite_all()
        with pytest.raises(IntegrityError):
            factories.make_meeting()  # the same slug: the request fails after queueing
        db.session.rollback()

        assert invitations() == []
        assert outbox() == []


def test_choosing_organizations_by_kind_search_or_list_and_refusing_bad_choices(app):
    with app.app_context():
        [ngo] = factories.make_organizations(1, name_en="Côte d’Ivoire Bar")
        igo = factories.make_organization(kind="igo", name_en="World Trade Organization", iso_code=None)
        db.session.commit()

        assert services.select_organizations(kind="igo") == [igo]
        assert services.select_organizations(search="cote d'ivoire") == [ngo]
        assert services.select_organizations(ids=[igo.id]) == [igo]
        for arguments, field in [
            ({"kind": "planet"}, "kind"),
            ({}, "kind"),
            ({"ids": []}, "organization_ids"),
            ({"ids": [igo.id, 9999]}, "organization_ids"),
            ({"ids": ["1"]}, "organization_ids"),
            ({"ids": [igo.id], "kind": "igo"}, "organization_ids"),
        ]:
            with pytest.raises(DomainError) as refused:
                services.select_organizations(**arguments)
            assert field in refused.value.fields, arguments


# --- Tokens -------------------------------------------------------------------------------------


def test_tokens_are_256_bit_stored_only_as_a_hash_and_rebuilt_for_the_same_link(app):
    with app.app_context():
        meeting = factories.make_meeting()
        organization = factories.make_organizations(1)[0]
        invitation = factories.make_invitation(meeting, organization)
        db.session.commit()
        token = invitation.token()

        assert len(token) >= 43  # 32 bytes in base64url
        assert invitation.token_hash == hash_token(token)
        assert invitation.token() == token  # a reminder carries the same link
        row = db.session.execute(db.select(Invitation.__table__)).one()
        assert all(token not in str(value) for value in row)
        assert token == derived_token("invitation", f"{meeting.id}:{organization.id}", invitation.token_nonce)
        assert token != derived_token("invitation", f"{meeting.id}:{organization.id}", "another nonce")


@pytest.mark.parametrize("token", ["wrong", "x" * 43, "x" * 500])
def test_a_wrong_token_is_a_404(client, token):
    assert client.get(f"/invitations/{token}").status_code == 404
    assert client.post(f"/invitations/{token}/accept").status_code == 404


def test_a_revoked_or_draft_invitation_link_is_a_404(app, client):
    with app.app_context():
        meeting = factories.make_meeting()
        first, second = factories.make_organizations(2)
        revoked = factories.make_invitation(meeting, first)
        draft = factories.make_invitation(meeting, second, status="draft", queued_at=None)
        db.session.commit()
        revoked_token, draft_token = revoked.token(), draft.token()
        assert client.get(f"/invitations/{revoked_token}").status_code == 200
        services.revoke(revoked)
        db.session.commit()
        with pytest.raises(DomainError, match="withdrawn"):
            services.accept(revoked)

    for token in (revoked_token, draft_token):
        assert client.get(f"/invitations/{token}").status_code == 404
        assert client.post(f"/invitations/{token}/accept").status_code == 404
        assert client.post(f"/invitations/{token}/decline").status_code == 404


# --- The delegation's link ----------------------------------------------------------------------


@pytest.fixture
def invitation_token(app):
    """A queued invitation of France to a meeting with one program session; its token."""
    with app.app_context():
        meeting = factories.make_meeting()
        factories.make_session(meeting, title="Information session on audiovisual performances")
        invitation = factories.make_invitation(meeting, factories.make_organization(), personal_message="Bienvenue.")
        db.session.commit()
        return invitation.token()


def test_the_invitation_page_shows_the_meeting_the_organization_and_the_message(client, invitation_token):
    response = client.get(f"/invitations/{invitation_token}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Ad hoc Informal Meeting on the Protection of Audiovisual Performances" in page
    assert "Invitation to France" in page
    assert "Bienvenue." in page
    assert "WIPO Headquarters" in page and "Chairman of the WIPO General Assembly" in page
    assert "Information session on audiovisual performances" in page
    assert "Accept the invitation" in page and "Decline the invitation" in page
    assert response.headers["Cache-Control"] == "no-store"


def test_viewing_is_recorded_once_with_its_time(app, client, invitation_token):
    client.get(f"/invitations/{invitation_token}")
    with app.app_context():
        [invitation] = invitations()
        first_view = invitation.viewed_at
        assert invitation.status == "viewed" and first_view is not None
        [entry] = db.session.scalars(db.select(AuditEntry).where(AuditEntry.action == "invitation.view")).all()
        assert entry.actor == "France (invitation link)"

    client.get(f"/invitations/{invitation_token}")
    with app.app_context():
        assert invitations()[0].viewed_at == first_view
        assert db.session.scalar(db.select(db.func.count()).where(AuditEntry.action == "invitation.view")) == 1


def test_accepting_is_recorded_and_leads_on_to_registration(app, client, invitation_token):
    response = client.post(f"/invitations/{invitation_token}/accept")

    assert response.status_code == 302
    if "registration.register" in app.view_functions:
        assert response.location == f"/meetings/avp-test/register?invitation={invitation_token}"
    else:
        assert response.location == f"/invitations/{invitation_token}/accepted"
        page = client.get(response.location).get_data(as_text=True)
        assert "your acceptance is recorded" in page and "Registration of the delegation opens soon" in page
    with app.app_context():
        [invitation] = invitations()
        assert invitation.status == "accepted"
        assert invitation.answered_at is not None and invitation.viewed_at is not None
        assert db.session.scalar(db.select(AuditEntry.actor).where(AuditEntry.action == "invitation.accept")) == (
            "France (invitation link)"
        )


def test_declining_records_the_reason_and_notifies_the_organizers(app, client, organizer, invitation_token):
    with app.app_context():
        factories.make_organizer(email="former@example.org", active=False)
        db.session.commit()

    response = client.post(f"/invitations/{invitation_token}/decline", data={"reason": "No budget for travel."})

    assert response.status_code == 302 and response.location == f"/invitations/{invitation_token}/declined"
    assert "Thank you for your answer" in client.get(response.location).get_data(as_text=True)
    with app.app_context():
        [invitation] = invitations()
        assert invitation.status == "declined" and invitation.answered_at is not None
        assert invitation.decline_reason == "No budget for travel."
        [notice] = outbox("invitation.declined")
        assert notice.recipient_list == ["secretariat@example.org"]
        assert notice.subject.startswith("France declined the invitation")
        assert "No budget for travel." in notice.body_text
        assert f"/manage/meetings/avp-test/invitations/{invitation.id}" in notice.body_text

    # Declining twice changes nothing and tells nobody again.
    client.post(f"/invitations/{invitation_token}/decline", data={"reason": "Again"})
    with app.app_context():
        assert len(outbox("invitation.declined")) == 1
        assert invitations()[0].decline_reason == "No budget for travel."


def test_a_delegation_that_declined_may_still_accept_before_the_meeting(app, client, invitation_token):
    client.post(f"/invitations/{invitation_token}/decline", data={"reason": ""})
    client.post(f"/invitations/{invitation_token}/accept")
    with app.app_context():
        [invitation] = invitations()
        assert invitation.status == "accepted" and invitation.decline_reason == ""


def test_answers_after_the_meeting_ended_are_refused(app, client):
    with app.app_context():
        meeting = factories.make_meeting(
            starts_on=date.today() - timedelta(days=10), registration_opens_at=None, registration_closes_at=None
        )
        token = factories.make_invitation(meeting, factories.make_organization()).token()
        db.session.commit()

    page = client.get(f"/invitations/{token}").get_data(as_text=True)
    assert "This meeting is over: the invitation can no longer be answered." in page
    assert "Accept the invitation" not in page

    response = client.post(f"/invitations/{token}/accept", follow_redirects=True)
    assert "This meeting is over" in response.get_data(as_text=True)
    client.post(f"/invitations/{token}/decline", data={"reason": "late"})
    with app.app_context():
        [invitation] = invitations()
        assert invitation.status == "viewed" and invitation.answered_at is None


# --- Organizers ---------------------------------------------------------------------------------


@pytest.fixture
def invited(app):
    """Four NGOs invited to the meeting (queued, with their emails in the outbox)."""
    with app.app_context():
        factories.make_meeting()
        factories.make_organizations(4)
        db.session.commit()
        invite_all()
        db.session.commit()
        return [invitation.id for invitation in invitations()]


def test_reminders_go_only_to_the_selected_invitations_not_answered(app, invited):
    with app.app_context():
        first, second, third, fourth = invitations()
        services.accept(second)
        services.revoke(third)
        db.session.commit()

        reminded, skipped = services.remind(the_meeting(), [first.id, second.id, third.id])
        db.session.commit()

        assert (reminded, skipped) == (1, 2)
        [reminder] = outbox("invitation.reminder")
        assert reminder.recipient_list == first.recipient_list
        assert reminder.subject.startswith("Reminder: invitation to the")
        assert f"http://meeting.test/invitations/{first.token()}" in reminder.body_text  # the same link
        assert (first.reminders_sent, first.last_reminded_at is not None) == (1, True)
        assert second.reminders_sent == third.reminders_sent == fourth.reminders_sent == 0


def test_organizers_send_reminders_for_the_ticked_invitations(app, organizer_client, invited):
    response = organizer_client.post(
        "/manage/meetings/avp-test/invitations/remind",
        data={"invitation_ids": [str(invited[0]), str(invited[2])], "next": "/manage/meetings/avp-test/invitations/"},
        follow_redirects=True,
    )
    assert "2 reminders are queued for sending." in response.get_data(as_text=True)
    with app.app_context():
        assert sorted(message.cause_object_id for message in outbox("invitation.reminder")) == [invited[0], invited[2]]


def test_resend_to_a_corrected_address_queues_an_email_there(app, organizer_client, invited):
    url = f"/manage/meetings/avp-test/invitations/{invited[0]}"
    response = organizer_client.post(f"{url}/resend", data={"recipients": "Right.Address@example.org\n"})

    assert response.status_code == 302 and response.location == url
    with app.app_context():
        invitation = db.session.get(Invitation, invited[0])
        assert invitation.recipient_list == ["right.address@example.org"]
        latest = outbox("invitation")[-1]
        assert latest.recipient_list == ["right.address@example.org"]
        assert latest.cause_object_id == invitation.id
        assert f"/invitations/{invitation.token()}" in latest.body_text
    page = organizer_client.get(url).get_data(as_text=True)
    assert "right.address@example.org" in page


def test_resend_with_a_new_link_kills_the_old_link(app, client, invited):
    with app.app_context():
        invitation = db.session.get(Invitation, invited[0])
        old_token = invitation.token()
        services.resend(invitation, ["right@example.org"], new_link=True)
        db.session.commit()
        new_token = invitation.token()
        assert f"/invitations/{new_token}" in outbox("invitation")[-1].body_text

    assert new_token != old_token
    assert client.get(f"/invitations/{old_token}").status_code == 404
    assert client.get(f"/invitations/{new_token}").status_code == 200


@pytest.mark.parametrize(
    "recipients",
    ["mission@example.org\r\nBcc: spy@example.org", "not an address", "", "mission@example.org\u2028Bcc: x@y.org"],
)
def test_the_resend_form_refuses_a_bad_address_and_changes_nothing(app, organizer_client, invited, recipients):
    with app.app_context():
        before = db.session.get(Invitation, invited[0]).recipients
        emails_before = len(outbox())

    response = organizer_client.post(
        f"/manage/meetings/avp-test/invitations/{invited[0]}/resend", data={"recipients": recipients}
    )

    assert response.status_code == 422
    assert 'class="error"' in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Invitation, invited[0]).recipients == before
        assert len(outbox()) == emails_before


def test_the_resend_service_refuses_a_line_break_inside_an_address(app, invited):
    with app.app_context():
        invitation = db.session.get(Invitation, invited[0])
        with pytest.raises(DomainError, match="line break"):
            services.resend(invitation, ["mission@example.org\nBcc: spy@example.org"])


def test_revoking_from_the_organizer_page(app, organizer_client, client, invited):
    with app.app_context():
        token = db.session.get(Invitation, invited[1]).token()

    response = organizer_client.post(
        f"/manage/meetings/avp-test/invitations/{invited[1]}/revoke", follow_redirects=True
    )

    assert "its link no longer works" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Invitation, invited[1]).status == "revoked"
        assert db.session.scalar(db.select(AuditEntry.actor).where(AuditEntry.action == "invitation.revoke")) == (
            "secretariat@example.org"
        )
    organizer_client.post("/logout")
    assert client.get(f"/invitations/{token}").status_code == 404


def test_the_list_shows_counts_per_status_with_sent_and_failed_read_from_the_outbox(app, organizer_client, invited):
    with app.app_context():
        first, second, third, fourth = invitations()
        emails = {message.cause_object_id: message for message in outbox("invitation")}
        emails[first.id].status, emails[first.id].sent_at = "sent", utcnow()
        emails[second.id].status = "failed"
        services.decline(third, "")
        db.session.commit()

    page = organizer_client.get("/manage/meetings/avp-test/invitations/").get_data(as_text=True)

    counts = dict(re.findall(r'id="count-(\w+)">(\d+)<', page))
    assert counts == {
        "draft": "0",
        "queued": "1",
        "sent": "1",
        "failed": "1",
        "viewed": "0",
        "accepted": "0",
        "declined": "1",
        "revoked": "0",
    }
    assert "Organization 0001" in page and "focal.point@org1.example.org" in page

    failed = organizer_client.get("/manage/meetings/avp-test/invitations/?status=failed").get_data(as_text=True)
    assert "Organization 0002" in failed and "Organization 0001" not in failed
    igos = organizer_client.get("/manage/meetings/avp-test/invitations/?kind=igo").get_data(as_text=True)
    assert "No invitation matches." in igos


def test_the_list_queries_do_not_grow_with_the_number_of_invitations(app, organizer_client):
    with app.app_context():
        meeting = factories.make_meeting()
        for organization in factories.make_organizations(50):
            factories.make_invitation(meeting, organization)
        db.session.commit()
        engine = db.engine

    def statements_for_list(limit):
        with app.app_context():
            for invitation in invitations()[limit:]:
                db.session.delete(invitation)
            db.session.commit()
        statements = []

        def count(*args):
            statements.append(args[2])

        event.listen(engine, "before_cursor_execute", count)
        try:
            response = organizer_client.get("/manage/meetings/avp-test/invitations/")
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert response.status_code == 200
        assert response.get_data(as_text=True).count('name="invitation_ids"') == limit
        return len(statements)

    assert statements_for_list(50) == statements_for_list(10)


def test_the_invitation_page_for_organizers_lists_its_emails(app, organizer_client, invited):
    page = organizer_client.get(f"/manage/meetings/avp-test/invitations/{invited[0]}").get_data(as_text=True)
    assert "Organization 0001" in page
    # Organization 0001 reads English (the factory gives the organizations en, fr, es in turn), so
    # its email went out with the English subject.
    assert "Invitation: Ad hoc Informal Meeting" in page
    assert "Send the invitation again" in page and "Revoke the invitation" in page


def test_an_invitation_of_another_meeting_is_not_found(app, organizer_client, invited):
    with app.app_context():
        factories.make_meeting(slug="other")
        db.session.commit()
    assert organizer_client.get(f"/manage/meetings/other/invitations/{invited[0]}").status_code == 404


def test_the_meeting_pages_link_to_the_invitations(app, organizer_client):
    with app.app_context():
        factories.make_meeting()
        db.session.commit()
    page = organizer_client.get("/manage/meetings/avp-test").get_data(as_text=True)
    assert 'href="/manage/meetings/avp-test/invitations/"' in page


# --- The organizers' "new invitations" page -------------------------------------------------------


@pytest.fixture
def directory(app):
    with app.app_context():
        factories.make_meeting()
        factories.make_organization(name_en="France", emails=["mission.france@example.org"], preferred_language="fr")
        factories.make_organization(name_en="Spain", name_fr="Espagne", iso_code="ES", preferred_language="es")
        factories.make_organization(kind="igo", name_en="World Trade Organization", iso_code=None)
        factories.make_organization(kind="ngo", name_en="Performers Union", iso_code=None)
        db.session.commit()


def test_a_preview_shows_the_email_and_what_would_happen_and_queues_nothing(app, organizer_client, directory):
    response = organizer_client.post(
        "/manage/meetings/avp-test/invitations/new",
        data={"scope": "member_states", "message": "A word from the Director.", "action": "preview"},
    )

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "2 organizations would be invited." in page and "Nothing has been sent yet." in page
    assert "The email to France" in page and "mission.france@example.org" in page
    assert "A word from the Director." in page
    # France reads its emails in French: "Invitation : Ad hoc Informal Meeting…".
    assert translated(app, "fr", "Invitation: %(title)s", title="Ad hoc Informal Meeting") in page
    assert "http://meeting.test/invitations/preview" in page
    with app.app_context():
        assert invitations() == [] and outbox() == []


def test_the_preview_service_renders_subject_text_and_html_in_the_organizations_language(app):
    with app.app_context():
        meeting = factories.make_meeting()
        france = factories.make_organization(preferred_language="fr")
        db.session.commit()

        email = services.preview(meeting, france, "Bienvenue à Genève.")

        assert email.language == "fr" and email.recipients == ["mission@example.org"]
        # "Invitation : Ad hoc Informal Meeting on the Protection of Audiovisual Performances"
        assert email.subject == translated(app, "fr", "Invitation: %(title)s", title=meeting.title)
        assert "Bienvenue à Genève." in email.text and "Bienvenue à Genève." in email.html
        assert '<html lang="fr">' in email.html
        assert outbox() == [] and invitations() == []


def test_a_form_sent_without_the_send_button_only_previews(app, organizer_client, directory):
    response = organizer_client.post("/manage/meetings/avp-test/invitations/new", data={"scope": "member_states"})

    assert response.status_code == 200 and "2 organizations would be invited." in response.get_data(as_text=True)
    with app.app_context():
        assert invitations() == [] and outbox() == []


def test_organizers_invite_all_member_states_from_the_page(app, organizer_client, directory):
    response = organizer_client.post(
        "/manage/meetings/avp-test/invitations/new", data={"scope": "member_states", "action": "send"}
    )

    assert response.status_code == 302 and response.location == "/manage/meetings/avp-test/invitations/"
    assert "2 invitations are queued for sending." in organizer_client.get(response.location).get_data(as_text=True)
    with app.app_context():
        assert sorted(invitation.organization.name_en for invitation in invitations()) == ["France", "Spain"]
        assert {message.language for message in outbox("invitation")} == {"fr", "es"}
        entry = db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "invitation.invite"))
        assert entry.actor == "secretariat@example.org" and entry.meeting_id == the_meeting().id


def test_organizers_search_the_directory_and_invite_the_ticked_organizations(app, organizer_client, directory):
    page = organizer_client.get("/manage/meetings/avp-test/invitations/new?q=world").get_data(as_text=True)
    assert "World Trade Organization" in page and "Performers Union" not in page
    with app.app_context():
        wto = organization_named("World Trade Organization").id
        union = organization_named("Performers Union").id

    organizer_client.post(
        "/manage/meetings/avp-test/invitations/new",
        data={"scope": "selected", "organization_ids": [str(wto), str(union)], "action": "send"},
    )
    with app.app_context():
        assert sorted(invitation.organization_id for invitation in invitations()) == sorted([wto, union])


def test_organizers_invite_all_the_organizations_a_search_finds(app, organizer_client, directory):
    organizer_client.post(
        "/manage/meetings/avp-test/invitations/new",
        data={"scope": "search", "q": "union", "search_kind": "", "action": "send"},
    )
    with app.app_context():
        assert [invitation.organization.name_en for invitation in invitations()] == ["Performers Union"]


def test_inviting_with_nothing_ticked_is_refused_with_a_message(app, organizer_client, directory):
    response = organizer_client.post(
        "/manage/meetings/avp-test/invitations/new", data={"scope": "selected", "action": "send"}
    )
    assert response.status_code == 422
    assert "Choose at least one organization." in response.get_data(as_text=True)
    with app.app_context():
        assert invitations() == []


def test_draft_invitations_are_saved_without_email_and_sent_later(app, organizer_client, directory):
    organizer_client.post(
        "/manage/meetings/avp-test/invitations/new", data={"scope": "kind", "kind": "igo", "action": "draft"}
    )
    with app.app_context():
        [draft] = invitations()
        assert draft.status == "draft" and outbox() == []

    response = organizer_client.post(
        "/manage/meetings/avp-test/invitations/send-drafts", data={"invitation_ids": [str(draft.id)]}
    )

    assert response.status_code == 302
    with app.app_context():
        [invitation] = invitations()
        assert invitation.status == "queued" and invitation.queued_at is not None
        [message] = outbox("invitation")
        assert message.cause_object_id == invitation.id
