"""Meetings in the API: the published ones with their program and documents for anyone, and the
settings of any meeting (drafts included) for organizers."""

from flask import abort, url_for
from flask_babel import gettext as _

from ..core.errors import DomainError
from ..documents import services as document_services
from ..extensions import db
from ..meetings import services
from ..meetings.models import MEETING_STATUS_LABELS
from ..program.services import program_as_dict
from .base import bp, page_of_list, public
from .schemas import (
    DocumentPageSchema,
    MeetingChangeSchema,
    MeetingPageSchema,
    MeetingSchema,
    MeetingSettingsSchema,
    PageArgsSchema,
    ProgramSchema,
)

SLUG = "<string(maxlength=80):slug>"  # Meeting.slug
TAGS = ["Meetings"]


def meeting_or_404(slug, **options):
    meeting = services.find_meeting(slug, **options)
    if meeting is None:
        abort(404)
    return meeting


def public_meeting_or_404(slug, **options):
    meeting = meeting_or_404(slug, **options)
    if not meeting.is_public:
        abort(404)
    return meeting


@bp.route("/meetings", tags=TAGS)
@public
@bp.arguments(PageArgsSchema, location="query", as_kwargs=True)
@bp.response(200, MeetingPageSchema)
def list_meetings(page, per_page):
    """Published meetings

    Upcoming meetings first, soonest first, then past ones, most recent first. Drafts and archived
    meetings are not listed."""
    upcoming, past = services.public_meetings()
    return page_of_list(upcoming + past, page, per_page)


# The GET is registered before the PATCH of the same address, so that a CORS preflight (OPTIONS)
# reaches the public endpoint.
@bp.route(f"/meetings/{SLUG}", tags=TAGS)
@public
@bp.response(200, MeetingSchema)
def show_meeting(slug):
    """One published meeting"""
    return public_meeting_or_404(slug)


@bp.route(f"/meetings/{SLUG}", methods=["PATCH"], endpoint="change_meeting", tags=TAGS)
@bp.arguments(MeetingChangeSchema)
@bp.response(200, MeetingSettingsSchema)
def change_meeting(changes, slug):
    """Change a meeting's settings

    Its status (with `action`, or the `status` to reach), its registration window, capacity and
    places per delegation; drafts too. The members not given keep their value. Each change is
    written to the meeting's audit log under the token's name. Raising the capacity or the places
    per delegation moves the waiting list up at once."""
    meeting = meeting_or_404(slug)
    action = changes.pop("action", None)
    status = changes.pop("status", None)
    if changes:
        services.update_meeting(meeting, changes)
    if status is not None:
        action = _action_towards(meeting, status)
    if action is not None:
        services.change_status(meeting, action)
    db.session.commit()
    return meeting


def _action_towards(meeting, status) -> str | None:
    """The lifecycle action that takes the meeting to `status` (None when it is there already)."""
    if status == meeting.status:
        return None
    for action, (source, target) in services.TRANSITIONS.items():
        if source == meeting.status and target == status:
            return action
    message = _(
        "A meeting that is %(current)s cannot become %(status)s directly.",
        current=meeting.status_label.lower(),
        status=str(MEETING_STATUS_LABELS[status]).lower(),
    )
    raise DomainError(message, fields={"status": [message]})


@bp.route(f"/meetings/{SLUG}/program", tags=TAGS)
@public
@bp.response(200, ProgramSchema)
def show_program(slug):
    """The program of a published meeting

    Its sessions and, once the program is published, their slots with the speakers who confirmed."""
    return program_as_dict(public_meeting_or_404(slug, with_sessions=True))


@bp.route(f"/meetings/{SLUG}/documents", tags=TAGS)
@public
@bp.arguments(PageArgsSchema, location="query", as_kwargs=True)
@bp.response(200, DocumentPageSchema)
def list_documents(slug, page, per_page):
    """The published documents of a published meeting

    In the order of the meeting's list, each with its language versions and their download
    addresses. Files of a document marked `participants_only` are given only to confirmed
    participants (through their personal link) and organizers."""
    meeting = public_meeting_or_404(slug)
    documents = [_document(meeting, document) for document in document_services.published_documents(meeting)]
    return page_of_list(documents, page, per_page)


def _document(meeting, document) -> dict:
    return {
        "id": document.id,
        "symbol": document.symbol,
        "title": document.title,
        "kind": document.kind,
        "kind_label": document.kind_label,
        "access": document.access,
        "participants_only": document.is_restricted,
        "published_at": document.published_at,
        "files": [
            {
                "language": file.language,
                "language_name": file.language_label,
                "content_type": file.content_type,
                "size": file.size,
                "sha256": file.sha256,
                "url": url_for(
                    "documents.download",
                    slug=meeting.slug,
                    document_id=document.id,
                    lang=file.language,
                    _external=True,
                ),
            }
            for file in document.files_in(meeting.language_codes)
        ],
    }
