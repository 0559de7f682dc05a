"""Documents: organizers add studies by symbol and upload a file per language (checked by content and
size, earlier versions kept); the meeting page lists what is published; downloads check access
(participant-only documents need a confirmed participant's link), answer ETag, 304 and Range, are
counted once, can be handed to the front web server, and come as one streamed ZIP per language."""

import hashlib
import http.client
import io
import re
import time
import tracemalloc
import zipfile
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from meeting import create_app
from meeting.core.audit import AuditEntry
from meeting.core.models import utcnow
from meeting.core.storage import path_for
from meeting.documents import services
from meeting.documents.demo import sample_pdf
from meeting.documents.models import Document, DocumentFile
from meeting.extensions import db

from . import factories
from .conftest import make_config

SLUG = "avp-test"


def text_of(response):
    return response.get_data(as_text=True)


def a_pdf(text="Study on the transfer of rights and private international law"):
    return sample_pdf([(text, 12, False)])


def docx_bytes():
    """A minimal Word document: a ZIP whose first entries are the OOXML package parts."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        archive.writestr("_rels/.rels", '<?xml version="1.0"?><Relationships/>')
        archive.writestr("word/document.xml", '<?xml version="1.0"?><w:document/>')
    return buffer.getvalue()


def odt_bytes():
    """A minimal OpenDocument text: its `mimetype` entry first and uncompressed, as the format says."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.text", compress_type=zipfile.ZIP_STORED)
        archive.writestr("content.xml", '<?xml version="1.0"?><office:document-content/>')
    return buffer.getvalue()


def stored_files(app):
    root = Path(app.config["STORAGE_DIR"])
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []


def fetch(client, url, **options):
    """GET `url` and read the whole response (which closes the file it streams)."""
    return client.get(url, buffered=True, **options)


def upload(client, document_id, content, name, language="en"):
    return client.post(
        f"/manage/meetings/{SLUG}/documents/{document_id}/files",
        data={"language": language, "file": (io.BytesIO(content), name)},
        content_type="multipart/form-data",
    )


def download_url(document_id, language="en"):
    return f"/meetings/{SLUG}/documents/{document_id}/{language}"


def downloads_of(app, file_id):
    with app.app_context():
        return db.session.get(DocumentFile, file_id).downloads


@pytest.fixture
def meeting_id(app):
    with app.app_context():
        meeting = factories.make_meeting(slug=SLUG)
        db.session.commit()
        return meeting.id


@pytest.fixture
def draft_document_id(app, meeting_id):
    with app.app_context():
        meeting = db.session.get(factories.Meeting, meeting_id)
        document = factories.make_document(
            meeting, symbol="AVP/IM/03/5", title="Study on performers' remuneration", published_at=None
        )
        db.session.commit()
        return document.id


@pytest.fixture
def study(app, meeting_id):
    """A published public study with an English and a French PDF: (document id, {language: (file id, bytes)})."""
    with app.app_context():
        meeting = db.session.get(factories.Meeting, meeting_id)
        document = factories.make_document(meeting, symbol="AVP/IM/03/4 Rev.1")
        files = {}
        for language in ("en", "fr"):
            content = a_pdf(f"Study, {language} version") + b"%" + bytes(range(256)) * 4
            files[language] = (factories.make_document_file(document, language, content).id, content)
        db.session.commit()
        return document.id, files


@pytest.fixture
def restricted(app, meeting_id):
    """A published study for participants only, with an English PDF: (document id, file id)."""
    with app.app_context():
        meeting = db.session.get(factories.Meeting, meeting_id)
        document = factories.make_document(
            meeting,
            symbol="AVP/IM/03/3B",
            title="Study on audiovisual performers' contracts and remuneration (part B)",
            access="participants",
        )
        file = factories.make_document_file(document, "en", a_pdf("For participants"))
        db.session.commit()
        return document.id, file.id


def open_personal_link(app, client, meeting_id, status):
    """Register someone with `status` and open their personal link in `client`'s browser session."""
    with app.app_context():
        meeting = db.session.get(factories.Meeting, meeting_id)
        registration = factories.make_registration(meeting, status=status)
        token = registration.token()
        db.session.commit()
    assert client.get(f"/r/{token}").status_code == 200


# Symbols ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "symbol"),
    [
        ("AVP/IM/03/4", "AVP/IM/03/4"),
        ("avp/im/03/3a", "AVP/IM/03/3A"),
        (" AVP / IM/03/4  rev. 1", "AVP/IM/03/4 Rev.1"),
        ("AVP/IM/03/4 Rev.1 Corr.2", "AVP/IM/03/4 Rev.1 Corr.2"),
        ("AVP/IM/03/4 add.1", "AVP/IM/03/4 Add.1"),
        ("A/58/L.1/ADD.2", "A/58/L.1/Add.2"),
        ("SCCR/17/INF/1 Corr.", "SCCR/17/INF/1 Corr."),
    ],
)
def test_symbols_are_written_as_on_the_document_with_rev_add_and_corr_suffixes(typed, symbol):
    assert services.normalize_symbol(typed) == symbol


@pytest.mark.parametrize("typed", ["", "AVP//IM", "../etc/passwd", "AVP/IM/03/4 Amend.1", "AVP IM 03", "AVP/IM/03/4;"])
def test_what_is_not_a_document_symbol_is_recognised(typed):
    assert services.normalize_symbol(typed) is None


def test_the_download_is_named_after_the_symbol_and_the_language(app, study):
    document_id, files = study
    with app.app_context():
        document = db.session.get(Document, document_id)
        file = db.session.get(DocumentFile, files["fr"][0])
        assert services.download_name(document, file) == "AVP-IM-03-4-Rev.1_fr.pdf"


# Organizers: documents -------------------------------------------------------------------------


def test_organizer_pages_require_an_organizer_login(client, meeting_id, draft_document_id):
    for url in (
        f"/manage/meetings/{SLUG}/documents",
        f"/manage/meetings/{SLUG}/documents/new",
        f"/manage/meetings/{SLUG}/documents/{draft_document_id}",
    ):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    response = upload(client, draft_document_id, a_pdf(), "study.pdf")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_organizer_adds_a_document_by_symbol_and_it_starts_as_a_draft(app, organizer_client, meeting_id):
    form = organizer_client.get(f"/manage/meetings/{SLUG}/documents/new")
    assert 'value="AVP/IM/03/"' in text_of(form)
    response = organizer_client.post(
        f"/manage/meetings/{SLUG}/documents/new",
        data={
            "symbol": " avp/im/03/4  rev. 1",
            "title": "Study on the transfer of rights and private international law",
            "kind": "study",
            "access": "participants",
        },
    )
    assert response.status_code == 302
    with app.app_context():
        document = db.session.scalar(db.select(Document))
        assert (document.symbol, document.kind, document.access) == ("AVP/IM/03/4 Rev.1", "study", "participants")
        assert document.published_at is None and document.position == 1
        assert response.headers["Location"] == f"/manage/meetings/{SLUG}/documents/{document.id}"
        entry = db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "document.create"))
        assert entry.meeting_id == meeting_id and "AVP/IM/03/4 Rev.1" in entry.summary
    page = text_of(organizer_client.get(f"/manage/meetings/{SLUG}/documents"))
    assert "AVP/IM/03/4 Rev.1" in page and "Draft" in page and "No file yet" in page


def test_a_symbol_that_is_malformed_or_already_used_is_refused_next_to_the_field(app, organizer_client, study):
    taken = organizer_client.post(
        f"/manage/meetings/{SLUG}/documents/new",
        data={"symbol": "avp/im/03/4 rev.1", "title": "Another study", "kind": "study", "access": "public"},
    )
    assert taken.status_code == 422
    assert "Another document of this meeting already has the symbol AVP/IM/03/4 Rev.1." in text_of(taken)
    malformed = organizer_client.post(
        f"/manage/meetings/{SLUG}/documents/new",
        data={"symbol": "study number four", "title": "Another study", "kind": "study", "access": "public"},
    )
    assert malformed.status_code == 422
    assert "Give the document&#39;s symbol, such as AVP/IM/03/4" in text_of(malformed)
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Document.id))) == 1


def test_organizer_edits_a_document_and_the_change_is_audited(app, organizer_client, study):
    document_id, _files = study
    response = organizer_client.post(
        f"/manage/meetings/{SLUG}/documents/{document_id}",
        data={"symbol": "AVP/IM/03/4 Rev.2", "title": "Transfer of rights", "kind": "study", "access": "participants"},
    )
    assert response.status_code == 302
    with app.app_context():
        document = db.session.get(Document, document_id)
        assert (document.symbol, document.title, document.access) == (
            "AVP/IM/03/4 Rev.2",
            "Transfer of rights",
            "participants",
        )
        entry = db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "document.update"))
        assert entry.details["changes"]["symbol"] == ["AVP/IM/03/4 Rev.1", "AVP/IM/03/4 Rev.2"]


def test_documents_move_up_and_down_the_list(app, organizer_client, meeting_id):
    with app.app_context():
        meeting = db.session.get(factories.Meeting, meeting_id)
        ids = [factories.make_document(meeting, symbol=f"AVP/IM/03/{number}").id for number in (1, 2, 3)]
        db.session.commit()
    assert organizer_client.post(f"/manage/meetings/{SLUG}/documents/{ids[2]}/move/up").status_code == 302
    organizer_client.post(f"/manage/meetings/{SLUG}/documents/{ids[0]}/move/down")
    organizer_client.post(f"/manage/meetings/{SLUG}/documents/{ids[2]}/move/up")  # now first: nothing to do
    with app.app_context():
        meeting = db.session.get(factories.Meeting, meeting_id)
        assert [document.symbol for document in services.published_documents(meeting)] == [
            "AVP/IM/03/3",
            "AVP/IM/03/1",
            "AVP/IM/03/2",
        ]
    page = text_of(organizer_client.get(f"/meetings/{SLUG}"))
    assert page.index("AVP/IM/03/3") < page.index("AVP/IM/03/1") < page.index("AVP/IM/03/2")


def test_publishing_needs_a_file_and_unpublishing_takes_the_document_off_the_meeting_page(
    app, organizer_client, draft_document_id
):
    url = f"/manage/meetings/{SLUG}/documents/{draft_document_id}"
    refused = organizer_client.post(f"{url}/publish", follow_redirects=True)
    assert "Upload at least one language version of AVP/IM/03/5 before publishing it." in text_of(refused)
    assert upload(organizer_client, draft_document_id, a_pdf(), "study.pdf").status_code == 302
    assert organizer_client.post(f"{url}/publish").status_code == 302
    with app.app_context():
        assert db.session.get(Document, draft_document_id).published_at is not None
    public = app.test_client()
    assert "Study on performers&#39; remuneration" in text_of(public.get(f"/meetings/{SLUG}"))
    assert fetch(public, download_url(draft_document_id)).status_code == 200

    organizer_client.post(f"{url}/unpublish", data={"back": "document"})
    with app.app_context():
        assert db.session.get(Document, draft_document_id).published_at is None
        actions = db.session.scalars(db.select(AuditEntry.action).order_by(AuditEntry.id)).all()
        assert actions[-2:] == ["document.publish", "document.unpublish"]
    assert "Study on performers&#39; remuneration" not in text_of(public.get(f"/meetings/{SLUG}"))
    assert fetch(public, download_url(draft_document_id)).status_code == 404


def test_the_documents_of_an_archived_meeting_cannot_be_changed(app, organizer_client, study):
    document_id, _files = study
    with app.app_context():
        db.session.get(factories.Meeting, db.session.get(Document, document_id).meeting_id).status = "archived"
        db.session.commit()
    response = upload(organizer_client, document_id, a_pdf("new"), "new.pdf")
    assert response.status_code == 422
    assert "The documents of an archived meeting cannot be changed." in text_of(response)
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(DocumentFile.id))) == 2


# Organizers: uploads ---------------------------------------------------------------------------


def test_a_real_pdf_is_kept_with_its_unicode_name_size_and_sha256(app, organizer_client, draft_document_id):
    content = a_pdf()
    response = upload(
        organizer_client, draft_document_id, content, "Étude – transfert des droits (version française).pdf", "fr"
    )
    assert response.status_code == 302
    with app.app_context():
        file = db.session.scalar(db.select(DocumentFile))
        assert file.original_name == "Étude – transfert des droits (version française).pdf"
        assert (file.language, file.content_type, file.size) == ("fr", "application/pdf", len(content))
        assert file.sha256 == hashlib.sha256(content).hexdigest()
        assert path_for(file.storage_key).read_bytes() == content
        assert file.uploaded_by.email == "secretariat@example.org"
        entry = db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "document.upload_file"))
        assert entry.details["sha256"] == file.sha256
    page = text_of(organizer_client.get(f"/manage/meetings/{SLUG}/documents/{draft_document_id}"))
    assert "Étude – transfert des droits (version française).pdf" in page


def test_word_and_opendocument_files_are_accepted_by_their_content(app, organizer_client, draft_document_id):
    assert upload(organizer_client, draft_document_id, docx_bytes(), "study.docx", "en").status_code == 302
    assert upload(organizer_client, draft_document_id, odt_bytes(), "étude.odt", "fr").status_code == 302
    with app.app_context():
        types = dict(db.session.execute(db.select(DocumentFile.language, DocumentFile.content_type)).all())
        assert types == {
            "en": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "fr": "application/vnd.oasis.opendocument.text",
        }


def test_a_file_whose_content_lies_about_its_type_is_refused_and_nothing_is_stored(
    app, organizer_client, draft_document_id
):
    response = upload(organizer_client, draft_document_id, b"Just some text, not a PDF at all.\n" * 20, "study.pdf")
    assert response.status_code == 422
    assert "The content of “study.pdf” is not one of the accepted kinds of file" in text_of(response)
    spreadsheet = upload(organizer_client, draft_document_id, b"PK\x03\x04" + b"\x00" * 200, "study.zip")
    assert spreadsheet.status_code == 422 and "This kind of file is not accepted" in text_of(spreadsheet)
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(DocumentFile.id))) == 0
    assert stored_files(app) == []


def test_a_file_over_the_document_limit_is_refused_with_the_limit_and_nothing_is_stored(
    app, organizer_client, draft_document_id
):
    app.config["DOCUMENT_MAX_BYTES"] = 20 * 1024
    response = upload(organizer_client, draft_document_id, a_pdf() + b"%" + b"x" * 30 * 1024, "big.pdf")
    assert response.status_code == 422
    assert "The file is larger than 20 KB." in text_of(response)
    assert "PDF, Word, Word 97–2003, OpenDocument, at most 20 KB." in text_of(response)
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(DocumentFile.id))) == 0
    assert stored_files(app) == []


def test_a_request_over_the_request_limit_gets_the_file_too_large_page(app, organizer_client, draft_document_id):
    app.config["MAX_CONTENT_LENGTH"] = 50 * 1024
    response = upload(organizer_client, draft_document_id, a_pdf() + b"%" + b"x" * 100 * 1024, "big.pdf")
    assert response.status_code == 413
    assert "File too large" in text_of(response)
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(DocumentFile.id))) == 0
    assert stored_files(app) == []


def test_a_large_upload_over_http_gets_the_413_page_and_not_a_reset_connection(
    app, live_server, organizer, draft_document_id
):
    app.config["MAX_CONTENT_LENGTH"] = 256 * 1024
    address = urlsplit(live_server)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
    connection.request(
        "POST",
        "/login",
        body=f"email=secretariat%40example.org&password={factories.PASSWORD.replace(' ', '+')}",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    login = connection.getresponse()
    login.read()
    assert login.status == 302
    cookie = login.getheader("Set-Cookie").split(";", 1)[0]
    connection.close()

    boundary = "----meeting-test-boundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="language"\r\n\r\nen\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.pdf"\r\n'
            "Content-Type: application/pdf\r\n\r\n"
        ).encode()
        + a_pdf()
        + b"%"
        + b"x" * (8 * 1024 * 1024)
        + f"\r\n--{boundary}--\r\n".encode()
    )
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
    connection.request(
        "POST",
        f"/manage/meetings/{SLUG}/documents/{draft_document_id}/files",
        body=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}", "Cookie": cookie},
    )
    response = connection.getresponse()
    page = response.read().decode()
    connection.close()
    assert response.status == 413
    assert "File too large" in page
    assert stored_files(app) == []


def test_replacing_a_language_version_keeps_the_earlier_one_for_organizers(app, organizer_client, draft_document_id):
    first, second = a_pdf("first version"), a_pdf("second version")
    upload(organizer_client, draft_document_id, first, "Étude v1.pdf")
    upload(organizer_client, draft_document_id, second, "Étude v2.pdf")
    with app.app_context():
        files = db.session.scalars(db.select(DocumentFile).order_by(DocumentFile.id)).all()
        assert [file.original_name for file in files] == ["Étude v1.pdf", "Étude v2.pdf"]
        assert files[0].replaced_at is not None and files[1].replaced_at is None
        assert path_for(files[0].storage_key).read_bytes() == first
        old_id = files[0].id
        entry = db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "document.replace_file"))
        assert entry.details["replaces_file_id"] == old_id
    organizer_client.post(f"/manage/meetings/{SLUG}/documents/{draft_document_id}/publish")

    assert fetch(app.test_client(), download_url(draft_document_id)).data == second
    page = text_of(organizer_client.get(f"/manage/meetings/{SLUG}/documents/{draft_document_id}"))
    assert "Étude v1.pdf" in page and "Étude v2.pdf" in page and "Replaced" in page and "Current" in page
    earlier = fetch(organizer_client, f"/manage/meetings/{SLUG}/documents/{draft_document_id}/files/{old_id}")
    assert earlier.status_code == 200 and earlier.data == first
    assert (
        earlier.headers["Content-Disposition"]
        == "attachment; filename=\"Etude v1.pdf\"; filename*=UTF-8''%C3%89tude%20v1.pdf"
    )
    assert (
        fetch(app.test_client(), f"/manage/meetings/{SLUG}/documents/{draft_document_id}/files/{old_id}").status_code
        == 302
    )


def test_uploading_the_file_that_is_already_current_changes_nothing(app, organizer_client, draft_document_id):
    content = a_pdf()
    upload(organizer_client, draft_document_id, content, "study.pdf")
    again = upload(organizer_client, draft_document_id, content, "study (copy).pdf")
    assert again.status_code == 422
    assert "This file is the same as the current English version of AVP/IM/03/5; nothing was changed." in text_of(again)
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(DocumentFile.id))) == 1
    assert len(stored_files(app)) == 1


def test_a_language_the_meeting_does_not_offer_is_refused(app, organizer_client, draft_document_id):
    response = upload(organizer_client, draft_document_id, a_pdf(), "study.pdf", language="de")
    assert response.status_code == 422 and "Choose a language from the list." in text_of(response)
    assert stored_files(app) == []


# The meeting page ------------------------------------------------------------------------------


def test_the_meeting_page_lists_published_documents_with_their_languages_and_links(
    app, client, study, restricted, draft_document_id
):
    document_id, files = study
    page = text_of(client.get(f"/meetings/{SLUG}"))
    assert "Documents" in page
    assert "AVP/IM/03/4 Rev.1" in page and "Study on the transfer of rights and private international law" in page
    assert f'href="/meetings/{SLUG}/documents/{document_id}/en"' in page
    assert f'href="/meetings/{SLUG}/documents/{document_id}/fr"' in page
    assert ">English</span>" in page and ">Français</span>" in page
    size = len(files["en"][1])
    assert f"PDF, {size / 1024:.3g} KB" in page
    # The participant-only study is listed and marked; the draft is not listed.
    assert "AVP/IM/03/3B" in page and "Participants only" in page
    assert "open the personal link from your registration email" in page
    assert "AVP/IM/03/5" not in page and "Study on performers" not in page
    assert f'href="/meetings/{SLUG}/documents/bundle/en.zip"' in page and "All documents in English (ZIP)" in page
    assert f'href="/meetings/{SLUG}/documents/bundle/fr.zip"' in page


def test_a_confirmed_participant_is_told_they_can_download_everything(app, client, meeting_id, restricted):
    open_personal_link(app, client, meeting_id, "confirmed")
    page = text_of(client.get(f"/meetings/{SLUG}"))
    assert "As a confirmed participant, you can download every document" in page


def test_the_meeting_page_queries_do_not_grow_with_the_documents(app, client, meeting_id):
    def add_documents(first, last):
        with app.app_context():
            meeting = db.session.get(factories.Meeting, meeting_id)
            for number in range(first, last):
                document = factories.make_document(meeting, symbol=f"AVP/IM/03/{number}", title=f"Study {number}")
                for language in ("en", "fr", "es"):
                    factories.make_document_file(document, language)
            db.session.commit()

    pages = []
    add_documents(1, 3)
    few = _statements(app, lambda: pages.append(text_of(client.get(f"/meetings/{SLUG}"))))
    add_documents(3, 15)
    many = _statements(app, lambda: pages.append(text_of(client.get(f"/meetings/{SLUG}"))))
    assert "AVP/IM/03/14" in pages[-1]
    assert len(many) == len(few)


class Sent:
    """The SQL statements sent while recording, each with the isolation level of its connection,
    and the transactions committed."""

    def __init__(self, app):
        with app.app_context():
            self.engine = db.engine
        self.statements, self.commits = [], 0

    def _statement(self, conn, cursor, statement, *args):
        self.statements.append((" ".join(statement.split()), conn.get_execution_options().get("isolation_level")))

    def _commit(self, conn):
        self.commits += 1

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._statement)
        event.listen(self.engine, "commit", self._commit)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._statement)
        event.remove(self.engine, "commit", self._commit)

    @property
    def kinds(self) -> list[str]:
        return [statement.split(" ", 1)[0] for statement, _level in self.statements]


def _statements(app, call) -> list[str]:
    """The SQL statements sent while `call()` runs."""
    with Sent(app) as sent:
        call()
    return [statement for statement, _level in sent.statements]


# Downloads -------------------------------------------------------------------------------------


def test_a_download_is_an_attachment_named_after_the_symbol_with_etag_and_last_modified(app, client, study):
    document_id, files = study
    file_id, content = files["fr"]
    response = fetch(client, download_url(document_id, "fr"))
    assert response.status_code == 200
    assert response.data == content
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == "attachment; filename=AVP-IM-03-4-Rev.1_fr.pdf"
    assert response.headers["ETag"] == f'"{hashlib.sha256(content).hexdigest()}"'
    assert response.headers["Last-Modified"]
    assert response.headers["Accept-Ranges"] == "bytes"
    assert "no-cache" in response.headers["Cache-Control"]


def test_a_matching_if_none_match_gets_304_without_the_file(app, client, study):
    document_id, files = study
    file_id, content = files["en"]
    etag = fetch(client, download_url(document_id)).headers["ETag"]
    response = fetch(client, download_url(document_id), headers={"If-None-Match": etag})
    assert response.status_code == 304 and response.data == b""
    changed = fetch(client, download_url(document_id), headers={"If-None-Match": '"something-else"'})
    assert changed.status_code == 200 and changed.data == content


def test_a_range_gets_206_with_exactly_those_bytes(app, client, study):
    document_id, files = study
    _file_id, content = files["en"]
    response = fetch(client, download_url(document_id), headers={"Range": "bytes=100-199"})
    assert response.status_code == 206
    assert response.data == content[100:200]
    assert response.headers["Content-Range"] == f"bytes 100-199/{len(content)}"
    tail = fetch(client, download_url(document_id), headers={"Range": "bytes=-16"})
    assert tail.status_code == 206 and tail.data == content[-16:]
    outside = fetch(client, download_url(document_id), headers={"Range": f"bytes={len(content) + 10}-"})
    assert outside.status_code == 416


def test_each_complete_download_is_counted_once_by_a_single_update(app, organizer_client, study):
    document_id, files = study
    file_id, _content = files["en"]
    public = app.test_client()

    statements = _statements(app, lambda: fetch(public, download_url(document_id)))
    updates = [statement for statement in statements if statement.lstrip().upper().startswith("UPDATE")]
    assert len(updates) == 1
    assert re.search(r"SET downloads\s*=\s*\(?document_files\.downloads \+", updates[0])
    assert downloads_of(app, file_id) == 1

    etag = fetch(public, download_url(document_id)).headers["ETag"]
    assert downloads_of(app, file_id) == 2
    fetch(public, download_url(document_id), headers={"If-None-Match": etag})  # a revalidation
    fetch(public, download_url(document_id), headers={"Range": "bytes=10-20"})  # a part
    fetch(organizer_client, download_url(document_id))  # the Secretariat checking its upload
    assert downloads_of(app, file_id) == 2
    page = text_of(organizer_client.get(f"/manage/meetings/{SLUG}/documents"))
    assert "2 downloads" in page and "0 downloads" in page


def test_a_draft_document_is_404_to_the_public_and_downloadable_by_organizers(
    app, client, organizer_client, draft_document_id
):
    with app.app_context():
        factories.make_document_file(db.session.get(Document, draft_document_id), "en", a_pdf())
        db.session.commit()
    assert fetch(app.test_client(), download_url(draft_document_id)).status_code == 404
    assert fetch(organizer_client, download_url(draft_document_id)).status_code == 200


def test_documents_of_a_meeting_that_is_not_public_are_404_to_the_public(app, study):
    document_id, _files = study
    with app.app_context():
        db.session.scalar(db.select(factories.Meeting)).status = "draft"
        db.session.commit()
    public = app.test_client()
    assert fetch(public, download_url(document_id)).status_code == 404
    assert fetch(public, f"/meetings/{SLUG}/documents/bundle/en.zip").status_code == 404


def test_a_language_without_a_version_is_404(client, study):
    document_id, _files = study
    assert fetch(client, download_url(document_id, "es")).status_code == 404


@pytest.mark.parametrize(
    "url",
    [
        "/meetings/..%2F..%2Fetc/documents/1/en",
        "/meetings/avp-test/documents/1/..%2F..%2F..%2Fetc%2Fpasswd",
        "/meetings/avp-test/documents/1/../../../etc/passwd",
        "/meetings/avp-test/documents/..%2F1/en",
        "/meetings/avp-test/documents/1%2F..%2F2/en",
        "/meetings/avp-test/documents/-1/en",
        "/meetings/avp-test/documents/1/en%00.pdf",
        "/meetings/avp-test/documents/bundle/..%2F..%2Fetc%2Fpasswd.zip",
        "/meetings/avp-test/documents/bundle/..zip",
        "/manage/meetings/avp-test/documents/1/files/..%2F..%2Fetc",
    ],
)
def test_path_traversal_attempts_find_nothing(organizer_client, study, url):
    response = organizer_client.get(url)
    assert response.status_code == 404
    assert b"root:" not in response.data


# Participant-only documents --------------------------------------------------------------------


def test_a_participant_only_document_refuses_anonymous_visitors_with_how_to_get_access(client, restricted):
    document_id, _file_id = restricted
    response = fetch(client, download_url(document_id))
    assert response.status_code == 403
    page = text_of(response)
    assert "For participants only" in page
    assert "Open the personal link from your registration email in this browser" in page
    assert f'href="/meetings/{SLUG}/register#access"' in page
    assert response.headers["Cache-Control"] == "private, no-store"


def test_a_confirmed_participant_downloads_it_through_their_personal_link_session(app, client, meeting_id, restricted):
    document_id, file_id = restricted
    open_personal_link(app, client, meeting_id, "confirmed")
    response = fetch(client, download_url(document_id))
    assert response.status_code == 200 and response.data.startswith(b"%PDF")
    assert "private" in response.headers["Cache-Control"]
    assert downloads_of(app, file_id) == 1


@pytest.mark.parametrize("status", ["pending", "waitlisted", "rejected", "cancelled"])
def test_registrants_who_are_not_confirmed_are_refused(app, client, meeting_id, restricted, status):
    document_id, _file_id = restricted
    open_personal_link(app, client, meeting_id, status)
    response = fetch(client, download_url(document_id))
    assert response.status_code == 403
    assert "once the Secretariat has confirmed it" in text_of(response)


def test_a_participant_of_another_meeting_is_refused(app, client, restricted):
    document_id, _file_id = restricted
    with app.app_context():
        other = factories.make_meeting(slug="other-meeting")
        db.session.commit()
        other_id = other.id
    open_personal_link(app, client, other_id, "confirmed")
    assert fetch(client, download_url(document_id)).status_code == 403


# The front web server --------------------------------------------------------------------------


def test_with_x_accel_redirect_the_front_server_sends_the_bytes(app, client, study, restricted):
    app.config["X_ACCEL_REDIRECT"] = "/protected/"
    document_id, files = study
    file_id, _content = files["fr"]
    response = fetch(client, download_url(document_id, "fr"))
    with app.app_context():
        key = db.session.get(DocumentFile, file_id).storage_key
    assert response.status_code == 200
    assert response.headers["X-Accel-Redirect"] == f"/protected/{key}"
    assert response.data == b""
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == "attachment; filename=AVP-IM-03-4-Rev.1_fr.pdf"
    assert downloads_of(app, file_id) == 1
    fetch(client, download_url(document_id, "fr"), headers={"Range": "bytes=0-99"})
    fetch(client, download_url(document_id, "fr"), headers={"If-None-Match": '"the-front-server-etag"'})
    assert downloads_of(app, file_id) == 1
    # The access check comes first: no header for a visitor who may not have the file.
    refused = fetch(client, download_url(restricted[0]))
    assert refused.status_code == 403 and "X-Accel-Redirect" not in refused.headers


def test_a_document_limit_above_the_request_limit_raises_the_request_limit(database_url, tmp_path):
    app = create_app(
        make_config(database_url, tmp_path, DOCUMENT_MAX_BYTES=100 * 1024 * 1024, MAX_CONTENT_LENGTH=60 * 1024 * 1024)
    )
    assert app.config["MAX_CONTENT_LENGTH"] > 100 * 1024 * 1024
    default = create_app(make_config(database_url, tmp_path))
    assert default.config["DOCUMENT_MAX_BYTES"] == 50 * 1024 * 1024
    assert default.config["MAX_CONTENT_LENGTH"] > default.config["DOCUMENT_MAX_BYTES"]


# What a download costs ------------------------------------------------------------------------
#
# A study announced to the participants is asked for by many at once; every statement and every
# transaction of a download delays the next one (see the documents services' docstring).

MODES = {"x_accel": "/protected/", "send_file": None}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("visitor", ["anonymous", "confirmed participant"])
def test_a_download_costs_one_select_and_its_count_one_update_each_autocommitted(
    app, client, meeting_id, study, mode, visitor
):
    app.config["X_ACCEL_REDIRECT"] = MODES[mode]
    document_id, files = study
    if visitor == "confirmed participant":  # the registration is looked up for restricted documents only
        open_personal_link(app, client, meeting_id, "confirmed")
    with Sent(app) as sent:
        response = fetch(client, download_url(document_id))
    assert response.status_code == 200
    assert sent.kinds == ["SELECT", "UPDATE"]
    assert re.search(r"FROM meetings JOIN documents .* LEFT OUTER JOIN document_files", sent.statements[0][0])
    # Each its own transaction, with no BEGIN and COMMIT around it.
    assert [level for _statement, level in sent.statements] == ["AUTOCOMMIT", "AUTOCOMMIT"]
    assert sent.commits == 0
    assert downloads_of(app, files["en"][0]) == 1


def test_a_participant_only_download_adds_the_meeting_and_the_registration(app, client, meeting_id, restricted):
    document_id, file_id = restricted
    open_personal_link(app, client, meeting_id, "confirmed")
    with Sent(app) as sent:
        assert fetch(client, download_url(document_id)).status_code == 200
    assert sent.kinds == ["SELECT", "SELECT", "SELECT", "UPDATE"]
    assert "FROM registrations" in sent.statements[2][0]
    assert downloads_of(app, file_id) == 1


@pytest.mark.parametrize("mode", MODES)
def test_downloads_are_counted_in_memory_and_written_together_within_the_delay(app, client, study, mode):
    app.config["X_ACCEL_REDIRECT"] = MODES[mode]
    app.config["DOWNLOAD_COUNT_SECONDS"] = 60  # the timer will not fire during the test
    document_id, files = study
    english, french = files["en"][0], files["fr"][0]
    with Sent(app) as sent:
        for language in ("en", "en", "fr", "en"):
            assert fetch(client, download_url(document_id, language)).status_code == 200
    # The downloads only read; nothing is written yet.
    assert sent.kinds == ["SELECT"] * 4
    assert (downloads_of(app, english), downloads_of(app, french)) == (0, 0)
    counter = services.download_counter(app)
    assert counter.timer is not None and counter.timer.daemon

    with Sent(app) as sent:
        counter.write()  # what the timer does when the delay is over
    assert sent.kinds == ["UPDATE"]  # one statement (executed for each file) for all the downloads
    assert (downloads_of(app, english), downloads_of(app, french)) == (3, 1)
    assert counter.timer is None and not counter.pending


def test_a_worker_reuses_what_a_download_read_for_a_second_then_reads_again(app, client, study, monkeypatch):
    app.config["DOWNLOAD_LOOKUP_SECONDS"] = 1.0
    clock = [1000.0]
    monkeypatch.setattr(services.time, "monotonic", lambda: clock[0])
    document_id, files = study
    with Sent(app) as sent:
        assert fetch(client, download_url(document_id)).status_code == 200
        assert fetch(client, download_url(document_id)).status_code == 200
        assert fetch(client, download_url(document_id, "fr")).status_code == 200
    # The second download of the English file read nothing; the French one is another file.
    assert [kind for kind in sent.kinds if kind == "SELECT"] == ["SELECT", "SELECT"]

    with app.app_context():
        services.unpublish_document(db.session.get(Document, document_id))
        db.session.commit()
    clock[0] += 0.5
    assert fetch(client, download_url(document_id)).status_code == 200  # within the second
    clock[0] += 0.6
    assert fetch(client, download_url(document_id)).status_code == 404  # read again: unpublished


def test_who_may_have_a_reused_participants_only_file_is_decided_at_every_download(app, client, meeting_id, restricted):
    app.config["DOWNLOAD_LOOKUP_SECONDS"] = 60.0
    document_id, _file_id = restricted
    participant = app.test_client()
    open_personal_link(app, participant, meeting_id, "confirmed")

    assert fetch(participant, download_url(document_id)).status_code == 200
    assert fetch(client, download_url(document_id)).status_code == 403  # the same file, another visitor
    assert fetch(participant, download_url(document_id)).status_code == 200


def test_the_timer_writes_the_counts_once_the_delay_is_over(app, client, study):
    app.config["DOWNLOAD_COUNT_SECONDS"] = 0.05
    document_id, files = study
    file_id = files["en"][0]
    fetch(client, download_url(document_id))
    fetch(client, download_url(document_id))
    deadline = time.monotonic() + 10
    while downloads_of(app, file_id) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert downloads_of(app, file_id) == 2
    assert services.download_counter(app).timer is None


def test_a_file_the_app_sends_itself_is_counted_once_however_the_response_is_read(app, client, study):
    document_id, files = study
    file_id, content = files["en"]
    response = client.get(download_url(document_id))
    assert downloads_of(app, file_id) == 1
    assert response.data == content
    response.close()
    assert downloads_of(app, file_id) == 1
    assert fetch(client, download_url(document_id)).data == content
    assert downloads_of(app, file_id) == 2


@pytest.mark.parametrize("mode", MODES)
def test_a_head_a_part_or_a_revalidation_is_no_new_download_and_writes_nothing(app, client, study, mode):
    app.config["X_ACCEL_REDIRECT"] = MODES[mode]
    document_id, files = study
    file_id, content = files["en"]
    etag = f'"{hashlib.sha256(content).hexdigest()}"'
    # Behind the front server, the app answers 200 and the front server the Range or the revalidation.
    part, revalidated = (200, 200) if mode == "x_accel" else (206, 304)
    with Sent(app) as sent:
        assert client.open(download_url(document_id), method="HEAD", buffered=True).status_code == 200
        assert fetch(client, download_url(document_id), headers={"Range": "bytes=0-99"}).status_code == part
        assert fetch(client, download_url(document_id), headers={"If-None-Match": etag}).status_code == revalidated
    assert sent.kinds == ["SELECT"] * 3
    assert downloads_of(app, file_id) == 0


@pytest.mark.parametrize("mode", MODES)
def test_a_failure_to_count_never_costs_the_visitor_the_file(app, client, study, mode, monkeypatch, caplog):
    app.config["X_ACCEL_REDIRECT"] = MODES[mode]
    document_id, files = study
    file_id, content = files["en"]

    def busy_database(counts):
        raise OperationalError("UPDATE document_files ...", {}, Exception("canceling statement due to lock timeout"))

    monkeypatch.setattr(services, "_write_counts", busy_database)
    response = fetch(client, download_url(document_id))
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == "attachment; filename=AVP-IM-03-4-Rev.1_en.pdf"
    if mode == "x_accel":
        assert response.headers["X-Accel-Redirect"].startswith("/protected/")
    else:
        assert response.data == content
    assert f"downloads not counted for document files {{{file_id}: 1}}" in caplog.text
    assert downloads_of(app, file_id) == 0


# Bundles ---------------------------------------------------------------------------------------


def test_a_bundle_is_a_streamed_zip_of_the_documents_the_visitor_may_download(
    app, client, meeting_id, study, restricted, draft_document_id
):
    document_id, files = study
    with app.app_context():
        meeting = db.session.get(factories.Meeting, meeting_id)
        agenda = factories.make_document(meeting, symbol="AVP/IM/03/1", title="Agenda", kind="agenda")
        agenda_pdf = a_pdf("Agenda")
        factories.make_document_file(agenda, "en", agenda_pdf)
        factories.make_document_file(db.session.get(Document, draft_document_id), "en", a_pdf("draft"))
        db.session.commit()

    response = client.get(f"/meetings/{SLUG}/documents/bundle/en.zip")
    assert response.status_code == 200 and response.is_streamed
    assert response.mimetype == "application/zip"
    assert response.headers["Content-Disposition"] == "attachment; filename=AVP-IM-03_en.zip"
    data = response.data
    assert int(response.headers["Content-Length"]) == len(data)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        assert archive.namelist() == ["AVP-IM-03-4-Rev.1_en.pdf", "AVP-IM-03-1_en.pdf"]
        assert archive.read("AVP-IM-03-4-Rev.1_en.pdf") == files["en"][1]
        assert archive.read("AVP-IM-03-1_en.pdf") == agenda_pdf
    assert downloads_of(app, files["en"][0]) == 1

    open_personal_link(app, client, meeting_id, "confirmed")
    with zipfile.ZipFile(io.BytesIO(fetch(client, f"/meetings/{SLUG}/documents/bundle/en.zip").data)) as archive:
        assert archive.namelist() == ["AVP-IM-03-4-Rev.1_en.pdf", "AVP-IM-03-3B_en.pdf", "AVP-IM-03-1_en.pdf"]
    with zipfile.ZipFile(io.BytesIO(fetch(client, f"/meetings/{SLUG}/documents/bundle/fr.zip").data)) as archive:
        assert archive.namelist() == ["AVP-IM-03-4-Rev.1_fr.pdf"]


def test_a_bundle_with_nothing_to_give_is_404_or_403_when_all_is_for_participants(app, client, restricted):
    assert fetch(client, f"/meetings/{SLUG}/documents/bundle/fr.zip").status_code == 404
    refused = fetch(client, f"/meetings/{SLUG}/documents/bundle/en.zip")
    assert refused.status_code == 403 and "For participants only" in text_of(refused)


# Memory ----------------------------------------------------------------------------------------


def _sparse_document(app, meeting_id, size, symbol):
    """A published document whose English file is `size` bytes of zeros (sparse on disk)."""
    with app.app_context():
        meeting = db.session.get(factories.Meeting, meeting_id)
        document = factories.make_document(meeting, symbol=symbol)
        file = factories.make_document_file(document, "en", b"%PDF-1.4\n")
        with open(path_for(file.storage_key), "r+b") as handle:
            handle.truncate(size)
        file.size = size
        db.session.commit()
        return document.id


def _peak_while_streaming(response) -> tuple[int, int]:
    """Read a streamed response chunk by chunk; return (bytes received, peak traced memory)."""
    received = 0
    tracemalloc.start()
    try:
        for chunk in response.response:
            received += len(chunk)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        response.close()
    return received, peak


def test_serving_a_200_mb_file_does_not_load_it_in_memory(app, client, meeting_id):
    size = 200 * 1024 * 1024
    document_id = _sparse_document(app, meeting_id, size, "AVP/IM/03/9")
    response = client.get(download_url(document_id), buffered=False)
    assert response.status_code == 200 and response.is_streamed
    received, peak = _peak_while_streaming(response)
    assert received == size
    assert peak < 4 * 1024 * 1024


def test_a_bundle_of_a_large_file_is_streamed_without_loading_it_in_memory(app, client, meeting_id):
    size = 64 * 1024 * 1024
    _sparse_document(app, meeting_id, size, "AVP/IM/03/9")
    response = client.get(f"/meetings/{SLUG}/documents/bundle/en.zip", buffered=False)
    assert response.status_code == 200
    received, peak = _peak_while_streaming(response)
    assert received == int(response.headers["Content-Length"]) > size
    assert peak < 4 * 1024 * 1024


# The demo --------------------------------------------------------------------------------------


def test_the_demo_publishes_the_agenda_and_four_studies_in_english_and_french(app, runner, client):
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        documents = db.session.scalars(db.select(Document).order_by(Document.position)).all()
        assert [document.symbol for document in documents] == [
            "AVP/IM/03/1",
            "AVP/IM/03/2",
            "AVP/IM/03/3A",
            "AVP/IM/03/3B",
            "AVP/IM/03/4",
        ]
        assert all(document.is_published for document in documents)
        assert [document.symbol for document in documents if document.is_restricted] == ["AVP/IM/03/3B"]
        for document in documents:
            assert sorted(file.language for file in document.current_files) == ["en", "fr"]
            for file in document.current_files:
                content = path_for(file.storage_key).read_bytes()
                assert content.startswith(b"%PDF-1.4") and content.rstrip().endswith(b"%%EOF")
                assert file.content_type == "application/pdf"
        study_id = documents[-1].id
    page = text_of(client.get("/meetings/avp-informal"))
    assert "Study on the transfer of rights and private international law" in page
    french = fetch(client, f"/meetings/avp-informal/documents/{study_id}/fr")
    assert french.status_code == 200 and b"SAMPLE" not in french.data and b"EXEMPLE" in french.data

    again = runner.invoke(args=["demo"])
    assert "nothing was added" in again.output
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(DocumentFile.id))) == 10


def test_the_sample_pdf_has_a_correct_cross_reference_table():
    content = sample_pdf([("Étude – (sample)", 12, True)])
    xref = int(content.rsplit(b"startxref\n", 1)[1].split(b"\n", 1)[0])
    assert content[xref:].startswith(b"xref\n0 7\n")
    entries = content[xref:].split(b"\n")[3:9]
    for number, entry in enumerate(entries, start=1):
        offset = int(entry.split()[0])
        assert content[offset:].startswith(b"%d 0 obj" % number)
    assert "Étude – \\(sample\\)".encode("cp1252") in content


def test_organizers_download_participant_only_documents_without_counting(app, organizer_client, restricted):
    document_id, file_id = restricted
    response = fetch(organizer_client, download_url(document_id))
    assert response.status_code == 200 and response.data.startswith(b"%PDF")
    assert downloads_of(app, file_id) == 0


def test_the_database_holds_one_current_file_per_language(app, study):
    from sqlalchemy.exc import IntegrityError

    document_id, _files = study
    with app.app_context():
        document = db.session.get(Document, document_id)
        with pytest.raises(IntegrityError):
            factories.make_document_file(document, "en", a_pdf("a second current English file"))
        db.session.rollback()
        replaced = factories.make_document_file(document, "en", a_pdf("an earlier version"), replaced_at=utcnow())
        db.session.commit()
        assert replaced.id is not None
