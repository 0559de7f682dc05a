"""In a real browser: an organizer invites the Member States; the delegate of France opens the
invitation email's link, accepts, registers, and later opens the personal link from the confirmation
email; the organizer then sees one registration through France's invitation."""

import re

import pytest

from meeting.extensions import db
from meeting.mail.models import OutboxMessage

from .. import factories
from ..conftest import CHROMIUM  # noqa: F401  (the browser tests need Debian's Chromium)

pytestmark = pytest.mark.e2e


def link_in_email(app, cause, path):
    """The first link to `path` in the text of the latest email with `cause`."""
    with app.app_context():
        message = db.session.scalars(
            db.select(OutboxMessage).where(OutboxMessage.cause == cause).order_by(OutboxMessage.id.desc())
        ).first()
        assert message is not None, f"no {cause} email in the outbox"
        match = re.search(rf"(http://127\.0\.0\.1:\d+{path}[A-Za-z0-9_-]+)", message.body_text)
        assert match, message.body_text
        return match.group(1)


@pytest.fixture
def organizer_page(page, organizer):
    page.goto("/login")
    page.get_by_label("Email address").fill("secretariat@example.org")
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/manage/")
    return page


def test_delegate_registers_from_the_invitation_email_and_opens_the_personal_link(
    app, organizer_page, browser, live_server
):
    app.config["BASE_URL"] = live_server  # the links in the emails lead to this server
    with app.app_context():
        factories.make_meeting()
        factories.make_organization(emails=["mission.france@example.org"])
        db.session.commit()

    organizer = organizer_page
    organizer.goto("/manage/meetings/avp-test/invitations/new")
    organizer.get_by_label("All Member States").check()
    organizer.get_by_role("button", name="Send the invitations").click()
    organizer.wait_for_url("**/manage/meetings/avp-test/invitations/")
    assert "1 invitation is queued for sending." in organizer.get_by_role("status").first.inner_text()

    invitation_link = link_in_email(app, "invitation", "/invitations/")
    delegate_context = browser.new_context(base_url=live_server, locale="en-GB")
    delegate = delegate_context.new_page()
    delegate.set_default_timeout(10_000)
    delegate.goto(invitation_link)
    delegate.get_by_role("button", name="Accept the invitation").click()
    delegate.wait_for_url(re.compile(r".*/meetings/avp-test/register\?invitation=.+"))
    assert "You are registering in the delegation of France" in delegate.locator("main").inner_text()

    delegate.get_by_role("group", name="I attend as").get_by_label("Delegate", exact=True).check()
    delegate.get_by_label("Given name").fill("Marianne")
    delegate.get_by_label("Family name").fill("Lefèvre")
    delegate.get_by_label("Function or title").fill("First Secretary, Permanent Mission")
    delegate.get_by_role("textbox", name="Email address", exact=True).fill("marianne.lefevre@example.org")
    delegate.get_by_label("Language for emails").select_option("en")
    delegate.get_by_label("I agree that my name, function and delegation appear").check()
    delegate.get_by_role("button", name="Register", exact=True).click()

    delegate.wait_for_url(re.compile(r".*/r/[A-Za-z0-9_-]+$"))
    assert "Thank you: your registration is confirmed." in delegate.get_by_role("status").first.inner_text()
    delegate_context.close()

    personal_link = link_in_email(app, "registration.received", "/r/")
    later = browser.new_context(base_url=live_server, locale="en-GB").new_page()
    later.goto(personal_link)
    body = later.locator("main").inner_text()
    assert "Your place at the meeting is confirmed." in body and "Lefèvre" in body
    later.context.close()

    organizer.goto("/manage/meetings/avp-test/invitations/")
    registered = organizer.locator("td.invitation-registered")
    assert registered.inner_text().strip() == "1"
    registered.get_by_role("link").click()
    organizer.wait_for_url("**/manage/meetings/avp-test/registrations/?organization=*")
    assert "Marianne LEFÈVRE" in organizer.locator("main").inner_text()
