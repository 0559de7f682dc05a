"""The API's errors, all answered as `{"error": {"code", "message", "fields"}}` (schemas.ErrorSchema).

A request that the schemas refuse (webargs) is 422 with a message for each refused member in `fields`;
a body that is not JSON at all is 400. Services refuse a value with a plain DomainError (status 400 on
the web pages); the API answers those 422 too: the request was well formed, its content is refused.
Other domain errors keep their status (404 not found, 409 conflict, 403 forbidden)."""

from flask import jsonify, request
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

from ..core.errors import DomainError

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "too_many_requests",
}
# Headers an HTTP error carries that the client needs.
KEPT_HEADERS = ("allow", "retry-after", "www-authenticate")


class Unauthenticated(DomainError):
    code = "unauthorized"
    status = 401

    def __init__(self, message, bearer_error=None):
        super().__init__(message)
        self.bearer_error = bearer_error  # RFC 6750: "invalid_token" when a token was given


class UnsupportedBody(DomainError):
    code = "unsupported_media_type"
    status = 415


def error_response(code, message, status, fields=None):
    response = jsonify({"error": {"code": code, "message": str(message), "fields": fields or {}}})
    response.status_code = status
    return response


def handle_domain_error(error: DomainError):
    status = 422 if error.status == 400 and type(error) is DomainError else error.status
    code = "invalid" if status == 422 else error.code
    fields = {name: [str(message) for message in _messages(value)] for name, value in error.fields.items()}
    response = error_response(code, error.message, status, fields)
    if isinstance(error, Unauthenticated):
        challenge = 'Bearer realm="api"'
        if error.bearer_error:
            challenge += f', error="{error.bearer_error}"'
        response.headers["WWW-Authenticate"] = challenge
    return response


def _messages(value, prefix=""):
    """The messages of a marshmallow error tree, flattened: a message about an item of a list is
    prefixed with its position ("0: Not a valid integer.")."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _messages(item, f"{prefix}{key}: ")
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _messages(item, prefix)
    else:
        yield f"{prefix}{value}"


def _refused_request(status, messages):
    """The answer to a request refused by its schema; `messages` are webargs', by location."""
    if status == 400:  # webargs' only 400: the body is not JSON
        return error_response("bad_request", _("The body is not valid JSON."), 400)
    fields, general = {}, []
    for by_location in messages.values():
        if not isinstance(by_location, dict):
            general.extend(_messages(by_location))
            continue
        for name, value in by_location.items():
            if name == "_schema":
                general.extend(_messages(value))
            else:
                fields.setdefault(str(name), []).extend(_messages(value))
    if general:
        message = " ".join(general)
    else:
        message = _("Some values are not valid: %(names)s.", names=", ".join(fields))
    return error_response("invalid", message, 422, fields)


def handle_http_error(error: HTTPException):
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    if status in (400, 422) and "messages" in data:
        return _refused_request(status, data["messages"])
    messages = {
        400: _("The request could not be understood."),
        404: _("There is nothing at this address."),
        405: _("This address does not accept the %(method)s method.", method=request.method),
        415: _("Send a JSON body with the header Content-Type: application/json."),
        429: _("Too many requests from your address: wait a moment before trying again."),
    }
    response = error_response(HTTP_CODES.get(status, "error"), messages.get(status, error.description), status)
    for name, value in error.get_headers():
        if name.lower() in KEPT_HEADERS:
            response.headers[name] = value
    return response


def register(bp):
    bp.register_error_handler(DomainError, handle_domain_error)
    bp.register_error_handler(HTTPException, handle_http_error)
