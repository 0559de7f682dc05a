"""`POST /api/v1/meetings/<slug>/invitations`: invite organizations, as the organizers' "new
invitations" page does."""

from flask import jsonify

from ..extensions import db
from ..invitations import services
from .base import bp
from .meetings import SLUG, meeting_or_404
from .schemas import InvitationRequestSchema, InvitationResultSchema


@bp.route(f"/meetings/{SLUG}/invitations", methods=["POST"], tags=["Invitations"])
@bp.arguments(InvitationRequestSchema)
@bp.response(201, InvitationResultSchema)
def create_invitations(selection, slug):
    """Invite organizations

    Every active organization of a `kind`, or the `organization_ids` given; each is invited once
    (those already invited keep their invitation) and its invitation email is queued to its focal
    points, in its language. Organizations without a focal point are skipped and reported."""
    meeting = meeting_or_404(slug)
    if "kind" in selection:
        organizations = services.select_organizations(kind=selection["kind"])
    else:
        organizations = services.select_organizations(ids=selection["organization_ids"])
    result = services.invite(meeting, organizations, personal_message=selection["message"])
    # Written out before the commit, which expires every object: read afterwards, each of thousands of
    # new invitations and their organizations would be loaded again, one query each. (A response
    # object is sent as it is by flask-smorest, which documents the schema all the same.)
    body = InvitationResultSchema().dump(
        {
            "created": result.created,
            "already_invited": result.already_invited,
            "skipped": [{"organization": organization, "reason": reason} for organization, reason in result.skipped],
            "invitations": result.invitations,
        }
    )
    db.session.commit()
    response = jsonify(body)
    response.status_code = 201
    return response
