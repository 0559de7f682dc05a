"""Badges: a PDF of the confirmed participants' badges, one per A6 card or four per A4 sheet, each
with the name as in the list of participants, the delegation, the category and a QR code that
carries the check-in code — read back here from the PDF's own images with a QR decoder. The code is
128 bits, kept only as a hash, the same on a reprint, and not the personal link's token. Long print
runs are made in the background by `flask onsite badges`."""

import io
import re

import pytest
import zxingcpp
from pypdf import PdfReader

from meeting.core.audit import AuditEntry
from meeting.core.tokens import hash_token
from meeting.extensions import db
from meeting.onsite import badges
from meeting.onsite.models import BadgePrintJob
from meeting.registration.models import Registration

from . import factories

BADGES = "/manage/meetings/avp-test/badges"


@pytest.fixture
def meeting_id(app):
    """Five confirmed participants of three categories, and three who are not confirmed."""
    with app.app_context():
        meeting = factories.make_meeting()
        france = factories.make_organization()
        ngo = factories.make_organization(kind="ngo", name_en="Performers United", iso_code=None)
        factories.make_registration(
            meeting, france, role="head_of_delegation", salutation="he_ms", given_name="Maria", family_name="García"
        )
        factories.make_registration(
            meeting, france, role="adviser", salutation="mr", given_name="Jean", family_name="Dupont"
        )
        factories.make_registration(meeting, ngo, role="observer", salutation="dr", given_name="Ada", family_name="Obi")
        factories.make_registration(meeting, None, role="press", given_name="Lee", family_name="Kim")
        factories.make_registration(meeting, france, role="delegate", given_name="Zoé", family_name="Zola")
        factories.make_registration(
            meeting, ngo, role="observer", status="pending", given_name="Pat", family_name="Pending"
        )
        factories.make_registration(
            meeting, ngo, role="observer", status="waitlisted", given_name="Wai", family_name="Ting"
        )
        factories.make_registration(meeting, france, status="cancelled", given_name="Can", family_name="Celled")
        db.session.commit()
        return meeting.id


def pdf_of(response) -> PdfReader:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/pdf"
    return PdfReader(io.BytesIO(response.data))


def text_of(page) -> str:
    """The page's text with its line breaks as spaces (a long title wraps)."""
    return " ".join(page.extract_text().split())


def qr_codes(page) -> list[str]:
    """The texts of the QR codes drawn on a PDF page, in drawing order, decoded from the images the
    page paints (WeasyPrint shares one dictionary of images between the pages)."""
    painted = re.findall(rb"/([\w.]+) Do", page.get_contents().get_data())
    codes = []
    for name in painted:
        image = page.images[f"/{name.decode()}"].image
        codes.extend(result.text for result in zxingcpp.read_barcodes(image.convert("L")))
    return codes


def codes_by_name(app, meeting_id) -> dict[str, str]:
    with app.app_context():
        registrations = db.session.scalars(db.select(Registration).where(Registration.meeting_id == meeting_id))
        return {r.family_name: badges.checkin_code(r) for r in registrations if r.checkin_code_hash}


def test_a6_badges_are_one_page_per_confirmed_participant_with_a_readable_qr_code(app, organizer_client, meeting_id):
    reader = pdf_of(organizer_client.post(BADGES, data={"scope": "all", "layout": "a6", "sort": "family_name"}))

    assert len(reader.pages) == 5
    assert {(round(float(page.mediabox.width)), round(float(page.mediabox.height))) for page in reader.pages} == {
        (298, 420)  # A6 in points
    }
    first = reader.pages[0]
    text = text_of(first)
    assert "Ad hoc Informal Meeting on the Protection of Audiovisual Performances" in text
    assert "Geneva" in text
    # Sorted by family name: Dupont, García, Kim, Obi, Zola.
    assert "Mr. Jean DUPONT" in text and "France" in text and "DELEGATE" in text and "Adviser" in text
    assert "H.E. Ms. Maria GARCÍA" in text_of(reader.pages[1])
    assert "PRESS" in text_of(reader.pages[2])
    assert "OBSERVER" in text_of(reader.pages[3]) and "Performers United" in text_of(reader.pages[3])
    everything = "".join(text_of(page) for page in reader.pages)
    assert "PENDING" not in everything and "Ting" not in everything.title() and "CELLED" not in everything

    codes = codes_by_name(app, meeting_id)
    assert set(codes) == {"Dupont", "García", "Kim", "Obi", "Zola"}
    decoded = [qr_codes(page) for page in reader.pages]
    assert decoded == [[codes[name]] for name in ("Dupont", "García", "Kim", "Obi", "Zola")]
    with app.app_context():
        for name, code in codes.items():
            registration = db.session.scalar(db.select(Registration).where(Registration.family_name == name))
            assert registration.checkin_code_hash == hash_token(code)
            assert code not in (registration.checkin_nonce, registration.checkin_code_hash)
        entry = db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "badges.print"))
        assert entry.details["count"] == 5 and entry.details["layout"] == "a6"


def test_an_a4_sheet_holds_four_badges_to_cut(app, organizer_client, meeting_id):
    reader = pdf_of(organizer_client.post(BADGES, data={"scope": "all", "layout": "a4", "sort": "delegation"}))

    assert len(reader.pages) == 2
    assert (round(float(reader.pages[0].mediabox.width)), round(float(reader.pages[0].mediabox.height))) == (595, 842)
    first, second = (qr_codes(page) for page in reader.pages)
    assert len(first) == 4 and len(second) == 1
    assert sorted(first + second) == sorted(codes_by_name(app, meeting_id).values())
    # By delegation: the three of France, then the press ("Independent Observers" as the factory names
    # a registration without organization), then the NGO.
    text = text_of(reader.pages[0])
    assert text.index("DUPONT") < text.index("GARCÍA") < text.index("ZOLA")


def test_the_badge_code_has_128_bits_and_is_not_the_personal_link(app, organizer_client, meeting_id):
    organizer_client.post(BADGES, data={"scope": "all", "layout": "a6"})
    with app.app_context():
        registration = db.session.scalar(db.select(Registration).where(Registration.family_name == "García"))
        code = badges.checkin_code(registration)
        assert len(code) == 26 and badges.normalize_code(code) == code  # base32: 26 × 5 bits ≥ 128
        assert code != registration.token() and hash_token(code) != registration.token_hash
        token = registration.token()
    assert organizer_client.get(f"/r/{code}").status_code == 404
    assert organizer_client.get(f"/r/{token}").status_code == 200


def test_printing_a_badge_again_gives_the_same_code_until_it_is_replaced(app, organizer_client, meeting_id):
    with app.app_context():
        registration_id = db.session.scalar(db.select(Registration.id).where(Registration.family_name == "Obi"))
    one = {"scope": "ticked", "ids": [str(registration_id)], "layout": "a6"}
    first = qr_codes(pdf_of(organizer_client.post(BADGES, data=one)).pages[0])
    again = qr_codes(pdf_of(organizer_client.post(BADGES, data=one)).pages[0])
    assert first == again and len(first) == 1

    response = organizer_client.post(f"/manage/meetings/avp-test/checkin/{registration_id}/new-code")
    assert response.status_code == 302
    replaced = qr_codes(pdf_of(organizer_client.post(BADGES, data=one)).pages[0])
    assert replaced != first
    with app.app_context():
        assert badges.registration_for_code(first[0]) is None
        assert badges.registration_for_code(replaced[0]).id == registration_id


def test_only_the_ticked_participants_or_the_filtered_ones_get_a_badge(app, organizer_client, meeting_id):
    with app.app_context():
        ids = db.session.scalars(
            db.select(Registration.id).where(Registration.family_name.in_(["Kim", "Zola", "Pending"]))
        ).all()
    ticked = pdf_of(
        organizer_client.post(BADGES, data={"scope": "ticked", "ids": [str(i) for i in ids], "layout": "a6"})
    )
    assert len(ticked.pages) == 2  # the pending registration gets no badge
    assert "KIM" in text_of(ticked.pages[0]) and "ZOLA" in text_of(ticked.pages[1])

    delegates = pdf_of(organizer_client.post(BADGES, data={"scope": "all", "categories": "delegate", "layout": "a6"}))
    assert len(delegates.pages) == 3
    ngos = pdf_of(organizer_client.post(BADGES, data={"scope": "all", "kinds": "ngo", "layout": "a6"}))
    assert len(ngos.pages) == 1 and "OBI" in text_of(ngos.pages[0])


def test_the_badge_page_lists_the_confirmed_participants_to_choose_from(organizer_client, meeting_id):
    page = organizer_client.get(BADGES)
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "Print the badges of the 5 participants listed" in body
    assert "Maria GARCÍA" in body and "Pat PENDING" not in body
    filtered = organizer_client.get(f"{BADGES}?categories=press").get_data(as_text=True)
    assert "Print the badge of the 1 participant listed" in filtered and "Lee KIM" in filtered


def test_nothing_ticked_or_nobody_selected_is_refused_with_a_message(organizer_client, meeting_id):
    response = organizer_client.post(BADGES, data={"scope": "ticked", "layout": "a6"})
    assert response.status_code == 422
    assert "Tick the participants whose badges you want" in response.get_data(as_text=True)
    response = organizer_client.post(BADGES, data={"scope": "all", "kinds": "igo", "layout": "a6"})
    assert response.status_code == 422
    assert "No confirmed participant is selected" in response.get_data(as_text=True)


def test_a_long_print_run_is_made_in_the_background_and_offered_when_ready(app, organizer_client, runner, meeting_id):
    app.config["BADGES_INLINE_LIMIT"] = 2
    response = organizer_client.post(BADGES, data={"scope": "all", "layout": "a4"})
    assert response.status_code == 302
    job_page = response.headers["Location"]
    waiting = organizer_client.get(job_page)
    assert waiting.headers["Refresh"] == "3" and "being made" in waiting.get_data(as_text=True)
    with app.app_context():
        job = db.session.scalar(db.select(BadgePrintJob))
        assert job.status == "queued" and job.badge_count == 5
        # The codes are made when the run is asked for, so the worker only reads them.
        assert db.session.scalar(db.select(db.func.count()).where(Registration.checkin_code_hash.is_not(None))) == 5

    result = runner.invoke(args=["onsite", "badges"])
    assert result.exit_code == 0 and "1 badge print run made." in result.output

    ready = organizer_client.get(job_page)
    assert "Refresh" not in ready.headers and "Download the PDF" in ready.get_data(as_text=True)
    with organizer_client.get(f"{job_page}/badges.pdf") as response:
        reader = pdf_of(response)
    assert len(reader.pages) == 2
    assert sorted(qr_codes(reader.pages[0]) + qr_codes(reader.pages[1])) == sorted(
        codes_by_name(app, meeting_id).values()
    )
    assert "Download the PDF" in organizer_client.get(BADGES).get_data(as_text=True)


def test_badges_are_for_organizers_only(client, meeting_id):
    assert client.get(BADGES).status_code == 302
    assert client.post(BADGES, data={"scope": "all", "layout": "a6"}).status_code == 302
