"""What organizers do with the directory: seed the States from Babel's locale data, search it,
add and edit organizations and their focal points, deactivate and reactivate them, and import
a CSV file of organizations (all rows or none).

The directory is shared by every meeting, so its audit entries have no meeting."""

import csv
import io
import re
from dataclasses import dataclass, field

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from flask_babel import gettext as _
from flask_babel import ngettext

from ..core import audit
from ..core.errors import DomainError, NotFound
from ..extensions import db
from .models import STATE_KINDS, Accreditation, Contact, Organization, OrganizationKind, search_key
from .states import MEMBER_STATE_CODES, OBSERVER_STATE_CODES, is_country_code, state_names, usual_language

LANGUAGES = ("en", "fr", "es")
NAME_FIELDS = ("name_en", "name_fr", "name_es")
MAX_LENGTHS = {"name_en": 300, "name_fr": 300, "name_es": 300, "acronym": 40}
CSV_COLUMNS = (
    "kind",
    "name_en",
    "name_fr",
    "name_es",
    "acronym",
    "iso_code",
    "emails",
    "accreditation",
    "preferred_language",
)
CSV_REQUIRED_COLUMNS = ("kind", "name_en")


@dataclass
class OrganizationDetails:
    """What the organization form holds. `emails` are the focal points, one item per address."""

    kind: str
    name_en: str
    name_fr: str = ""
    name_es: str = ""
    acronym: str = ""
    iso_code: str = ""
    accreditation: str = Accreditation.NONE
    preferred_language: str = "en"
    emails: list[str] = field(default_factory=list)


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0


class ImportRejected(DomainError):
    """Rows of a CSV file that cannot be imported; `problems` holds (line number, reason) pairs."""

    def __init__(self, problems):
        self.problems = sorted(problems)
        lines = {line for line, _reason in self.problems}
        super().__init__(
            ngettext(
                "%(num)d line has errors; nothing was imported.",
                "%(num)d lines have errors; nothing was imported.",
                len(lines),
            )
        )


# Searching and listing


def search_organizations(text="", kind="", status="all", page=1, per_page=None):
    """A page of the directory, in alphabetical order of the English names (accents ignored).

    `text` matches any of the names or the acronym, ignoring case and accents."""
    query = db.select(Organization).options(db.selectinload(Organization.contacts))
    key = search_key(text.strip())
    if key:
        escaped = key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(Organization.search_text.like(f"%{escaped}%", escape="\\"))
    if kind in set(OrganizationKind):
        query = query.where(Organization.kind == kind)
    if status == "active":
        query = query.where(Organization.active.is_(True))
    elif status == "inactive":
        query = query.where(Organization.active.is_(False))
    query = query.order_by(Organization.search_text, Organization.id)
    per_page = per_page or current_app.config["PER_PAGE"]
    return db.paginate(query, page=page, per_page=per_page, max_per_page=200, error_out=False)


def get_organization(organization_id) -> Organization:
    organization = db.session.get(Organization, organization_id)
    if organization is None:
        raise NotFound(_("There is no such organization in the directory."))
    return organization


# Checking what organizers type


def split_email_lines(text: str) -> list[str]:
    """The addresses of the focal-point textarea: one per line, blank lines ignored."""
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def split_email_cell(text: str) -> list[str]:
    """The addresses of a CSV cell, separated by semicolons or spaces."""
    return [item for item in re.split(r"[;\s]+", text or "") if item]


def _email_problem(address: str) -> str | None:
    if any(char.isspace() for char in address):
        return _("Put one email address per line: “%(text)s”.", text=address)
    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError:
        return _("“%(email)s” is not a valid email address.", email=address)
    return None


def _normalized_emails(addresses) -> list[str]:
    """The valid addresses in lower case, each once, in the order given."""
    unique = []
    for address in addresses:
        address = address.strip().lower()
        if address not in unique:
            unique.append(address)
    return unique


def _value_problems(values: dict, emails: list[str]) -> dict[str, list[str]]:
    """What is wrong with the values of one organization, field by field, without looking at the
    rest of the directory. Optional values may be empty."""
    problems: dict[str, list[str]] = {}

    def add(field_name, message):
        problems.setdefault(field_name, []).append(message)

    kind = values.get("kind", "")
    if kind not in set(OrganizationKind):
        add(
            "kind",
            _(
                "“%(kind)s” is not a kind of organization; use one of %(kinds)s.",
                kind=kind,
                kinds=", ".join(OrganizationKind),
            ),
        )
    if not values.get("name_en"):
        add("name_en", _("Give the name in English."))
    for name, limit in MAX_LENGTHS.items():
        if len(values.get(name, "")) > limit:
            add(name, _("At most %(n)d characters.", n=limit))

    iso_code = values.get("iso_code", "")
    if kind in STATE_KINDS:
        if not iso_code:
            add("iso_code", _("A State needs its two-letter ISO 3166 country code, for example CI."))
        elif not is_country_code(iso_code):
            add("iso_code", _("“%(code)s” is not an ISO 3166 country code.", code=iso_code))
    elif iso_code and kind in set(OrganizationKind):
        add("iso_code", _("Only States have an ISO country code; leave it empty for this kind of organization."))

    accreditation = values.get("accreditation", "")
    if accreditation and accreditation not in set(Accreditation):
        add(
            "accreditation",
            _(
                "“%(value)s” is not an accreditation; use one of %(values)s.",
                value=accreditation,
                values=", ".join(Accreditation),
            ),
        )
    language = values.get("preferred_language", "")
    if language and language not in LANGUAGES:
        add(
            "preferred_language",
            _("“%(value)s” is not a language of the directory; use en, fr or es.", value=language),
        )
    for address in emails:
        problem = _email_problem(address)
        if problem:
            add("emails", problem)
    return problems


def _directory_problems(values: dict, organization=None) -> dict[str, list[str]]:
    """What clashes with another organization of the directory."""
    problems = {}
    others = db.select(Organization)
    if organization is not None:
        others = others.where(Organization.id != organization.id)
    is_state = values["kind"] in STATE_KINDS
    if is_state and values["iso_code"]:
        holder = db.session.scalar(others.where(Organization.iso_code == values["iso_code"]))
        if holder is not None:
            problems["iso_code"] = [
                _("%(name)s already has the ISO code %(code)s.", name=holder.name_en, code=values["iso_code"])
            ]
    elif not is_state and values["name_en"]:
        same_name = db.session.scalars(
            others.where(
                Organization.kind == values["kind"],
                db.func.lower(Organization.name_en) == values["name_en"].lower(),
            )
        ).first()
        if same_name is not None:
            problems["name_en"] = [
                _("An organization of this kind named “%(name)s” is already in the directory.", name=same_name.name_en)
            ]
    return problems


def _details_values(details: OrganizationDetails) -> dict:
    return {
        "kind": (details.kind or "").strip(),
        "name_en": (details.name_en or "").strip(),
        "name_fr": (details.name_fr or "").strip(),
        "name_es": (details.name_es or "").strip(),
        "acronym": (details.acronym or "").strip(),
        "iso_code": (details.iso_code or "").strip().upper(),
        "accreditation": (details.accreditation or "").strip() or Accreditation.NONE,
        "preferred_language": (details.preferred_language or "").strip() or "en",
    }


def _refuse(problems):
    raise DomainError(_("The organization was not saved: please correct the fields marked."), fields=problems)


# Changing the directory


def _new_organization(values: dict, emails: list[str]) -> Organization:
    """A new organization; a State's missing French or Spanish names are taken from Babel."""
    organization = Organization(
        kind=values["kind"],
        accreditation=values.get("accreditation") or Accreditation.NONE,
        preferred_language=values.get("preferred_language") or "en",
        acronym=values.get("acronym", ""),
        iso_code=values.get("iso_code") or None,
        name_en=values["name_en"],
    )
    known_names = state_names(organization.iso_code) if organization.is_state else {}
    organization.name_fr = values.get("name_fr") or known_names.get("fr", "")
    organization.name_es = values.get("name_es") or known_names.get("es", "")
    organization.contacts = [Contact(email=email) for email in _normalized_emails(emails)]
    db.session.add(organization)
    return organization


def _apply(organization: Organization, values: dict) -> dict:
    """Set the given values; returns what changed as {field: [before, after]}."""
    changes = {}
    for name, value in values.items():
        if name == "iso_code":
            value = value or None
        before = getattr(organization, name)
        if before != value:
            changes[name] = [before, value]
            setattr(organization, name, value)
    return changes


def _add_emails(organization: Organization, emails: list[str]) -> list[str]:
    known = {contact.email for contact in organization.contacts}
    added = [email for email in _normalized_emails(emails) if email not in known]
    organization.contacts.extend(Contact(email=email) for email in added)
    return added


def _replace_emails(organization: Organization, emails: list[str]) -> dict:
    """Keep the contacts whose address stays (and their names), drop the others, add the new ones."""
    wanted = _normalized_emails(emails)
    before = organization.focal_point_emails
    organization.contacts = [contact for contact in organization.contacts if contact.email in wanted]
    _add_emails(organization, wanted)
    after = organization.focal_point_emails
    return {"emails": [before, after]} if before != after else {}


def create_organization(details: OrganizationDetails) -> Organization:
    values = _details_values(details)
    problems = _value_problems(values, details.emails)
    for name, messages in _directory_problems(values).items():
        problems.setdefault(name, messages)
    if problems:
        _refuse(problems)
    organization = _new_organization(values, details.emails)
    db.session.flush()
    audit.record("directory.create", obj=organization, summary=f"Added {organization.name_en} to the directory")
    return organization


def update_organization(organization_id, details: OrganizationDetails) -> Organization:
    organization = get_organization(organization_id)
    values = _details_values(details)
    problems = _value_problems(values, details.emails)
    for name, messages in _directory_problems(values, organization).items():
        problems.setdefault(name, messages)
    if problems:
        _refuse(problems)
    changes = _apply(organization, values)
    changes.update(_replace_emails(organization, details.emails))
    db.session.flush()
    if changes:
        audit.record(
            "directory.update",
            obj=organization,
            summary=f"Changed {organization.name_en}: {', '.join(changes)}",
            details=changes,
        )
    return organization


def set_organization_active(organization_id, active: bool) -> Organization:
    organization = get_organization(organization_id)
    if organization.active != active:
        organization.active = active
        action, verb = ("directory.reactivate", "Reactivated") if active else ("directory.deactivate", "Deactivated")
        audit.record(action, obj=organization, summary=f"{verb} {organization.name_en}")
    return organization


def seed_states() -> int:
    """Add the UN Member States and observer States missing from the directory, named in English,
    French and Spanish. States already there keep what organizers changed; only their empty
    names are filled in. Returns how many were added."""
    wanted = [(OrganizationKind.MEMBER_STATE, code) for code in MEMBER_STATE_CODES]
    wanted += [(OrganizationKind.OBSERVER_STATE, code) for code in OBSERVER_STATE_CODES]
    existing = {
        organization.iso_code: organization
        for organization in db.session.scalars(
            db.select(Organization).where(Organization.iso_code.in_([code for _kind, code in wanted]))
        )
    }
    created = []
    for kind, code in wanted:
        names = state_names(code)
        organization = existing.get(code)
        if organization is None:
            organization = Organization(
                kind=kind,
                iso_code=code,
                name_en=names["en"],
                name_fr=names["fr"],
                name_es=names["es"],
                preferred_language=usual_language(code),
            )
            db.session.add(organization)
            created.append(code)
            continue
        for language, name in names.items():
            if not getattr(organization, f"name_{language}"):
                setattr(organization, f"name_{language}", name)
    db.session.flush()
    if created:
        audit.record(
            "directory.seed_states",
            summary=f"Added {len(created)} States to the directory",
            details={"iso_codes": created},
        )
    return len(created)


# Importing a CSV file


def read_organizations_csv(text: str) -> list[tuple[int, dict]]:
    """The rows of a CSV file (its text, with or without a byte order mark) as (line number,
    {column: value}) pairs. The header row names the columns, in any order."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    try:
        header = next(reader, None)
        if header is None:
            raise ImportRejected([(1, _("The file is empty; its first line must name the columns."))])
        columns = [name.strip().lower() for name in header]
        problems = _header_problems(columns)
        if problems:
            raise ImportRejected([(1, problem) for problem in problems])
        rows = []
        for record in reader:
            if not any(value.strip() for value in record):
                continue
            row = dict(zip(columns, record, strict=False))
            if len(record) > len(columns):
                row[None] = record[len(columns) :]
            rows.append((reader.line_num, row))
    except csv.Error as error:
        raise ImportRejected([(reader.line_num, _("The file is not valid CSV (%(error)s).", error=error))]) from None
    return rows


def _header_problems(columns) -> list[str]:
    problems = []
    unknown = [name for name in columns if name not in CSV_COLUMNS]
    if unknown:
        problems.append(
            _(
                "Unknown columns: %(unknown)s. The columns are %(columns)s.",
                unknown=", ".join(unknown),
                columns=", ".join(CSV_COLUMNS),
            )
        )
    repeated = sorted({name for name in columns if columns.count(name) > 1})
    if repeated:
        problems.append(_("Columns named twice: %(columns)s.", columns=", ".join(repeated)))
    missing = [name for name in CSV_REQUIRED_COLUMNS if name not in columns]
    if missing:
        problems.append(
            _(
                "The first line must name the columns; %(missing)s missing.",
                missing=", ".join(missing),
            )
        )
    return problems


def _row_values(row: dict) -> tuple[dict, list[str]]:
    values = {name: (row.get(name) or "").strip() for name in CSV_COLUMNS if name != "emails"}
    values["kind"] = values["kind"].lower()
    values["iso_code"] = values["iso_code"].upper()
    values["accreditation"] = values["accreditation"].lower()
    values["preferred_language"] = values["preferred_language"].lower()
    return values, split_email_cell(row.get("emails") or "")


def import_organizations(rows) -> ImportResult:
    """Create or update the organizations of `rows`, (line number, {column: value}) pairs as
    `read_organizations_csv` returns them. Every row is checked first: if any is wrong, nothing
    is imported and `ImportRejected` lists the reasons by line.

    States are matched by ISO code, other organizations by kind and English name (ignoring case,
    and keeping the name as it is in the directory). Cells left empty keep the current value; the
    addresses given are added to the focal points, none is removed."""
    directory = db.session.scalars(db.select(Organization).options(db.selectinload(Organization.contacts))).all()
    by_iso = {organization.iso_code: organization for organization in directory if organization.iso_code}
    by_name = {
        (organization.kind, organization.name_en.casefold()): organization
        for organization in directory
        if not organization.is_state
    }

    problems = []
    planned = []
    seen = {}
    for line, row in rows:
        values, emails = _row_values(row)
        row_problems = [message for messages in _value_problems(values, emails).values() for message in messages]
        if row.get(None):
            row_problems.append(_("This line has more values than the header has columns."))
        if values["kind"] in STATE_KINDS:
            key = ("iso_code", values["iso_code"])
            match = by_iso.get(values["iso_code"])
        else:
            key = ("name", values["kind"], values["name_en"].casefold())
            match = by_name.get(key[1:])
        if key in seen and not row_problems:
            row_problems.append(_("This organization is already on line %(line)d.", line=seen[key]))
        seen.setdefault(key, line)
        if row_problems:
            problems.append((line, " ".join(row_problems)))
        else:
            planned.append((values, emails, match))
    if problems:
        raise ImportRejected(problems)

    result = ImportResult()
    created, updated = [], []
    for values, emails, organization in planned:
        if organization is None:
            created.append(_new_organization(values, emails))
            result.created += 1
            continue
        given = {name: value for name, value in values.items() if value}
        if not organization.is_state:
            # The English name found the organization; a difference of case is no reason to change it.
            given.pop("name_en")
        changes = _apply(organization, given)
        added = _add_emails(organization, emails)
        if changes or added:
            updated.append(organization)
            result.updated += 1
        else:
            result.unchanged += 1
    db.session.flush()
    if created or updated:
        audit.record(
            "directory.import",
            summary=f"Imported organizations: {result.created} created, {result.updated} updated",
            details={"created": [o.id for o in created], "updated": [o.id for o in updated]},
        )
    return result
