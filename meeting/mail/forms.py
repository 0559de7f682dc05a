"""The outbox filter and the organizer's test email."""

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext as _lp
from flask_wtf import FlaskForm
from wtforms import EmailField, Form, SearchField, SelectChoice, SelectField
from wtforms.validators import DataRequired, Email, Length

from .models import OutboxStatus

STATUS_LABELS = {
    OutboxStatus.QUEUED: _lp("email status", "Queued"),
    OutboxStatus.SENDING: _lp("email status", "Being sent"),
    OutboxStatus.SENT: _lp("email status", "Sent"),
    OutboxStatus.FAILED: _lp("email status", "Failed"),
    OutboxStatus.CANCELLED: _lp("email status", "Cancelled"),
}


class OutboxFilterForm(Form):
    """Read from the query string, so it has no CSRF token. The meetings are set by the view."""

    meeting = SelectField(_l("Meeting"), choices=[], validate_choice=False)
    status = SelectField(
        _l("Status"),
        choices=[SelectChoice("", _l("All"))] + [SelectChoice(s.value, label) for s, label in STATUS_LABELS.items()],
        validate_choice=False,
    )
    q = SearchField(_l("Recipient or subject"), validators=[Length(max=200)])


class SendTestEmailForm(FlaskForm):
    email = EmailField(_l("Send to"), validators=[DataRequired(), Email(), Length(max=254)])
    language = SelectField(_l("Language"), choices=[])
