"""Distribution of documents: organizers preview and send one email per confirmed participant about a
new document or a new language version (in the participant's language, with the link to that
version or, when there is none, to the meeting's first language, which the email says); participants
turn these emails off and on from their personal page; the meeting page marks what is new since a
participant's last visit; and the list of participants is published as a document, one PDF per
language, republishing keeping the earlier version."""

import html
import io
import re
from datetime import timedelta

import pytest
from flask_babel import force_locale, gettext
from pypdf import PdfReader
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError

from meeting.core.audit import AuditEntry
from meeting.core.models import utcnow
from meeting.core.storage import path_for
from meeting.documents import services
from meeting.documents.models import Document, DocumentFile, DocumentNotification
from meeting.extensions import db
from meeting.mail.models import OutboxMessage
from meeting.meetings.models import Meeting
from meeting.registration.models import Registration

from . import factories

SLUG = "avp-test"
MANAGE = f"/manage/meetings/{SLUG}/documents"
TITLE = "Ad hoc Informal Meeting on the Protection of Audiovisual Performances"
FALLBACK = "This document is not available in %(wanted)s. The link below leads to the %(available)s version."


def text_of(response):
    return html.unescape(response.get_data(as_text=True))


def translated(app, language, message, **variables):
    """`message` as the catalog of `language` says it (the emails go out in the reader's language);
    without variables, the catalog's text with its placeholders."""
    with app.test_request_context(), force_locale(language):
        return gettext(message, **variables)


def notify_url(document_id):
    return f"{MANAGE}/{document_id}/notify"


def outbox(app):
    with app.app_context():
        return db.session.scalars(db.select(OutboxMessage).order_by(OutboxMessage.id)).all()


def registration(app, registration_id):
    with app.app_context():
        return db.session.get(Registration, registration_id)


def current_versions(app, document_id):
    with app.app_context():
        document = db.session.get(Document, document_id)
        return ",".join(
            f"{file.language}:{file.id}" for file in sorted(document.current_files, key=lambda f: f.language)
        )


def send(client, app, document_id, **data):
    return client.post(notify_url(document_id), data={"versions": current_versions(app, document_id), **data})


@pytest.fixture
def meeting_id(app):
    with app.app_context():
        meeting = factories.make_meeting(slug=SLUG)
        db.session.commit()
        return meeting.id


@pytest.fixture
def study_id(app, meeting_id):
    """A published public study in English and French (no Spanish version)."""
    with app.app_context():
        meeting = db.session.get(Meeting, meeting_id)
        document = factories.make_document(
            meeting,
            symbol="AVP/IM/03/4",
            published_at=utcnow() - timedelta(days=2),
            translations={"fr": {"title": "Étude sur le transfert des droits et le droit international privé"}},
        )
        factories.make_document_file(document, "en", uploaded_at=utcnow() - timedelta(days=2))
        factories.make_document_file(document, "fr", uploaded_at=utcnow() - timedelta(days=2))
        db.session.commit()
        return document.id


@pytest.fixture
def people(app, meeting_id):
    """Registrations of every kind: {key: (id, personal token)}."""
    with app.app_context():
        meeting = db.session.get(Meeting, meeting_id)
        france = factories.make_organization()
        made = {
            "english": factories.make_registration(meeting, france, given_name="Jane", family_name="Smith"),
            "french": factories.make_registration(
                meeting, france, given_name="Jean", family_name="Dupont", preferred_language="fr"
            ),
            "spanish": factories.make_registration(
                meeting, france, given_name="Ana", family_name="García", preferred_language="es"
            ),
            "opted_out": factories.make_registration(
                meeting, france, given_name="Otto", family_name="Quiet", document_emails_opt_out=True
            ),
            "pending": factories.make_registration(meeting, None, status="pending", given_name="Pat"),
            "waitlisted": factories.make_registration(meeting, None, status="waitlisted", given_name="Wes"),
            "rejected": factories.make_registration(meeting, None, status="rejected", given_name="Rey"),
            "cancelled": factories.make_registration(meeting, None, status="cancelled", given_name="Cal"),
        }
        db.session.commit()
        return {key: (r.id, r.token()) for key, r in made.items()}


# Notifying participants --------------------------------------------------------------------------


def test_the_preview_shows_the_recipients_by_language_and_queues_nothing(organizer_client, app, study_id, people):
    response = organizer_client.get(notify_url(study_id))
    page = text_of(response)
    assert response.status_code == 200
    assert "3 confirmed participants will receive the email." in page
    assert "1 other turned these emails off." in page
    groups = re.search(r'<table class="data notification-groups">.*?</table>', page, re.S).group(0)
    rows = [" ".join(re.sub(r"<[^>]+>", " ", row).split()) for row in re.findall(r"<tr>(.*?)</tr>", groups, re.S)]
    assert rows[1:] == [
        "English 1 the English version",
        "French 1 the French version",
        "Spanish 1 the English version (none in their language; the email says so)",
    ]
    assert (
        "New document for the Ad hoc Informal Meeting on the Protection of Audiovisual Performances: AVP/IM/03/4"
        in (page)
    )
    assert "Send to 3 participants" in page
    assert outbox(app) == []
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(DocumentNotification)) == 0


def test_the_preview_shows_the_email_of_the_chosen_language_with_its_link(app, organizer_client, study_id, people):
    french = text_of(organizer_client.get(f"{notify_url(study_id)}?lang=fr"))
    preview = re.search(r'<pre class="email-text notification-text" lang="fr">(.*?)</pre>', french, re.S).group(1)
    assert f"http://meeting.test/meetings/{SLUG}/documents/{study_id}/fr" in preview
    # "[lien personnel du participant]"
    assert translated(app, "fr", "[personal link of the participant]") in preview

    spanish = text_of(organizer_client.get(f"{notify_url(study_id)}?lang=es"))
    preview = re.search(r'<pre class="email-text notification-text" lang="es">(.*?)</pre>', spanish, re.S).group(1)
    assert f"/documents/{study_id}/en" in preview
    # "Este documento no está disponible en español. El enlace siguiente lleva a la versión en inglés."
    assert translated(app, "es", FALLBACK, wanted="español", available="inglés") in preview


def test_sending_queues_one_email_per_confirmed_participant_in_their_language(organizer_client, app, study_id, people):
    response = send(organizer_client, app, study_id)
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"{MANAGE}/{study_id}#notifications")
    page = text_of(organizer_client.get(response.headers["Location"]))
    assert "3 emails about AVP/IM/03/4 are queued" in page

    messages = {message.recipients: message for message in outbox(app)}
    english, french, spanish = (registration(app, people[key][0]) for key in ("english", "french", "spanish"))
    assert set(messages) == {english.email, french.email, spanish.email}
    base = f"http://meeting.test/meetings/{SLUG}/documents/{study_id}"
    for person, key, language, link in (
        (english, "english", "en", f"{base}/en"),
        (french, "french", "fr", f"{base}/fr"),
        (spanish, "spanish", "es", f"{base}/en"),
    ):
        message = messages[person.email]
        assert message.language == language
        assert message.cause == "document.notification"
        assert (message.cause_object_type, message.cause_object_id) == ("Registration", person.id)
        assert message.recipient_name == person.full_name
        assert link in message.body_text and link in message.body_html
        assert f"http://meeting.test/r/{people[key][1]}" in message.body_text
        assert "AVP/IM/03/4" in message.subject
    # "Este documento no está disponible en español. El enlace siguiente lleva a la versión en inglés."
    assert translated(app, "es", FALLBACK, wanted="español", available="inglés") in messages[spanish.email].body_text
    french_title = "Étude sur le transfert des droits et le droit international privé"
    assert french_title in messages[french.email].body_text  # the document's title in the reader's language
    assert french_title not in messages[english.email].body_text
    assert "not available in" not in messages[english.email].body_text
    assert f"{base}/fr" not in messages[english.email].body_text.split("Other languages:")[0]

    with app.app_context():
        notification = db.session.scalar(db.select(DocumentNotification))
        assert (notification.occasion, notification.recipients, notification.repeat_number) == ("published", 3, 0)
        entry = db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "document.notify"))
        assert entry.actor == "secretariat@example.org"
        assert entry.details["recipients"] == 3
        assert entry.details["by_language"] == {"en": 1, "fr": 1, "es": 1}


def test_pending_waitlisted_rejected_cancelled_and_opted_out_registrants_get_nothing(
    organizer_client, app, study_id, people
):
    send(organizer_client, app, study_id)
    recipients = {message.recipients for message in outbox(app)}
    for key in ("pending", "waitlisted", "rejected", "cancelled", "opted_out"):
        assert registration(app, people[key][0]).email not in recipients


def test_a_second_click_sends_nothing_unless_the_organizer_asks_to_send_again(organizer_client, app, study_id, people):
    send(organizer_client, app, study_id)
    response = send(organizer_client, app, study_id)
    assert response.status_code == 302
    assert response.headers["Location"].endswith(notify_url(study_id))
    page = text_of(organizer_client.get(response.headers["Location"]))
    assert "These versions of AVP/IM/03/4 were already announced to the participants on" in page
    assert "These versions were already announced on" in page
    assert "The document itself, as in its first announcement." in page
    assert 'name="send_again"' in page
    assert len(outbox(app)) == 3

    send(organizer_client, app, study_id, send_again="y")
    assert len(outbox(app)) == 6
    with app.app_context():
        repeats = db.session.scalars(db.select(DocumentNotification.repeat_number)).all()
        assert sorted(repeats) == [0, 1]


def test_the_same_versions_cannot_be_recorded_twice_by_two_simultaneous_clicks(app, study_id, people):
    with app.app_context():
        document = db.session.get(Document, study_id)
        db.session.add(
            DocumentNotification(document_id=document.id, occasion="published", versions="en:1", recipients=1)
        )
        db.session.flush()
        db.session.add(
            DocumentNotification(document_id=document.id, occasion="published", versions="en:1", recipients=1)
        )
        with pytest.raises(IntegrityError):
            db.session.flush()
        db.session.rollback()


def test_a_new_language_version_is_announced_with_its_link(organizer_client, app, study_id, people):
    send(organizer_client, app, study_id)
    with app.app_context():
        factories.make_document_file(db.session.get(Document, study_id), "es")
        db.session.commit()

    page = text_of(organizer_client.get(notify_url(study_id)))
    assert "New or revised language versions since the notification of" in page
    assert ": Spanish." in page
    assert "Spanish 1 the Spanish version" in " ".join(re.sub(r"<[^>]+>", " ", page).split())

    send(organizer_client, app, study_id)
    spanish = registration(app, people["spanish"][0])
    latest = [message for message in outbox(app)[3:]]
    assert len(latest) == 3
    to_spanish = next(message for message in latest if message.recipients == spanish.email)
    assert f"/documents/{study_id}/es" in to_spanish.body_text
    # Not "Este documento no está disponible en …", but "Hay una nueva versión lingüística de un documento de …".
    assert translated(app, "es", FALLBACK).split("%(wanted)s")[0] not in to_spanish.body_text
    new_version = "A new language version of a document of the %(title)s is available (%(languages)s):"
    assert translated(app, "es", new_version, title=TITLE, languages="español") in to_spanish.body_text
    assert "(español)" in to_spanish.body_text
    with app.app_context():
        notification = db.session.scalar(
            db.select(DocumentNotification).order_by(DocumentNotification.id.desc()).limit(1)
        )
        assert (notification.occasion, notification.languages) == ("new_versions", "es")


def test_nothing_is_sent_when_the_document_changed_since_the_preview(organizer_client, app, study_id, people):
    versions = current_versions(app, study_id)
    with app.app_context():
        factories.make_document_file(db.session.get(Document, study_id), "es")
        db.session.commit()
    response = organizer_client.post(notify_url(study_id), data={"versions": versions}, follow_redirects=True)
    assert "changed since the preview" in text_of(response)
    assert outbox(app) == []


def test_a_draft_document_cannot_be_announced(organizer_client, app, meeting_id, people):
    with app.app_context():
        draft = factories.make_document(db.session.get(Meeting, meeting_id), symbol="AVP/IM/03/5", published_at=None)
        factories.make_document_file(draft, "en")
        db.session.commit()
        draft_id = draft.id
    response = organizer_client.get(notify_url(draft_id), follow_redirects=True)
    assert "Publish the document AVP/IM/03/5 before notifying the participants." in text_of(response)
    response = send(organizer_client, app, draft_id)
    assert outbox(app) == []


def test_the_document_page_offers_the_notification_and_lists_those_sent(organizer_client, app, study_id, people):
    page = text_of(organizer_client.get(f"{MANAGE}/{study_id}"))
    assert "The participants have not been told about this document yet." in page
    assert f'href="{notify_url(study_id)}"' in page
    send(organizer_client, app, study_id)
    page = text_of(organizer_client.get(f"{MANAGE}/{study_id}"))
    assert "new document · 3 participants" in " ".join(page.split())
    assert "not been told" not in page


def test_notifying_hundreds_of_participants_takes_a_fixed_number_of_queries(
    organizer_client, app, meeting_id, study_id
):
    with app.app_context():
        meeting = db.session.get(Meeting, meeting_id)
        factories.make_delegations(meeting, 300)
        db.session.commit()
    statements = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        response = send(organizer_client, app, study_id)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert response.status_code == 302
    assert len(outbox(app)) == 300
    assert len(statements) < 30, statements


# Participants' choice --------------------------------------------------------------------------


def checkbox(page):
    return re.search(r'<input[^>]*name="document_emails"[^>]*>', page).group(0)


def test_participants_turn_document_emails_off_and_on_from_their_personal_page(
    client, organizer_client, app, study_id, people
):
    registration_id, token = people["english"]
    page = text_of(client.get(f"/r/{token}"))
    assert "Email me when new documents are published" in page
    assert "checked" in checkbox(page)

    response = client.post(f"/r/{token}/document-emails", data={})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/r/{token}#document-emails")
    page = text_of(client.get(response.headers["Location"]))
    assert "You will no longer receive emails about new documents." in page
    assert "checked" not in checkbox(page)
    assert registration(app, registration_id).document_emails_opt_out is True

    send(organizer_client, app, study_id)
    assert registration(app, registration_id).email not in {message.recipients for message in outbox(app)}

    client.post(f"/r/{token}/document-emails", data={"document_emails": "y"})
    assert registration(app, registration_id).document_emails_opt_out is False
    assert "checked" in checkbox(text_of(client.get(f"/r/{token}")))
    with app.app_context():
        factories.make_document_file(db.session.get(Document, study_id), "es")
        db.session.commit()
    send(organizer_client, app, study_id)
    assert registration(app, registration_id).email in {message.recipients for message in outbox(app)[2:]}
    with app.app_context():
        actions = db.session.scalars(
            db.select(AuditEntry.details).where(AuditEntry.action == "registration.document_emails")
        ).all()
        assert actions == [{"document_emails": False}, {"document_emails": True}]


def test_a_wrong_personal_link_cannot_change_the_choice(client, app, people):
    response = client.post("/r/not-a-token/document-emails", data={})
    assert response.status_code == 404
    assert all(registration(app, people[key][0]).document_emails_opt_out is False for key in ("english", "french"))


# New since the last visit ----------------------------------------------------------------------


def new_symbols(page):
    """The symbols of the documents marked new on the meeting page."""
    return re.findall(r'<li class="document-item document-new">\s*<p class="document-symbol">([^\n<]+)', page)


def test_documents_published_since_a_participants_last_visit_are_marked_new(client, app, meeting_id, study_id, people):
    registration_id, token = people["english"]
    client.get(f"/r/{token}")
    first = text_of(client.get(f"/meetings/{SLUG}"))
    assert "AVP/IM/03/4" in first
    assert new_symbols(first) == []  # the first visit shows nothing as new
    assert registration(app, registration_id).last_seen_documents_at is not None

    with app.app_context():
        meeting = db.session.get(Meeting, meeting_id)
        survey = factories.make_document(meeting, symbol="AVP/IM/03/2", title="Survey", published_at=utcnow())
        factories.make_document_file(survey, "en")
        db.session.commit()

    second = text_of(client.get(f"/meetings/{SLUG}"))
    assert new_symbols(second) == ["AVP/IM/03/2"]
    assert '<span class="badge badge-new">New<span class="visually-hidden"> since your last visit</span></span>' in (
        second
    )
    assert "1 document is new since your last visit." in second

    third = text_of(client.get(f"/meetings/{SLUG}"))
    assert new_symbols(third) == []


def test_a_language_version_uploaded_since_the_last_visit_marks_the_document_new(
    client, app, meeting_id, study_id, people
):
    client.get(f"/r/{people['french'][1]}")
    client.get(f"/meetings/{SLUG}")
    with app.app_context():
        factories.make_document_file(db.session.get(Document, study_id), "es")
        db.session.commit()
    assert new_symbols(text_of(client.get(f"/meetings/{SLUG}"))) == ["AVP/IM/03/4"]


def test_anonymous_visitors_and_unconfirmed_registrants_see_no_new_marks(client, app, meeting_id, study_id, people):
    with app.app_context():
        for key in ("pending", "english"):
            db.session.get(Registration, people[key][0]).last_seen_documents_at = utcnow() - timedelta(days=7)
        db.session.commit()
    assert new_symbols(text_of(client.get(f"/meetings/{SLUG}"))) == []
    client.get(f"/r/{people['pending'][1]}")
    assert new_symbols(text_of(client.get(f"/meetings/{SLUG}"))) == []
    client.get(f"/r/{people['english'][1]}")
    assert new_symbols(text_of(client.get(f"/meetings/{SLUG}"))) == ["AVP/IM/03/4"]


def test_a_visit_is_one_update_that_leaves_the_registration_unchanged(client, app, study_id, people):
    registration_id, token = people["english"]
    client.get(f"/r/{token}")
    before = registration(app, registration_id).updated_at
    statements = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        client.get(f"/meetings/{SLUG}")
    finally:
        event.remove(engine, "before_cursor_execute", count)
    updates = [statement for statement in statements if statement.lstrip().upper().startswith("UPDATE")]
    assert len(updates) == 1 and "last_seen_documents_at" in updates[0]
    after = registration(app, registration_id)
    assert after.updated_at == before
    assert after.last_seen_documents_at > before


# The list of participants as a document ------------------------------------------------------


def pdf_text(app, file):
    with app.app_context():
        content = path_for(file.storage_key).read_bytes()
    reader = PdfReader(io.BytesIO(content))
    return " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)


@pytest.fixture
def delegations(app, meeting_id):
    with app.app_context():
        meeting = db.session.get(Meeting, meeting_id)
        factories.make_delegations(meeting, 3)
        factories.make_delegations(meeting, 1, start=4, consent_public_list=False)
        db.session.commit()


def list_document(app, symbol="AVP/IM/03/INF/1 Prov."):
    with app.app_context():
        document = db.session.scalar(db.select(Document).where(Document.symbol == symbol))
        if document is None:
            return None
        files = db.session.scalars(
            db.select(DocumentFile).where(DocumentFile.document_id == document.id).order_by(DocumentFile.id)
        ).all()
        return document, files


def test_the_list_of_participants_is_published_as_a_document_with_a_pdf_per_language(
    organizer_client, app, delegations
):
    page = text_of(organizer_client.get(MANAGE))
    assert "Publish the list of participants as a document" in page
    response = organizer_client.post(
        f"{MANAGE}/list-of-participants", data={"languages": ["en", "fr"], "edition": "provisional"}
    )
    assert response.status_code == 302
    document, files = list_document(app)
    assert response.headers["Location"].endswith(f"{MANAGE}/{document.id}")
    assert "published as the document AVP/IM/03/INF/1 Prov. (English, French)" in text_of(
        organizer_client.get(response.headers["Location"])
    )
    assert (document.kind, document.access, document.is_published) == ("list_of_participants", "public", True)
    assert document.title == "Provisional list of participants"
    assert document.translations["fr"] == {"title": "Liste provisoire des participants"}
    assert sorted(file.language for file in files) == ["en", "fr"]
    for file in files:
        assert file.content_type == "application/pdf"
        text = pdf_text(app, file)
        assert "AVP/IM/03/INF/1 Prov." in text
        assert all(f"FAMILY{number}" in text for number in (1, 2, 3))
        assert "FAMILY4" not in text  # did not agree to appear in the public list
    french = pdf_text(app, next(file for file in files if file.language == "fr"))
    assert "Délégation 0001" in french

    public = organizer_client.get(f"/meetings/{SLUG}/documents/{document.id}/fr", buffered=True)
    assert public.status_code == 200 and public.mimetype == "application/pdf"
    with app.app_context():
        actions = db.session.scalars(db.select(AuditEntry.action).order_by(AuditEntry.id)).all()
        assert "document.publish_list_of_participants" in actions
        assert actions.count("document.upload_file") == 2


def test_publishing_the_list_again_keeps_the_earlier_version(organizer_client, app, meeting_id, delegations):
    organizer_client.post(f"{MANAGE}/list-of-participants", data={"languages": ["en"], "edition": "provisional"})
    _document, (first,) = list_document(app)
    with app.app_context():
        factories.make_delegations(db.session.get(Meeting, meeting_id), 1, start=5)
        db.session.commit()

    organizer_client.post(f"{MANAGE}/list-of-participants", data={"languages": ["en"], "edition": "provisional"})
    document, files = list_document(app)
    assert [file.id for file in files][0] == first.id
    assert len(files) == 2
    earlier, current = files
    assert earlier.replaced_at is not None and current.replaced_at is None
    assert "FAMILY5" not in pdf_text(app, earlier)
    assert "FAMILY5" in pdf_text(app, current)
    with app.app_context():
        assert path_for(earlier.storage_key).is_file()
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(Document)) == 1


def test_the_final_list_is_a_document_of_its_own(organizer_client, app, delegations):
    organizer_client.post(f"{MANAGE}/list-of-participants", data={"languages": ["es"], "edition": "final"})
    document, files = list_document(app, "AVP/IM/03/INF/1")
    assert document.title == "List of participants"  # in the meeting's first language, English
    assert [file.language for file in files] == ["es"]
    assert list_document(app) is None


def test_an_empty_list_is_not_published(organizer_client, app, meeting_id):
    response = organizer_client.post(
        f"{MANAGE}/list-of-participants", data={"languages": ["en"], "edition": "provisional"}, follow_redirects=True
    )
    assert "Nobody is in the public edition of the list yet" in text_of(response)
    assert list_document(app) is None


def test_the_list_needs_a_language(organizer_client, app, delegations):
    response = organizer_client.post(
        f"{MANAGE}/list-of-participants", data={"edition": "provisional"}, follow_redirects=True
    )
    assert "Choose at least one of the meeting's languages." in text_of(response)
    assert list_document(app) is None


def test_the_symbol_of_a_provisional_document_is_recognised():
    assert services.normalize_symbol("avp/im/03/inf/1  prov.") == "AVP/IM/03/INF/1 Prov."
