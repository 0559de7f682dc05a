"""Registrations in the API, for organizers: the filtered list, a decision on one registration (the
same rules and emails as the organizers' pages) and the list of participants."""

from flask_babel import gettext as _

from ..core.errors import Conflict
from ..extensions import db
from ..registration import participants, services
from .base import bp, page_of_query
from .meetings import SLUG, meeting_or_404
from .schemas import (
    LIST_LANGUAGES,
    MAX_ID,
    ListOfParticipantsQuerySchema,
    ListOfParticipantsSchema,
    RegistrationPageSchema,
    RegistrationQuerySchema,
    StatusChangeResultSchema,
    StatusChangeSchema,
)

TAGS = ["Registrations"]


@bp.route(f"/meetings/{SLUG}/registrations", tags=TAGS)
@bp.arguments(RegistrationQuerySchema, location="query", as_kwargs=True)
@bp.response(200, RegistrationPageSchema)
def list_registrations(slug, page, per_page, **filters):
    """The registrations of a meeting

    Newest first, each with its delegation; filtered by any of status, organization kind,
    organization, role and a search of names, email addresses and delegation names."""
    meeting = meeting_or_404(slug)
    filters = services.RegistrationFilters(
        status=filters.get("status", ""),
        kind=filters.get("organization_kind", ""),
        organization_id=filters.get("organization_id"),
        role=filters.get("role", ""),
        search=filters.get("search", ""),
    )
    return page_of_query(services.registrations_page(meeting, filters, page=page, per_page=per_page))


@bp.route(
    f"/meetings/{SLUG}/registrations/<int(max={MAX_ID}):registration_id>/status",
    methods=["POST"],
    endpoint="change_registration_status",
    tags=TAGS,
)
@bp.arguments(StatusChangeSchema)
@bp.response(200, StatusChangeResultSchema)
def change_registration_status(change, slug, registration_id):
    """Decide on a registration

    `confirm` (pending or waitlisted), `promote` (off the waiting list), `reject` (with a `reason`,
    sent to the registrant), `cancel`, or `check_in` (confirmed registrations only). The registrant
    is emailed as from the organizers' pages; a freed seat goes to the waiting list, and those
    promoted are listed. An action that does not apply to the registration's status is refused with
    409 and changes nothing."""
    meeting = meeting_or_404(slug)
    registration = services.get_registration(meeting, registration_id)
    result = services.decide(meeting, [registration.id], change["action"], change["reason"])
    if result.refused:
        _registration, refusal = result.refused[0]
        raise Conflict(
            _("%(refusal)s This registration is %(status)s.", refusal=refusal, status=registration.status_label.lower())
        )
    db.session.commit()
    return {"registration": registration, "promoted": result.promoted}


@bp.route(f"/meetings/{SLUG}/list-of-participants", tags=["List of participants"])
@bp.arguments(ListOfParticipantsQuerySchema, location="query", as_kwargs=True)
@bp.response(200, ListOfParticipantsSchema)
def list_of_participants(slug, public, sort_by_french, lang=None, final=None):
    """The list of participants

    Every confirmed participant, by delegation, in the sections of a United Nations list, in one
    language; `public=true` gives the public edition (only those who agreed to appear in it)."""
    meeting = meeting_or_404(slug)
    if lang is None:
        lang = next((code for code in meeting.language_codes if code in LIST_LANGUAGES), LIST_LANGUAGES[0])
    if final is None:
        final = meeting.participants_list_final
    return participants.list_of_participants(meeting, lang, public=public, final=final, sort_by_french=sort_by_french)
