"""Badges: one card per confirmed participant, printed as a PDF (WeasyPrint) on A6 cards or four to
an A4 sheet, and the check-in code that each badge carries as a QR code (segno).

The badge. The name as the list of participants prints it ("H.E. Ms. Maria GARCÍA LÓPEZ"), the
delegation, a colour band for the category of the person (delegate, observer, press, Secretariat,
speaker: heads of delegation and advisers are delegates), the meeting's title, place and dates; every
word in the meeting's first language, as the badges are one edition for everybody at the door.

The check-in code. 128 bits derived with HMAC from a random nonce kept on the registration and the
app's SECRET_KEY (`core.tokens.derived_token`), shown as 26 letters and digits of base32 (no 0, 1 or
8, so it can be typed from the badge when a camera fails); only its SHA-256 is stored. Printing a
badge again gives the same code, so a reprint does not invalidate the first badge; `replace_code`
makes a new one when a badge is lost. It is a separate secret from the personal link: a photo of a
badge lets nobody into the registrant's personal page, and the code is useful only to a signed-in
organizer at the check-in desk.

Speed. WeasyPrint lays out some 50 A6 badges a second on one idle core (300 badges: about 6 s on
A6 cards, 3.5 s on A4 sheets; twice that on a busy machine), too long for a request: a print run of
more than BADGES_INLINE_LIMIT badges is queued as a `BadgePrintJob` and made by
`flask onsite badges --loop` (jobs.py)."""

import base64
import re
import secrets
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import segno
from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import update
from sqlalchemy.orm import joinedload

from ..core.tokens import derived_token, hash_token, token_matches
from ..directory.models import Organization, OrganizationKind
from ..extensions import db
from ..registration.models import ROLE_LABELS, Registration, RegistrationRole, RegistrationStatus
from ..registration.participants import _participant, _place_and_dates, collation_key

CODE_PURPOSE = "checkin"
CODE_BYTES = 16  # 128 bits
CODE_LENGTH = 26  # base32 of 16 bytes, without padding
CODE_PATTERN = re.compile(r"[A-Z2-7]{26}")
# What people type for the letters base32 does not use.
TYPING_FIXES = str.maketrans({"0": "O", "1": "I", "8": "B"})

A6 = "a6"
A4 = "a4"
LAYOUTS = {A6: _l("One badge per A6 card"), A4: _l("Four badges per A4 sheet, to cut in quarters")}
STYLESHEET = Path("pdf") / "badges.css"

# The colour band of a badge: one per category of participant.
DELEGATE = "delegate"
OBSERVER = "observer"
PRESS = "press"
SPEAKER = "speaker"
SECRETARIAT = "secretariat"
CATEGORY_OF_ROLE = {
    RegistrationRole.HEAD_OF_DELEGATION: DELEGATE,
    RegistrationRole.DELEGATE: DELEGATE,
    RegistrationRole.ADVISER: DELEGATE,
    RegistrationRole.OBSERVER: OBSERVER,
    RegistrationRole.PRESS: PRESS,
    RegistrationRole.SPEAKER: SPEAKER,
    RegistrationRole.SECRETARIAT: SECRETARIAT,
}
CATEGORY_LABELS = {
    DELEGATE: _l("Delegate"),
    OBSERVER: _l("Observer"),
    PRESS: _l("Press"),
    SPEAKER: _l("Speaker"),
    SECRETARIAT: _l("Secretariat"),
}
SORT_ORDERS = {"family_name": _l("By family name"), "delegation": _l("By delegation")}


# The check-in code ------------------------------------------------------------------------------


def checkin_code(registration) -> str:
    """The code of `registration`'s badge (its nonce must be set): the same every time."""
    token = derived_token(CODE_PURPOSE, f"{registration.meeting_id}:{registration.id}", registration.checkin_nonce)
    raw = base64.urlsafe_b64decode(token + "=")[:CODE_BYTES]
    return base64.b32encode(raw).decode().rstrip("=")


def ensure_codes(registrations) -> None:
    """Make sure each registration has its badge's code, and its hash stored. A registration made
    before badges existed has no nonce yet: it gets one by a conditional UPDATE, so that two
    organizers printing at the same moment cannot give one person two different codes. The hash is
    the same whoever computes it (and follows the code after a change of SECRET_KEY)."""
    for registration in registrations:
        if not registration.checkin_nonce:
            db.session.execute(
                update(Registration)
                .where(Registration.id == registration.id, Registration.checkin_nonce.is_(None))
                .values(checkin_nonce=secrets.token_hex(16))
                .execution_options(synchronize_session=False)
            )
            db.session.refresh(registration, ["checkin_nonce"])
        code_hash = hash_token(checkin_code(registration))
        if registration.checkin_code_hash != code_hash:
            registration.checkin_code_hash = code_hash
    db.session.flush()


def replace_code(registration) -> str:
    """A new code for a lost badge: the badge printed before stops working at the door."""
    registration.checkin_nonce = secrets.token_hex(16)
    registration.checkin_code_hash = hash_token(checkin_code(registration))
    return checkin_code(registration)


def normalize_code(text: str | None) -> str | None:
    """The code in what was scanned or typed ("abcd efgh-…", with 0 for O...), or None if it cannot be one."""
    code = re.sub(r"[\s-]+", "", text or "").upper().translate(TYPING_FIXES)
    return code if CODE_PATTERN.fullmatch(code) else None


def registration_for_code(text) -> Registration | None:
    """The registration (of any meeting) whose badge carries this code, with its organization."""
    code = normalize_code(text)
    if code is None:
        return None
    registration = db.session.scalar(
        db.select(Registration)
        .where(Registration.checkin_code_hash == hash_token(code))
        .options(joinedload(Registration.organization), joinedload(Registration.meeting))
    )
    if registration is None or not token_matches(code, registration.checkin_code_hash):
        return None
    return registration


def grouped(code: str) -> str:
    """ "ABCD EFGH IJKL MNOP QRST UVWX YZ": easier to read out and to type."""
    return " ".join(code[index : index + 4] for index in range(0, len(code), 4))


@cache
def _qr_data_uri(code: str) -> str:
    # Five pixels a module: crisp at any print size, since the stylesheet turns off smoothing.
    return segno.make(code, error="m", micro=False).png_data_uri(scale=5, border=4)


# Choosing the badges ----------------------------------------------------------------------------


@dataclass
class BadgeSelection:
    """Which confirmed participants get a badge: the ticked ones (`ids`), or all those that the
    filters let through."""

    ids: list[int] | None = None
    categories: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    organization_id: int | None = None
    sort: str = "family_name"

    def as_dict(self) -> dict:
        return {
            "ids": self.ids,
            "categories": list(self.categories),
            "kinds": list(self.kinds),
            "organization_id": self.organization_id,
            "sort": self.sort,
        }

    @classmethod
    def from_dict(cls, data: dict) -> "BadgeSelection":
        return cls(
            ids=data.get("ids"),
            categories=tuple(data.get("categories") or ()),
            kinds=tuple(data.get("kinds") or ()),
            organization_id=data.get("organization_id"),
            sort=data.get("sort") or "family_name",
        )


def _kind_condition(kinds):
    conditions = []
    directory_kinds = [kind for kind in kinds if kind != OrganizationKind.OTHER]
    if directory_kinds:
        conditions.append(Registration.organization.has(Organization.kind.in_(directory_kinds)))
    if OrganizationKind.OTHER in kinds:
        conditions.append(Registration.organization_id.is_(None))
        conditions.append(Registration.organization.has(Organization.kind == OrganizationKind.OTHER))
    return db.or_(*conditions)


def selected_registrations(meeting, selection: BadgeSelection) -> list[Registration]:
    """The confirmed participants of `selection`, each with its organization (one query), in the
    order the badges are printed: by family name, or by delegation and then family name."""
    query = (
        db.select(Registration)
        .where(Registration.meeting_id == meeting.id, Registration.status == RegistrationStatus.CONFIRMED)
        .options(joinedload(Registration.organization))
    )
    if selection.ids is not None:
        query = query.where(Registration.id.in_(selection.ids))
    if selection.categories:
        roles = [role for role, category in CATEGORY_OF_ROLE.items() if category in selection.categories]
        query = query.where(Registration.role.in_(roles))
    if selection.kinds:
        query = query.where(_kind_condition(selection.kinds))
    if selection.organization_id:
        query = query.where(Registration.organization_id == selection.organization_id)
    registrations = db.session.scalars(query).all()
    language = badge_language(meeting)

    def person(registration):
        return (
            collation_key(registration.family_name, language),
            collation_key(registration.given_name, language),
            registration.id,
        )

    if selection.sort == "delegation":
        registrations = sorted(
            registrations,
            key=lambda r: (collation_key(r.delegation_name(language), language), *person(r)),
        )
    else:
        registrations = sorted(registrations, key=person)
    return registrations


# Rendering --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Badge:
    name: str  # as in the list of participants
    delegation: str
    category: str
    category_label: str
    role_label: str  # the role, when more precise than the category ("Head of delegation")
    code: str
    qr: str  # a data: URI of the QR code's PNG

    @property
    def code_grouped(self) -> str:
        return grouped(self.code)


@dataclass
class BadgeSheet:
    language: str
    layout: str
    meeting_title: str
    place_and_dates: str
    badges: list[Badge]

    @property
    def pages(self) -> list[list[Badge]]:
        per_page = 4 if self.layout == A4 else 1
        return [self.badges[index : index + per_page] for index in range(0, len(self.badges), per_page)]


def badge_language(meeting) -> str:
    return (meeting.language_codes or [current_app.config["BABEL_DEFAULT_LOCALE"]])[0]


def badge_for(registration, language) -> Badge:
    """Call inside `force_locale(language)`: the salutation and the labels are in that language.
    The registration's code must have been made (`ensure_codes`)."""
    code = checkin_code(registration)
    category = CATEGORY_OF_ROLE.get(registration.role, OBSERVER)
    role_label = str(ROLE_LABELS.get(registration.role, "")) if registration.role != category else ""
    return Badge(
        name=_participant(registration).name,
        delegation="" if category == SECRETARIAT else registration.delegation_name(language),
        category=category,
        category_label=str(CATEGORY_LABELS[category]),
        role_label=role_label,
        code=code,
        qr=_qr_data_uri(code),
    )


def badge_sheet(meeting, registrations, layout) -> BadgeSheet:
    """The badges of `registrations` (making the check-in codes of those printed for the first time:
    the caller commits)."""
    language = badge_language(meeting)
    ensure_codes(registrations)
    with force_locale(language):
        badges = [badge_for(registration, language) for registration in registrations]
        place_and_dates = _place_and_dates(meeting, language)
    return BadgeSheet(language, layout if layout in LAYOUTS else A6, meeting.title, place_and_dates, badges)


def render_pdf(sheet: BadgeSheet) -> bytes:
    # Imported here: WeasyPrint loads Pango and its fonts, which only the PDF needs.
    from weasyprint import CSS, HTML
    from weasyprint.urls import URLFetcher

    with force_locale(sheet.language):
        html = render_template("pdf/badges.html", sheet=sheet)
    stylesheet = Path(current_app.template_folder) / STYLESHEET
    # The QR codes are data: URIs; nothing else is fetched, whatever a registrant typed.
    fetcher = URLFetcher(allowed_protocols=("data",))
    return HTML(string=html, url_fetcher=fetcher).write_pdf(
        stylesheets=[CSS(filename=str(stylesheet), url_fetcher=fetcher)]
    )


def pdf_filename(meeting, sheet) -> str:
    return f"{meeting.slug}-badges-{sheet.layout}.pdf"
