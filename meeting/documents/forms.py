"""The organizers' document and upload forms. The services check the symbol, the languages and
the file itself (type read from its bytes, size)."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import RadioField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length

from ..core.i18n import language_name
from .models import DOCUMENT_ACCESS_LABELS, DOCUMENT_KIND_LABELS, DocumentAccess, DocumentKind
from .services import DOCUMENT_FIELD_LABELS


class DocumentForm(FlaskForm):
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
        return cls(data={name: getattr(document, name) for name in DOCUMENT_FIELD_LABELS})

    @classmethod
    def for_new_document(cls, meeting):
        """An empty form whose symbol starts with the meeting's prefix."""
        return cls(data={"symbol": f"{meeting.symbol_prefix}/" if meeting.symbol_prefix else ""})

    def values(self) -> dict:
        return {name: self[name].data for name in DOCUMENT_FIELD_LABELS}


class UploadForm(FlaskForm):
    language = SelectField(_l("Language"), validate_choice=False)
    file = FileField(_l("File"))

    def __init__(self, meeting, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.language.choices = [SelectChoice(code, language_name(code)) for code in meeting.language_codes]
