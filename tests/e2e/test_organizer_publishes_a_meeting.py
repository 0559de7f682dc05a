"""In a real browser: an organizer signs in, creates and publishes a meeting, and a visitor sees
it on the home page — while a draft stays hidden."""

from datetime import date, timedelta

import pytest

from .. import factories
from ..conftest import CHROMIUM  # noqa: F401  (the browser tests need Debian's Chromium)

pytestmark = pytest.mark.e2e


@pytest.fixture
def organizer_page(page, organizer):
    page.goto("/login")
    page.get_by_label("Email address").fill("secretariat@example.org")
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_label("Password").press("Enter")  # the form works from the keyboard
    page.wait_for_url("**/manage/")
    return page


def test_organizer_creates_and_publishes_a_meeting_that_visitors_then_see(organizer_page, browser, live_server):
    page = organizer_page
    starts_on = date.today() + timedelta(days=40)
    page.goto("/manage/meetings/new")
    page.get_by_label("Web address (slug)").fill("sccr-info")
    page.get_by_label("Title").fill("Information Meeting on Audiovisual Performances")
    page.get_by_label("Venue", exact=True).fill("WIPO Headquarters")
    page.get_by_label("City", exact=True).fill("Geneva")
    page.get_by_label("Timezone").select_option("Europe/Zurich")
    page.get_by_label("First day").fill(starts_on.isoformat())
    page.get_by_label("Last day").fill((starts_on + timedelta(days=1)).isoformat())
    page.get_by_label("Chair", exact=True).fill("The Chairman of the General Assembly")
    page.get_by_role("button", name="Create the meeting").click()
    page.wait_for_url("**/manage/meetings/sccr-info")

    visitor = browser.new_context(base_url=live_server).new_page()
    assert visitor.goto("/meetings/sccr-info").status == 404  # a draft is not public yet
    visitor.goto("/")
    assert "Information Meeting on Audiovisual Performances" not in visitor.content()

    page.get_by_role("button", name="Publish").click()
    page.wait_for_url("**/manage/meetings/sccr-info")
    assert page.get_by_role("status").first.is_visible()

    visitor.goto("/")
    visitor.get_by_role("link", name="Information Meeting on Audiovisual Performances").click()
    visitor.wait_for_url("**/meetings/sccr-info")
    body = visitor.locator("main").inner_text()
    assert "Geneva" in body and "The Chairman of the General Assembly" in body
    visitor.context.close()


def test_a_failed_sign_in_is_announced_and_keeps_the_visitor_out(page, organizer):
    page.goto("/login")
    page.get_by_label("Email address").fill("secretariat@example.org")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    alert = page.get_by_role("alert").first
    assert "not correct" in alert.inner_text()
    page.goto("/manage/")
    assert "/login" in page.url
