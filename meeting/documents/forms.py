"""The organizers' document and upload forms. The services check the symbol, the languages and
the file itself (type read from its bytes, size)."""

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, Form, HiddenField, RadioField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length

from ..core.i18n import language_name
from ..meetings.forms import MultiCheckboxField, TranslationsForm, add_translation_fields
from ..registration.forms import EDITION_LABELS
from .models import DOCUMENT_ACCESS_LABELS, DOCUMENT_KIND_LABELS, DocumentAccess, DocumentKind
from .services import DOCUMENT_FIELD_LABELS


class DocumentForm(TranslationsForm, FlaskForm):
    symbol = StringField(DOCUMENT_FIELD_LABELS["symbol"], validators=[DataRequired(), Length(max=80)])
    title = StringField(DOCUMENT_FIELD_LABELS["title"], validators=[DataRequired(), Length(max=500)])
    kind = SelectField(
        DOCUMENT_FIELD_LABELS["kind"],
        choices=[SelectChoice(kind.value, DOCUMENT_KIND_LABELS[kind]) for kind in DocumentKind],
        default=DocumentKind.STUDY.value,
    )
    access = RadioField(
        DOCUMENT_FIELD_LABELS["access"],
        choices=[SelectChoice(access.value, DOCUMENT_ACCESS_LABELS[access]) for access in DocumentAccess],
        default=DocumentAccess.PUBLIC.value,
    )

    @classmethod
    def for_document(cls, document):
        data = {name: getattr(document, name) for name in DOCUMENT_FIELD_LABELS}
        return cls(data=data | cls.translation_data(document))

    @classmethod
    def for_new_document(cls, meeting):
        """An empty form whose symbol starts with the meeting's prefix."""
        return cls(data={"symbol": f"{meeting.symbol_prefix}/" if meeting.symbol_prefix else ""})

    def values(self) -> dict:
        return {name: self[name].data for name in DOCUMENT_FIELD_LABELS} | {"translations": self.translations_data()}


add_translation_fields(
    DocumentForm, title=(StringField, 500, lambda language: _("Title in %(language)s", language=language))
)


class UploadForm(FlaskForm):
    language = SelectField(_l("Language"), validate_choice=False)
    file = FileField(_l("File"))

    def __init__(self, meeting, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.language.choices = [SelectChoice(code, language_name(code)) for code in meeting.language_codes]


class NotificationPreviewForm(Form):
    """The language of the email shown in the preview: read from the query string (no CSRF token)."""

    lang = SelectField(_l("Show the email sent to the participants who read"), validate_choice=False)

    def __init__(self, languages, formdata=None, default=None, **kwargs):
        super().__init__(formdata, **kwargs)
        self.lang.choices = [SelectChoice(code, language_name(code)) for code in languages]
        if self.lang.data not in languages:
            self.lang.data = default if default in languages else languages[0] if languages else ""


class NotificationForm(FlaskForm):
    # The language versions previewed: if the document changed since, nothing is sent.
    versions = HiddenField()
    send_again = BooleanField(_l("Send it again: these versions were already announced"))


class DocumentEmailsForm(FlaskForm):
    """On the participant's personal page."""

    document_emails = BooleanField(_l("Email me when new documents are published"))


class ListOfParticipantsForm(FlaskForm):
    languages = MultiCheckboxField(_l("Languages"), validate_choice=False)
    edition = RadioField(
        _l("Edition"),
        choices=[SelectChoice(key, label) for key, label in EDITION_LABELS.items()],
        default="provisional",
    )

    def __init__(self, meeting, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.languages.choices = [SelectChoice(code, language_name(code)) for code in meeting.language_codes]

    @classmethod
    def for_meeting(cls, meeting):
        """Every language of the meeting ticked, the provisional list chosen."""
        return cls(meeting, formdata=None, data={"languages": list(meeting.language_codes)})
