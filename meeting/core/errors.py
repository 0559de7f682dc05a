"""Domain errors: raised by services when a business rule refuses an operation.

The message is written for the person who asked (it is flashed or returned in the API error
body), so it is translated where it is raised. `fields` ties the error to form fields."""


class DomainError(Exception):
    code = "invalid"
    status = 400

    def __init__(self, message, fields=None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}


class NotFound(DomainError):
    code = "not_found"
    status = 404


class Conflict(DomainError):
    code = "conflict"
    status = 409


class PermissionDenied(DomainError):
    code = "forbidden"
    status = 403
