"""The marshmallow schemas of the API: they validate what clients send (webargs, through flask-smorest)
and serialise what the API answers, and the OpenAPI description is generated from them, so the three
cannot drift apart.

Requests are strict: an unknown member of a JSON body is refused, numbers are numbers (not strings)
and bounded, text may not hold NUL characters (PostgreSQL cannot store them). Query parameters that
the API does not know are ignored."""

from datetime import datetime

from flask import url_for
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from ..directory.models import OrganizationKind
from ..invitations.services import MESSAGE_LENGTH
from ..meetings.models import MeetingStatus
from ..meetings.services import TRANSITIONS
from ..registration.models import RegistrationRole, RegistrationStatus
from ..registration.services import ACTIONS, REASON_LENGTH

MAX_ID = 2**31 - 1  # the largest id a column holds on PostgreSQL
MAX_PAGE = 100_000
MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 20
MAX_SEATS = 100_000
SEARCH_LENGTH = 200
# The languages in which a list of participants can be written: the organizations of the directory
# have their names in these.
LIST_LANGUAGES = ("en", "fr", "es")


class Text(fields.String):
    """A string without NUL characters."""

    default_error_messages = {"nul": "Must not contain NUL characters."}

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if "\x00" in text:
            raise self.make_error("nul")
        return text


def _plausible_year(moment: datetime) -> None:
    # Far-off years overflow when converted between timezones; nobody registers for the year 9999.
    if not 1970 <= moment.year <= 2999:
        raise ValidationError("Give a date between the years 1970 and 2999.")


def _choices(enum) -> list[str]:
    return [member.value for member in enum]


# Errors and pages ------------------------------------------------------------------------------


class ErrorDetailSchema(Schema):
    code = fields.String(
        required=True,
        metadata={"description": "What went wrong, for programs: invalid, not_found, unauthorized, conflict…"},
    )
    message = fields.String(required=True, metadata={"description": "What went wrong, for people."})
    field_errors = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        data_key="fields",
        required=True,
        metadata={"description": "The messages for each refused member of the request, by name."},
    )


class ErrorSchema(Schema):
    """Every error of the API has this shape, with a 4xx status."""

    error = fields.Nested(ErrorDetailSchema, required=True)


class PageArgsSchema(Schema):
    page = fields.Integer(
        load_default=1, validate=validate.Range(min=1, max=MAX_PAGE), metadata={"description": "From 1."}
    )
    per_page = fields.Integer(
        load_default=DEFAULT_PER_PAGE,
        validate=validate.Range(min=1, max=MAX_PER_PAGE),
        metadata={"description": f"Items per page, from 1 to {MAX_PER_PAGE}."},
    )


class PageSchema(Schema):
    total = fields.Integer(required=True, metadata={"description": "Items in all the pages."})
    page = fields.Integer(required=True)
    per_page = fields.Integer(required=True)
    pages = fields.Integer(required=True, metadata={"description": "Number of pages (0 when there is no item)."})


# Meetings --------------------------------------------------------------------------------------


class MeetingSchema(Schema):
    slug = fields.String(required=True)
    symbol_prefix = fields.String(required=True, metadata={"example": "AVP/IM/03"})
    title = fields.String(required=True)
    kind = fields.String(required=True)
    kind_label = fields.String(required=True)
    description = fields.String(required=True)
    venue = fields.String(required=True)
    city = fields.String(required=True)
    timezone = fields.String(required=True, metadata={"example": "Europe/Zurich"})
    starts_on = fields.Date(required=True)
    ends_on = fields.Date(required=True)
    chair = fields.String(required=True)
    status = fields.String(required=True, metadata={"enum": _choices(MeetingStatus)})
    languages = fields.List(fields.String(), attribute="language_codes", required=True)
    registration_opens_at = fields.DateTime(required=True, allow_none=True)
    registration_closes_at = fields.DateTime(required=True, allow_none=True)
    registration_state = fields.Function(
        lambda meeting: meeting.registration_state(),
        required=True,
        metadata={"type": "string", "enum": ["open", "not_yet", "closed", "none"]},
    )
    published_at = fields.DateTime(required=True, allow_none=True)
    url = fields.Function(
        lambda meeting: url_for("meetings.show", slug=meeting.slug, _external=True),
        required=True,
        metadata={"type": "string", "format": "uri", "description": "The meeting's public page."},
    )


class MeetingPageSchema(PageSchema):
    items = fields.List(fields.Nested(MeetingSchema), required=True)


class MeetingSettingsSchema(MeetingSchema):
    """The meeting as organizers see it: with its seat rules."""

    capacity = fields.Integer(required=True, allow_none=True)
    per_delegation_limit = fields.Integer(required=True, allow_none=True)
    requires_credentials = fields.Boolean(required=True)
    modification_deadline = fields.DateTime(required=True, allow_none=True)


class MeetingChangeSchema(Schema):
    """Only the members given are changed. Times without an offset are read in the meeting's timezone;
    null removes a limit or a time."""

    action = Text(
        validate=validate.OneOf(list(TRANSITIONS)),
        metadata={"description": "A step of the lifecycle: publish, unpublish, close, reopen, archive."},
    )
    status = Text(
        validate=validate.OneOf(_choices(MeetingStatus)),
        metadata={"description": "The status to reach, one step away from the current one (instead of `action`)."},
    )
    registration_opens_at = fields.DateTime(allow_none=True, validate=_plausible_year)
    registration_closes_at = fields.DateTime(allow_none=True, validate=_plausible_year)
    capacity = fields.Integer(strict=True, allow_none=True, validate=validate.Range(min=1, max=MAX_SEATS))
    per_delegation_limit = fields.Integer(strict=True, allow_none=True, validate=validate.Range(min=1, max=MAX_SEATS))

    @validates_schema
    def one_way_to_change_the_status(self, data, **kwargs):
        if "action" in data and "status" in data:
            message = "Give either “action” or “status”, not both."
            raise ValidationError({"action": [message], "status": [message]})


# Program ---------------------------------------------------------------------------------------


def _local_time(description):
    return fields.String(required=True, metadata={"format": "date-time", "description": description})


class ProgramSpeakerSchema(Schema):
    name = fields.String(required=True)
    affiliation = fields.String(required=True)
    perspective = fields.String(required=True)
    biography_html = fields.String(required=True)


class ProgramSlotSchema(Schema):
    id = fields.Integer(required=True)
    translations = fields.Dict(
        keys=fields.String(),
        values=fields.Dict(keys=fields.String(), values=fields.String()),
        required=True,
        metadata={"description": "The texts in the meeting's other languages: {language: {field: text}}."},
    )
    uid = fields.String(required=True, metadata={"description": "The UID of the slot's iCalendar event."})
    topic = fields.String(required=True)
    kind = fields.String(required=True)
    starts_at = _local_time("In the meeting's timezone, with its offset.")
    ends_at = _local_time("In the meeting's timezone, with its offset.")
    starts_at_utc = _local_time("In UTC.")
    ends_at_utc = _local_time("In UTC.")
    duration_minutes = fields.Integer(required=True)
    sequence = fields.Integer(required=True, metadata={"description": "The iCalendar SEQUENCE."})
    speaker = fields.Nested(
        ProgramSpeakerSchema,
        required=True,
        allow_none=True,
        metadata={"description": "Only a speaker who confirmed; null otherwise."},
    )


class ProgramSessionSchema(Schema):
    id = fields.Integer(required=True)
    translations = fields.Dict(
        keys=fields.String(),
        values=fields.Dict(keys=fields.String(), values=fields.String()),
        required=True,
        metadata={"description": "The texts in the meeting's other languages: {language: {field: text}}."},
    )
    title = fields.String(required=True)
    kind = fields.String(required=True)
    room = fields.String(required=True)
    starts_at = _local_time("In the meeting's timezone, with its offset.")
    ends_at = _local_time("In the meeting's timezone, with its offset.")
    starts_at_utc = _local_time("In UTC.")
    ends_at_utc = _local_time("In UTC.")
    slots = fields.List(
        fields.Nested(ProgramSlotSchema),
        required=True,
        metadata={"description": "Empty until the program is published."},
    )


class ProgramSchema(Schema):
    meeting = fields.String(required=True, metadata={"description": "The meeting's slug."})
    languages = fields.List(fields.String(), required=True, metadata={"description": "Main language first."})
    timezone = fields.String(required=True)
    published = fields.Boolean(required=True)
    published_at = fields.String(required=True, allow_none=True, metadata={"format": "date-time"})
    updated_at = fields.String(required=True, allow_none=True, metadata={"format": "date-time"})
    sessions = fields.List(fields.Nested(ProgramSessionSchema), required=True)


# Documents -------------------------------------------------------------------------------------


class DocumentFileSchema(Schema):
    language = fields.String(required=True)
    language_name = fields.String(required=True, metadata={"description": "In that language: “Français”."})
    content_type = fields.String(required=True)
    size = fields.Integer(required=True, metadata={"description": "In bytes."})
    sha256 = fields.String(required=True)
    url = fields.String(required=True, metadata={"format": "uri", "description": "Where to download it."})


class DocumentSchema(Schema):
    id = fields.Integer(required=True)
    symbol = fields.String(required=True, metadata={"example": "AVP/IM/03/4"})
    title = fields.String(required=True)
    kind = fields.String(required=True)
    kind_label = fields.String(required=True)
    access = fields.String(required=True, metadata={"enum": ["public", "participants"]})
    participants_only = fields.Boolean(
        required=True,
        metadata={"description": "Its files need the personal link of a confirmed participant (else 403)."},
    )
    published_at = fields.DateTime(required=True)
    files = fields.List(fields.Nested(DocumentFileSchema), required=True)


class DocumentPageSchema(PageSchema):
    items = fields.List(fields.Nested(DocumentSchema), required=True)


# Registrations ---------------------------------------------------------------------------------


class OrganizationBriefSchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(attribute="name_en", required=True)


class OrganizationSchema(OrganizationBriefSchema):
    kind = fields.String(required=True)
    acronym = fields.String(required=True)


class RegistrationSchema(Schema):
    id = fields.Integer(required=True)
    status = fields.String(required=True, metadata={"enum": _choices(RegistrationStatus)})
    status_label = fields.String(required=True)
    pending_reason = fields.String(
        required=True, allow_none=True, metadata={"enum": ["credentials", "accreditation", "press", None]}
    )
    role = fields.String(required=True)
    salutation = fields.String(required=True)
    given_name = fields.String(required=True)
    family_name = fields.String(required=True)
    full_name = fields.String(required=True)
    function = fields.String(required=True)
    email = fields.String(required=True)
    phone = fields.String(required=True)
    preferred_language = fields.String(required=True)
    attendance = fields.String(required=True)
    consent_public_list = fields.Boolean(required=True)
    accessibility_needs = fields.String(required=True)
    organization = fields.Nested(OrganizationSchema, required=True, allow_none=True)
    organization_name_other = fields.String(
        required=True, metadata={"description": "The delegation's name when it is not in the directory."}
    )
    delegation_name = fields.Function(
        lambda registration: registration.delegation_name(), required=True, metadata={"type": "string"}
    )
    delegation_kind = fields.String(required=True)
    invitation_id = fields.Integer(required=True, allow_none=True)
    has_credentials = fields.Boolean(required=True)
    reason = fields.String(required=True, metadata={"description": "Why it was rejected or cancelled."})
    created_at = fields.DateTime(required=True)
    waitlisted_at = fields.DateTime(required=True, allow_none=True)
    decided_at = fields.DateTime(required=True, allow_none=True)
    checked_in_at = fields.DateTime(required=True, allow_none=True)


class RegistrationPageSchema(PageSchema):
    items = fields.List(fields.Nested(RegistrationSchema), required=True)


class RegistrationQuerySchema(PageArgsSchema):
    status = Text(validate=validate.OneOf(_choices(RegistrationStatus)))
    organization_kind = Text(
        validate=validate.OneOf(_choices(OrganizationKind)),
        metadata={"description": "“other” also matches delegations outside the directory."},
    )
    organization_id = fields.Integer(validate=validate.Range(min=1, max=MAX_ID))
    role = Text(validate=validate.OneOf(_choices(RegistrationRole)))
    search = Text(
        validate=validate.Length(max=SEARCH_LENGTH),
        metadata={"description": "Part of the name, the email address or the delegation's name."},
    )


class StatusChangeSchema(Schema):
    action = Text(required=True, validate=validate.OneOf(list(ACTIONS)))
    reason = Text(
        load_default="",
        validate=validate.Length(max=REASON_LENGTH),
        metadata={"description": "Required to reject; sent to the registrant."},
    )


class StatusChangeResultSchema(Schema):
    registration = fields.Nested(RegistrationSchema, required=True)
    promoted = fields.List(
        fields.Nested(RegistrationSchema),
        required=True,
        metadata={"description": "Registrations moved off the waiting list into the seat this freed."},
    )


# List of participants --------------------------------------------------------------------------


class ListOfParticipantsQuerySchema(Schema):
    lang = Text(
        validate=validate.OneOf(LIST_LANGUAGES),
        metadata={"description": "The language of the list; the meeting's first language when not given."},
    )
    public = fields.Boolean(
        load_default=False,
        metadata={"description": "The public edition: only the participants who agreed to appear in it."},
    )
    final = fields.Boolean(
        metadata={"description": "Titled as the final list (else provisional); as published when not given."}
    )
    sort_by_french = fields.Boolean(
        load_default=False, metadata={"description": "Order the delegations by their French names."}
    )


class ParticipantSchema(Schema):
    salutation = fields.String(required=True)
    given_name = fields.String(required=True)
    family_name = fields.String(required=True, metadata={"description": "In capitals."})
    function = fields.String(required=True)
    head_of_delegation = fields.Boolean(required=True)
    line = fields.String(required=True, metadata={"description": "As the list prints it."})


class DelegationSchema(Schema):
    name = fields.String(required=True)
    participants = fields.List(fields.Nested(ParticipantSchema), required=True)


class SectionSchema(Schema):
    key = fields.String(required=True)
    number = fields.String(required=True, metadata={"description": "I, II…"})
    title = fields.String(required=True)
    delegations = fields.List(fields.Nested(DelegationSchema), required=True)


class ListOfParticipantsSchema(Schema):
    language = fields.String(required=True)
    public = fields.Boolean(required=True)
    final = fields.Boolean(required=True)
    sort_by_french = fields.Boolean(required=True)
    title = fields.String(required=True)
    symbol = fields.String(required=True)
    meeting_title = fields.String(required=True)
    place_and_dates = fields.String(required=True)
    situation = fields.String(required=True)
    participant_count = fields.Integer(required=True)
    sections = fields.List(fields.Nested(SectionSchema), required=True)


# Invitations -----------------------------------------------------------------------------------


class InvitationRequestSchema(Schema):
    """Exactly one of `kind` and `organization_ids`."""

    kind = Text(
        validate=validate.OneOf(_choices(OrganizationKind)),
        metadata={"description": "Invite every active organization of this kind."},
    )
    organization_ids = fields.List(
        fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_ID)),
        validate=validate.Length(min=1, max=1000),
        metadata={"description": "Invite these organizations of the directory."},
    )
    message = Text(
        load_default="",
        validate=validate.Length(max=MESSAGE_LENGTH),
        metadata={"description": "A personal message added to every invitation."},
    )

    @validates_schema
    def kind_or_organizations(self, data, **kwargs):
        if ("kind" in data) == ("organization_ids" in data):
            message = "Give either “kind” or “organization_ids”."
            raise ValidationError({"kind": [message], "organization_ids": [message]})


class InvitationSchema(Schema):
    id = fields.Integer(required=True)
    organization = fields.Nested(OrganizationBriefSchema, required=True)
    status = fields.String(required=True)


class SkippedOrganizationSchema(Schema):
    organization = fields.Nested(OrganizationBriefSchema, required=True)
    reason = fields.String(required=True, metadata={"description": "no_focal_point, inactive…"})


class InvitationResultSchema(Schema):
    created = fields.Integer(required=True)
    already_invited = fields.Integer(required=True)
    skipped = fields.List(fields.Nested(SkippedOrganizationSchema), required=True)
    invitations = fields.List(fields.Nested(InvitationSchema), required=True, metadata={"description": "The new ones."})
