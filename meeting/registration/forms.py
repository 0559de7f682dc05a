"""The registration form, the registrant's and the organizers' change forms, "email me my link",
the organizers' filters and decision forms. Field-level checks only: the rules are in services.py."""

from functools import lru_cache

from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from markupsafe import Markup, escape
from wtforms import (
    BooleanField,
    EmailField,
    Form,
    RadioField,
    SearchField,
    SelectChoice,
    SelectField,
    StringField,
    TelField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Email, InputRequired, Length
from wtforms.widgets import Select

from ..core.i18n import language_name
from ..directory.forms import KIND_LABELS
from ..directory.models import OrganizationKind, search_key
from .models import (
    ATTENDANCE_LABELS,
    PUBLIC_ROLES,
    ROLE_LABELS,
    SALUTATION_LABELS,
    STATUS_LABELS,
)
from .services import (
    CREDENTIALS_TYPES,
    ORGANIZER_FIELDS,
    OTHER_ORGANIZATION,
    REASON_LENGTH,
    REGISTRANT_FIELDS,
    RegistrationDetails,
)

CREDENTIALS_ACCEPT = ",".join(
    [*CREDENTIALS_TYPES, *(extension for extensions in CREDENTIALS_TYPES.values() for extension in extensions)]
)


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def _choices(labels, values=None):
    return [SelectChoice(str(value), labels[value]) for value in (values or labels)]


def _language_choices(meeting):
    return [SelectChoice(code, language_name(code)) for code in meeting.language_codes]


class DetailsForm(FlaskForm):
    """What a registrant may change through the personal link."""

    role = RadioField(_l("I attend as"), choices=_choices(ROLE_LABELS, PUBLIC_ROLES), validators=[InputRequired()])
    salutation = SelectField(
        _l("Salutation"),
        choices=[SelectChoice("", _l("(none)")), *_choices(SALUTATION_LABELS)],
        default="",
        render_kw={"autocomplete": "honorific-prefix"},
    )
    given_name = StringField(
        _l("Given name"),
        filters=[_strip],
        validators=[DataRequired(), Length(max=200)],
        render_kw={"autocomplete": "given-name"},
    )
    family_name = StringField(
        _l("Family name"),
        filters=[_strip],
        validators=[DataRequired(), Length(max=200)],
        render_kw={"autocomplete": "family-name"},
    )
    function = StringField(
        _l("Function or title"),
        filters=[_strip],
        validators=[Length(max=300)],
        render_kw={"autocomplete": "organization-title"},
    )
    phone = TelField(_l("Telephone"), filters=[_strip], validators=[Length(max=50)], render_kw={"autocomplete": "tel"})
    preferred_language = SelectField(_l("Language for emails"), validate_choice=False)
    attendance = RadioField(_l("I will attend"), choices=_choices(ATTENDANCE_LABELS), default="in_person")
    credentials = FileField(
        _l("Credentials: note verbale or letter of appointment"),
        render_kw={"accept": CREDENTIALS_ACCEPT},
    )
    consent_public_list = BooleanField(
        _l("I agree that my name, function and delegation appear in the public list of participants.")
    )
    accessibility_needs = TextAreaField(
        _l("Accessibility needs"), filters=[_strip], validators=[Length(max=REASON_LENGTH)]
    )

    FIELDS = REGISTRANT_FIELDS

    def __init__(self, meeting, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.preferred_language.choices = _language_choices(meeting)

    @classmethod
    def for_registration(cls, registration):
        return cls(registration.meeting, data={name: getattr(registration, name) for name in cls.FIELDS})

    def values(self) -> dict:
        return {name: self[name].data for name in self.FIELDS}


class OrganizerDetailsForm(DetailsForm):
    """Organizers may also correct the email address and give any role."""

    role = SelectField(_l("Role"), choices=_choices(ROLE_LABELS), validators=[InputRequired()])
    email = EmailField(_l("Email address"), filters=[_strip], validators=[DataRequired(), Email(), Length(max=254)])
    credentials = FileField(_l("Replace the credentials file"), render_kw={"accept": CREDENTIALS_ACCEPT})

    FIELDS = ORGANIZER_FIELDS


class DirectorySelect(Select):
    """WTForms' select, each option written directly: the same HTML as `Select` gives, in a fraction
    of its time. The delegations are the whole directory (hundreds of options), and every delegate
    opening the registration form when registration opens has them written out."""

    @classmethod
    def render_option(cls, choice, **kwargs):
        if kwargs or choice.render_kw or isinstance(choice.value, bool):
            return super().render_option(choice, **kwargs)
        selected = "selected " if choice.selected else ""
        label = escape(choice.label or choice.value)
        return Markup(f'<option {selected}value="{escape(choice.value)}">{label}</option>')


class RegistrationForm(DetailsForm):
    """The public registration form. A posted one is not validated by WTForms: `details` reads it and
    `services.register` checks every field (its messages, in the page's language, go next to the
    fields); the validators give the fields their HTML attributes (required, maxlength)."""

    organization = SelectField(_l("Delegation or organization"), validate_choice=False, widget=DirectorySelect())
    organization_name_other = StringField(
        _l("Name of the organization, if it is not in the list"), filters=[_strip], validators=[Length(max=300)]
    )
    email = EmailField(
        _l("Email address"),
        filters=[_strip],
        validators=[DataRequired(), Email(), Length(max=254)],
        render_kw={"autocomplete": "email"},
    )

    def __init__(self, meeting, organizations=(), language="en", *args, **kwargs):
        super().__init__(meeting, *args, **kwargs)
        self.organization.choices = organization_choices(organizations, language)
        self.credentials.flags.required = bool(meeting.requires_credentials)
        self.preferred_language.data = _language_for_emails(self.preferred_language.data, meeting, language)

    @staticmethod
    def details(formdata, meeting, language="en") -> RegistrationDetails:
        """What a posted registration form holds, read as its fields read it: text as sent, the check
        box ticked unless sent empty or "false", the page's language for the emails when none is
        chosen and the meeting has it. Nothing is checked here: `services.register` checks every
        field, as for the API, and the form is made only to show a refusal next to the fields."""
        values = {name: str(formdata.get(name) or "") for name in RegistrationDetails.__dataclass_fields__}
        values["preferred_language"] = _language_for_emails(values["preferred_language"], meeting, language)
        values["consent_public_list"] = formdata.get("consent_public_list", "") not in CHECKBOX_FALSE_VALUES
        return RegistrationDetails(**values)


def _language_for_emails(chosen, meeting, language):
    """The language chosen for the emails, else the page's when the meeting has it (else none: the
    service then takes the meeting's first)."""
    if not chosen and language in meeting.language_codes:
        return language
    return chosen


# What an unticked check box may send (WTForms' BooleanField.false_values).
CHECKBOX_FALSE_VALUES = BooleanField.false_values


GROUP_ORDER = (
    OrganizationKind.MEMBER_STATE,
    OrganizationKind.OBSERVER_STATE,
    OrganizationKind.IGO,
    OrganizationKind.NGO,
    OrganizationKind.OTHER,
)


def organization_choices(organizations, language) -> list[SelectChoice]:
    """The directory (`services.registration_form_organizations`) grouped by kind (Member States
    first), sorted by name in the page's language without regard to accents ("Côte d'Ivoire" among
    the C), then "Other".

    Made once per language and state of the directory: every delegate opening the form has the same
    list (the form does not change it; which choice is selected is worked out when it is shown)."""
    return _organization_choices(tuple(organizations), language)


@lru_cache(maxsize=8)
def _organization_choices(organizations: tuple, language) -> list[SelectChoice]:
    choices = [SelectChoice("", _l("Choose…"))]
    with force_locale(language):  # the list is kept for `language`, whatever the page's language now
        groups = {kind: str(KIND_LABELS[kind]) for kind in GROUP_ORDER}
    for kind in GROUP_ORDER if organizations else ():  # none when the form is only read back
        members = [organization for organization in organizations if organization.kind == kind]
        members.sort(key=lambda organization: search_key(organization.name(language)))
        group = groups[kind]
        for organization in members:
            label = organization.name(language)
            if organization.acronym and not organization.is_state:
                label = f"{label} ({organization.acronym})"
            choices.append(SelectChoice(str(organization.id), label, optgroup=group))
    choices.append(SelectChoice(OTHER_ORGANIZATION, _l("Other (not in the list)")))
    return choices


class AccessForm(FlaskForm):
    email = EmailField(_l("Email address you registered with"), filters=[_strip], validators=[DataRequired(), Email()])


class RegistrationSearchForm(Form):
    """Read from the query string, so it has no CSRF token."""

    q = SearchField(_l("Name or email"), filters=[_strip])
    status = SelectField(
        _l("Status"), choices=_choices({"": _l("All statuses"), **STATUS_LABELS}), validate_choice=False
    )
    kind = SelectField(_l("Kind"), choices=_choices({"": _l("All kinds"), **KIND_LABELS}), validate_choice=False)
    organization = SelectField(_l("Organization"), validate_choice=False)
    role = SelectField(_l("Role"), choices=_choices({"": _l("All roles"), **ROLE_LABELS}), validate_choice=False)

    def set_organizations(self, organizations, language):
        self.organization.choices = [SelectChoice("", _l("All organizations"))] + [
            SelectChoice(str(organization.id), organization.name(language)) for organization in organizations
        ]


class DecisionForm(FlaskForm):
    reason = TextAreaField(
        _l("Reason (sent to the registrant)"), filters=[_strip], validators=[Length(max=REASON_LENGTH)]
    )


EDITION_LABELS = {"provisional": _l("Provisional list"), "final": _l("Final list")}
AUDIENCE_LABELS = {
    "all": _l("Every confirmed participant (for the Secretariat)"),
    "public": _l("Public edition: only those who agreed to appear in it"),
}


class ParticipantsListForm(Form):
    """Which list of participants to show: read from the query string, so it has no CSRF token and
    the PDF link can carry the same choices."""

    lang = SelectField(_l("Language of the list"), validate_choice=False)
    edition = RadioField(_l("Edition"), choices=_choices(EDITION_LABELS), default="provisional")
    audience = RadioField(_l("Participants listed"), choices=_choices(AUDIENCE_LABELS), default="all")
    sort_by_french = BooleanField(_l("Sort every edition by the French names"))

    def __init__(self, meeting, formdata=None, **kwargs):
        super().__init__(formdata, **kwargs)
        self.lang.choices = _language_choices(meeting)
        codes = meeting.language_codes
        if self.lang.data not in codes:
            self.lang.data = codes[0] if codes else "en"
        if self.edition.data not in EDITION_LABELS:
            self.edition.data = "provisional"
        if self.audience.data not in AUDIENCE_LABELS:
            self.audience.data = "all"

    def choices(self) -> dict:
        """The arguments of `participants.list_of_participants` after the meeting and the language."""
        return {
            "public": self.audience.data == "public",
            "final": self.edition.data == "final",
            "sort_by_french": bool(self.sort_by_french.data),
        }

    def query_args(self) -> dict:
        args = {"lang": self.lang.data, "edition": self.edition.data, "audience": self.audience.data}
        if self.sort_by_french.data:
            args["sort_by_french"] = "y"
        return args


class PublishParticipantsListForm(FlaskForm):
    edition = RadioField(_l("Publish as"), choices=_choices(EDITION_LABELS), default="provisional")
