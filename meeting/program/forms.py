"""The organizers' slot, speaker, availability and offer forms, and the speaker's answer.

Times are entered as wall-clock values in the meeting's timezone; the services turn them into UTC
and check the business rules."""

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    DateTimeLocalField,
    EmailField,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import DataRequired, Email, InputRequired, Length, NumberRange, Optional

from ..core.i18n import language_name
from ..core.timeutil import timezone_names, to_local
from ..meetings.forms import LOCAL_DATETIME_FORMATS, TranslationsForm, add_translation_fields
from .models import PERSPECTIVE_LABELS, SLOT_KIND_LABELS, Perspective, SlotKind
from .services import MAX_BIOGRAPHY_LENGTH, MAX_NOTE_LENGTH, MAX_SLOT_MINUTES, SLOT_FIELD_LABELS, SPEAKER_FIELD_LABELS


def _local(moment, tz_name):
    return to_local(moment, tz_name).replace(tzinfo=None) if moment is not None else None


class SlotForm(TranslationsForm, FlaskForm):
    starts_at = DateTimeLocalField(
        SLOT_FIELD_LABELS["starts_at"], validators=[DataRequired()], format=LOCAL_DATETIME_FORMATS
    )
    duration_minutes = IntegerField(
        SLOT_FIELD_LABELS["duration_minutes"], validators=[InputRequired(), NumberRange(1, MAX_SLOT_MINUTES)]
    )
    topic = StringField(SLOT_FIELD_LABELS["topic"], validators=[Length(max=300)])
    kind = SelectField(
        SLOT_FIELD_LABELS["kind"],
        choices=[SelectChoice(kind.value, SLOT_KIND_LABELS[kind]) for kind in SlotKind],
        default=SlotKind.TALK.value,
    )

    @classmethod
    def for_slot(cls, slot):
        return cls(
            data={
                "starts_at": _local(slot.starts_at, slot.session.meeting.timezone),
                "duration_minutes": slot.duration_minutes,
                "topic": slot.topic,
                "kind": slot.kind,
            }
            | cls.translation_data(slot)
        )

    @classmethod
    def for_new_slot(cls, session, starts_at):
        return cls(data={"starts_at": _local(starts_at, session.meeting.timezone), "duration_minutes": 20})

    def values(self) -> dict:
        return {name: self[name].data for name in SLOT_FIELD_LABELS} | {"translations": self.translations_data()}


add_translation_fields(
    SlotForm, topic=(StringField, 300, lambda language: _("Topic in %(language)s", language=language))
)


class MoveSlotForm(FlaskForm):
    """One per slot on the timeline (with a prefix, so that the fields' ids differ)."""

    starts_at = TimeField(_l("New start"), validators=[DataRequired()])


class SpeakerForm(FlaskForm):
    name = StringField(SPEAKER_FIELD_LABELS["name"], validators=[DataRequired(), Length(max=200)])
    affiliation = StringField(SPEAKER_FIELD_LABELS["affiliation"], validators=[Length(max=300)])
    perspective = SelectField(
        SPEAKER_FIELD_LABELS["perspective"],
        choices=[SelectChoice(p.value, PERSPECTIVE_LABELS[p]) for p in Perspective],
        default=Perspective.OTHER.value,
    )
    email = EmailField(SPEAKER_FIELD_LABELS["email"], validators=[DataRequired(), Email(), Length(max=254)])
    # Choices depend on the meeting; checked by the service.
    language = SelectField(SPEAKER_FIELD_LABELS["language"], validate_choice=False)
    timezone = SelectField(SPEAKER_FIELD_LABELS["timezone"], validate_choice=False, default="")
    biography = TextAreaField(SPEAKER_FIELD_LABELS["biography"], validators=[Length(max=MAX_BIOGRAPHY_LENGTH)])

    def __init__(self, meeting, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.language.choices = [SelectChoice(code, language_name(code)) for code in meeting.language_codes]
        self.timezone.choices = [
            SelectChoice("", _l("Same as the meeting (%(timezone)s)", timezone=meeting.timezone))
        ] + [SelectChoice(name) for name in timezone_names()]

    @classmethod
    def for_speaker(cls, speaker):
        return cls(speaker.meeting, data={name: getattr(speaker, name) for name in SPEAKER_FIELD_LABELS})

    def values(self) -> dict:
        return {name: self[name].data for name in SPEAKER_FIELD_LABELS}


class AvailabilityForm(FlaskForm):
    starts_at = DateTimeLocalField(_l("Available from"), validators=[DataRequired()], format=LOCAL_DATETIME_FORMATS)
    ends_at = DateTimeLocalField(_l("Available until"), validators=[DataRequired()], format=LOCAL_DATETIME_FORMATS)


class SpeakerAnswerForm(FlaskForm):
    note = TextAreaField(
        _l("A note for the Secretariat (optional)"), validators=[Optional(), Length(max=MAX_NOTE_LENGTH)]
    )


class PhotoForm(FlaskForm):
    photo = FileField(_l("Photo"), validators=[DataRequired(message=_l("Choose a JPEG or PNG file."))])
