"""The organizers' meeting and program-session forms.

Dates and times are entered as wall-clock values in the meeting's timezone; the services turn
them into UTC and check the business rules (slug, timezone, dates, languages...)."""

from datetime import datetime, time, timedelta

from flask import current_app
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    IntegerField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from ..core.i18n import language_name
from ..core.timeutil import timezone_names, to_local
from .models import MEETING_KIND_LABELS, SESSION_KIND_LABELS, MeetingKind, SessionKind
from .services import MEETING_FIELD_LABELS, SESSION_FIELD_LABELS

# What <input type="datetime-local"> sends and expects (seconds are accepted too).
LOCAL_DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def _local(moment, tz_name):
    """An aware instant as the naive wall-clock time a datetime-local input shows."""
    return to_local(moment, tz_name).replace(tzinfo=None) if moment is not None else None


class MeetingForm(FlaskForm):
    slug = StringField(MEETING_FIELD_LABELS["slug"], validators=[DataRequired(), Length(max=80)])
    symbol_prefix = StringField(MEETING_FIELD_LABELS["symbol_prefix"], validators=[Length(max=40)])
    title = StringField(MEETING_FIELD_LABELS["title"], validators=[DataRequired(), Length(max=300)])
    kind = SelectField(
        MEETING_FIELD_LABELS["kind"],
        choices=[SelectChoice(kind.value, MEETING_KIND_LABELS[kind]) for kind in MeetingKind],
        default=MeetingKind.AD_HOC_INFORMAL.value,
    )
    description = TextAreaField(MEETING_FIELD_LABELS["description"])
    venue = StringField(MEETING_FIELD_LABELS["venue"], validators=[Length(max=300)])
    city = StringField(MEETING_FIELD_LABELS["city"], validators=[Length(max=100)])
    # Checked by the service, which explains what a valid zone is.
    timezone = SelectField(MEETING_FIELD_LABELS["timezone"], validate_choice=False, default="UTC")
    starts_on = DateField(MEETING_FIELD_LABELS["starts_on"], validators=[DataRequired()])
    ends_on = DateField(MEETING_FIELD_LABELS["ends_on"], validators=[DataRequired()])
    chair = StringField(MEETING_FIELD_LABELS["chair"], validators=[Length(max=300)])
    registration_opens_at = DateTimeLocalField(
        MEETING_FIELD_LABELS["registration_opens_at"], validators=[Optional()], format=LOCAL_DATETIME_FORMATS
    )
    registration_closes_at = DateTimeLocalField(
        MEETING_FIELD_LABELS["registration_closes_at"], validators=[Optional()], format=LOCAL_DATETIME_FORMATS
    )
    capacity = IntegerField(MEETING_FIELD_LABELS["capacity"], validators=[Optional()])
    per_delegation_limit = IntegerField(MEETING_FIELD_LABELS["per_delegation_limit"], validators=[Optional()])
    requires_credentials = BooleanField(MEETING_FIELD_LABELS["requires_credentials"])
    modification_deadline = DateTimeLocalField(
        MEETING_FIELD_LABELS["modification_deadline"], validators=[Optional()], format=LOCAL_DATETIME_FORMATS
    )
    languages = MultiCheckboxField(
        MEETING_FIELD_LABELS["languages"],
        validate_choice=False,
        default=lambda: list(current_app.config["LANGUAGES"]),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.timezone.choices = [SelectChoice(name) for name in timezone_names()]
        self.languages.choices = [SelectChoice(code, language_name(code)) for code in current_app.config["LANGUAGES"]]

    @classmethod
    def for_meeting(cls, meeting):
        """The form filled in with a meeting's values, times in the meeting's timezone."""
        data = {name: getattr(meeting, name) for name in MEETING_FIELD_LABELS}
        data["languages"] = meeting.language_codes
        for name in ("registration_opens_at", "registration_closes_at", "modification_deadline"):
            data[name] = _local(data[name], meeting.timezone)
        return cls(data=data)

    def values(self) -> dict:
        return {name: self[name].data for name in MEETING_FIELD_LABELS}


class ProgramSessionForm(FlaskForm):
    title = StringField(SESSION_FIELD_LABELS["title"], validators=[DataRequired(), Length(max=300)])
    kind = SelectField(
        SESSION_FIELD_LABELS["kind"],
        choices=[SelectChoice(kind.value, SESSION_KIND_LABELS[kind]) for kind in SessionKind],
        default=SessionKind.OTHER.value,
    )
    starts_at = DateTimeLocalField(
        SESSION_FIELD_LABELS["starts_at"], validators=[DataRequired()], format=LOCAL_DATETIME_FORMATS
    )
    ends_at = DateTimeLocalField(
        SESSION_FIELD_LABELS["ends_at"], validators=[DataRequired()], format=LOCAL_DATETIME_FORMATS
    )
    room = StringField(SESSION_FIELD_LABELS["room"], validators=[Length(max=200)])
    description = TextAreaField(SESSION_FIELD_LABELS["description"])

    @classmethod
    def for_session(cls, session):
        tz_name = session.meeting.timezone
        data = {name: getattr(session, name) for name in SESSION_FIELD_LABELS}
        data["starts_at"] = _local(session.starts_at, tz_name)
        data["ends_at"] = _local(session.ends_at, tz_name)
        return cls(data=data)

    @classmethod
    def for_new_session(cls, meeting):
        """An empty form proposing the hour after the last session, or 10:00 on the first day."""
        if meeting.sessions:
            start = _local(meeting.sessions[-1].ends_at, meeting.timezone)
        else:
            start = datetime.combine(meeting.starts_on, time(10, 0))
        return cls(data={"starts_at": start, "ends_at": start + timedelta(hours=1)})

    def values(self) -> dict:
        return {name: self[name].data for name in SESSION_FIELD_LABELS}
