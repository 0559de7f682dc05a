"""The list of participants, in the style of the United Nations: the confirmed participants grouped
by delegation, the delegations grouped in sections (Member States, observer States,
intergovernmental organizations, non-governmental organizations, others, then the officers of the
meeting and the Secretariat), in one of the meeting's languages.

Order. Inside a section, delegations are sorted by their name in the list's language (or, on request,
every edition by the French names, as some Secretariats do so that the editions match), and inside a
delegation the head of delegation comes first, then the others by family name. Names are compared
with the Unicode Collation Algorithm (`pyuca`), so that "Côte d'Ivoire" falls among the C and
"États-Unis" among the E, with the Spanish tailoring that makes "ñ" a letter of its own after "n".

Editions. The organizers' edition holds every confirmed participant; the public one only those who
agreed to appear in it. The public pages show the list once organizers have published it (provisional
or final); publishing and withdrawing it are audited. Every word of the list (titles, sections,
salutations) is in the list's language, whatever the language of the page around it."""

import re
import unicodedata
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path

from babel.dates import format_date, format_interval
from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from pyuca import Collator
from sqlalchemy.orm import joinedload

from ..core import audit
from ..core.errors import DomainError
from ..core.models import utcnow
from ..core.timeutil import to_local
from ..directory.models import OrganizationKind
from ..extensions import db
from .models import SALUTATION_LABELS, Registration, RegistrationRole, RegistrationStatus

SYMBOL_SUFFIX = "/INF/1"
PROVISIONAL_SUFFIX = " Prov."

# The sections in the order of a United Nations list; a section without anyone is left out.
OFFICERS = "officers"
SECRETARIAT = "secretariat"
SECTION_ORDER = (
    OrganizationKind.MEMBER_STATE,
    OrganizationKind.OBSERVER_STATE,
    OrganizationKind.IGO,
    OrganizationKind.NGO,
    OrganizationKind.OTHER,
    OFFICERS,
    SECRETARIAT,
)
SECTION_TITLES = {
    OrganizationKind.MEMBER_STATE: _l("Member States"),
    OrganizationKind.OBSERVER_STATE: _l("Observer States"),
    OrganizationKind.IGO: _l("Intergovernmental organizations"),
    OrganizationKind.NGO: _l("Non-governmental organizations"),
    OrganizationKind.OTHER: _l("Other participants"),
    OFFICERS: _l("Officers of the meeting"),
    SECRETARIAT: _l("Secretariat"),
}
ROMAN = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII")

# Language-specific collation on top of the root order (DUCET): in Spanish "ñ" is a letter of its
# own after "n" ("Nuevo" before "Ñandutí"). U+FFFF carries the highest primary weight, so "n" followed
# by it sorts after every other "n…" and before "o". French and English use the root order.
TAILORINGS = {"es": (("ñ", "n\uffff"), ("Ñ", "N\uffff"))}


@cache
def _collator() -> Collator:
    return Collator()


def collation_key(text: str, language: str) -> tuple:
    """The key that sorts `text` as a dictionary of `language` would."""
    text = unicodedata.normalize("NFC", text or "")
    for letter, replacement in TAILORINGS.get(language, ()):
        text = text.replace(letter, replacement)
    return _collator().sort_key(text)


@dataclass(frozen=True)
class Participant:
    """One line of the list: "Mr. Jean DUPONT, Counsellor, Permanent Mission"."""

    salutation: str
    given_name: str
    family_name: str  # in capitals, as the list prints it
    function: str
    head_of_delegation: bool = False

    @property
    def name(self) -> str:
        return " ".join(part for part in (self.salutation, self.given_name, self.family_name) if part)

    @property
    def line(self) -> str:
        return ", ".join(part for part in (self.name, self.function) if part)


@dataclass
class Delegation:
    name: str  # empty for the Secretariat, whose section title says it all
    participants: list[Participant] = field(default_factory=list)


@dataclass
class Section:
    key: str
    number: str  # I, II... as printed
    title: str
    delegations: list[Delegation] = field(default_factory=list)


@dataclass
class ListOfParticipants:
    language: str
    public: bool
    final: bool
    sort_by_french: bool
    title: str
    symbol: str
    meeting_title: str
    place_and_dates: str
    situation: str  # "Situation on 3 November 2003"
    sections: list[Section]

    @property
    def participant_count(self) -> int:
        return sum(
            len(delegation.participants)
            for section in self.sections
            if section.key != OFFICERS
            for delegation in section.delegations
        )

    def as_dict(self) -> dict:
        """Plain data for the JSON API; each participant also has its printed line."""
        data = asdict(self)
        for section_data, section in zip(data["sections"], self.sections, strict=True):
            for delegation_data, delegation in zip(section_data["delegations"], section.delegations, strict=True):
                for participant_data, participant in zip(
                    delegation_data["participants"], delegation.participants, strict=True
                ):
                    participant_data["line"] = participant.line
        return data


def family_name_in_capitals(name: str) -> str:
    # str.upper follows Unicode's full case mapping: "Großmann" -> "GROSSMANN", "Çelik" -> "ÇELIK".
    return unicodedata.normalize("NFC", name.strip()).upper()


def list_symbol(meeting, *, final: bool) -> str:
    """ "AVP/IM/03/INF/1 Prov." for the provisional list, "AVP/IM/03/INF/1" for the final one."""
    if not meeting.symbol_prefix:
        return ""
    return f"{meeting.symbol_prefix}{SYMBOL_SUFFIX}{'' if final else PROVISIONAL_SUFFIX}"


def _place_and_dates(meeting, language) -> str:
    if meeting.starts_on == meeting.ends_on:
        dates = format_date(meeting.starts_on, "long", locale=language)
    else:
        dates = format_interval(meeting.starts_on, meeting.ends_on, "yMMMMd", locale=language)
    return ", ".join(part for part in (meeting.city, dates) if part)


def _participants_query(meeting, *, public):
    query = (
        db.select(Registration)
        .where(Registration.meeting_id == meeting.id, Registration.status == RegistrationStatus.CONFIRMED)
        .options(joinedload(Registration.organization))
    )
    if public:
        query = query.where(Registration.consent_public_list.is_(True))
    return query


def _participant(registration) -> Participant:
    salutation = str(SALUTATION_LABELS[registration.salutation]) if registration.salutation else ""
    return Participant(
        salutation=salutation,
        given_name=registration.given_name.strip(),
        family_name=family_name_in_capitals(registration.family_name),
        function=registration.function.strip(),
        head_of_delegation=registration.role == RegistrationRole.HEAD_OF_DELEGATION,
    )


def _person_key(registration, sort_language):
    return (
        registration.role != RegistrationRole.HEAD_OF_DELEGATION,
        collation_key(registration.family_name, sort_language),
        collation_key(registration.given_name, sort_language),
        registration.id,
    )


def _delegation_key(registration) -> tuple:
    """Registrations of one delegation share this: the organization, or the name given for "other"."""
    if registration.organization_id is not None:
        return ("organization", registration.organization_id)
    return ("other", " ".join(registration.organization_name_other.split()).casefold())


def list_of_participants(meeting, language, *, public, final, sort_by_french=False) -> ListOfParticipants:
    """The list of participants of `meeting` in `language` (one of the app's languages), ordered in
    sections; `public` keeps only the participants who consented to appear in the public list,
    `final` titles it as the final list rather than the provisional one. One query."""
    sort_language = "fr" if sort_by_french else language
    registrations = db.session.scalars(_participants_query(meeting, public=public)).all()

    with force_locale(language):
        delegations: dict[str, dict[tuple, list[Registration]]] = {key: {} for key in SECTION_ORDER}
        for registration in registrations:
            if registration.role == RegistrationRole.SECRETARIAT:
                delegations[SECRETARIAT].setdefault(("secretariat",), []).append(registration)
            else:
                kind = registration.delegation_kind
                section = kind if kind in delegations else OrganizationKind.OTHER
                delegations[section].setdefault(_delegation_key(registration), []).append(registration)

        sections = []
        for key in SECTION_ORDER:
            if key == OFFICERS:
                # The chair is known by the meeting's text ("Mr. X (Country), Chair of ..."), not registered.
                chair = meeting.chair.strip()
                members = [Delegation(_("Chair"), [Participant("", "", "", chair)])] if chair else []
            else:
                members = []
                groups = sorted(
                    delegations[key].values(),
                    key=lambda group: (
                        collation_key(group[0].delegation_name(sort_language), sort_language),
                        group[0].id,
                    ),
                )
                for group in groups:
                    group.sort(key=lambda registration: _person_key(registration, sort_language))
                    name = "" if key == SECRETARIAT else group[0].delegation_name(language)
                    members.append(Delegation(name, [_participant(r) for r in group]))
            if members:
                sections.append(Section(str(key), ROMAN[len(sections)], str(SECTION_TITLES[key]), members))

        today = to_local(utcnow(), meeting.timezone).date()
        return ListOfParticipants(
            language=language,
            public=public,
            final=final,
            sort_by_french=sort_by_french,
            title=_("List of participants") if final else _("Provisional list of participants"),
            symbol=list_symbol(meeting, final=final),
            meeting_title=meeting.localized("title", language),
            place_and_dates=_place_and_dates(meeting, language),
            situation=_("Situation on %(date)s", date=format_date(today, "long", locale=language)),
            sections=sections,
        )


# The PDF ---------------------------------------------------------------------------------------

STYLESHEET = Path("pdf") / "list_of_participants.css"


def _pdf_filename_part(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()


def pdf_filename(meeting, listing) -> str:
    edition = "final" if listing.final else "provisional"
    return f"{_pdf_filename_part(meeting.slug)}-participants-{edition}-{listing.language}.pdf"


def render_pdf(listing) -> bytes:
    """The list as a PDF (WeasyPrint): A4, two columns, the symbol on every page."""
    # Imported here: WeasyPrint loads Pango and its fonts, which only the PDF needs.
    from weasyprint import CSS, HTML
    from weasyprint.urls import URLFetcher

    with force_locale(listing.language):
        html = render_template("pdf/list_of_participants.html", listing=listing)
    stylesheet = Path(current_app.template_folder) / STYLESHEET
    # Nothing in the list is a link to fetch: refuse every URL, so that no text typed by a registrant
    # can make the server fetch anything.
    fetcher = URLFetcher(allowed_protocols=())
    return HTML(string=html, url_fetcher=fetcher).write_pdf(
        stylesheets=[CSS(filename=str(stylesheet), url_fetcher=fetcher)]
    )


# Publication -----------------------------------------------------------------------------------


def is_published(meeting) -> bool:
    return meeting.participants_list_published_at is not None


def _edition(meeting) -> str:
    return "final" if meeting.participants_list_final else "provisional"


def publish(meeting, *, final, now=None) -> None:
    """Make the public edition of the list visible on the meeting's pages (again, if it was), as the
    provisional or the final list."""
    previous = _edition(meeting) if is_published(meeting) else None
    edition = "final" if final else "provisional"
    meeting.participants_list_published_at = now or utcnow()
    meeting.participants_list_final = bool(final)
    audit.record(
        "participants_list.publish",
        meeting=meeting,
        obj=meeting,
        summary=f"Published the {edition} list of participants",
        details={"edition": edition, "previous": previous},
    )


def unpublish(meeting) -> None:
    if not is_published(meeting):
        raise DomainError(_("The list of participants is not published."))
    meeting.participants_list_published_at = None
    audit.record(
        "participants_list.unpublish",
        meeting=meeting,
        obj=meeting,
        summary="Withdrew the list of participants from the public pages",
    )
