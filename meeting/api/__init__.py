"""The JSON API, version 1, under /api/v1, described by /api/v1/openapi.json and /api/v1/docs.

Built with flask-smorest: marshmallow schemas (schemas.py) validate the requests, serialise the
answers and generate the OpenAPI description. Every endpoint needs an organizer's API token
(`Authorization: Bearer <token>`) unless it is marked `@public`; every error is a JSON body
`{"error": {"code", "message", "fields"}}` with a 4xx status. Requests carry no cookie session, so
the API is exempt from CSRF protection. Each endpoint calls one service and commits once."""

DESCRIPTION = """\
The meetings of the Organization, their programs and documents, for anyone; registrations, decisions
and invitations for organizers.

Authentication. The public endpoints (marked "no token") read published meetings only. The others
need an organizer's API token, sent as `Authorization: Bearer <token>`; an organizer creates one on
their account page or with `flask organizer token EMAIL`. A missing, unknown or revoked token, or the
token of a deactivated organizer, is answered 401 with `WWW-Authenticate: Bearer`. Every change made
with a token is written to the meeting's audit log under the token's label.

Errors. Every error is `{"error": {"code": "...", "message": "...", "fields": {"name": ["..."]}}}`
with a 4xx status: 400 (the body is not JSON), 401, 404, 405 (with `Allow`), 409 (the action does not
apply now), 415 (the body is not `application/json`), 422 (refused values, named in `fields`), 429
(too many requests, with `Retry-After`).

Lists. Lists are paginated with `page` (from 1) and `per_page` (1 to 100, 20 by default) and say
`total` and `pages`.

Limits. Writes are limited per client address; reads are not. The public endpoints answer
cross-origin requests (`Access-Control-Allow-Origin: *`); the organizers' endpoints do not."""

SPEC_OPTIONS = {
    "title": "Meeting API",
    "version": "1",
    "openapi_version": "3.0.3",
    "info": {"description": DESCRIPTION},
    "security": [{"bearerAuth": []}],
}


def init_app(app):
    from ..core import ratelimit
    from ..extensions import csrf
    from . import docs, invitations, meetings, registrations  # noqa: F401  (add their endpoints)
    from .base import MeetingApi, allow_cross_origin_reads, bp

    api = MeetingApi(app, spec_kwargs=SPEC_OPTIONS)
    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "description": "An organizer's API token."}
    )
    csrf.exempt(bp)
    ratelimit.limit_api_writes(bp)
    api.register_blueprint(bp)
    app.register_blueprint(docs.bp)
    app.after_request(allow_cross_origin_reads)
    app.extensions["meeting_api"] = api
