"""What every page shares: security headers, request logging, error pages, the language switch
and the template helpers for dates in the meeting's timezone."""

import json
import logging
import time
from functools import lru_cache
from urllib.parse import urlsplit

from babel.dates import format_date, format_datetime, format_time
from flask import Blueprint, current_app, g, redirect, render_template, request, session, url_for
from flask_babel import get_locale as babel_locale  # the language in force (an email's, in force_locale)
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException

from .errors import DomainError
from .i18n import get_locale, language_name
from .timeutil import zone

bp = Blueprint("core", __name__)
request_log = logging.getLogger("meeting.request")

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
# On every response, unless the view set its own: added in one pass over the headers (five
# `setdefault` calls would read them five times, on every request, downloads included).
SECURITY_HEADERS = {
    "content-security-policy": ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    "x-content-type-options": ("X-Content-Type-Options", "nosniff"),
    "x-frame-options": ("X-Frame-Options", "DENY"),
    "referrer-policy": ("Referrer-Policy", "same-origin"),
    "permissions-policy": ("Permissions-Policy", "camera=(self), microphone=(), geolocation=()"),
}


LARGEST_ID = 2**31 - 1  # every table's ids are 32-bit integers


def record_id(value) -> int | None:
    """A record's id given in a form or a query string ("12"), or None when the value is none: not a
    number, or a number no row can have (a larger one would make PostgreSQL refuse the query)."""
    text = str(value or "")
    if not text.isdigit() or len(text) > len(str(LARGEST_ID)):
        return None
    number = int(text)
    return number if 0 < number <= LARGEST_ID else None


def record_ids(values) -> list[int]:
    """The ids among `values` (a form's checked boxes); the others are left out."""
    return [number for value in values if (number := record_id(value)) is not None]


def safe_next(target, fallback):
    """Only same-site paths are followed after a login or a language change."""
    if not target:
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return fallback
    return target


@bp.post("/language")
def choose_language():
    lang = request.form.get("lang", "")
    if lang in current_app.config["LANGUAGES"]:
        session["lang"] = lang
    return redirect(safe_next(request.form.get("next"), url_for("meetings.index")))


def wants_json():
    return request.path.startswith("/api/")


def error_page(status, title, message, headers=None):
    headers = headers or {}
    if wants_json():
        code = {400: "bad_request", 403: "forbidden", 404: "not_found", 405: "method_not_allowed", 409: "conflict"}
        return {"error": {"code": code.get(status, "error"), "message": message, "fields": {}}}, status, headers
    return render_template("error.html", status=status, title=title, message=message), status, headers


def drain_request_body(limit=1024**3):
    """Read and drop the rest of a refused upload (up to `limit` bytes), so that the client reads
    our answer instead of a reset connection: gunicorn does not drain what the app left unread."""
    stream = request.environ.get("wsgi.input")
    remaining = min(request.content_length or 0, limit)
    while stream is not None and remaining > 0:
        chunk = stream.read(min(remaining, 65536))
        if not chunk:
            break
        remaining -= len(chunk)


def handle_http_error(error: HTTPException):
    messages = {
        400: (_("Bad request"), _("The request could not be understood. Please go back and try again.")),
        403: (_("Access denied"), _("You do not have access to this page.")),
        404: (
            _("Page not found"),
            _("There is no page at this address. Check the link, or start from the list of meetings."),
        ),
        405: (_("Not allowed"), _("This page cannot be used that way.")),
        413: (_("File too large"), _("The file you sent is larger than allowed. Please send a smaller file.")),
        429: (_("Too many requests"), _("Please wait a moment before trying again.")),
    }
    if error.code == 413:
        drain_request_body()
    title, message = messages.get(error.code, (error.name, _("The request could not be completed.")))
    # Keep what the error itself says in headers: Allow on 405, Retry-After on 429...
    headers = {key: value for key, value in error.get_headers() if key.lower() != "content-type"}
    return error_page(error.code or 500, title, message, headers)


def handle_csrf_error(error: CSRFError):
    return error_page(
        400,
        _("The form has expired"),
        _("For your security the form could not be accepted. Go back, reload the page and send it again."),
    )


def handle_domain_error(error: DomainError):
    return error_page(error.status, _("Not possible"), error.message)


def handle_integrity_error(error: IntegrityError):
    # Services check the rules first; this is the race where two people saved the same thing at
    # the same instant and the database's constraint decided.
    from ..extensions import db

    db.session.rollback()
    current_app.logger.warning("constraint refused a write on %s: %s", request.path, error.orig)
    return error_page(
        409,
        _("Someone else just saved this"),
        _("Your change conflicts with one saved a moment ago, so it was not saved. Reload the page and try again."),
    )


def handle_unexpected_error(error: Exception):
    current_app.logger.exception("unhandled error on %s %s", request.method, request.path)
    from ..extensions import db

    db.session.rollback()
    return error_page(
        500,
        _("Something went wrong"),
        _("The Secretariat has been told about this error. Nothing you sent was lost; please try again later."),
    )


def start_timer():
    g.request_started = time.perf_counter()


def finish_request(response):
    missing = dict(SECURITY_HEADERS)
    for name, _value in response.headers.items():
        missing.pop(name.lower(), None)
    response.headers.extend(missing.values())
    started = getattr(g, "request_started", None)
    duration_ms = round((time.perf_counter() - started) * 1000, 1) if started else None
    request_log.info(
        json.dumps(
            {
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": duration_ms,
            }
        )
    )
    return response


def localdatetime(moment, tz_name, format="medium"):
    """An instant as the wall-clock time of `tz_name`, in the page's language."""
    if moment is None:
        return ""
    return format_datetime(moment, format, tzinfo=zone(tz_name), locale=babel_locale())


def localtime(moment, tz_name, format="short"):
    if moment is None:
        return ""
    return format_time(moment, format, tzinfo=zone(tz_name), locale=babel_locale())


@lru_cache(maxsize=4096)
def _date_text(day, format, locale) -> str:
    return format_date(day, format, locale=locale)


def localdate(day, format="long"):
    """A day in the language in force: the page's, or that of the email being written. Remembered:
    an invitation round writes the meeting's dates in thousands of emails, and Babel is slow at it."""
    return _date_text(day, format, str(babel_locale())) if day else ""


def dateformat(day, format="medium"):
    """Flask-Babel's `dateformat` filter (a date, or a datetime's date as it stands), remembered as
    `localdate` is."""
    return localdate(day, format)


def template_helpers():
    return {
        "current_locale": get_locale(),
        "languages": [(code, language_name(code)) for code in current_app.config["LANGUAGES"]],
    }


def init_app(app):
    app.register_blueprint(bp)
    app.before_request(start_timer)
    app.after_request(finish_request)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(IntegrityError, handle_integrity_error)
    app.register_error_handler(Exception, handle_unexpected_error)
    app.context_processor(template_helpers)
    app.jinja_env.filters["localdatetime"] = localdatetime
    app.jinja_env.filters["localtime"] = localtime
    app.jinja_env.filters["localdate"] = localdate
    app.jinja_env.filters["dateformat"] = dateformat  # in place of Flask-Babel's (see `dateformat`)
