"""The forms of the on-site pages: which badges and how, the check-in code and name search, the
confirmation of the erasure. Field-level checks only: the rules are in services.py and erasure.py."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import Form, RadioField, SearchField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length

from ..core.web import record_id
from ..directory.forms import KIND_LABELS
from ..meetings.forms import MultiCheckboxField
from .badges import A6, CATEGORY_LABELS, LAYOUTS, SORT_ORDERS, BadgeSelection


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def _choices(labels):
    return [SelectChoice(str(value), label) for value, label in labels.items()]


class BadgeFilterForm(Form):
    """Which confirmed participants the badge page lists; read from the query string (no CSRF)."""

    categories = MultiCheckboxField(_l("Categories"), choices=_choices(CATEGORY_LABELS))
    kinds = MultiCheckboxField(_l("Kinds of organization"), choices=_choices(KIND_LABELS))
    organization = SelectField(_l("Delegation"), validate_choice=False)

    def set_organizations(self, organizations, language):
        self.organization.choices = [SelectChoice("", _l("All delegations"))] + [
            SelectChoice(str(organization.id), organization.name(language)) for organization in organizations
        ]

    def selection(self, sort="family_name", ids=None) -> BadgeSelection:
        """The selection the filters describe; values that are not offered are ignored."""
        organization = self.organization.data or ""
        return BadgeSelection(
            ids=ids,
            categories=tuple(value for value in self.categories.data or () if value in CATEGORY_LABELS),
            kinds=tuple(value for value in self.kinds.data or () if value in KIND_LABELS),
            organization_id=record_id(organization),
            sort=sort if sort in SORT_ORDERS else "family_name",
        )


class BadgePrintForm(FlaskForm):
    layout = RadioField(_l("Layout"), choices=_choices(LAYOUTS), default=A6, validators=[InputRequired()])
    sort = RadioField(_l("Order of the badges"), choices=_choices(SORT_ORDERS), default="family_name")


class CheckinCodeForm(FlaskForm):
    code = StringField(
        _l("Badge code"), filters=[_strip], validators=[DataRequired(_l("Scan the badge or type its code."))]
    )


class CheckinSearchForm(Form):
    """The name search of the check-in page, read from the query string."""

    q = SearchField(_l("Name"), filters=[_strip], validators=[Length(max=200)])


class ErasureForm(FlaskForm):
    confirmation = StringField(
        _l("Type the meeting's web address (slug) to confirm"),
        filters=[_strip],
        validators=[DataRequired(_l("Type the meeting's web address (slug) to confirm."))],
    )
