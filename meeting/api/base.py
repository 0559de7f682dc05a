"""The API blueprint, its bearer-token authentication and the reading of JSON bodies."""

from flask import Blueprint, current_app, g, request
from flask_babel import gettext as _

from ..accounts.services import user_for_api_token
from . import errors
from .errors import BadRequestBody, InvalidRequest, Unauthenticated, UnsupportedBody

bp = Blueprint("api", __name__, url_prefix="/api/v1")
errors.register(bp)

AUDIT_ACTOR_LENGTH = 200  # AuditEntry.actor


def public(view):
    """Marks an endpoint anyone may call (published, read-only data). Every other endpoint of the
    API requires an organizer's token: protection is the default, never remembered per view."""
    view.api_public = True
    return view


@bp.before_request
def authenticate():
    view = current_app.view_functions.get(request.endpoint)
    if getattr(view, "api_public", False):
        return
    scheme, _space, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated(_("Send an organizer's API token in the header Authorization: Bearer <token>."))
    found = user_for_api_token(token)
    if found is None:
        raise Unauthenticated(_("The API token is unknown or has been revoked."), bearer_error="invalid_token")
    user, api_token = found
    # Audit entries name the token, so that a script's actions can be told from its owner's.
    g.audit_actor = (user, f"{user.email} (API token “{api_token.label}”)"[:AUDIT_ACTOR_LENGTH])


def json_object(fields) -> dict:
    """The request's JSON body, which must be an object with no member outside `fields`."""
    if not request.is_json:
        raise UnsupportedBody(_("Send a JSON body with the header Content-Type: application/json."))
    body = request.get_json(silent=True)
    if body is None:
        raise BadRequestBody(_("The body is not valid JSON."))
    if not isinstance(body, dict):
        raise InvalidRequest(_("The body must be a JSON object."))
    unknown = sorted(set(body) - set(fields))
    if unknown:
        raise InvalidRequest(
            _("Unknown members: %(names)s.", names=", ".join(unknown)),
            fields={name: [_("Not a member of this request.")] for name in unknown},
        )
    return body
