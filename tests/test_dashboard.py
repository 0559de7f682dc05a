"""The organizers' registration dashboard (counts by status and kind of organization, delegations
represented, a chart of registrations per day) and the number registered through each invitation."""

import re
from datetime import UTC, datetime

from sqlalchemy import event

from meeting.extensions import db
from meeting.meetings.models import Meeting
from meeting.registration import dashboard

from . import factories

URL = "/manage/meetings/avp-test/registrations/dashboard"


def text_of(response):
    return response.get_data(as_text=True)


def row_cells(page, row_id):
    row = re.search(rf'<tr id="{row_id}">(.*?)</tr>', page, re.S).group(1)
    return [int(value) for value in re.findall(r">\s*(\d+)\s*<", row)]


def count_queries(engine, action):
    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        result = action()
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    return len(statements), result


def at(day, hour, minute=0):
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def test_dashboard_counts_by_status_and_kind_and_the_delegations_represented(app, organizer_client):
    with app.app_context():
        meeting = factories.make_meeting()
        france = factories.make_organization()
        chile = factories.make_organization(name_en="Chile", iso_code="CL")
        ngo = factories.make_organization(kind="ngo", name_en="International Federation of Actors", iso_code=None)
        factories.make_registration(meeting, france)
        factories.make_registration(meeting, france)
        factories.make_registration(meeting, chile, status="waitlisted")
        factories.make_registration(meeting, ngo, status="pending")
        factories.make_registration(meeting, ngo, status="rejected")
        factories.make_registration(meeting, None, organization_name_other="Film Archive")
        factories.make_registration(meeting, None, organization_name_other="FILM ARCHIVE")
        factories.make_registration(meeting, None, organization_name_other="Screen Guild", status="cancelled")
        db.session.commit()

    page = text_of(organizer_client.get(URL))
    # Columns: pending, confirmed, waiting list, rejected, cancelled, total, delegations represented.
    assert row_cells(page, "kind-member_state") == [0, 2, 1, 0, 0, 3, 1]
    assert row_cells(page, "kind-ngo") == [1, 0, 0, 1, 0, 2, 0]
    assert row_cells(page, "kind-other") == [0, 2, 0, 0, 1, 3, 1]
    assert row_cells(page, "kind-igo") == [0, 0, 0, 0, 0, 0, 0]
    assert row_cells(page, "kind-total") == [1, 4, 1, 1, 1, 8, 2]
    assert '<dd id="figure-total">8</dd>' in page and '<dd id="figure-delegations">2</dd>' in page
    assert "kind=member_state&amp;status=confirmed" in page or "status=confirmed&amp;kind=member_state" in page


def test_registrations_per_day_follow_the_meetings_local_days(app):
    with app.app_context():
        # Geneva is UTC+1 in March: 23:30 UTC on the 9th is already the 10th there.
        meeting = factories.make_meeting(timezone="Europe/Zurich")
        for moment in (at(9, 10), at(9, 23, 30), at(10, 8), at(12, 22, 59), at(12, 23, 5)):
            factories.make_registration(meeting, None, created_at=moment)
        db.session.commit()
        per_day = dashboard.registrations_per_day(meeting)
    assert per_day == {
        datetime(2026, 3, 9).date(): 1,
        datetime(2026, 3, 10).date(): 2,
        datetime(2026, 3, 12).date(): 1,
        datetime(2026, 3, 13).date(): 1,
    }


def test_registrations_per_day_in_a_zone_with_a_half_hour_offset(app):
    with app.app_context():
        meeting = factories.make_meeting(timezone="Asia/Kolkata")  # UTC+5:30
        for moment in (at(9, 18, 20), at(9, 18, 40)):
            factories.make_registration(meeting, None, created_at=moment)
        db.session.commit()
        per_day = dashboard.registrations_per_day(meeting)
    assert per_day == {datetime(2026, 3, 9).date(): 1, datetime(2026, 3, 10).date(): 1}


def test_the_chart_is_an_svg_picture_with_a_text_alternative_and_the_numbers(app, organizer_client):
    with app.app_context():
        meeting = factories.make_meeting(timezone="UTC")
        for moment in (at(2, 9), at(2, 10), at(2, 11), at(4, 9)):
            factories.make_registration(meeting, None, created_at=moment)
        db.session.commit()

    page = text_of(organizer_client.get(URL))
    svg = re.search(r"<svg .*?</svg>", page, re.S).group(0)
    assert 'role="img"' in svg and 'aria-labelledby="chart-title chart-desc"' in svg
    assert '<desc id="chart-desc">From Mar 2 to Mar 4: 4 registrations; the most in one day, 3, on Mar 2.</desc>' in svg
    bars = re.findall(r'<rect x="[\d.]+" y="([\d.]+)" width="[\d.]+" height="([\d.]+)" class="chart-bar">', svg)
    heights = [float(height) for _y, height in bars]
    assert len(bars) == 3 and heights[1] == 0 and heights[0] == 3 * heights[2] > 0
    assert "<title>Mar 3: 0</title>" in svg
    assert "style=" not in svg and "<script" not in page
    table = re.search(r'<details class="chart-numbers">.*?</details>', page, re.S).group(0)
    assert re.findall(r'<td class="number">(\d+)</td>', table) == ["3", "0", "1"]


def test_an_empty_meeting_says_that_nothing_has_been_received(app, organizer_client):
    with app.app_context():
        factories.make_meeting()
        db.session.commit()
    page = text_of(organizer_client.get(URL))
    assert "No registration has been received yet." in page and "<svg" not in page


def test_dashboard_requires_an_organizer(app, client):
    with app.app_context():
        factories.make_meeting()
        db.session.commit()
    response = client.get(URL)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_dashboard_queries_do_not_grow_with_the_registrations(app, organizer_client):
    with app.app_context():
        meeting = factories.make_meeting()
        factories.make_delegations(meeting, 10)
        db.session.commit()
        meeting_id, engine = meeting.id, db.engine

    small, response = count_queries(engine, lambda: organizer_client.get(URL))
    assert response.status_code == 200 and '<dd id="figure-total">10</dd>' in text_of(response)
    with app.app_context():
        meeting = db.session.get(Meeting, meeting_id)
        factories.make_delegations(meeting, 30, start=11, status="pending")
        db.session.commit()
    large, response = count_queries(engine, lambda: organizer_client.get(URL))
    assert '<dd id="figure-total">40</dd>' in text_of(response)
    assert large == small


# The number registered through each invitation ----------------------------------------------------


def test_accepted_invitations_show_how_many_registered_through_them(app, organizer_client):
    with app.app_context():
        meeting = factories.make_meeting()
        france = factories.make_organization()
        chile = factories.make_organization(name_en="Chile", iso_code="CL", emails=["chile@example.org"])
        peru = factories.make_organization(name_en="Peru", iso_code="PE", emails=["peru@example.org"])
        accepted = factories.make_invitation(meeting, france, status="accepted")
        factories.make_invitation(meeting, chile, status="accepted")
        factories.make_invitation(meeting, peru)
        factories.make_registration(meeting, france, invitation_id=accepted.id)
        factories.make_registration(meeting, france, invitation_id=accepted.id, status="waitlisted")
        factories.make_registration(meeting, france, invitation_id=accepted.id, status="pending")
        factories.make_registration(meeting, france, invitation_id=accepted.id, status="cancelled")
        factories.make_registration(meeting, france)  # registered without the invitation's link
        db.session.commit()
        france_id, chile_id = france.id, chile.id

    page = text_of(organizer_client.get("/manage/meetings/avp-test/invitations/"))
    cells = re.findall(r'<td class="invitation-registered">(.*?)</td>', page, re.S)
    assert len(cells) == 3  # Chile, France, Peru in alphabetical order
    assert f"organization={chile_id}" in cells[0] and ">0</a>" in cells[0]
    assert f"organization={france_id}" in cells[1] and ">3</a>" in cells[1]
    assert cells[2] == ""  # not accepted: nothing to count


def test_invitation_list_queries_do_not_grow_with_the_registrations(app, organizer_client):
    with app.app_context():
        meeting = factories.make_meeting()
        organizations = factories.make_organizations(5, kind="member_state")
        invitations = [factories.make_invitation(meeting, o, status="accepted") for o in organizations]
        for number in range(10):
            invitation = invitations[number % 5]
            factories.make_registration(meeting, invitation.organization, invitation_id=invitation.id)
        db.session.commit()
        meeting_id, engine = meeting.id, db.engine
        invitation_ids = [(invitation.id, invitation.organization_id) for invitation in invitations]

    url = "/manage/meetings/avp-test/invitations/"
    small, response = count_queries(engine, lambda: organizer_client.get(url))
    assert response.status_code == 200
    with app.app_context():
        meeting = db.session.get(Meeting, meeting_id)
        for number in range(30):
            invitation_id, organization_id = invitation_ids[number % 5]
            organization = db.session.get(factories.Organization, organization_id)
            factories.make_registration(meeting, organization, invitation_id=invitation_id)
        db.session.commit()
    large, response = count_queries(engine, lambda: organizer_client.get(url))
    assert large == small
    assert text_of(response).count(">8</a>") == 5
