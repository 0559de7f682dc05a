"""The meeting's documents: background studies and the like, by symbol, one file per language;
uploads checked and stored, downloads with an access check (participant-only documents), counts,
and all the documents of a language as one streamed ZIP file."""

# Besides the file, a multipart upload carries the form's other fields and its boundaries.
FORM_OVERHEAD_BYTES = 1024 * 1024


def init_app(app):
    from . import views
    from .models import Document  # noqa: F401  (registers the tables)

    _fit_request_limit(app)
    app.register_blueprint(views.bp)
    app.register_blueprint(views.manage_bp)


def _fit_request_limit(app):
    """A document as large as DOCUMENT_MAX_BYTES must get through Flask's request limit, so that a
    file just over the document limit is refused by the upload check with its own message, not by
    a generic 413; a request larger than that still gets the 413 page."""
    limit = app.config.get("MAX_CONTENT_LENGTH")
    needed = app.config["DOCUMENT_MAX_BYTES"] + FORM_OVERHEAD_BYTES
    if limit is not None and limit < needed:
        app.config["MAX_CONTENT_LENGTH"] = needed
