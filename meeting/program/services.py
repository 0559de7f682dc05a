"""What organizers do with the program of a meeting, and what speakers do with the slots offered
to them.

Organizers add, edit, move and reorder the slots of each program session, keep the meeting's
speakers (with the windows of time they are available), offer a slot to a speaker (an email with a
personal link), remind and withdraw; they publish the program once no error-level conflict stands
(`find_conflicts`). Speakers confirm (an email with their slot as an .ics file) or decline (the slot
is freed and the organizers are told). The public sees only confirmed speakers, on the meeting page,
in `program.ics` and in `program_as_dict` (the API).

Every change is validated here and written to the audit log; a change the public can see, made
after publication, is dated (`ProgramState.updated_at`, shown as "updated on …"). A change to what a
calendar shows of a slot (time, topic, kind, confirmed speaker) raises its iCalendar SEQUENCE.
Nothing here commits."""

import math
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from email.utils import parseaddr

from babel.dates import format_date, format_datetime, format_time
from flask import current_app
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from icalendar import Calendar, Event
from sqlalchemy import update
from sqlalchemy.orm import contains_eager, selectinload

from ..accounts.models import Role, User
from ..core.audit import record
from ..core.errors import DomainError, NotFound
from ..core.models import apply_changes, utcnow
from ..core.storage import IMAGES, store_upload
from ..core.timeutil import is_timezone, to_local, to_utc, zone
from ..core.tokens import hash_token
from ..extensions import db
from ..mail.services import external_url, queue_email
from ..meetings.models import ProgramSession
from ..meetings.services import (
    FieldErrors,
    changed_fields,
    changed_translations,
    clean_translations,
    refuse_if_archived,
)
from .models import (
    OPEN_OFFER_STATUSES,
    OfferStatus,
    Perspective,
    ProgramState,
    Slot,
    SlotKind,
    Speaker,
    SpeakerAvailability,
    SpeakerOffer,
)

MAX_SLOT_MINUTES = 12 * 60
MAX_BIOGRAPHY_LENGTH = 5000
MAX_NOTE_LENGTH = 2000
MAX_PHOTO_BYTES = 2 * 1024 * 1024
ICS_CONTENT_TYPE = "text/calendar"

SLOT_FIELD_LABELS = {
    "starts_at": _l("Starts"),
    "duration_minutes": _l("Duration in minutes"),
    "topic": _l("Topic"),
    "kind": _l("Kind of slot"),
}

SPEAKER_FIELD_LABELS = {
    "name": _l("Name"),
    "affiliation": _l("Affiliation"),
    "perspective": _l("Perspective"),
    "email": _l("Email address"),
    "language": _l("Language of the emails"),
    "timezone": _l("The speaker's timezone"),
    "biography": _l("Short biography"),
}

# What the public sees of a speaker: a change to these after publication is an update of the program.
PUBLIC_SPEAKER_FIELDS = ("name", "affiliation", "perspective", "biography")
# What a calendar shows of a slot: a change to these raises its SEQUENCE (a calendar may be in any of
# the meeting's languages, so a translated topic counts).
CALENDAR_SLOT_FIELDS = ("starts_at", "duration_minutes", "topic", "kind", "translations")


# Times -----------------------------------------------------------------------------------------


def format_moment(moment: datetime | None, tz_name: str, format: str = "medium") -> str:
    """An instant as the wall-clock date and time of `tz_name`, in the current language (which
    `force_locale` sets while an email is rendered)."""
    if moment is None:
        return ""
    return format_datetime(moment, format, tzinfo=zone(tz_name), locale=get_locale())


def format_day(moment: datetime | None, tz_name: str) -> str:
    """The local day of an instant in `tz_name`, spelled out ("Saturday, November 6, 2027")."""
    if moment is None:
        return ""
    return format_date(to_local(moment, tz_name).date(), "full", locale=get_locale())


def format_clock(moment: datetime | None, tz_name: str) -> str:
    if moment is None:
        return ""
    return format_time(moment, "short", tzinfo=zone(tz_name), locale=get_locale())


def _span(slot: Slot, tz_name: str) -> str:
    return f"{format_moment(slot.starts_at, tz_name, 'short')}–{format_clock(slot.ends_at, tz_name)}"


def _jsonable(value):
    if isinstance(value, tuple | list):
        return [_jsonable(item) for item in value]
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value


# Queries ---------------------------------------------------------------------------------------


def program_state(meeting) -> ProgramState:
    """The meeting's publication state (a fresh, unsaved one for a program never published)."""
    return db.session.get(ProgramState, meeting.id) or ProgramState(meeting_id=meeting.id)


def _saved_state(meeting) -> ProgramState:
    state = db.session.get(ProgramState, meeting.id)
    if state is None:
        state = ProgramState(meeting_id=meeting.id)
        db.session.add(state)
    return state


def meeting_slots(meeting) -> list[Slot]:
    """Every slot of the meeting in program order, with its session, speaker (and their
    availability) and open offer, in a fixed number of queries."""
    return db.session.scalars(
        db.select(Slot)
        .join(Slot.session)
        .where(ProgramSession.meeting_id == meeting.id)
        .options(
            contains_eager(Slot.session),
            selectinload(Slot.speaker).selectinload(Speaker.availability),
            selectinload(Slot.current_offer),
        )
        .order_by(ProgramSession.starts_at, ProgramSession.id, Slot.starts_at, Slot.position, Slot.id)
    ).all()


def slots_by_session(slots) -> dict[int, list[Slot]]:
    grouped: dict[int, list[Slot]] = {}
    for slot in slots:
        grouped.setdefault(slot.program_session_id, []).append(slot)
    return grouped


def find_slot(meeting, slot_id) -> Slot | None:
    slot = db.session.get(Slot, slot_id)
    return slot if slot is not None and slot.session.meeting_id == meeting.id else None


def find_speaker(meeting, speaker_id) -> Speaker | None:
    speaker = db.session.get(Speaker, speaker_id)
    return speaker if speaker is not None and speaker.meeting_id == meeting.id else None


def find_offer(meeting, offer_id) -> SpeakerOffer | None:
    offer = db.session.get(SpeakerOffer, offer_id)
    return offer if offer is not None and offer.speaker.meeting_id == meeting.id else None


def find_offer_by_token(token) -> SpeakerOffer | None:
    """The offer a speaker's link leads to, or None for a token that is unknown or malformed."""
    if not token or len(token) > 100:
        return None
    return db.session.scalar(
        db.select(SpeakerOffer)
        .where(SpeakerOffer.token_hash == hash_token(token))
        .options(
            selectinload(SpeakerOffer.slot).selectinload(Slot.session).selectinload(ProgramSession.meeting),
            selectinload(SpeakerOffer.speaker),
        )
    )


def speakers_of(meeting) -> list[Speaker]:
    """The meeting's speakers by name, with their offers (and each offer's slot and session)."""
    return db.session.scalars(
        db.select(Speaker)
        .where(Speaker.meeting_id == meeting.id)
        .options(
            selectinload(Speaker.offers).selectinload(SpeakerOffer.slot).selectinload(Slot.session),
            selectinload(Speaker.availability),
        )
        .order_by(Speaker.name, Speaker.id)
    ).all()


def offerable_slots(meeting, slots=None) -> list[Slot]:
    """Slots that can be offered to a speaker now: not a break, and not held by an open offer."""
    slots = meeting_slots(meeting) if slots is None else slots
    return [slot for slot in slots if slot.kind != SlotKind.BREAK and slot.current_offer is None]


def _program_changed(meeting) -> None:
    """Date a change the public sees, when it is made after the program was published."""
    state = db.session.get(ProgramState, meeting.id)
    if state is not None and state.published_at is not None:
        state.updated_at = utcnow()


# Conflicts -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Conflict:
    level: str  # "error" (blocks publication) or "warning"
    kind: str
    message: str
    action: str  # what to do about it
    slot_ids: tuple[int, ...] = ()
    session_ids: tuple[int, ...] = ()

    @property
    def is_error(self) -> bool:
        return self.level == "error"


def _room(session) -> str:
    return " ".join((session.room or "").split()).casefold()


def find_conflicts(meeting, slots=None) -> list[Conflict]:
    """What is wrong with the program, errors first: a slot outside its session; two slots at
    overlapping times in the same session, or in the same room; a speaker in two overlapping slots;
    (warnings) a speaker outside the availability they gave; two sessions in one room at once."""
    slots = meeting_slots(meeting) if slots is None else slots
    tz_name = meeting.timezone
    conflicts = []

    for slot in slots:
        session = slot.session
        if slot.starts_at < session.starts_at or slot.ends_at > session.ends_at:
            conflicts.append(
                Conflict(
                    "error",
                    "outside_session",
                    _(
                        "“%(slot)s” (%(when)s) is outside its session “%(session)s” (%(session_when)s).",
                        slot=slot.title,
                        when=_span(slot, tz_name),
                        session=session.title,
                        session_when=f"{format_moment(session.starts_at, tz_name, 'short')}–"
                        f"{format_clock(session.ends_at, tz_name)}",
                    ),
                    _("Move or shorten the slot so that it fits in the session, or change the session's times."),
                    (slot.id,),
                    (session.id,),
                )
            )

    for index, first in enumerate(slots):
        for second in slots[index + 1 :]:
            if not first.overlaps(second):
                continue
            ids = (first.id, second.id)
            names = {"first": first.title, "second": second.title, "when": _span(second, tz_name)}
            if first.program_session_id == second.program_session_id:
                conflicts.append(
                    Conflict(
                        "error",
                        "overlap_in_session",
                        _("“%(first)s” and “%(second)s” (%(when)s) overlap in the same session.", **names),
                        _("Move one of them, shorten the first, or use Up and Down to put them back to back."),
                        ids,
                        (first.program_session_id,),
                    )
                )
            elif _room(first.session) and _room(first.session) == _room(second.session):
                conflicts.append(
                    Conflict(
                        "error",
                        "overlap_in_room",
                        _(
                            "“%(first)s” (%(first_session)s) and “%(second)s” (%(second_session)s, %(when)s) "
                            "take place at the same time in %(room)s.",
                            first_session=first.session.title,
                            second_session=second.session.title,
                            room=second.session.room,
                            **names,
                        ),
                        _("Move one of the slots, or hold one of the sessions in another room."),
                        ids,
                        (first.program_session_id, second.program_session_id),
                    )
                )
            if first.speaker_id is not None and first.speaker_id == second.speaker_id:
                conflicts.append(
                    Conflict(
                        "error",
                        "speaker_double_booked",
                        _(
                            "%(speaker)s is to speak in “%(first)s” and in “%(second)s” (%(when)s) at the same time.",
                            speaker=first.speaker.name,
                            **names,
                        ),
                        _("Withdraw one of the two offers, or move one of the slots."),
                        ids,
                    )
                )

    sessions = sorted({slot.session for slot in slots} | set(meeting.sessions), key=lambda s: (s.starts_at, s.id))
    for index, first in enumerate(sessions):
        for second in sessions[index + 1 :]:
            if (
                _room(first)
                and _room(first) == _room(second)
                and first.starts_at < second.ends_at
                and second.starts_at < first.ends_at
            ):
                conflicts.append(
                    Conflict(
                        "warning",
                        "sessions_share_room",
                        _(
                            "The sessions “%(first)s” and “%(second)s” are both in %(room)s at overlapping times.",
                            first=first.title,
                            second=second.title,
                            room=second.room,
                        ),
                        _("Change the times or the room of one session; slots that clash are listed as errors."),
                        (),
                        (first.id, second.id),
                    )
                )

    for slot in slots:
        speaker = slot.speaker
        if speaker is not None and not speaker.is_available(slot.starts_at, slot.ends_at):
            windows = "; ".join(
                f"{format_moment(w.starts_at, tz_name, 'short')}–{format_clock(w.ends_at, tz_name)}"
                for w in speaker.availability
            )
            conflicts.append(
                Conflict(
                    "warning",
                    "speaker_unavailable",
                    _(
                        "%(speaker)s is to speak in “%(slot)s” (%(when)s), outside the times they gave: %(windows)s.",
                        speaker=speaker.name,
                        slot=slot.title,
                        when=_span(slot, tz_name),
                        windows=windows,
                    ),
                    _("Move the slot into a time the speaker gave, or ask them and update their availability."),
                    (slot.id,),
                    (slot.program_session_id,),
                )
            )

    return sorted(conflicts, key=lambda conflict: not conflict.is_error)


# Timeline --------------------------------------------------------------------------------------


@dataclass
class TimelineEntry:
    """One line of a session's timeline: a slot, or free time between slots. `overlaps` marks a
    slot that starts before the previous ones end; `outside` one not within the session."""

    kind: str  # "slot" or "gap"
    starts_at: datetime
    ends_at: datetime
    slot: Slot | None = None
    overlaps: bool = False
    outside: bool = False

    @property
    def minutes(self) -> int:
        # Real elapsed time: across a change of daylight-saving time it differs from the wall clock.
        return round((self.ends_at - self.starts_at).total_seconds() / 60)

    @property
    def steps(self) -> int:
        """The entry's height on the page in quarter hours, between 1 and 12."""
        return min(max(math.ceil(self.minutes / 15), 1), 12)


def session_timeline(session, slots) -> list[TimelineEntry]:
    entries = []
    cursor = session.starts_at
    for slot in slots:
        if slot.starts_at > cursor:
            entries.append(TimelineEntry("gap", cursor, slot.starts_at))
        entries.append(
            TimelineEntry(
                "slot",
                slot.starts_at,
                slot.ends_at,
                slot=slot,
                overlaps=slot.starts_at < cursor and bool(entries),
                outside=slot.starts_at < session.starts_at or slot.ends_at > session.ends_at,
            )
        )
        cursor = max(cursor, slot.ends_at)
    if cursor < session.ends_at:
        entries.append(TimelineEntry("gap", cursor, session.ends_at))
    return entries


def next_free_start(session, slots) -> datetime:
    """Where a new slot goes by default: after the last one, or at the start of the session."""
    return max([session.starts_at, *(slot.ends_at for slot in slots)])


# Slots -----------------------------------------------------------------------------------------


def _clean_slot(meeting, data, slot) -> dict:
    errors = FieldErrors()
    names = [name for name in SLOT_FIELD_LABELS if slot is None or name in data]
    values = {name: data.get(name) for name in names}

    if "topic" in values:
        values["topic"] = " ".join(str(values["topic"] or "").split())
        if len(values["topic"]) > 300:
            errors.add("topic", _("At most %(n)d characters.", n=300))
    if "kind" in values:
        values["kind"] = values["kind"] or SlotKind.TALK
        if values["kind"] not in set(SlotKind):
            errors.add("kind", _("Choose a kind of slot from the list."))
    kind = values.get("kind", slot.kind if slot else SlotKind.TALK)
    topic = values.get("topic", slot.topic if slot else "")
    if not topic and kind != SlotKind.BREAK and ("topic" in values or "kind" in values):
        errors.add("topic", _("Give the slot a topic (only a break may go without one)."))
    if kind == SlotKind.BREAK and slot is not None and slot.speaker_id is not None:
        errors.add("kind", _("A break has no speaker: withdraw the offer of this slot first."))
    if "duration_minutes" in values:
        minutes = values["duration_minutes"]
        if isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= MAX_SLOT_MINUTES:
            errors.add(
                "duration_minutes",
                _("Give the duration in whole minutes, from 1 to %(n)d.", n=MAX_SLOT_MINUTES),
            )
    if "starts_at" in values:
        if not isinstance(values["starts_at"], datetime):
            errors.add("starts_at", _("Give a date and a time."))
        else:
            # A wall-clock time is read in the meeting's timezone.
            values["starts_at"] = to_utc(values["starts_at"], meeting.timezone)
    if "translations" in data:
        values["translations"] = clean_translations(
            Slot, data["translations"], meeting.content_languages[1:], slot.translations if slot else {}, errors
        )

    errors.raise_if_any()
    return values


def _renumber(session) -> None:
    for position, slot in enumerate(sorted(session.slots, key=lambda s: (s.starts_at, s.position, s.id or 0))):
        slot.position = position


def add_slot(session, data) -> Slot:
    meeting = session.meeting
    refuse_if_archived(meeting)
    values = _clean_slot(meeting, data, None)
    slot = Slot(session=session, position=len(session.slots), **values)
    db.session.add(slot)
    _renumber(session)
    db.session.flush()
    _program_changed(meeting)
    record(
        "slot.create",
        meeting=meeting,
        obj=slot,
        summary=_(
            "Added the slot “%(slot)s” (%(when)s) to “%(session)s”.",
            slot=slot.title,
            when=_span(slot, meeting.timezone),
            session=session.title,
        ),
        details={"values": {name: _jsonable(value) for name, value in values.items()}},
    )
    return slot


def update_slot(slot, data) -> Slot:
    session = slot.session
    meeting = session.meeting
    refuse_if_archived(meeting)
    values = _clean_slot(meeting, data, slot)
    changes = {name: (getattr(slot, name), value) for name, value in values.items() if getattr(slot, name) != value}
    if not changes:
        return slot
    for name, (_old, new) in changes.items():
        setattr(slot, name, new)
    if any(name in CALENDAR_SLOT_FIELDS for name in changes):
        slot.sequence += 1
    _renumber(session)
    db.session.flush()
    _program_changed(meeting)
    record(
        "slot.update",
        meeting=meeting,
        obj=slot,
        summary=_(
            "Changed the slot “%(slot)s” (%(when)s): %(fields)s.",
            slot=slot.title,
            when=_span(slot, meeting.timezone),
            fields=changed_fields(changes, SLOT_FIELD_LABELS),
        ),
        details={"changes": {name: _jsonable(pair) for name, pair in changes.items()}},
    )
    return slot


def move_slot(slot, starts_at: datetime | time) -> Slot:
    """A new start, as a local wall-clock datetime, or a local time on the slot's current local day."""
    if isinstance(starts_at, time):
        day = to_local(slot.starts_at, slot.session.meeting.timezone).date()
        starts_at = datetime.combine(day, starts_at)
    return update_slot(slot, {"starts_at": starts_at})


def shift_slot(slot, direction: str) -> Slot:
    """Swap the slot with the one before ("up") or after ("down") it. The pair keeps the time it
    occupied and the gap between its two slots; only their order changes."""
    session = slot.session
    meeting = session.meeting
    refuse_if_archived(meeting)
    if direction not in ("up", "down"):
        raise DomainError(_("A slot moves up or down."))
    ordered = sorted(session.slots, key=lambda s: (s.starts_at, s.position, s.id))
    index = ordered.index(slot)
    other_index = index - 1 if direction == "up" else index + 1
    if not 0 <= other_index < len(ordered):
        raise DomainError(
            _("“%(slot)s” is already the first slot of the session.", slot=slot.title)
            if direction == "up"
            else _("“%(slot)s” is already the last slot of the session.", slot=slot.title)
        )
    first, second = sorted((slot, ordered[other_index]), key=ordered.index)
    block_start = first.starts_at
    gap = second.starts_at - first.ends_at
    second.starts_at = block_start
    first.starts_at = block_start + timedelta(minutes=second.duration_minutes) + gap
    first.position, second.position = second.position, first.position
    first.sequence += 1
    second.sequence += 1
    _renumber(session)
    db.session.flush()
    _program_changed(meeting)
    record(
        "slot.reorder",
        meeting=meeting,
        obj=slot,
        summary=_(
            "Swapped “%(first)s” and “%(second)s” in “%(session)s”.",
            first=second.title,
            second=first.title,
            session=session.title,
        ),
        details={"slots": [second.id, first.id]},
    )
    return slot


def delete_slot(slot) -> None:
    session = slot.session
    meeting = session.meeting
    refuse_if_archived(meeting)
    if slot.current_offer is not None:
        raise DomainError(
            _(
                "“%(slot)s” is offered to %(speaker)s: withdraw the offer before deleting the slot.",
                slot=slot.title,
                speaker=slot.current_offer.speaker.name,
            )
        )
    record(
        "slot.delete",
        meeting=meeting,
        obj=slot,
        summary=_(
            "Deleted the slot “%(slot)s” (%(when)s) of “%(session)s”.",
            slot=slot.title,
            when=_span(slot, meeting.timezone),
            session=session.title,
        ),
    )
    # Deleted before it leaves the collection: the delete loads the slot's offers (to delete them
    # too), and that load must not autoflush an orphaned slot first.
    db.session.delete(slot)
    session.slots.remove(slot)
    _renumber(session)
    db.session.flush()
    _program_changed(meeting)


def session_changed(session, changes) -> None:
    """For the meetings module to call when a program session changes (`changes`: the fields changed,
    as {field: (old, new)}): a new room or title, in any language, changes what calendars show of its
    slots (LOCATION, DESCRIPTION), so their SEQUENCE goes up, and the published program counts as
    updated."""
    fields = set(changes)
    if "translations" in fields and changed_translations(*changes["translations"], {"title": ""}):
        fields.add("title")
    if not {"room", "title", "starts_at", "ends_at"} & fields:
        return
    if {"room", "title"} & fields:
        for slot in session.slots:
            slot.sequence += 1
    _program_changed(session.meeting)


# Publication -----------------------------------------------------------------------------------


def publish_program(meeting) -> ProgramState:
    refuse_if_archived(meeting)
    state = _saved_state(meeting)
    if state.published_at is not None:
        raise DomainError(_("The program is already published; changes to it are public as soon as they are saved."))
    errors = [conflict for conflict in find_conflicts(meeting) if conflict.is_error]
    if errors:
        raise DomainError(
            _(
                "The program cannot be published while these conflicts stand: %(conflicts)s",
                conflicts=" ".join(conflict.message for conflict in errors),
            )
        )
    state.published_at = utcnow()
    state.updated_at = None
    db.session.flush()
    record("program.publish", meeting=meeting, summary=_("Published the program."))
    return state


def unpublish_program(meeting) -> ProgramState:
    refuse_if_archived(meeting)
    state = _saved_state(meeting)
    if state.published_at is None:
        raise DomainError(_("The program is not published."))
    state.published_at = None
    state.updated_at = None
    db.session.flush()
    record("program.unpublish", meeting=meeting, summary=_("Took the program off the public pages."))
    return state


@dataclass
class PublicProgram:
    """The published program as the public sees it: slots by session, each with its speaker only
    when they confirmed (`Slot.confirmed_speaker`)."""

    published_at: datetime
    updated_at: datetime | None
    slots: dict[int, list[Slot]] = field(default_factory=dict)

    def slots_of(self, session) -> list[Slot]:
        return self.slots.get(session.id, [])


def public_program(meeting) -> PublicProgram | None:
    state = db.session.get(ProgramState, meeting.id)
    if state is None or state.published_at is None:
        return None
    return PublicProgram(state.published_at, state.updated_at, slots_by_session(meeting_slots(meeting)))


def _iso(moment: datetime | None, tz_name: str) -> str | None:
    return to_local(moment, tz_name).isoformat() if moment is not None else None


def _iso_utc(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment is not None else None


def _speaker_as_dict(speaker) -> dict | None:
    if speaker is None:
        return None
    return {
        "name": speaker.name,
        "affiliation": speaker.affiliation,
        "perspective": speaker.perspective,
        "biography_html": str(speaker.biography_html),
    }


def _translations_as_dict(obj) -> dict:
    """The translations of a session's or slot's texts into the meeting's other languages:
    {"fr": {"title": "…"}}, only the languages offered and the texts entered."""
    return {code: dict(obj.translations[code]) for code in obj.content_languages[1:] if obj.translations.get(code)}


def program_as_dict(meeting) -> dict:
    """The program for the API: sessions with, once the program is published, their slots and the
    speakers who confirmed (never an unconfirmed one). Times in ISO 8601, local with their offset
    and in UTC.

    Titles and topics are given in the meeting's main language (`languages[0]`) and, under
    `translations`, in each other language they were entered in: one answer for every client,
    whatever its Accept-Language, which can be cached, and the client picks (and falls back) itself."""
    tz_name = meeting.timezone
    program = public_program(meeting)

    def times(starts_at, ends_at):
        return {
            "starts_at": _iso(starts_at, tz_name),
            "ends_at": _iso(ends_at, tz_name),
            "starts_at_utc": _iso_utc(starts_at),
            "ends_at_utc": _iso_utc(ends_at),
        }

    sessions = []
    for session in meeting.sessions:
        slots = program.slots_of(session) if program else []
        sessions.append(
            {
                "id": session.id,
                "title": session.title,
                "translations": _translations_as_dict(session),
                "kind": session.kind,
                "room": session.room,
                **times(session.starts_at, session.ends_at),
                "slots": [
                    {
                        "id": slot.id,
                        "uid": slot.uid,
                        "topic": slot.topic,
                        "translations": _translations_as_dict(slot),
                        "kind": slot.kind,
                        **times(slot.starts_at, slot.ends_at),
                        "duration_minutes": slot.duration_minutes,
                        "sequence": slot.sequence,
                        "speaker": _speaker_as_dict(slot.confirmed_speaker),
                    }
                    for slot in slots
                ],
            }
        )
    return {
        "meeting": meeting.slug,
        "timezone": tz_name,
        "languages": meeting.content_languages,
        "published": program is not None,
        "published_at": _iso_utc(program.published_at) if program else None,
        "updated_at": _iso_utc(program.updated_at) if program else None,
        "sessions": sessions,
    }


# iCalendar -------------------------------------------------------------------------------------


def _ical_moment(moment: datetime, tz_name: str) -> datetime:
    """The instant in the meeting's zone (written with its TZID), except in the repeated hour when
    clocks go back: there a local time names two instants, so UTC says which one."""
    local = to_local(moment, tz_name)
    if local.fold and local.replace(fold=0).utcoffset() != local.utcoffset():
        return moment.astimezone(UTC)
    return local


def _calendar_language(meeting, language) -> str:
    """The language of a calendar: `language` if the meeting offers it, else its main language."""
    return language if language in meeting.content_languages else meeting.main_language


def _slot_event(slot, meeting, speaker, language) -> Event:
    """The slot as an event, its texts in `language` where translated (SUMMARY and DESCRIPTION say
    which language they are in, with the LANGUAGE parameter)."""
    session = slot.session
    summary = slot.localized_title(language)
    session_title = session.localized("title", language)
    description = [session_title]
    if speaker is not None:
        description.append(", ".join(part for part in (speaker.name, speaker.affiliation) if part))
    event = Event.new(
        uid=slot.uid,
        start=_ical_moment(slot.starts_at, meeting.timezone),
        end=_ical_moment(slot.ends_at, meeting.timezone),
        summary=summary,
        description="\n".join(description),
        location=", ".join(part for part in (session.room, meeting.venue, meeting.city) if part),
        sequence=slot.sequence,
        last_modified=slot.updated_at,
        url=external_url("meetings.show", slug=meeting.slug),
    )
    event["SUMMARY"].params["LANGUAGE"] = summary.language
    event["DESCRIPTION"].params["LANGUAGE"] = session_title.language
    return event


def _calendar(meeting, events, language) -> bytes:
    calendar = Calendar.new(
        prodid="-//Meeting//Program//EN",
        name=meeting.localized("title", language),
        method="PUBLISH",
        uid=uuid.uuid5(uuid.NAMESPACE_URL, external_url("meetings.show", slug=meeting.slug)),
        subcomponents=events,
    )
    # VTIMEZONE components covering the meeting's days (and a margin), built from the tz database.
    calendar.add_missing_timezones(
        first_date=meeting.starts_on - timedelta(days=7), last_date=meeting.ends_on + timedelta(days=7)
    )
    return calendar.to_ical()


def program_calendar(meeting, language=None) -> bytes:
    """The published program as iCalendar: one event per slot, with confirmed speakers only; an
    empty calendar before publication (a subscription made early fills in later). In `language`
    when the meeting offers it, else in its main language (not the visitor's: a calendar
    subscription has no page language), untranslated texts falling back to the main language."""
    language = _calendar_language(meeting, language)
    program = public_program(meeting)
    events = []
    with force_locale(language):  # the kinds of slot that stand for a missing topic
        if program is not None:
            for session in meeting.sessions:
                events.extend(
                    _slot_event(slot, meeting, slot.confirmed_speaker, language) for slot in program.slots_of(session)
                )
        return _calendar(meeting, events, language)


def slot_calendar(offer) -> bytes:
    """The speaker's own slot, for their calendar, in the language of their emails."""
    slot = offer.slot
    meeting = slot.session.meeting
    speaker = offer.speaker if offer.status == OfferStatus.CONFIRMED else None
    language = _calendar_language(meeting, offer.speaker.language)
    with force_locale(language):
        return _calendar(meeting, [_slot_event(slot, meeting, speaker, language)], language)


# Speakers --------------------------------------------------------------------------------------


def _clean_speaker(meeting, data, speaker) -> dict:
    errors = FieldErrors()
    names = [name for name in SPEAKER_FIELD_LABELS if speaker is None or name in data]
    values = {name: data.get(name) for name in names}

    for name in ("name", "affiliation", "email", "language", "timezone"):
        if name in values:
            values[name] = " ".join(str(values[name] or "").split())
            length = Speaker.__table__.c[name].type.length
            if len(values[name]) > length:
                errors.add(name, _("At most %(n)d characters.", n=length))
    if "name" in values and not values["name"]:
        errors.add("name", _("Give the speaker's name."))
    if "biography" in values:
        values["biography"] = str(values["biography"] or "").strip()
        if len(values["biography"]) > MAX_BIOGRAPHY_LENGTH:
            errors.add("biography", _("At most %(n)d characters.", n=MAX_BIOGRAPHY_LENGTH))
    if "perspective" in values:
        values["perspective"] = values["perspective"] or Perspective.OTHER
        if values["perspective"] not in set(Perspective):
            errors.add("perspective", _("Choose a perspective from the list."))
    if "email" in values:
        email = values["email"].lower()
        values["email"] = email
        if not email or parseaddr(email)[1] != email or email.count("@") != 1 or "." not in email.partition("@")[2]:
            errors.add("email", _("Give a valid email address: the offer of a slot is sent there."))
        else:
            taken = db.select(Speaker.id).where(Speaker.meeting_id == meeting.id, Speaker.email == email)
            if speaker is not None:
                taken = taken.where(Speaker.id != speaker.id)
            if db.session.scalar(taken) is not None:
                errors.add("email", _("Another speaker of this meeting has this email address."))
    if "language" in values:
        offered = meeting.language_codes or [current_app.config["BABEL_DEFAULT_LOCALE"]]
        values["language"] = values["language"] or offered[0]
        if values["language"] not in offered:
            errors.add("language", _("Choose one of the meeting's languages: %(codes)s.", codes=", ".join(offered)))
    if "timezone" in values and values["timezone"] and not is_timezone(values["timezone"]):
        errors.add("timezone", _("Choose a timezone from the list, such as America/Bogota."))

    errors.raise_if_any()
    return values


def _confirmed_slots(speaker) -> list[Slot]:
    return [offer.slot for offer in speaker.offers if offer.status == OfferStatus.CONFIRMED]


def add_speaker(meeting, data) -> Speaker:
    refuse_if_archived(meeting)
    values = _clean_speaker(meeting, data, None)
    speaker = Speaker(meeting=meeting, **values)
    db.session.add(speaker)
    db.session.flush()
    record(
        "speaker.create",
        meeting=meeting,
        obj=speaker,
        summary=_("Added the speaker %(name)s.", name=speaker.name),
        details={"values": values},
    )
    return speaker


def update_speaker(speaker, data) -> Speaker:
    meeting = speaker.meeting
    refuse_if_archived(meeting)
    values = _clean_speaker(meeting, data, speaker)
    changes = apply_changes(speaker, values)
    if not changes:
        return speaker
    confirmed = _confirmed_slots(speaker)
    if confirmed and any(name in PUBLIC_SPEAKER_FIELDS for name in changes):
        for slot in confirmed:
            slot.sequence += 1
        _program_changed(meeting)
    db.session.flush()
    record(
        "speaker.update",
        meeting=meeting,
        obj=speaker,
        summary=_(
            "Changed the speaker %(name)s: %(fields)s.",
            name=speaker.name,
            fields=", ".join(str(SPEAKER_FIELD_LABELS[name]) for name in changes),
        ),
        details={"changes": {name: list(pair) for name, pair in changes.items()}},
    )
    return speaker


def delete_speaker(speaker) -> str | None:
    """Delete a speaker who holds no slot; returns the storage key of their photo, which the caller
    deletes once the transaction is committed."""
    meeting = speaker.meeting
    refuse_if_archived(meeting)
    if any(offer.is_open for offer in speaker.offers):
        raise DomainError(
            _("%(name)s holds a slot: withdraw the offer before deleting the speaker.", name=speaker.name)
        )
    record(
        "speaker.delete", meeting=meeting, obj=speaker, summary=_("Deleted the speaker %(name)s.", name=speaker.name)
    )
    photo_key = speaker.photo_key
    db.session.delete(speaker)
    db.session.flush()
    return photo_key


def _photo_changed(speaker) -> None:
    if _confirmed_slots(speaker):
        _program_changed(speaker.meeting)


def set_speaker_photo(speaker, file_storage) -> str | None:
    """Keep a new portrait (JPEG or PNG); returns the storage key of the one it replaces, which the
    caller deletes once the transaction is committed."""
    meeting = speaker.meeting
    refuse_if_archived(meeting)
    stored = store_upload(file_storage, IMAGES, MAX_PHOTO_BYTES)
    previous = speaker.photo_key
    speaker.photo_key, speaker.photo_content_type = stored.key, stored.content_type
    _photo_changed(speaker)
    db.session.flush()
    record(
        "speaker.photo",
        meeting=meeting,
        obj=speaker,
        summary=_("New photo of %(name)s (%(file)s).", name=speaker.name, file=stored.original_name),
        details={"size": stored.size, "sha256": stored.sha256},
    )
    return previous


def remove_speaker_photo(speaker) -> str | None:
    meeting = speaker.meeting
    refuse_if_archived(meeting)
    previous = speaker.photo_key
    if previous is None:
        return None
    speaker.photo_key = speaker.photo_content_type = None
    _photo_changed(speaker)
    db.session.flush()
    record(
        "speaker.photo_remove",
        meeting=meeting,
        obj=speaker,
        summary=_("Removed the photo of %(name)s.", name=speaker.name),
    )
    return previous


def public_speaker(meeting, speaker_id) -> Speaker | None:
    """A speaker the public may see: confirmed for a slot of a published program of a public meeting."""
    if not meeting.is_public or public_program(meeting) is None:
        return None
    return db.session.scalar(
        db.select(Speaker)
        .join(SpeakerOffer, SpeakerOffer.speaker_id == Speaker.id)
        .where(
            Speaker.id == speaker_id,
            Speaker.meeting_id == meeting.id,
            SpeakerOffer.status == OfferStatus.CONFIRMED,
        )
        .limit(1)
    )


def add_availability(speaker, starts_at, ends_at) -> SpeakerAvailability:
    """A window in which the speaker can speak, given as local wall-clock times of the meeting."""
    meeting = speaker.meeting
    refuse_if_archived(meeting)
    errors = FieldErrors()
    for name, value in (("starts_at", starts_at), ("ends_at", ends_at)):
        if not isinstance(value, datetime):
            errors.add(name, _("Give a date and a time."))
    errors.raise_if_any()
    starts_at, ends_at = to_utc(starts_at, meeting.timezone), to_utc(ends_at, meeting.timezone)
    if ends_at <= starts_at:
        errors.add("ends_at", _("The end must come after the start."))
    errors.raise_if_any()
    window = SpeakerAvailability(speaker=speaker, starts_at=starts_at, ends_at=ends_at)
    db.session.add(window)
    db.session.flush()
    when = f"{format_moment(starts_at, meeting.timezone, 'short')}–{format_moment(ends_at, meeting.timezone, 'short')}"
    record(
        "speaker.availability_add",
        meeting=meeting,
        obj=speaker,
        summary=_("%(name)s is available %(when)s.", name=speaker.name, when=when),
    )
    return window


def remove_availability(speaker, window_id) -> None:
    meeting = speaker.meeting
    refuse_if_archived(meeting)
    window = next((w for w in speaker.availability if w.id == window_id), None)
    if window is None:
        raise NotFound(_("There is no such window of availability."))
    when = (
        f"{format_moment(window.starts_at, meeting.timezone, 'short')}–"
        f"{format_moment(window.ends_at, meeting.timezone, 'short')}"
    )
    speaker.availability.remove(window)
    db.session.flush()
    record(
        "speaker.availability_remove",
        meeting=meeting,
        obj=speaker,
        summary=_("Removed the availability %(when)s of %(name)s.", name=speaker.name, when=when),
    )


# Offers ----------------------------------------------------------------------------------------


def _speaker_actor(speaker):
    return None, f"speaker {speaker.email}"


def _email_context(offer) -> dict:
    slot = offer.slot
    session = slot.session
    meeting = session.meeting
    speaker = offer.speaker
    return {
        "offer": offer,
        "slot": slot,
        "session": session,
        "speaker": speaker,
        "link": external_url("program.speaker_offer", token=offer.token()),
        "day": format_day,
        "clock": format_clock,
        "own_zone": speaker.zone_name if speaker.zone_name != meeting.timezone else None,
    }


def _queue_to_speaker(template, offer, subject, *, cause, attachments=()):
    speaker = offer.speaker
    meeting = speaker.meeting
    return queue_email(
        template,
        to=speaker.email,
        recipient_name=speaker.name,
        language=speaker.language,
        subject=subject,
        context=_email_context(offer),
        meeting=meeting,
        cause=cause,
        cause_object=offer,
        attachments=attachments,
    )


def _transition(offer, from_statuses, **values) -> bool:
    """Change an offer's status only if it is still in one of `from_statuses`: the speaker and an
    organizer may act on it at the same moment, and only one of them wins."""
    result = db.session.execute(
        update(SpeakerOffer)
        .where(SpeakerOffer.id == offer.id, SpeakerOffer.status.in_([str(s) for s in from_statuses]))
        .values(**values, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(offer)
    return result.rowcount == 1


def offer_slot(slot, speaker) -> SpeakerOffer:
    """Offer `slot` to `speaker`: the slot is held for them and they get an email with their link."""
    meeting = slot.session.meeting
    refuse_if_archived(meeting)
    if speaker.meeting_id != meeting.id:
        raise NotFound(_("There is no such speaker."))
    if slot.kind == SlotKind.BREAK:
        raise DomainError(_("A break cannot be offered to a speaker."))
    if slot.current_offer is not None:
        raise DomainError(
            _(
                "“%(slot)s” is already offered to %(speaker)s. Withdraw that offer first.",
                slot=slot.title,
                speaker=slot.current_offer.speaker.name,
            )
        )
    offer = SpeakerOffer(slot=slot, speaker=speaker, slot_id=slot.id, speaker_id=speaker.id)
    offer.renew_token()
    db.session.add(offer)
    slot.speaker = speaker
    db.session.flush()
    db.session.expire(slot, ["current_offer"])
    _queue_to_speaker(
        "speaker_offer",
        offer,
        lambda: _("Invitation to speak at the %(meeting)s", meeting=meeting.localized("title")),
        cause="speaker.offer",
    )
    record(
        "speaker.offer",
        meeting=meeting,
        obj=offer,
        summary=_(
            "Offered “%(slot)s” (%(when)s) to %(name)s.",
            slot=slot.title,
            when=_span(slot, meeting.timezone),
            name=speaker.name,
        ),
    )
    return offer


def remind_offer(offer) -> SpeakerOffer:
    """Send the offer again, with the same link, to a speaker who has not answered yet."""
    meeting = offer.speaker.meeting
    refuse_if_archived(meeting)
    if offer.status != OfferStatus.OFFERED:
        raise DomainError(_("Only an offer awaiting an answer can be reminded."))
    offer.reminders_sent += 1
    offer.last_reminded_at = utcnow()
    _queue_to_speaker(
        "speaker_reminder",
        offer,
        lambda: _("Reminder: invitation to speak at the %(meeting)s", meeting=meeting.localized("title")),
        cause="speaker.reminder",
    )
    db.session.flush()
    record(
        "speaker.remind",
        meeting=meeting,
        obj=offer,
        summary=_("Reminded %(name)s of the offer of “%(slot)s”.", name=offer.speaker.name, slot=offer.slot.title),
    )
    return offer


def _free_slot(offer, was_confirmed) -> None:
    slot = offer.slot
    slot.speaker = None
    db.session.expire(slot, ["current_offer"])
    if was_confirmed:
        # The speaker disappears from the public program and from calendars.
        slot.sequence += 1
        _program_changed(slot.session.meeting)


def withdraw_offer(offer) -> SpeakerOffer:
    """The organizers take back an offer (answered or not): the slot is free and the speaker is told."""
    meeting = offer.speaker.meeting
    refuse_if_archived(meeting)
    was_confirmed = offer.status == OfferStatus.CONFIRMED
    if not _transition(offer, OPEN_OFFER_STATUSES, status=OfferStatus.WITHDRAWN, withdrawn_at=utcnow()):
        raise DomainError(_("This offer is no longer open: it has already been declined or withdrawn."))
    _free_slot(offer, was_confirmed)
    _queue_to_speaker(
        "speaker_withdrawn",
        offer,
        lambda: _("Your slot at the %(meeting)s", meeting=meeting.localized("title")),
        cause="speaker.withdrawn",
    )
    db.session.flush()
    record(
        "speaker.withdraw",
        meeting=meeting,
        obj=offer,
        summary=_("Withdrew the offer of “%(slot)s” to %(name)s.", slot=offer.slot.title, name=offer.speaker.name),
    )
    return offer


def _clean_note(note) -> str:
    note = str(note or "").strip()
    if len(note) > MAX_NOTE_LENGTH:
        raise DomainError(_("At most %(n)d characters.", n=MAX_NOTE_LENGTH), fields={"note": ["too long"]})
    return note


def confirm_offer(offer, note="") -> SpeakerOffer:
    """The speaker accepts: their name goes on the public program and they get their slot as an
    .ics file. Confirming again changes nothing."""
    note = _clean_note(note)
    if offer.status == OfferStatus.CONFIRMED:
        return offer
    if not _transition(offer, [OfferStatus.OFFERED], status=OfferStatus.CONFIRMED, note=note, answered_at=utcnow()):
        raise DomainError(_("This offer is no longer open, so it cannot be confirmed."))
    slot = offer.slot
    meeting = slot.session.meeting
    slot.sequence += 1
    db.session.expire(slot, ["current_offer"])
    _program_changed(meeting)
    with force_locale(offer.speaker.language):
        attachment = (f"{meeting.slug}-slot-{slot.id}.ics", ICS_CONTENT_TYPE, slot_calendar(offer))
    _queue_to_speaker(
        "speaker_confirmed",
        offer,
        lambda: _("Confirmed: your slot at the %(meeting)s", meeting=meeting.localized("title")),
        cause="speaker.confirmed",
        attachments=[attachment],
    )
    db.session.flush()
    record(
        "speaker.confirm",
        meeting=meeting,
        obj=offer,
        summary=_("%(name)s confirmed “%(slot)s”.", name=offer.speaker.name, slot=slot.title),
        details={"note": note},
        actor=_speaker_actor(offer.speaker),
    )
    return offer


def decline_offer(offer, note="") -> SpeakerOffer:
    """The speaker declines (before or after confirming): the slot is freed and every active
    organizer is told by email."""
    note = _clean_note(note)
    was_confirmed = offer.status == OfferStatus.CONFIRMED
    if not _transition(offer, OPEN_OFFER_STATUSES, status=OfferStatus.DECLINED, note=note, answered_at=utcnow()):
        raise DomainError(_("This offer is no longer open: it has already been declined or withdrawn."))
    _free_slot(offer, was_confirmed)
    slot = offer.slot
    meeting = slot.session.meeting
    organizers = db.session.scalars(
        db.select(User)
        .where(User.active.is_(True), User.role.in_([str(Role.ADMIN), str(Role.ORGANIZER)]))
        .order_by(User.email)
    ).all()
    context = _email_context(offer) | {
        "own_zone": None,  # organizers read the meeting's time
        "was_confirmed": was_confirmed,
        "manage_link": external_url("program_manage.session_timeline", slug=meeting.slug, session_id=slot.session.id),
    }
    for organizer in organizers:
        queue_email(
            "speaker_declined",
            to=organizer.email,
            recipient_name=organizer.name,
            language=current_app.config["BABEL_DEFAULT_LOCALE"],
            subject=lambda: _(
                "%(name)s declined “%(slot)s” at the %(meeting)s",
                name=offer.speaker.name,
                slot=slot.title,
                meeting=meeting.localized("title"),
            ),
            context=context,
            meeting=meeting,
            cause="speaker.declined",
            cause_object=offer,
        )
    db.session.flush()
    record(
        "speaker.decline",
        meeting=meeting,
        obj=offer,
        summary=_("%(name)s declined “%(slot)s”.", name=offer.speaker.name, slot=slot.title),
        details={"note": note, "was_confirmed": was_confirmed},
        actor=_speaker_actor(offer.speaker),
    )
    return offer
