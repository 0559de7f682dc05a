"""The meeting's documents (studies, agenda, information notes...) and their files, one current file
per language.

A document is known by its symbol (AVP/IM/03/4, AVP/IM/03/4 Rev.1), unique within its meeting. Each
language version is a `DocumentFile`; uploading a new file for a language keeps the earlier one with
its `replaced_at` set, so organizers can still see and download what was distributed before. The
partial unique index `uq_document_files_current` lets the database hold at most one current file per
document and language. A `DocumentNotification` records each email round that announced a
document to the participants."""

from datetime import datetime
from enum import StrEnum

from flask_babel import lazy_gettext as _l
from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, UniqueConstraint, and_, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..core.i18n import language_name
from ..core.models import TimestampMixin, Translatable, UTCDateTime, utcnow
from ..core.storage import file_size_text
from ..extensions import db


class DocumentKind(StrEnum):
    AGENDA = "agenda"
    STUDY = "study"
    SURVEY = "survey"
    INFORMATION_NOTE = "information_note"
    LIST_OF_PARTICIPANTS = "list_of_participants"
    REPORT = "report"


class DocumentAccess(StrEnum):
    PUBLIC = "public"
    PARTICIPANTS = "participants"


class NotificationOccasion(StrEnum):
    PUBLISHED = "published"  # the document is new to the participants
    NEW_VERSIONS = "new_versions"  # language versions added or replaced since the last notification


DOCUMENT_KIND_LABELS = {
    DocumentKind.AGENDA: _l("Agenda"),
    DocumentKind.STUDY: _l("Study"),
    DocumentKind.SURVEY: _l("Survey"),
    DocumentKind.INFORMATION_NOTE: _l("Information note"),
    DocumentKind.LIST_OF_PARTICIPANTS: _l("List of participants"),
    DocumentKind.REPORT: _l("Report"),
}

DOCUMENT_ACCESS_LABELS = {
    DocumentAccess.PUBLIC: _l("Everyone"),
    DocumentAccess.PARTICIPANTS: _l("Confirmed participants only"),
}

# The kinds of file a document may be sent as (services.DOCUMENT_TYPES), by the names people use.
FILE_TYPE_LABELS = {
    "application/pdf": "PDF",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "Word",
    "application/msword": "Word 97–2003",
    "application/vnd.oasis.opendocument.text": "OpenDocument",
}


def _in(column, values):
    return f"{column} IN ({', '.join(repr(str(v)) for v in values)})"


class Document(Translatable, TimestampMixin, db.Model):
    __tablename__ = "documents"
    __table_args__ = (
        UniqueConstraint("meeting_id", "symbol"),
        CheckConstraint(_in("kind", DocumentKind), name="kind"),
        CheckConstraint(_in("access", DocumentAccess), name="access"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    symbol: Mapped[str] = mapped_column(String(80))
    title: Mapped[str] = mapped_column(String(500))
    kind: Mapped[str] = mapped_column(String(30), default=DocumentKind.STUDY)
    access: Mapped[str] = mapped_column(String(20), default=DocumentAccess.PUBLIC)
    # The order of the list, smallest first; ties (which the services avoid) fall back on the id.
    position: Mapped[int] = mapped_column(default=0)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    meeting = relationship("Meeting")
    files: Mapped[list["DocumentFile"]] = relationship(
        back_populates="document",
        order_by="(DocumentFile.language, DocumentFile.uploaded_at.desc(), DocumentFile.id.desc())",
        cascade="all, delete-orphan",
    )
    current_files: Mapped[list["DocumentFile"]] = relationship(
        primaryjoin=lambda: and_(Document.id == DocumentFile.document_id, DocumentFile.replaced_at.is_(None)),
        order_by=lambda: DocumentFile.language,
        viewonly=True,
    )

    translatable_fields = ("title",)

    @property
    def content_languages(self) -> list[str]:
        return self.meeting.content_languages

    @property
    def is_published(self) -> bool:
        return self.published_at is not None

    @property
    def is_restricted(self) -> bool:
        return self.access == DocumentAccess.PARTICIPANTS

    @property
    def kind_label(self) -> str:
        return str(DOCUMENT_KIND_LABELS.get(self.kind, self.kind))

    @property
    def access_label(self) -> str:
        return str(DOCUMENT_ACCESS_LABELS.get(self.access, self.access))

    def files_in(self, languages) -> list["DocumentFile"]:
        """The current files in the order of `languages` (the meeting's), any other language last."""
        order = {code: index for index, code in enumerate(languages)}
        return sorted(self.current_files, key=lambda file: (order.get(file.language, len(order)), file.language))

    def current_file(self, language) -> "DocumentFile | None":
        return next((file for file in self.current_files if file.language == language), None)


class DocumentFile(db.Model):
    __tablename__ = "document_files"
    __table_args__ = (
        Index(
            "uq_document_files_current",
            "document_id",
            "language",
            unique=True,
            postgresql_where=text("replaced_at IS NULL"),
            sqlite_where=text("replaced_at IS NULL"),
        ),
        CheckConstraint("size >= 0", name="size_not_negative"),
        CheckConstraint("downloads >= 0", name="downloads_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    language: Mapped[str] = mapped_column(String(8))
    # The name the file had on the uploader's computer, Unicode kept; the download is named after
    # the symbol instead (see services.download_name).
    original_name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(120))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(40), unique=True)
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    replaced_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Incremented in place (downloads + n, services.DownloadCounter), never read-modify-written.
    downloads: Mapped[int] = mapped_column(default=0, server_default="0")

    document: Mapped[Document] = relationship(back_populates="files")
    uploaded_by = relationship("User")

    @property
    def is_current(self) -> bool:
        return self.replaced_at is None

    @property
    def language_label(self) -> str:
        """The language's own name ("Français"), as a link to that version shows it."""
        return language_name(self.language)

    @property
    def type_label(self) -> str:
        return FILE_TYPE_LABELS.get(self.content_type, self.content_type)

    @property
    def size_text(self) -> str:
        return file_size_text(self.size)


class DocumentNotification(db.Model):
    """One email round telling the confirmed participants about a document (distribution.py).

    `versions` is the set of current language versions announced ("en:12,fr:13": language and file
    id), so that a second click announces nothing new and is refused, while a version uploaded since
    makes a different set. An organizer may still send the same set again on purpose; each repeat
    takes the next `repeat_number`, and the unique constraint lets only one of two simultaneous clicks
    through."""

    __tablename__ = "document_notifications"
    __table_args__ = (
        UniqueConstraint("document_id", "versions", "repeat_number"),
        CheckConstraint(_in("occasion", NotificationOccasion), name="occasion"),
        CheckConstraint("recipients >= 0", name="recipients_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    occasion: Mapped[str] = mapped_column(String(20))
    versions: Mapped[str] = mapped_column(String(500))
    # The languages announced as new or revised ("es,fr"); empty when the document itself is new.
    languages: Mapped[str] = mapped_column(String(100), default="")
    repeat_number: Mapped[int] = mapped_column(default=0)
    recipients: Mapped[int] = mapped_column(default=0)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    document: Mapped[Document] = relationship()
    sent_by = relationship("User")

    @property
    def language_codes(self) -> list[str]:
        return [code for code in self.languages.split(",") if code]
