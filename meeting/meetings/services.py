"""What organizers do with meetings: create and edit them, move them through their lifecycle
(draft → published → closed → archived) and build the blocks of their program; and the queries
behind the public pages.

Every change is validated here, so the web forms and the API share the same rules; a refused
change raises a DomainError whose `fields` map form field names to messages, and leaves the
database untouched. Every change writes an audit entry. Nothing here commits."""

import re
from datetime import date, datetime

from flask import current_app, has_request_context, request
from flask_babel import format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam
from sqlalchemy.orm import selectinload

from ..core.audit import record
from ..core.errors import DomainError
from ..core.i18n import language_name, remember_default_language
from ..core.models import apply_changes, current_language, utcnow
from ..core.timeutil import day_bounds_utc, is_timezone, to_local, to_utc
from ..extensions import db
from .models import PUBLIC_STATUSES, Meeting, MeetingKind, MeetingStatus, ProgramSession, SessionKind

SLUG_PATTERN = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")

MEETING_FIELD_LABELS = {
    "slug": _l("Web address (slug)"),
    "symbol_prefix": _l("Symbol prefix"),
    "title": _l("Title"),
    "kind": _l("Kind of meeting"),
    "description": _l("Description"),
    "venue": _l("Venue"),
    "city": _l("City"),
    "timezone": _l("Timezone"),
    "starts_on": _l("First day"),
    "ends_on": _l("Last day"),
    "chair": _l("Chair"),
    "registration_opens_at": _l("Registration opens"),
    "registration_closes_at": _l("Registration closes"),
    "capacity": _l("Capacity"),
    "per_delegation_limit": _l("Places per delegation"),
    "requires_credentials": _l("Registrants must send credentials"),
    "modification_deadline": _l("Registrants may change their details until"),
    "languages": _l("Languages offered"),
}

SESSION_FIELD_LABELS = {
    "title": _l("Title"),
    "kind": _l("Kind of session"),
    "starts_at": _l("Starts"),
    "ends_at": _l("Ends"),
    "room": _l("Room"),
    "description": _l("Description"),
}

# action: (status it applies to, status it leads to)
TRANSITIONS = {
    "publish": (MeetingStatus.DRAFT, MeetingStatus.PUBLISHED),
    "unpublish": (MeetingStatus.PUBLISHED, MeetingStatus.DRAFT),
    "close": (MeetingStatus.PUBLISHED, MeetingStatus.CLOSED),
    "reopen": (MeetingStatus.CLOSED, MeetingStatus.PUBLISHED),
    "archive": (MeetingStatus.CLOSED, MeetingStatus.ARCHIVED),
}

ACTION_LABELS = {
    "publish": _l("Publish"),
    "unpublish": _l("Back to draft"),
    "close": _l("Close"),
    "reopen": _l("Reopen"),
    "archive": _l("Archive"),
}

ACTION_REFUSALS = {
    "publish": _l("Only a draft can be published."),
    "unpublish": _l("Only a published meeting can go back to draft."),
    "close": _l("Only a published meeting can be closed."),
    "reopen": _l("Only a closed meeting can be reopened."),
    "archive": _l("Only a closed meeting can be archived."),
}

ACTION_SUMMARIES = {
    "publish": _l("Published the meeting."),
    "unpublish": _l("Took the meeting back to draft."),
    "close": _l("Closed the meeting."),
    "reopen": _l("Reopened the meeting."),
    "archive": _l("Archived the meeting."),
}


class FieldErrors:
    """Collects the messages of a refused change, field by field, to raise them all at once."""

    def __init__(self):
        self.fields: dict[str, list[str]] = {}

    def add(self, field, message):
        self.fields.setdefault(field, []).append(str(message))

    def raise_if_any(self):
        if self.fields:
            messages = [message for messages in self.fields.values() for message in messages]
            raise DomainError(" ".join(messages), fields=self.fields)


# Texts in several languages --------------------------------------------------------------------


def clean_translations(model, submitted, languages, current, errors) -> dict:
    """The `translations` to store on a `core.models.Translatable` of class `model`: `current` updated
    with what `submitted` ({language: {text: value}}) gives for `languages` (the meeting's languages
    other than its main one). Values are trimmed (one line for a text of limited length), an empty
    one removes the translation, and each is checked against its column's length; errors go to the
    form field `<text>_<language>`. Whatever is submitted for another language is ignored, and what
    is stored for a language the meeting no longer offers is kept (offering it again brings it back)."""
    result = {code: dict(texts) for code, texts in (current or {}).items()}
    for code in languages:
        given = (submitted or {}).get(code)
        if not isinstance(given, dict):
            continue
        texts = result.setdefault(code, {})
        for name in model.translatable_fields:
            if name not in given:
                continue
            length = model.__table__.c[name].type.length
            value = str(given[name] or "")
            value = " ".join(value.split()) if length else value.strip()
            if length and len(value) > length:
                errors.add(f"{name}_{code}", _("At most %(n)d characters.", n=length))
            if value:
                texts[name] = value
            else:
                texts.pop(name, None)
        if not texts:
            del result[code]
    return result


def changed_translations(old, new, labels) -> list[str]:
    """The translations that differ between two `translations`, as "Title (French)", for the audit
    log's summary (`labels`: the texts' labels)."""
    page_language = current_language()
    changed = []
    for code in sorted(set(old or {}) | set(new or {})):
        before, after = (old or {}).get(code, {}), (new or {}).get(code, {})
        for name in labels:
            if before.get(name) != after.get(name):
                changed.append(f"{labels[name]} ({language_name(code, page_language or code)})")
    return changed


def changed_fields(changes, labels) -> str:
    """The fields of a change, by their labels, each changed translation on its own, for the audit log."""
    names = []
    for name, (old, new) in changes.items():
        if name == "translations":
            names.extend(changed_translations(old, new, labels))
        else:
            names.append(str(labels[name]))
    return ", ".join(names)


# Queries ---------------------------------------------------------------------------------------


# Built once: every public page of a meeting starts with it.
_MEETING_BY_SLUG = db.select(Meeting).where(Meeting.slug == bindparam("slug"))


def find_meeting(slug, *, with_sessions=False) -> Meeting | None:
    query = _MEETING_BY_SLUG
    if with_sessions:
        query = query.options(selectinload(Meeting.sessions))
    meeting = db.session.scalar(query, {"slug": slug})
    if meeting is not None and has_request_context() and (request.view_args or {}).get("slug") == slug:
        remember_default_language(meeting.language_codes[0])  # the meeting's page speaks its language
    return meeting


def all_meetings() -> list[Meeting]:
    return db.session.scalars(db.select(Meeting).order_by(Meeting.starts_on.desc(), Meeting.id.desc())).all()


def public_meetings(now: datetime | None = None) -> tuple[list[Meeting], list[Meeting]]:
    """Published and closed meetings as (upcoming, soonest first; past, most recent first).

    A meeting counts as past once its last day is over in its own timezone."""
    now = now or utcnow()
    meetings = db.session.scalars(
        db.select(Meeting).where(Meeting.status.in_(PUBLIC_STATUSES)).order_by(Meeting.starts_on, Meeting.id)
    ).all()
    upcoming = [meeting for meeting in meetings if not meeting.has_ended(now)]
    past = [meeting for meeting in meetings if meeting.has_ended(now)]
    past.sort(key=lambda meeting: (meeting.ends_on, meeting.starts_on), reverse=True)
    return upcoming, past


def find_session(meeting, session_id) -> ProgramSession | None:
    session = db.session.get(ProgramSession, session_id)
    return session if session is not None and session.meeting_id == meeting.id else None


def status_actions(meeting) -> list[tuple[str, str]]:
    """The lifecycle actions open to the meeting now, with their labels."""
    return [
        (action, str(ACTION_LABELS[action]))
        for action, (source, _target) in TRANSITIONS.items()
        if source == meeting.status
    ]


# Meetings --------------------------------------------------------------------------------------


def create_meeting(data) -> Meeting:
    values = _clean_meeting(data, None)
    meeting = Meeting(status=MeetingStatus.DRAFT, **values)
    db.session.add(meeting)
    db.session.flush()
    record(
        "meeting.create",
        meeting=meeting,
        obj=meeting,
        summary=_("Created the meeting “%(title)s” (%(slug)s).", title=meeting.title, slug=meeting.slug),
        details={"values": _jsonable(values)},
    )
    return meeting


def update_meeting(meeting, data) -> Meeting:
    """Change the fields present in `data`; the others keep their value."""
    refuse_if_archived(meeting)
    values = _clean_meeting(data, meeting)
    changes = apply_changes(meeting, values)
    if not changes:
        return meeting
    db.session.flush()
    record(
        "meeting.update",
        meeting=meeting,
        obj=meeting,
        summary=_("Changed: %(fields)s.", fields=changed_fields(changes, MEETING_FIELD_LABELS)),
        details={"changes": {name: _jsonable(pair) for name, pair in changes.items()}},
    )
    if {"capacity", "per_delegation_limit"} & changes.keys():
        # More room: the waiting list moves up at once (and each promoted registrant is emailed).
        from ..registration.services import fill_free_seats  # registration builds on meetings

        fill_free_seats(meeting)
    return meeting


def change_status(meeting, action) -> Meeting:
    if action not in TRANSITIONS:
        raise DomainError(_("Unknown action “%(action)s”.", action=action), fields={"action": [str(action)]})
    source, target = TRANSITIONS[action]
    if meeting.status != source:
        raise DomainError(
            _("%(rule)s This meeting is %(status)s.", rule=ACTION_REFUSALS[action], status=meeting.status_label.lower())
        )
    if action == "publish":
        missing = [
            str(MEETING_FIELD_LABELS[name]).lower()
            for name in ("title", "starts_on", "ends_on", "venue")
            if not str(getattr(meeting, name) or "").strip()
        ]
        if missing:
            raise DomainError(_("Before publishing, give the meeting its %(fields)s.", fields=", ".join(missing)))
        meeting.published_at = utcnow()
    elif action == "unpublish":
        meeting.published_at = None
    meeting.status = target
    db.session.flush()
    record(
        f"meeting.{action}",
        meeting=meeting,
        obj=meeting,
        summary=str(ACTION_SUMMARIES[action]),
        details={"from": str(source), "to": str(target)},
    )
    return meeting


def _clean_meeting(data, meeting) -> dict:
    """The validated column values for a new meeting (`meeting` None) or for the fields of `data`
    on an existing one. Nothing is changed before everything has been checked."""
    errors = FieldErrors()
    names = [name for name in MEETING_FIELD_LABELS if meeting is None or name in data]
    values = {name: data.get(name) for name in names}

    for name in ("slug", "symbol_prefix", "title", "description", "venue", "city", "timezone", "chair"):
        if name in values:
            values[name] = str(values[name] or "").strip()
            length = Meeting.__table__.c[name].type.length
            if length and len(values[name]) > length:
                errors.add(name, _("At most %(n)d characters.", n=length))
    if "slug" in values:
        slug = values["slug"]
        if not slug:
            errors.add("slug", _("Give the meeting a web address."))
        elif not SLUG_PATTERN.fullmatch(slug):
            errors.add("slug", _("Use only lowercase letters, digits and hyphens (e.g. avp-informal-2003)."))
        elif _slug_taken(slug, meeting):
            errors.add("slug", _("Another meeting already uses the address “%(slug)s”.", slug=slug))
    if "title" in values and not values["title"]:
        errors.add("title", _("Give the meeting a title."))
    if "kind" in values:
        values["kind"] = values["kind"] or MeetingKind.AD_HOC_INFORMAL
        if values["kind"] not in set(MeetingKind):
            errors.add("kind", _("Choose a kind of meeting from the list."))
    if "timezone" in values and not is_timezone(values["timezone"]):
        errors.add("timezone", _("Choose a timezone from the list, such as Europe/Zurich."))
    for name in ("starts_on", "ends_on"):
        if name in values and (not isinstance(values[name], date) or isinstance(values[name], datetime)):
            errors.add(name, _("Give a date."))

    def current(name):
        return values[name] if name in values else getattr(meeting, name)

    starts_on, ends_on, tz_name = current("starts_on"), current("ends_on"), current("timezone")
    dates_valid = isinstance(starts_on, date) and isinstance(ends_on, date)
    if dates_valid and ends_on < starts_on:
        errors.add("ends_on", _("The last day cannot be before the first day."))
        dates_valid = False

    for name in ("registration_opens_at", "registration_closes_at", "modification_deadline"):
        if name in values and values[name] is not None:
            if not isinstance(values[name], datetime):
                errors.add(name, _("Give a date and a time."))
            elif values[name].tzinfo is not None or is_timezone(tz_name):
                # A wall-clock time is read in the meeting's timezone.
                values[name] = to_utc(values[name], tz_name)
    opens, closes = current("registration_opens_at"), current("registration_closes_at")
    if (
        ("registration_opens_at" in values or "registration_closes_at" in values)
        and isinstance(opens, datetime)
        and isinstance(closes, datetime)
        and opens.tzinfo is not None
        and closes.tzinfo is not None
        and closes <= opens
    ):
        errors.add("registration_closes_at", _("Registration must close after it opens."))

    if "requires_credentials" in values:
        values["requires_credentials"] = bool(values["requires_credentials"])

    for name in ("capacity", "per_delegation_limit"):
        if name in values:
            if values[name] in ("", None):
                values[name] = None
            elif isinstance(values[name], bool) or not isinstance(values[name], int) or values[name] < 1:
                errors.add(name, _("Give a whole number of at least 1, or leave it empty for no limit."))

    if "languages" in values:
        codes = values["languages"] or []
        if isinstance(codes, str):
            codes = [code.strip() for code in codes.split(",")]
        offered = current_app.config["LANGUAGES"]
        unknown = [code for code in codes if code not in offered]
        if unknown:
            errors.add(
                "languages",
                _("Only these languages can be offered: %(codes)s.", codes=", ".join(offered)),
            )
        elif not codes:
            errors.add("languages", _("Offer at least one language."))
        ordered = [code for code in offered if code in codes]
        main = meeting.language_codes[0] if meeting is not None and meeting.language_codes else None
        if main is not None and ordered:
            # The meeting's texts are entered in its main language: it stays, and stays first.
            if main in ordered:
                ordered = [main] + [code for code in ordered if code != main]
            else:
                errors.add(
                    "languages",
                    _(
                        "%(language)s is the main language of this meeting: its title, description, program and "
                        "document titles are entered in it, so it stays offered. To hold the meeting in another "
                        "main language, create a new meeting.",
                        language=language_name(main, current_language() or main),
                    ),
                )
        values["languages"] = ",".join(ordered)

    if "translations" in data:
        languages = values["languages"].split(",") if "languages" in values else meeting.language_codes
        values["translations"] = clean_translations(
            Meeting, data["translations"], languages[1:], meeting.translations if meeting else {}, errors
        )

    if meeting is not None and dates_valid and is_timezone(tz_name) and meeting.sessions:
        _check_sessions_fit(meeting, starts_on, ends_on, tz_name, errors)

    errors.raise_if_any()
    return values


def _slug_taken(slug, meeting) -> bool:
    query = db.select(Meeting.id).where(Meeting.slug == slug)
    if meeting is not None:
        query = query.where(Meeting.id != meeting.id)
    return db.session.scalar(query) is not None


def _check_sessions_fit(meeting, starts_on, ends_on, tz_name, errors):
    """New dates or a new timezone must keep every program session inside the meeting's days."""
    if (starts_on, ends_on, tz_name) == (meeting.starts_on, meeting.ends_on, meeting.timezone):
        return
    first, last = day_bounds_utc(starts_on, ends_on, tz_name)
    before = [session for session in meeting.sessions if session.starts_at < first]
    after = [session for session in meeting.sessions if session.ends_at > last]
    for field, outside in (("starts_on", before), ("ends_on", after)):
        if outside:
            errors.add(
                field,
                _(
                    "%(count)d program session(s) would fall outside the meeting's days, such as “%(title)s”. "
                    "Move or delete them first.",
                    count=len(outside),
                    title=outside[0].title,
                ),
            )


def refuse_if_archived(meeting, message=None):
    """An archived meeting is a record: nothing of it changes any more."""
    if meeting.status == MeetingStatus.ARCHIVED:
        raise DomainError(message or _("An archived meeting cannot be changed."))


def _jsonable(value):
    if isinstance(value, tuple | list):
        return [_jsonable(item) for item in value]
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value


# Program sessions ------------------------------------------------------------------------------


def add_session(meeting, data) -> ProgramSession:
    refuse_if_archived(meeting)
    values = _clean_session(meeting, data, None)
    session = ProgramSession(meeting=meeting, **values)
    db.session.add(session)
    db.session.flush()
    record(
        "session.create",
        meeting=meeting,
        obj=session,
        summary=_("Added the program session “%(title)s” (%(when)s).", title=session.title, when=_when(session)),
        details={"values": _jsonable(values)},
    )
    return session


def update_session(session, data) -> ProgramSession:
    meeting = session.meeting
    refuse_if_archived(meeting)
    values = _clean_session(meeting, data, session)
    changes = apply_changes(session, values)
    if not changes:
        return session
    db.session.flush()
    from ..program.services import session_changed  # the program builds on meetings

    session_changed(session, changes)
    record(
        "session.update",
        meeting=meeting,
        obj=session,
        summary=_(
            "Changed the program session “%(title)s”: %(fields)s.",
            title=session.title,
            fields=changed_fields(changes, SESSION_FIELD_LABELS),
        ),
        details={"changes": {name: _jsonable(pair) for name, pair in changes.items()}},
    )
    return session


def delete_session(session) -> None:
    meeting = session.meeting
    refuse_if_archived(meeting)
    record(
        "session.delete",
        meeting=meeting,
        obj=session,
        summary=_("Deleted the program session “%(title)s” (%(when)s).", title=session.title, when=_when(session)),
    )
    meeting.sessions.remove(session)
    db.session.delete(session)
    db.session.flush()


def _when(session) -> str:
    tz_name = session.meeting.timezone
    start, end = to_local(session.starts_at, tz_name), to_local(session.ends_at, tz_name)
    return f"{start:%Y-%m-%d %H:%M}–{end:%H:%M} {tz_name}"


def _clean_session(meeting, data, session) -> dict:
    errors = FieldErrors()
    names = [name for name in SESSION_FIELD_LABELS if session is None or name in data]
    values = {name: data.get(name) for name in names}

    for name in ("title", "room", "description"):
        if name in values:
            values[name] = str(values[name] or "").strip()
            length = ProgramSession.__table__.c[name].type.length
            if length and len(values[name]) > length:
                errors.add(name, _("At most %(n)d characters.", n=length))
    if "title" in values and not values["title"]:
        errors.add("title", _("Give the session a title."))
    if "translations" in data:
        values["translations"] = clean_translations(
            ProgramSession,
            data["translations"],
            meeting.content_languages[1:],
            session.translations if session else {},
            errors,
        )
    if "kind" in values:
        values["kind"] = values["kind"] or SessionKind.OTHER
        if values["kind"] not in set(SessionKind):
            errors.add("kind", _("Choose a kind of session from the list."))
    for name in ("starts_at", "ends_at"):
        if name in values:
            if not isinstance(values[name], datetime):
                errors.add(name, _("Give a date and a time."))
            else:
                # A wall-clock time is read in the meeting's timezone.
                values[name] = to_utc(values[name], meeting.timezone)

    starts_at = values.get("starts_at", session.starts_at if session else None)
    ends_at = values.get("ends_at", session.ends_at if session else None)
    if isinstance(starts_at, datetime) and isinstance(ends_at, datetime):
        first, last = day_bounds_utc(meeting.starts_on, meeting.ends_on, meeting.timezone)
        if ends_at <= starts_at:
            errors.add("ends_at", _("The session must end after it starts."))
        outside = _(
            "The session must take place during the meeting: from %(first)s to %(last)s, %(timezone)s time.",
            first=format_date(meeting.starts_on, "long"),
            last=format_date(meeting.ends_on, "long"),
            timezone=meeting.timezone,
        )
        if not first <= starts_at <= last:
            errors.add("starts_at", outside)
        elif ends_at > last:
            errors.add("ends_at", outside)

    errors.raise_if_any()
    return values
