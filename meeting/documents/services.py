"""What organizers do with a meeting's documents — add them by symbol, upload a file per language
(replacing one keeps the earlier version), publish, order — and who may download what.

Access. A document reaches the public once it is published and its meeting is public. A document
for participants only is served to a visitor whose personal registration link, opened in this
browser, belongs to a confirmed registration (`registration.services.current_participant`); pending,
waitlisted, rejected and cancelled registrants are refused like anonymous visitors. Signed-in
organizers may download everything, drafts included.

Downloads. One file is asked for far more often than any page, often by many participants at once
when a study is announced, so a download costs the least the access check allows: `file_for_download`
reads the meeting's status, the document and its current file in that language with a single
statement, on a connection of its own in autocommit (no BEGIN and COMMIT around it), nothing through
the ORM session; the visitor's registration is looked up only for a document for participants.
What that statement answers (the meeting's status, the document's publication and access, its
current file in that language) is reused by the worker for DOWNLOAD_LOOKUP_SECONDS (1 s): when a
study is announced, hundreds of participants ask for the same file within seconds, and all but one
download a second per worker then cost no database round trip. Publishing, unpublishing or
replacing a file thus shows in downloads within that second; who the visitor is (organizer,
confirmed participant) is decided afresh at every request.

Download counts. A download is counted in the worker's memory (`DownloadCounter`), and the counts
are written together, at most DOWNLOAD_COUNT_SECONDS (1 s) after the first download of the period,
by a timer thread: one `UPDATE document_files SET downloads = downloads + n` per file, autocommitted
on a connection of its own. The database adds in place (no read-modify-write, so workers counting
at once lose nothing), and a download costs no write of its own: when a study is announced and
hundreds download it at once, the requests only read. The price is that a worker killed outright
(not stopped) loses the counts of its last second; a worker that exits normally writes them. With
DOWNLOAD_COUNT_SECONDS = 0 every download is written at once. No connection stays open while a
slow client receives the file.

Apart from these statements, nothing here commits."""

import atexit
import re
import threading
import time
import weakref
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from flask import current_app, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_login.config import COOKIE_NAME as REMEMBER_COOKIE_NAME
from sqlalchemy import and_, bindparam, func, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import selectinload

from ..core.audit import current_actor, record
from ..core.errors import DomainError, NotFound, PermissionDenied
from ..core.i18n import get_locale, language_name
from ..core.models import apply_changes, utcnow
from ..core.storage import PDF, UploadRefused, delete_stored, file_size_text, path_for, store_upload
from ..extensions import db
from ..meetings.models import PUBLIC_STATUSES, Meeting
from ..meetings.services import FieldErrors, changed_fields, clean_translations, find_meeting, refuse_if_archived
from ..registration.models import Registration
from ..registration.services import current_participant
from .models import FILE_TYPE_LABELS, Document, DocumentAccess, DocumentFile, DocumentKind

# What a study may be sent as: PDF, Word (current and 97–2003) and OpenDocument text; the storage
# module reads the type from the bytes and checks that the name's extension agrees.
DOCUMENT_TYPES = {
    **PDF,
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": (".docx",),
    "application/msword": (".doc",),
    "application/vnd.oasis.opendocument.text": (".odt",),
}

# A base symbol of parts joined by slashes (AVP/IM/03/4, AVP/IM/03/3A, SCCR/17/INF/1, A/58/L.1),
# then any Rev./Add./Corr./Prov. suffixes, after a space (WIPO: "AVP/IM/03/4 Rev.1") or a slash (United
# Nations: "A/58/L.1/Add.2"), their number optional ("A/39/15 Corr.", "AVP/IM/03/INF/1 Prov.": the
# provisional list of participants).
SYMBOL_PART = r"(?!(?:REV|ADD|CORR|PROV)\.)[A-Z0-9]+(?:[.\-][A-Z0-9]+)*"
SYMBOL_SUFFIX = re.compile(r"([ /])(REV|ADD|CORR|PROV)\.(\d*)")
SYMBOL_PATTERN = re.compile(
    rf"(?P<base>{SYMBOL_PART}(?:/{SYMBOL_PART})*)(?P<suffixes>(?:[ /](?:REV|ADD|CORR|PROV)\.\d*)*)"
)
SUFFIX_NAMES = {"rev": "Rev.", "add": "Add.", "corr": "Corr.", "prov": "Prov."}

DOCUMENT_FIELD_LABELS = {
    "symbol": _l("Symbol"),
    "title": _l("Title"),
    "kind": _l("Kind of document"),
    "access": _l("Who may download it"),
}

MOVES = ("up", "down")


class ParticipantsOnly(PermissionDenied):
    """A document for participants, refused: `meeting` is for the page that says how to get access."""

    code = "participants_only"
    meeting = None


@dataclass(frozen=True)
class Visitor:
    """Who is asking for a document: a signed-in organizer, a confirmed participant (their
    registration), or anyone else."""

    organizer: bool = False
    participant: object | None = None

    @property
    def may_download_restricted(self) -> bool:
        return self.organizer or self.participant is not None


@dataclass(frozen=True)
class Listing:
    """The published documents of a meeting as its public page shows them."""

    documents: list[Document]
    # (code, name in the page's language) of the languages that have a file, in the meeting's order
    languages: list[tuple[str, str]]
    visitor: Visitor
    # When the list was read: a participant's visit is remembered as of then (remember_documents_visit).
    listed_at: datetime | None = None
    # A participant's previous visit of the meeting page, and the documents published, or given a
    # language version, since then.
    previous_visit: datetime | None = None
    new_document_ids: frozenset[int] = frozenset()

    @property
    def has_restricted(self) -> bool:
        return any(document.is_restricted for document in self.documents)


@dataclass(frozen=True)
class BundleEntry:
    path: Path
    name: str
    file_id: int


@dataclass(frozen=True)
class Download:
    """A document's current file in one language, with what the access check needs of the document
    and its meeting, as `file_for_download` reads them in one statement; `file_id` and the file's
    columns are None when the document has no current file in that language."""

    meeting_status: str
    document_id: int
    symbol: str
    access: str
    published_at: datetime | None
    file_id: int | None
    language: str | None
    content_type: str | None
    original_name: str | None
    storage_key: str | None
    sha256: str | None
    uploaded_at: datetime | None

    @property
    def is_public(self) -> bool:
        """Published, in a meeting that is public: what anyone but organizers may be given."""
        return self.published_at is not None and self.meeting_status in PUBLIC_STATUSES

    @property
    def is_restricted(self) -> bool:
        return self.access == DocumentAccess.PARTICIPANTS

    @property
    def name(self) -> str:
        return _download_name(self.symbol, self.document_id, self.language, extension_for(self))


# Symbols and names -----------------------------------------------------------------------------


def normalize_symbol(text) -> str | None:
    """The symbol as it is written on the document ("avp/im/03/4  rev.1" → "AVP/IM/03/4 Rev.1"),
    or None when it is not a document symbol."""
    text = " ".join(str(text or "").split())
    text = re.sub(r"\s*/\s*", "/", text)
    text = re.sub(r"\.\s+(?=\d)", ".", text)
    match = SYMBOL_PATTERN.fullmatch(text.upper())
    if match is None:
        return None
    suffixes = "".join(
        f"{separator}{SUFFIX_NAMES[name.lower()]}{number}"
        for separator, name, number in SYMBOL_SUFFIX.findall(match.group("suffixes"))
    )
    return match.group("base") + suffixes


def download_name(document, file) -> str:
    """The name a download gets: the symbol with its slashes and spaces as hyphens, the language and
    the extension of the file's type ("AVP/IM/03/4 Rev.1", French PDF → "AVP-IM-03-4-Rev.1_fr.pdf")."""
    return _download_name(document.symbol, document.id, file.language, extension_for(file))


def _download_name(symbol, document_id, language, extension) -> str:
    stem = re.sub(r"[^A-Za-z0-9.]+", "-", symbol).strip("-.") or f"document-{document_id}"
    return f"{stem}_{language}{extension}"


def extension_for(file) -> str:
    """The extension of the file's type, else of its original name (`file`: a DocumentFile or a Download)."""
    extensions = DOCUMENT_TYPES.get(file.content_type)
    if extensions:
        return extensions[0]
    suffix = Path(file.original_name).suffix.lower()
    return suffix if re.fullmatch(r"\.[a-z0-9]{1,8}", suffix) else ""


def bundle_name(meeting, language) -> str:
    stem = re.sub(r"[^A-Za-z0-9.]+", "-", meeting.symbol_prefix or meeting.slug).strip("-.") or meeting.slug
    return f"{stem}_{language}.zip"


def accepted_types_text() -> str:
    return ", ".join(dict.fromkeys(FILE_TYPE_LABELS[content_type] for content_type in DOCUMENT_TYPES))


def max_size_text() -> str:
    return file_size_text(current_app.config["DOCUMENT_MAX_BYTES"])


# Queries ---------------------------------------------------------------------------------------


def find_document(meeting, document_id, *, with_files=False) -> Document | None:
    """A document of the meeting; `with_files` loads all its versions and their uploaders."""
    query = db.select(Document).where(Document.id == document_id, Document.meeting_id == meeting.id)
    if with_files:
        query = query.options(
            selectinload(Document.current_files),
            selectinload(Document.files).selectinload(DocumentFile.uploaded_by),
        )
    return db.session.scalar(query)


def find_file(document, file_id) -> DocumentFile | None:
    file = db.session.get(DocumentFile, file_id)
    return file if file is not None and file.document_id == document.id else None


def documents_for_organizers(meeting) -> list[Document]:
    """Every document of the meeting, drafts included, with their current files."""
    return db.session.scalars(
        db.select(Document)
        .where(Document.meeting_id == meeting.id)
        .options(selectinload(Document.current_files))
        .order_by(Document.position, Document.id)
    ).all()


def published_documents(meeting) -> list[Document]:
    return db.session.scalars(
        db.select(Document)
        .where(Document.meeting_id == meeting.id, Document.published_at.is_not(None))
        .options(selectinload(Document.current_files))
        .order_by(Document.position, Document.id)
    ).all()


def current_visitor(meeting) -> Visitor:
    """The visitor of the current request, as far as documents are concerned."""
    if visitor_is_organizer():
        return Visitor(organizer=True)
    return Visitor(participant=current_participant(meeting))


def visitor_is_organizer() -> bool:
    # Flask-Login knows a signed-in user by the session cookie or its remember-me cookie only (the
    # app has no request loader): without either, the visitor is anonymous, and the loading of the
    # user (the session protection's hash of the address and browser...) is spared to every
    # download by the public.
    cookies = (
        current_app.session_interface.get_cookie_name(current_app),
        current_app.config.get("REMEMBER_COOKIE_NAME", REMEMBER_COOKIE_NAME),
    )
    if not any(name in request.cookies for name in cookies):
        return False
    return current_user.is_authenticated and current_user.is_organizer


def public_listing(meeting, visitor: Visitor | None = None) -> Listing:
    """The published documents; for a participant, also those that are new since their previous visit
    (none on the first visit: everything would be new)."""
    listed_at = utcnow()
    visitor = visitor or current_visitor(meeting)
    documents = published_documents(meeting)
    present = {file.language for document in documents for file in document.current_files}
    codes = [code for code in meeting.language_codes if code in present]
    codes += sorted(present - set(codes))
    page_language = str(get_locale())
    previous_visit = visitor.participant.last_seen_documents_at if visitor.participant is not None else None
    return Listing(
        documents=documents,
        languages=[(code, language_name(code, page_language)) for code in codes],
        visitor=visitor,
        listed_at=listed_at,
        previous_visit=previous_visit,
        new_document_ids=frozenset(
            document.id for document in documents if previous_visit and is_new_since(document, previous_visit)
        ),
    )


def is_new_since(document, moment) -> bool:
    """Published after `moment`, or given a language version (a new or a replacing file) since."""
    return document.published_at > moment or any(file.uploaded_at > moment for file in document.current_files)


def remember_documents_visit(listing: Listing) -> bool:
    """Keep the time a participant saw the meeting's documents (`listing`), for the next visit's "new"
    marks: one UPDATE, which leaves the registration's `updated_at` alone (a visit changes nothing in
    it). False when the visitor is no participant."""
    participant = listing.visitor.participant
    if participant is None or listing.listed_at is None:
        return False
    db.session.execute(
        update(Registration)
        .where(Registration.id == participant.id)
        .values(last_seen_documents_at=listing.listed_at, updated_at=Registration.updated_at)
        .execution_options(synchronize_session=False)
    )
    return True


def _refuse_unless_visible(meeting, visitor) -> None:
    if not meeting.is_public and not visitor.organizer:
        raise NotFound(_("There is no such document."))


def _participants_only(meeting) -> ParticipantsOnly:
    refusal = ParticipantsOnly(
        _(
            "This document is for the participants of the %(title)s. Open the personal link from your "
            "registration email in this browser, then download the document again. If your registration is "
            "still pending, you will be able to download it once the Secretariat has confirmed it.",
            title=meeting.localized("title"),
        )
    )
    refusal.meeting = meeting
    return refusal


_meetings, _documents, _files = Meeting.__table__, Document.__table__, DocumentFile.__table__

# Built once, not at every download: making a statement costs more than running its compiled form,
# which SQLAlchemy keeps in its cache.
DOWNLOAD_QUERY = (
    select(
        _meetings.c.status.label("meeting_status"),
        _documents.c.id.label("document_id"),
        _documents.c.symbol,
        _documents.c.access,
        _documents.c.published_at,
        _files.c.id.label("file_id"),
        _files.c.language,
        _files.c.content_type,
        _files.c.original_name,
        _files.c.storage_key,
        _files.c.sha256,
        _files.c.uploaded_at,
    )
    .select_from(
        _meetings.join(_documents, _documents.c.meeting_id == _meetings.c.id).outerjoin(
            _files,
            and_(
                _files.c.document_id == _documents.c.id,
                _files.c.language == bindparam("language"),
                _files.c.replaced_at.is_(None),
            ),
        )
    )
    .where(_meetings.c.slug == bindparam("slug"), _documents.c.id == bindparam("document_id"))
)


@contextmanager
def _autocommitted():
    """A connection of its own whose every statement is a transaction of its own: no BEGIN, no
    COMMIT, and back in the pool at the end of the block."""
    with db.engine.connect() as connection:
        yield connection.execution_options(isolation_level="AUTOCOMMIT")


class RecentLookups:
    """What `DOWNLOAD_QUERY` answered for a (meeting, document, language) in this worker, kept for
    DOWNLOAD_LOOKUP_SECONDS (see the module's docstring). Bounded: emptied when it holds too many."""

    LIMIT = 1024

    def __init__(self):
        self.answers: dict[tuple, tuple[float, Download | None]] = {}

    def get(self, key, now):
        kept = self.answers.get(key)
        return kept if kept is not None and kept[0] > now else None

    def put(self, key, download, until) -> None:
        if len(self.answers) >= self.LIMIT:
            self.answers.clear()
        self.answers[key] = (until, download)


def _look_up(slug, document_id, language) -> Download | None:
    seconds = current_app.config["DOWNLOAD_LOOKUP_SECONDS"]
    lookups = current_app.extensions.setdefault("download_lookups", RecentLookups())
    key, now = (slug, document_id, language), time.monotonic()
    if seconds > 0 and (kept := lookups.get(key, now)) is not None:
        return kept[1]
    with _autocommitted() as connection:
        row = connection.execute(
            DOWNLOAD_QUERY, {"slug": slug, "document_id": document_id, "language": language}
        ).one_or_none()
    download = Download(**row._mapping) if row is not None else None
    if seconds > 0:
        lookups.put(key, download, now + seconds)
    return download


def file_for_download(slug, document_id, language, *, organizer: bool) -> Download:
    """The current `language` file of a document of the meeting `slug` that the visitor (an
    organizer or not) may download, read with one statement (see the module's docstring). Raises
    NotFound (no such meeting or document, draft, no file in that language, meeting not public) or
    ParticipantsOnly, whose `meeting` is the meeting for the page that says how to get access."""
    if "\x00" in slug or "\x00" in language:  # PostgreSQL refuses a NUL in text; no name holds one
        raise NotFound(_("There is no such document."))
    download = _look_up(slug, document_id, language)
    if download is None or not (organizer or download.is_public):
        raise NotFound(_("There is no such document."))
    if download.file_id is None:
        raise NotFound(_("This document has no version in that language."))
    if download.is_restricted and not organizer:
        meeting = find_meeting(slug)
        if meeting is None:  # deleted meanwhile
            raise NotFound(_("There is no such document."))
        if current_participant(meeting) is None:
            raise _participants_only(meeting)
    return download


def bundle_entries(meeting, language, visitor: Visitor) -> list[BundleEntry]:
    """The files of one language that the visitor may download, in the order of the list, each
    with its name in the ZIP file. Raises NotFound when there is none to give, or ParticipantsOnly
    when all of them are for participants."""
    _refuse_unless_visible(meeting, visitor)
    entries, refused = [], False
    for document in published_documents(meeting):
        file = document.current_file(language)
        if file is None:
            continue
        if document.is_restricted and not visitor.may_download_restricted:
            refused = True
            continue
        entries.append(
            BundleEntry(path=path_for(file.storage_key), name=download_name(document, file), file_id=file.id)
        )
    if not entries:
        if refused:
            raise _participants_only(meeting)
        raise NotFound(_("No document of this meeting is available in that language."))
    return entries


COUNT_DOWNLOADS = (
    update(_files).where(_files.c.id == bindparam("file_id")).values(downloads=_files.c.downloads + bindparam("added"))
)


def _write_counts(counts: Counter) -> None:
    """Add `counts` to the files' downloads, in place, in one statement (executed for each file)
    committed on its own (see the module's docstring)."""
    with _autocommitted() as connection:
        connection.execute(COUNT_DOWNLOADS, [{"file_id": key, "added": added} for key, added in sorted(counts.items())])


class DownloadCounter:
    """The downloads of one app in this worker process, kept in memory and written together at most
    DOWNLOAD_COUNT_SECONDS after the first of them (see the module's docstring): a timer thread,
    started by the first download of a period, writes one UPDATE per file for everything counted
    meanwhile. What is still unwritten when the process exits normally is written then."""

    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()
        self.pending: Counter = Counter()
        self.timer: threading.Timer | None = None
        this = weakref.ref(self)
        atexit.register(lambda: (counter := this()) is not None and counter.write())

    def add(self, file_ids) -> None:
        delay = self.app.config["DOWNLOAD_COUNT_SECONDS"]
        if delay <= 0:
            self._write(Counter(file_ids))
            return
        with self.lock:
            self.pending.update(file_ids)
            if self.timer is None:
                self.timer = threading.Timer(delay, self.write)
                self.timer.daemon = True
                self.timer.start()

    def write(self) -> None:
        """Write what is counted so far (the timer does it; tests and the exit may ask sooner)."""
        with self.lock:
            pending, self.pending = self.pending, Counter()
            if self.timer is not None:
                self.timer.cancel()
                self.timer = None
        if pending:
            with self.app.app_context():
                self._write(pending)

    def _write(self, counts: Counter) -> None:
        # A failure to count (a busy database) is logged; it never costs a visitor the file.
        try:
            _write_counts(counts)
        except SQLAlchemyError:
            self.app.logger.warning("downloads not counted for document files %s", dict(counts), exc_info=True)


def download_counter(app=None) -> DownloadCounter:
    app = app or current_app._get_current_object()
    counter = app.extensions.get("download_counter")
    if counter is None:
        counter = app.extensions.setdefault("download_counter", DownloadCounter(app))
    return counter


# Organizers: documents -------------------------------------------------------------------------


def _refuse_if_archived(meeting):
    refuse_if_archived(meeting, _("The documents of an archived meeting cannot be changed."))


def _clean_document(meeting, data, document) -> dict:
    errors = FieldErrors()
    names = [name for name in DOCUMENT_FIELD_LABELS if document is None or name in data]
    values = {name: data.get(name) for name in names}

    if "symbol" in values:
        symbol = normalize_symbol(values["symbol"])
        if symbol is None:
            errors.add(
                "symbol",
                _(
                    "Give the document's symbol, such as %(example)s, optionally followed by Rev.1, Add.1 or Corr.1.",
                    example=f"{meeting.symbol_prefix or 'AVP/IM/03'}/4",
                ),
            )
        elif len(symbol) > Document.__table__.c.symbol.type.length:
            errors.add("symbol", _("At most %(n)d characters.", n=Document.__table__.c.symbol.type.length))
        elif _symbol_taken(meeting, symbol, document):
            errors.add(
                "symbol", _("Another document of this meeting already has the symbol %(symbol)s.", symbol=symbol)
            )
        values["symbol"] = symbol
    if "title" in values:
        values["title"] = " ".join(str(values["title"] or "").split())
        if not values["title"]:
            errors.add("title", _("Give the document a title."))
        elif len(values["title"]) > Document.__table__.c.title.type.length:
            errors.add("title", _("At most %(n)d characters.", n=Document.__table__.c.title.type.length))
    if "kind" in values:
        values["kind"] = values["kind"] or DocumentKind.STUDY
        if values["kind"] not in set(DocumentKind):
            errors.add("kind", _("Choose a kind of document from the list."))
    if "access" in values:
        values["access"] = values["access"] or DocumentAccess.PUBLIC
        if values["access"] not in set(DocumentAccess):
            errors.add("access", _("Choose who may download the document."))
    if "translations" in data:
        values["translations"] = clean_translations(
            Document,
            data["translations"],
            meeting.content_languages[1:],
            document.translations if document else {},
            errors,
        )

    errors.raise_if_any()
    return values


def _symbol_taken(meeting, symbol, document) -> bool:
    query = db.select(Document.id).where(Document.meeting_id == meeting.id, Document.symbol == symbol)
    if document is not None:
        query = query.where(Document.id != document.id)
    return db.session.scalar(query) is not None


def create_document(meeting, data) -> Document:
    _refuse_if_archived(meeting)
    values = _clean_document(meeting, data, None)
    last = db.session.scalar(db.select(func.max(Document.position)).where(Document.meeting_id == meeting.id))
    document = Document(meeting=meeting, position=(last or 0) + 1, **values)
    db.session.add(document)
    db.session.flush()
    record(
        "document.create",
        meeting=meeting,
        obj=document,
        summary=_("Added the document %(symbol)s “%(title)s”.", symbol=document.symbol, title=document.title),
        details={"values": values},
    )
    return document


def update_document(document, data) -> dict:
    """Change the fields present in `data`; return the changes as {name: (old, new)}."""
    meeting = document.meeting
    _refuse_if_archived(meeting)
    values = _clean_document(meeting, data, document)
    changes = apply_changes(document, values)
    if not changes:
        return changes
    db.session.flush()
    record(
        "document.update",
        meeting=meeting,
        obj=document,
        summary=_(
            "Changed the document %(symbol)s: %(fields)s.",
            symbol=document.symbol,
            fields=changed_fields(changes, DOCUMENT_FIELD_LABELS),
        ),
        details={"changes": {name: list(pair) for name, pair in changes.items()}},
    )
    return changes


def publish_document(document) -> Document:
    meeting = document.meeting
    _refuse_if_archived(meeting)
    if document.is_published:
        raise DomainError(_("The document %(symbol)s is already published.", symbol=document.symbol))
    if not document.current_files:
        raise DomainError(
            _("Upload at least one language version of %(symbol)s before publishing it.", symbol=document.symbol)
        )
    document.published_at = utcnow()
    db.session.flush()
    record(
        "document.publish",
        meeting=meeting,
        obj=document,
        summary=_("Published the document %(symbol)s.", symbol=document.symbol),
    )
    return document


def unpublish_document(document) -> Document:
    meeting = document.meeting
    _refuse_if_archived(meeting)
    if not document.is_published:
        raise DomainError(_("The document %(symbol)s is not published.", symbol=document.symbol))
    document.published_at = None
    db.session.flush()
    record(
        "document.unpublish",
        meeting=meeting,
        obj=document,
        summary=_("Withdrew the document %(symbol)s from publication.", symbol=document.symbol),
    )
    return document


def move_document(document, direction) -> bool:
    """Move a document one place up or down the list; False when it is already first or last."""
    meeting = document.meeting
    _refuse_if_archived(meeting)
    if direction not in MOVES:
        raise DomainError(_("A document moves up or down."))
    siblings = db.session.scalars(
        db.select(Document).where(Document.meeting_id == meeting.id).order_by(Document.position, Document.id)
    ).all()
    index = siblings.index(document)
    other = index - 1 if direction == "up" else index + 1
    if not 0 <= other < len(siblings):
        return False
    siblings[index], siblings[other] = siblings[other], siblings[index]
    # Numbering them all afresh also repairs ties left by documents added at the same instant.
    for position, sibling in enumerate(siblings, start=1):
        sibling.position = position
    db.session.flush()
    record(
        "document.move",
        meeting=meeting,
        obj=document,
        summary=_("Moved the document %(symbol)s to place %(place)d.", symbol=document.symbol, place=other + 1),
    )
    return True


# Organizers: files -----------------------------------------------------------------------------


def upload_file(document, language, file_storage) -> DocumentFile:
    """Keep an uploaded file as the `language` version of the document; the version it replaces
    stays, marked as replaced. A refused file (type, size, same as the current one) leaves nothing
    behind."""
    meeting = document.meeting
    _refuse_if_archived(meeting)
    if language not in meeting.language_codes:
        raise DomainError(
            _("Choose one of the meeting's languages."), fields={"language": [_("Choose a language from the list.")]}
        )
    try:
        stored = store_upload(file_storage, DOCUMENT_TYPES, current_app.config["DOCUMENT_MAX_BYTES"])
    except UploadRefused as refused:
        raise UploadRefused(refused.message, fields={"file": [refused.message]}) from None

    try:
        previous = db.session.scalar(
            db.select(DocumentFile).where(
                DocumentFile.document_id == document.id,
                DocumentFile.language == language,
                DocumentFile.replaced_at.is_(None),
            )
        )
        if previous is not None and previous.sha256 == stored.sha256:
            message = _(
                "This file is the same as the current %(language)s version of %(symbol)s; nothing was changed.",
                language=language_name(language, str(get_locale())),
                symbol=document.symbol,
            )
            raise UploadRefused(message, fields={"file": [message]})
        now = utcnow()
        if previous is not None:
            previous.replaced_at = now
            db.session.flush()  # the partial unique index allows one current file per language
        uploader = current_actor()[0]
        file = DocumentFile(
            document_id=document.id,
            language=language,
            original_name=stored.original_name,
            content_type=stored.content_type,
            size=stored.size,
            sha256=stored.sha256,
            storage_key=stored.key,
            uploaded_at=now,
            uploaded_by_id=uploader.id if uploader is not None else None,
        )
        db.session.add(file)
        db.session.flush()
    except BaseException:
        delete_stored(stored.key)
        raise
    db.session.expire(document, ["files", "current_files"])
    record(
        "document.replace_file" if previous is not None else "document.upload_file",
        meeting=meeting,
        obj=document,
        summary=(
            _(
                "Replaced the %(language)s version of %(symbol)s with “%(name)s”.",
                language=language,
                symbol=document.symbol,
                name=stored.original_name,
            )
            if previous is not None
            else _(
                "Uploaded the %(language)s version of %(symbol)s: “%(name)s”.",
                language=language,
                symbol=document.symbol,
                name=stored.original_name,
            )
        ),
        details={
            "file_id": file.id,
            "language": language,
            "original_name": stored.original_name,
            "content_type": stored.content_type,
            "size": stored.size,
            "sha256": stored.sha256,
            "replaces_file_id": previous.id if previous is not None else None,
        },
    )
    return file
