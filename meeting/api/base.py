"""The API blueprint (flask-smorest), its bearer-token authentication, the rules every request follows,
and the pages of lists.

Every endpoint needs an organizer's API token (`Authorization: Bearer <token>`) unless it is marked
`@public`: protection is the default, never remembered per view. Public endpoints are the read-only
ones about published meetings; they alone answer cross-origin requests (CORS), so that any web page
may show a meeting's program or documents."""

import math

from flask import abort, current_app, g, request
from flask_babel import gettext as _
from flask_smorest import Api, Blueprint

from ..accounts.services import user_for_api_token
from ..extensions import db
from . import errors
from .errors import Unauthenticated, UnsupportedBody
from .schemas import ErrorSchema

AUDIT_ACTOR_LENGTH = 200  # AuditEntry.actor
BODY_METHODS = ("POST", "PUT", "PATCH")
READ_METHODS = ("GET", "HEAD", "OPTIONS")

bp = Blueprint(
    "api",
    __name__,
    url_prefix="/api/v1",
    description="Meetings, their programs, documents, registrations and invitations.",
)
errors.register(bp)


class MeetingApi(Api):
    """flask-smorest's Api, documenting the API's own error shape. Its errors are answered by the
    blueprint's handlers (errors.py), so that the rest of the site keeps its HTML error pages."""

    ERROR_SCHEMA = ErrorSchema

    def _register_error_handlers(self):
        pass


def public(view):
    """Marks an endpoint anyone may call, without a token (published, read-only data)."""
    view = bp.doc(security=[])(view)
    view.api_public = True
    return view


def is_public(endpoint) -> bool:
    return getattr(current_app.view_functions.get(endpoint), "api_public", False)


@bp.url_value_preprocessor
def refuse_nul_characters(endpoint, values):
    # No meeting has one in its address, and PostgreSQL could not even look it up.
    if any("\x00" in value for value in (values or {}).values() if isinstance(value, str)):
        abort(404)


@bp.before_request
def authenticate():
    if is_public(request.endpoint):
        return
    scheme, _space, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated(_("Send an organizer's API token in the header Authorization: Bearer <token>."))
    found = user_for_api_token(token)
    if found is None:
        raise Unauthenticated(_("The API token is unknown or has been revoked."), bearer_error="invalid_token")
    db.session.commit()  # the token's "last used" time, whatever the request does next
    user, api_token = found
    # Audit entries name the token, so that a script's actions can be told from its owner's.
    g.audit_actor = (user, f"{user.email} (API token “{api_token.label}”)"[:AUDIT_ACTOR_LENGTH])


@bp.before_request
def require_json_body():
    if request.method in BODY_METHODS and not request.is_json:
        raise UnsupportedBody(_("Send a JSON body with the header Content-Type: application/json."))


def allow_cross_origin_reads(response):
    """CORS for the public read endpoints only: any origin may read them, without credentials. The
    organizers' endpoints answer no preflight, so browsers never send them a token from another site."""
    if request.method in READ_METHODS and request.endpoint and is_public(request.endpoint):
        response.headers["Access-Control-Allow-Origin"] = "*"
        if request.method == "OPTIONS":
            response.headers["Access-Control-Allow-Methods"] = "GET, HEAD, OPTIONS"
            response.headers["Access-Control-Allow-Headers"] = "Accept, Accept-Language, Content-Language"
            response.headers["Access-Control-Max-Age"] = "86400"
    return response


# Pages of lists --------------------------------------------------------------------------------


def page_of_list(items, page, per_page) -> dict:
    """One page of a list already in memory (a meeting's documents, the public meetings)."""
    start = (page - 1) * per_page
    return {
        "total": len(items),
        "page": page,
        "per_page": per_page,
        "pages": math.ceil(len(items) / per_page),
        "items": items[start : start + per_page],
    }


def page_of_query(pagination) -> dict:
    """A page from `db.paginate`."""
    return {
        "total": pagination.total,
        "page": pagination.page,
        "per_page": pagination.per_page,
        "pages": pagination.pages,
        "items": pagination.items,
    }
