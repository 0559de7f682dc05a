"""The JSON API, version 1, under /api/v1.

Every endpoint needs an organizer's API token (`Authorization: Bearer <token>`) unless it is marked
`@public`; every error is a JSON body `{"error": {"code", "message", "fields"}}` with a 4xx status.
Requests carry no cookie session, so the API is exempt from CSRF protection. Each endpoint calls one
service and commits once."""


def init_app(app):
    from ..extensions import csrf
    from . import invitations  # noqa: F401  (adds its endpoints to the blueprint)
    from .base import bp

    csrf.exempt(bp)
    app.register_blueprint(bp)
