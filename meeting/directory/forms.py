"""The organization form and the directory's search form, with the labels of kinds and
accreditations shown on the directory pages."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import Form, SearchField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from .models import Accreditation, OrganizationKind

KIND_LABELS = {
    OrganizationKind.MEMBER_STATE: _l("Member State"),
    OrganizationKind.OBSERVER_STATE: _l("Observer State"),
    OrganizationKind.IGO: _l("Intergovernmental organization"),
    OrganizationKind.NGO: _l("Non-governmental organization"),
    OrganizationKind.OTHER: _l("Other"),
}

ACCREDITATION_LABELS = {
    Accreditation.PERMANENT_OBSERVER: _l("Permanent observer"),
    Accreditation.AD_HOC: _l("Ad hoc"),
    Accreditation.NONE: _l("None"),
}

LANGUAGE_LABELS = {"en": _l("English"), "fr": _l("French"), "es": _l("Spanish")}

STATUS_LABELS = {"all": _l("All"), "active": _l("Active"), "inactive": _l("Deactivated")}


def _choices(labels):
    return [SelectChoice(str(value), label) for value, label in labels.items()]


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def _upper(value):
    return value.strip().upper() if isinstance(value, str) else value


class OrganizationForm(FlaskForm):
    kind = SelectField(_l("Kind"), choices=_choices(KIND_LABELS), validators=[DataRequired()])
    name_en = StringField(_l("Name in English"), filters=[_strip], validators=[DataRequired(), Length(max=300)])
    name_fr = StringField(_l("Name in French"), filters=[_strip], validators=[Length(max=300)])
    name_es = StringField(_l("Name in Spanish"), filters=[_strip], validators=[Length(max=300)])
    acronym = StringField(_l("Acronym"), filters=[_strip], validators=[Length(max=40)])
    iso_code = StringField(_l("ISO 3166 country code"), filters=[_upper], validators=[Optional(), Length(max=2)])
    accreditation = SelectField(_l("Accreditation"), choices=_choices(ACCREDITATION_LABELS))
    preferred_language = SelectField(_l("Preferred language"), choices=_choices(LANGUAGE_LABELS))
    emails = TextAreaField(_l("Focal-point email addresses"))


class DirectorySearchForm(Form):
    """Read from the query string, so it has no CSRF token."""

    q = SearchField(_l("Search names or acronym"), filters=[_strip])
    kind = SelectField(_l("Kind"), choices=_choices({"": _l("All kinds"), **KIND_LABELS}), validate_choice=False)
    status = SelectField(_l("Status"), choices=_choices(STATUS_LABELS), default="all", validate_choice=False)
