"""`POST /api/v1/meetings/<slug>/invitations`: invite organizations, as the organizers' "new
invitations" page does."""

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
    db.session.commit()
    return {
        "created": result.created,
        "already_invited": result.already_invited,
        "skipped": [{"organization": organization, "reason": reason} for organization, reason in result.skipped],
        "invitations": result.invitations,
    }
