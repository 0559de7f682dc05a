"""The API's errors, all answered as `{"error": {"code", "message", "fields"}}`.

Services refuse a value with a plain DomainError (status 400 on the web pages); the API answers those
422: the request was well formed, its content is refused. Other domain errors keep their status
(404 not found, 409 conflict, 403 forbidden)."""

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


class Unauthenticated(DomainError):
    code = "unauthorized"
    status = 401

    def __init__(self, message, bearer_error=None):
        super().__init__(message)
        self.bearer_error = bearer_error  # RFC 6750: "invalid_token" when a token was given


class BadRequestBody(DomainError):
    code = "bad_request"
    status = 400


class UnsupportedBody(DomainError):
    code = "unsupported_media_type"
    status = 415


class InvalidRequest(DomainError):
    code = "invalid"
    status = 422


def error_response(code, message, status, fields=None):
    response = jsonify({"error": {"code": code, "message": str(message), "fields": fields or {}}})
    response.status_code = status
    return response


def handle_domain_error(error: DomainError):
    status = 422 if error.status == 400 and type(error) is DomainError else error.status
    code = "invalid" if status == 422 else error.code
    response = error_response(code, error.message, status, error.fields)
    if isinstance(error, Unauthenticated):
        challenge = 'Bearer realm="api"'
        if error.bearer_error:
            challenge += f', error="{error.bearer_error}"'
        response.headers["WWW-Authenticate"] = challenge
    return response


def handle_http_error(error: HTTPException):
    messages = {
        400: _("The request could not be understood."),
        404: _("There is nothing at this address."),
        405: _("This address does not accept the %(method)s method.", method=request.method),
        415: _("Send a JSON body with the header Content-Type: application/json."),
    }
    status = error.code or 500
    response = error_response(HTTP_CODES.get(status, "error"), messages.get(status, error.description), status)
    for name, value in error.get_headers():
        if name.lower() == "allow":
            response.headers[name] = value
    return response


def register(bp):
    bp.register_error_handler(DomainError, handle_domain_error)
    bp.register_error_handler(HTTPException, handle_http_error)
