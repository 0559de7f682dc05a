"""What organizers do on site: print badges, and check participants in at the door.

Check-in. The person is found by the code of their badge (scanned by the page's camera, by a
hand-held scanner that types it, or typed from the badge) or by name, and is checked in with
`registration.services.decide(..., "check_in")`, the one path the organizers' list and the API use
too: it takes the meeting's lock, keeps the first time of arrival and writes the audit entry. Only a
confirmed participant can be checked in; for anyone else the page says why (`refusal`). A second
scan says when the person was checked in, in the meeting's time zone; if two desks check the same
person in at the same moment, the second is told so and changes nothing, since `decide` reads the
registration again under the lock."""

from dataclasses import dataclass

from babel.dates import format_date, format_time
from flask import current_app
from flask_babel import gettext as _

from ..core import audit
from ..core.errors import Conflict, DomainError, NotFound
from ..core.i18n import get_locale
from ..core.models import utcnow
from ..core.timeutil import to_local, zone
from ..extensions import db
from ..registration import services as registration_services
from ..registration.models import Registration, RegistrationStatus
from ..registration.participants import _participant
from . import badges, jobs
from .erasure import erasure_of
from .models import BadgePrintJob

SEARCH_RESULTS = 20


class CheckInRefused(Conflict):
    code = "check_in_refused"


class AlreadyCheckedIn(Conflict):
    code = "already_checked_in"


def _refuse_if_erased(meeting) -> None:
    if erasure_of(meeting) is not None:
        raise DomainError(_("The personal data of this meeting's participants has been erased."))


# Badges -----------------------------------------------------------------------------------------


@dataclass
class PrintRun:
    """A PDF made at once (small runs), or the job that will make it (`jobs.py`)."""

    count: int
    pdf: bytes | None = None
    filename: str = ""
    job: BadgePrintJob | None = None


def print_badges(meeting, selection: badges.BadgeSelection, layout: str, user=None) -> PrintRun:
    """The badges of the confirmed participants that `selection` picks, in `layout`; the caller
    commits (the check-in codes of first-time badges, the job, the audit entry)."""
    _refuse_if_erased(meeting)
    if layout not in badges.LAYOUTS:
        raise DomainError(_("Choose how the badges are laid out."), fields={"layout": ["invalid"]})
    registrations = badges.selected_registrations(meeting, selection)
    if not registrations:
        raise DomainError(_("No confirmed participant is selected: there is no badge to print."))
    count = len(registrations)
    details = {"count": count, "layout": layout, "selection": selection.as_dict()}
    if count > current_app.config["BADGES_INLINE_LIMIT"]:
        badges.ensure_codes(registrations)
        frozen = badges.BadgeSelection(ids=[registration.id for registration in registrations], sort=selection.sort)
        job = jobs.queue_job(meeting, frozen, layout, count, user)
        audit.record(
            "badges.queue", meeting=meeting, obj=job, summary=f"Asked for {count} badges ({layout})", details=details
        )
        return PrintRun(count=count, job=job)
    sheet = badges.badge_sheet(meeting, registrations, layout)
    audit.record("badges.print", meeting=meeting, summary=f"Printed {count} badges ({layout})", details=details)
    return PrintRun(count=count, pdf=badges.render_pdf(sheet), filename=badges.pdf_filename(meeting, sheet))


def get_job(meeting, job_id) -> BadgePrintJob:
    job = db.session.get(BadgePrintJob, job_id)
    if job is None or job.meeting_id != meeting.id:
        raise NotFound(_("There is no such print run for this meeting."))
    return job


def replace_badge_code(meeting, registration_id) -> Registration:
    """A lost badge: a new code, so that the old badge no longer checks anyone in."""
    _refuse_if_erased(meeting)
    registration = registration_services.get_registration(meeting, registration_id)
    badges.replace_code(registration)
    audit.record(
        "badges.replace_code",
        meeting=meeting,
        obj=registration,
        summary=f"New badge code for {registration.full_name} (the previous badge no longer works)",
    )
    return registration


# Check-in ---------------------------------------------------------------------------------------


def display_name(registration) -> str:
    """The name as the list of participants prints it ("Ms. Maria GARCÍA")."""
    return _participant(registration).name


def checked_in_message(meeting, registration, now=None) -> str:
    """ "Checked in at 09:12", or with the day when it was not today (the meeting's time zone)."""
    moment = registration.checked_in_at
    tz = zone(meeting.timezone)
    language = get_locale()
    time = format_time(moment, "short", tzinfo=tz, locale=language)
    if to_local(moment, meeting.timezone).date() == to_local(now or utcnow(), meeting.timezone).date():
        return _("Already checked in at %(time)s.", time=time)
    day = format_date(to_local(moment, meeting.timezone).date(), "long", locale=language)
    return _("Already checked in on %(day)s at %(time)s.", day=day, time=time)


def refusal(registration) -> str | None:
    """Why `registration` cannot be checked in; None when it can (it is confirmed)."""
    status = registration.status
    if status == RegistrationStatus.CONFIRMED:
        return None
    if status == RegistrationStatus.PENDING:
        return _(
            "Not confirmed: the registration is pending (%(status)s). Confirm it on the registration's page "
            "first, or send the person to the registration desk.",
            status=registration.status_label.lower(),
        )
    if status == RegistrationStatus.WAITLISTED:
        return _("Not confirmed: the person is on the waiting list. Only confirmed participants can be checked in.")
    if status == RegistrationStatus.REJECTED:
        return _("The registration was not accepted: the person cannot be checked in.")
    return _("The registration was cancelled: the person cannot be checked in.")


def find_by_code(meeting, text) -> Registration:
    """The registration of the badge whose code was scanned or typed, for this meeting."""
    registration = badges.registration_for_code(text)
    if registration is None:
        raise NotFound(
            _("No badge has this code. Scan it again, type the code printed under the QR code, or search by name.")
        )
    if registration.meeting_id != meeting.id:
        raise CheckInRefused(_("This badge is for another meeting: %(title)s.", title=registration.meeting.title))
    return registration


def search_by_name(meeting, text) -> list[Registration]:
    """Up to SEARCH_RESULTS registrations of any status whose name (or email) contains `text`."""
    text = (text or "").strip()[:200]
    if not text:
        return []
    query = (
        registration_services.registrations_query(meeting, registration_services.RegistrationFilters(search=text))
        .order_by(Registration.family_name, Registration.given_name, Registration.id)
        .limit(SEARCH_RESULTS)
    )
    return db.session.scalars(query).all()


def check_in(meeting, registration_id, now=None) -> Registration:
    """Check a confirmed participant in. Refused with the reason for anyone else, and with the time
    of the first check-in for someone already checked in (the caller must not commit then)."""
    now = now or utcnow()
    registration = registration_services.get_registration(meeting, registration_id)
    reason = refusal(registration)
    if reason:
        raise CheckInRefused(reason)
    if registration.checked_in_at is not None:
        raise AlreadyCheckedIn(checked_in_message(meeting, registration, now))
    result = registration_services.decide(meeting, [registration.id], "check_in", now=now)
    if result.refused:
        if registration.checked_in_at is not None:  # read again under the lock
            # Another desk checked the person in while we waited for the lock.
            raise AlreadyCheckedIn(checked_in_message(meeting, registration, now))
        raise CheckInRefused(result.refused[0][1])
    return result.done[0]
