"""What every form view shares: showing a service's refusal on the form it came from."""

from flask import flash

from .errors import DomainError


def show_refusal(form, error: DomainError) -> None:
    """Put each message next to its field; flash what belongs to no field of the form."""
    unplaced = []
    for name, messages in error.fields.items():
        if name in form:
            form[name].errors = [*form[name].errors, *messages]
        else:
            unplaced.extend(messages)
    if unplaced or not error.fields:
        flash(" ".join(unplaced) or error.message, "error")
