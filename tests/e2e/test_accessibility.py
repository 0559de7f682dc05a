"""Accessibility in a real browser: axe-core finds no violation on the public pages and the main
organizer pages; the registration form can be completed with the keyboard alone; errors are
announced and tied to their fields; French and Spanish delegates register in their language and
get their confirmation email in it."""

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from flask_babel import force_locale, gettext

from meeting.extensions import db
from meeting.mail.models import OutboxMessage
from meeting.registration.models import Registration

from .. import factories

pytestmark = pytest.mark.e2e


@pytest.fixture
def full_meeting(app):
    """The API's complete meeting: program, documents, registrations; plus the tokens of its pages."""
    with app.app_context():
        meeting = factories.make_full_meeting()
        registration = db.session.scalar(db.select(Registration).where(Registration.family_name == "Martin"))
        france = registration.organization
        invitation = factories.make_invitation(meeting, france)
        from meeting.program.models import SpeakerOffer

        offer = db.session.scalar(db.select(SpeakerOffer).where(SpeakerOffer.status == "offered"))
        tokens = {"registration": registration.token(), "invitation": invitation.token(), "speaker": offer.token()}
        db.session.commit()
        return {"slug": meeting.slug, "france_id": france.id, **tokens}


def violations(page, path):
    page.goto(path)
    result = Axe().run(page)
    return [
        f"{path}: {violation['id']} ({violation['impact']}) at {violation['nodes'][0]['target']}"
        for violation in result.response["violations"]
    ]


def sign_in(page):
    page.goto("/login")
    page.get_by_label("Email address").fill("secretariat@example.org")
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/manage/")


def test_public_pages_have_no_axe_violations(page, full_meeting):
    slug = full_meeting["slug"]
    paths = [
        "/",
        f"/meetings/{slug}",
        f"/meetings/{slug}/register",
        f"/invitations/{full_meeting['invitation']}",
        f"/r/{full_meeting['registration']}",
        f"/speakers/{full_meeting['speaker']}",
        "/login",
        "/no-such-page",
        "/api/v1/docs",
    ]
    found = [problem for path in paths for problem in violations(page, path)]
    assert not found, "\n".join(found)


def test_public_pages_in_french_and_spanish_have_no_axe_violations(page, full_meeting):
    found = []
    for language in ("fr", "es"):
        page.goto("/")
        with page.expect_navigation():  # the switch posts, then comes back to the page
            page.locator(f'.language-switch button[value="{language}"]').click()
        assert page.locator("html").get_attribute("lang") == language
        for path in ("/", f"/meetings/{full_meeting['slug']}", f"/meetings/{full_meeting['slug']}/register"):
            found += violations(page, path)
    assert not found, "\n".join(found)


def test_main_organizer_pages_have_no_axe_violations(page, full_meeting, organizer):
    sign_in(page)
    base = f"/manage/meetings/{full_meeting['slug']}"
    paths = [
        "/manage/",
        base,
        f"{base}/registrations/",
        f"{base}/invitations/",
        f"{base}/program",
        f"{base}/documents",
        "/manage/directory/",
        "/manage/outbox/",
    ]
    found = []
    for path in paths:
        response = page.goto(path)
        assert response.status == 200, path
        found += violations(page, path)
    assert not found, "\n".join(found)


def tab_to(page, selector, limit=120):
    """Press Tab until the element matching `selector` has the focus, as a keyboard user would."""
    for _ in range(limit):
        if page.evaluate("(s) => document.activeElement && document.activeElement.matches(s)", selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"{selector} cannot be reached with the Tab key")


def test_registration_form_can_be_completed_with_the_keyboard_alone(app, page, full_meeting):
    page.goto(f"/meetings/{full_meeting['slug']}/register")
    tab_to(page, "input[name=role]")
    page.keyboard.press("Space")  # the first role
    page.keyboard.press("ArrowDown")  # ... then the next one, "delegate" or the like
    for selector, text in (
        ("#given_name", "Keyboard"),
        ("#family_name", "User"),
        ("#function", "Counsellor"),
        ("#email", "keyboard.user@example.org"),
    ):
        tab_to(page, selector)
        page.keyboard.type(text)
    tab_to(page, "#organization")
    page.keyboard.type("France")  # type-ahead in a select picks the option
    tab_to(page, "#consent_public_list")
    page.keyboard.press("Space")
    tab_to(page, "form:has(#given_name) button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/r/[A-Za-z0-9_-]+$"))
    with app.app_context():
        registration = db.session.scalar(
            db.select(Registration).where(Registration.email == "keyboard.user@example.org")
        )
        assert registration.family_name == "User" and registration.organization_id == full_meeting["france_id"]


def test_registration_errors_are_announced_and_tied_to_their_fields(page, full_meeting):
    page.goto(f"/meetings/{full_meeting['slug']}/register")
    page.get_by_role("button", name="Register", exact=True).click()
    assert page.get_by_role("alert").first.is_visible()
    invalid = page.locator("[aria-invalid=true]")
    assert invalid.count() >= 2
    for index in range(invalid.count()):
        field = invalid.nth(index)
        described_by = field.get_attribute("aria-describedby")
        assert described_by, field.evaluate("e => e.outerHTML")
        messages = [page.locator(f"#{ident}").inner_text() for ident in described_by.split()]
        assert any(message.strip() for message in messages)


@pytest.mark.parametrize("language", ["fr", "es"])
def test_a_delegate_registers_in_french_or_spanish_and_gets_the_email_in_that_language(
    app, page, full_meeting, language
):
    page.goto(f"/meetings/{full_meeting['slug']}")
    with page.expect_navigation():  # the switch posts, then comes back to the page
        page.locator(f'.language-switch button[value="{language}"]').click()
    page.goto(f"/meetings/{full_meeting['slug']}/register")
    assert page.locator("html").get_attribute("lang") == language
    page.locator("input[name=role][value=delegate]").check()
    page.locator("#given_name").fill("Inés")
    page.locator("#family_name").fill("Núñez")
    page.locator("#function").fill("Consejera")
    page.locator("#email").fill(f"ines.{language}@example.org")
    page.locator("#organization").select_option(str(full_meeting["france_id"]))
    page.locator("#preferred_language").select_option(language)
    page.locator("#consent_public_list").check()
    page.locator("form:has(#given_name) button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/r/[A-Za-z0-9_-]+$"))
    with app.test_request_context(), force_locale(language):
        thanks = gettext("Thank you: your registration is confirmed. We have emailed you this page's link.")
    assert not thanks.startswith("Thank you")  # the catalog really translates it
    assert thanks in page.get_by_role("status").first.inner_text()
    with app.app_context():
        email = db.session.scalar(
            db.select(OutboxMessage).where(OutboxMessage.recipients == f"ines.{language}@example.org")
        )
        assert email.language == language
        assert f'lang="{language}"' in email.body_html
        with app.test_request_context(), force_locale(language):
            body = gettext("Thank you for registering. Your place at the meeting is confirmed.")
        assert body != "Thank you for registering. Your place at the meeting is confirmed."
        assert body in email.body_text
