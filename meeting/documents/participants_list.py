"""The list of participants (registration/participants.py) published as one of the meeting's
documents: its public edition (only the confirmed participants who agreed to appear in it), as the
provisional or the final list, rendered to PDF in each language chosen and kept like any upload, one
file per language. Its symbol is the list's own (AVP/IM/03/INF/1 Prov., AVP/IM/03/INF/1), so the
provisional and the final lists are two documents; publishing one again adds a new version of each
file that changed, the earlier one kept.

Nothing here commits."""

import hashlib
from io import BytesIO

from flask_babel import force_locale
from flask_babel import gettext as _
from werkzeug.datastructures import FileStorage

from ..core.audit import record
from ..core.errors import DomainError
from ..extensions import db
from ..meetings.models import MeetingStatus
from ..registration import participants
from . import services
from .models import Document, DocumentAccess, DocumentKind


def list_document(meeting, *, final) -> Document | None:
    symbol = participants.list_symbol(meeting, final=final)
    if not symbol:
        return None
    return db.session.scalar(db.select(Document).where(Document.meeting_id == meeting.id, Document.symbol == symbol))


def _titles(meeting, *, final) -> tuple[str, dict]:
    """The document's title in the meeting's main language, and its translations in the others."""

    def title(language):
        with force_locale(language):
            return _("List of participants") if final else _("Provisional list of participants")

    main, *others = meeting.content_languages
    return title(main), {code: {"title": title(code)} for code in others}


def publish_list_of_participants(meeting, languages, *, final) -> tuple[Document, list[str]]:
    """Create or update the document of the list and publish it; returns the document and the
    languages whose file was added or replaced (a language whose list has not changed keeps its file)."""
    if meeting.status == MeetingStatus.ARCHIVED:
        raise DomainError(_("The documents of an archived meeting cannot be changed."))
    chosen = set(languages or ())
    languages = [code for code in meeting.language_codes if code in chosen]
    if not languages:
        message = _("Choose at least one of the meeting's languages.")
        raise DomainError(message, fields={"languages": [message]})
    symbol = participants.list_symbol(meeting, final=final)
    if not symbol:
        raise DomainError(
            _("Give the meeting a symbol prefix (such as AVP/IM/03) first: the list's symbol is made from it.")
        )
    listings = [participants.list_of_participants(meeting, code, public=True, final=final) for code in languages]
    if not any(listing.participant_count for listing in listings):
        raise DomainError(
            _(
                "Nobody is in the public edition of the list yet: it holds the confirmed participants who "
                "agreed to appear in it."
            )
        )

    document = list_document(meeting, final=final)
    created = document is None
    if created:
        title, translations = _titles(meeting, final=final)
        document = services.create_document(
            meeting,
            {
                "symbol": symbol,
                "title": title,
                "translations": translations,
                "kind": DocumentKind.LIST_OF_PARTICIPANTS,
                "access": DocumentAccess.PUBLIC,
            },
        )
    elif document.kind != DocumentKind.LIST_OF_PARTICIPANTS:
        raise DomainError(
            _(
                "The symbol %(symbol)s is already used by another document of this meeting. Change that document's "
                "symbol first.",
                symbol=symbol,
            )
        )

    changed = []
    for listing in listings:
        content = participants.render_pdf(listing)
        current = document.current_file(listing.language)
        if current is not None and current.sha256 == hashlib.sha256(content).hexdigest():
            continue
        name = participants.pdf_filename(meeting, listing)
        services.upload_file(document, listing.language, FileStorage(BytesIO(content), filename=name))
        changed.append(listing.language)
    if not document.is_published:
        services.publish_document(document)
    record(
        "document.publish_list_of_participants",
        meeting=meeting,
        obj=document,
        summary=(
            _("Published the final list of participants as the document %(symbol)s.", symbol=document.symbol)
            if final
            else _("Published the provisional list of participants as the document %(symbol)s.", symbol=document.symbol)
        ),
        details={
            "edition": "final" if final else "provisional",
            "languages": languages,
            "changed": changed,
            "created": created,
            "participants": {listing.language: listing.participant_count for listing in listings},
        },
    )
    return document, changed
