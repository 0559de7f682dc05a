"""`POST /api/v1/meetings/<slug>/invitations`: invite organizations, as the organizers' "new
invitations" page does."""

from flask import abort
from flask_babel import gettext as _

from ..extensions import db
from ..invitations import services
from ..meetings.services import find_meeting
from .base import bp, json_object
from .errors import InvalidRequest


def _organization(organization):
    return {"id": organization.id, "name": organization.name_en}


def _selection(body) -> dict:
    """The arguments of `select_organizations`: exactly one of "kind" and "organization_ids"."""
    if ("kind" in body) == ("organization_ids" in body):
        message = _("Give either “kind” or “organization_ids”.")
        raise InvalidRequest(message, fields={"kind": [message], "organization_ids": [message]})
    if "kind" in body:
        if not isinstance(body["kind"], str) or not body["kind"].strip():
            message = _("“kind” must be a kind of organization, such as “member_state”.")
            raise InvalidRequest(message, fields={"kind": [message]})
        return {"kind": body["kind"].strip()}
    ids = body["organization_ids"]
    if not isinstance(ids, list) or any(type(value) is not int for value in ids):
        message = _("“organization_ids” must be a list of organization numbers.")
        raise InvalidRequest(message, fields={"organization_ids": [message]})
    return {"ids": ids}


@bp.post("/meetings/<slug>/invitations")
def create_invitations(slug):
    """Body: {"kind": "member_state"} or {"organization_ids": [1, 2]}, and optionally "message" (a
    personal message added to every invitation). Answers 201 with what was done."""
    meeting = find_meeting(slug)
    if meeting is None:
        abort(404)
    body = json_object(("kind", "organization_ids", "message"))
    selection = _selection(body)
    message = body.get("message") or ""
    if not isinstance(message, str):
        raise InvalidRequest(_("“message” must be text."), fields={"message": [_("Give text.")]})
    organizations = services.select_organizations(**selection)
    result = services.invite(meeting, organizations, personal_message=message)
    db.session.commit()
    return {
        "created": result.created,
        "already_invited": result.already_invited,
        "skipped": [
            {"organization": _organization(organization), "reason": reason} for organization, reason in result.skipped
        ],
        "invitations": [
            {"id": invitation.id, "organization": _organization(invitation.organization), "status": invitation.status}
            for invitation in result.invitations
        ],
    }, 201
