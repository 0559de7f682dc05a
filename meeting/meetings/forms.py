"""The organizers' meeting and program-session forms, and the fields for texts entered in each of
the meeting's languages (`TranslationsForm`, also used by the program and documents forms).

Dates and times are entered as wall-clock values in the meeting's timezone; the services turn
them into UTC and check the business rules (slug, timezone, dates, languages...)."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from babel import Locale
from flask import current_app
from flask_babel import gettext as _
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

from ..config import DefaultConfig
from ..core.i18n import language_name
from ..core.models import current_language
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


# The languages a text may be translated into: the application's. A form has fields for all of them and
# shows those of the meeting's languages other than its main one (`translation_sections`); the
# services ignore whatever is sent for any other language.
TRANSLATION_LANGUAGES = DefaultConfig.LANGUAGES


def language_in_sentence(code: str) -> str:
    """A language's name as it reads inside a sentence of the page: "Title in French", "Titre en
    anglais", "Título en inglés"."""
    return Locale.parse(code).get_display_name(current_language() or code) or code


@dataclass
class TranslationSection:
    language: str  # the code, for the fields' lang attribute
    name: str  # the language's name in the page's language
    hint: str
    fields: list


class TranslationsForm:
    """A form some of whose texts can be entered in each language of the meeting: `add_translation_fields`
    gives it a field `<text>_<code>` for each text and each of TRANSLATION_LANGUAGES, with `lang`
    set, so that spelling checkers and screen readers use the right language."""

    translated: dict[str, Callable[[str], str]] = {}  # text: its field's label, given a language's name

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for code in TRANSLATION_LANGUAGES:
            language = language_in_sentence(code)
            for name, label in self.translated.items():
                self[f"{name}_{code}"].label.text = label(language)

    @classmethod
    def translation_data(cls, obj) -> dict:
        """The fields' values for an object's translations (`core.models.Translatable`)."""
        return {
            f"{name}_{code}": obj.translation(name, code) for name in cls.translated for code in TRANSLATION_LANGUAGES
        }

    def translations_data(self) -> dict:
        """{language: {text: what was entered}} for every language; the service keeps the meeting's."""
        return {
            code: {name: self[f"{name}_{code}"].data or "" for name in self.translated}
            for code in TRANSLATION_LANGUAGES
        }

    def main_language_hint(self, meeting) -> str:
        """Under the main-language fields of a meeting with several languages: which language they are in."""
        if meeting is None or len(meeting.content_languages) < 2:
            return ""
        return _("In %(language)s, the meeting's main language.", language=language_in_sentence(meeting.main_language))

    def translation_sections(self, meeting) -> list[TranslationSection]:
        """One section per language of `meeting` other than its main one (none for a new meeting)."""
        if meeting is None:
            return []
        main, *others = meeting.content_languages
        hint = _(
            "Leave a field empty to show the text in %(language)s instead, marked as not translated.",
            language=language_in_sentence(main),
        )
        return [
            TranslationSection(
                code,
                language_name(code, current_language() or code),
                hint,
                [self[f"{name}_{code}"] for name in self.translated],
            )
            for code in others
            if code in TRANSLATION_LANGUAGES
        ]


def add_translation_fields(form_class, **texts):
    """Declare `form_class`'s translated texts: `name=(field class, maximum length or None, label)`,
    the label a function of the language's name in a sentence."""
    form_class.translated = {name: label for name, (_field_class, _length, label) in texts.items()}
    for name, (field_class, length, _label) in texts.items():
        for code in TRANSLATION_LANGUAGES:
            validators = [Optional(), Length(max=length)] if length else [Optional()]
            setattr(form_class, f"{name}_{code}", field_class(validators=validators, render_kw={"lang": code}))
    return form_class


class MeetingForm(TranslationsForm, FlaskForm):
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
        return cls(data=data | cls.translation_data(meeting))

    def values(self) -> dict:
        return {name: self[name].data for name in MEETING_FIELD_LABELS} | {"translations": self.translations_data()}


add_translation_fields(
    MeetingForm,
    title=(StringField, 300, lambda language: _("Title in %(language)s", language=language)),
    description=(TextAreaField, None, lambda language: _("Description in %(language)s", language=language)),
)


class ProgramSessionForm(TranslationsForm, FlaskForm):
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
        return cls(data=data | cls.translation_data(session))

    @classmethod
    def for_new_session(cls, meeting):
        """An empty form proposing the hour after the last session, or 10:00 on the first day."""
        if meeting.sessions:
            start = _local(meeting.sessions[-1].ends_at, meeting.timezone)
        else:
            start = datetime.combine(meeting.starts_on, time(10, 0))
        return cls(data={"starts_at": start, "ends_at": start + timedelta(hours=1)})

    def values(self) -> dict:
        return {name: self[name].data for name in SESSION_FIELD_LABELS} | {"translations": self.translations_data()}


add_translation_fields(
    ProgramSessionForm,
    title=(StringField, 300, lambda language: _("Title in %(language)s", language=language)),
    description=(TextAreaField, None, lambda language: _("Description in %(language)s", language=language)),
)
