"""The organizers' invitation forms (choose and invite, filter the list, resend) and the delegation's
decline form."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    Form,
    HiddenField,
    RadioField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length

from ..directory.forms import KIND_LABELS
from ..directory.models import OrganizationKind
from .models import STATUS_LABELS
from .services import MESSAGE_LENGTH, REASON_LENGTH

SCOPE_LABELS = {
    "member_states": _l("All Member States"),
    "kind": _l("All organizations of one kind"),
    "search": _l("All organizations matching the search"),
    "selected": _l("The organizations ticked in the list"),
}


def _kind_choices(first=None):
    choices = [SelectChoice(str(kind), label) for kind, label in KIND_LABELS.items()]
    return [SelectChoice("", first), *choices] if first else choices


class NewInvitationsForm(FlaskForm):
    scope = RadioField(
        _l("Whom to invite"),
        choices=[SelectChoice(value, label) for value, label in SCOPE_LABELS.items()],
        default="member_states",
        validators=[DataRequired()],
    )
    kind = SelectField(_l("Kind of organization"), choices=_kind_choices(), default=OrganizationKind.IGO.value)
    # The directory search shown on the page, for the scope "search".
    q = HiddenField()
    search_kind = HiddenField()
    # Rendered by the template as a table of checkboxes, one per organization found.
    organization_ids = SelectMultipleField(_l("Organizations"), coerce=int, validate_choice=False)
    message = TextAreaField(_l("Personal message (optional)"), validators=[Length(max=MESSAGE_LENGTH)])

    def selection(self) -> dict:
        """The arguments of `services.select_organizations` for the chosen scope."""
        if self.scope.data == "member_states":
            return {"kind": OrganizationKind.MEMBER_STATE.value}
        if self.scope.data == "kind":
            return {"kind": self.kind.data}
        if self.scope.data == "search":
            return {"kind": self.search_kind.data or "", "search": self.q.data or ""}
        return {"ids": list(self.organization_ids.data or [])}


class InvitationFilterForm(Form):
    """Read from the query string, so it has no CSRF token."""

    status = SelectField(
        _l("Status"),
        choices=[SelectChoice("", _l("All")), *(SelectChoice(s.value, label) for s, label in STATUS_LABELS.items())],
        validate_choice=False,
    )
    kind = SelectField(_l("Kind of organization"), choices=_kind_choices(_l("All kinds")), validate_choice=False)


class ResendForm(FlaskForm):
    recipients = TextAreaField(_l("Send to"), validators=[DataRequired()])
    new_link = BooleanField(_l("Make a new link (the link of the earlier emails stops working)"))


class DeclineForm(FlaskForm):
    reason = TextAreaField(_l("Reason (optional)"), validators=[Length(max=REASON_LENGTH)])
