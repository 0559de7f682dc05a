"""The participation figures that go into the report of a meeting: how many delegations and persons
registered (confirmed) and attended (were checked in at the door), by kind of organization and by
role, with the sentence of the report in each of the meeting's languages.

Counting. A delegation is an organization of the directory or, outside it, a name given by the
registrants (counted once however it was capitalised), as in the list of participants; it attended
when at least one of its confirmed members was checked in. The Secretariat is no delegation: its
members are counted by role only, as the list of participants puts them in a section of their own.
Every number comes from two aggregate queries, whatever the number of registrations."""

import csv
import io
from dataclasses import dataclass, field

from flask_babel import force_locale, ngettext
from flask_babel import gettext as _
from sqlalchemy import String, case, cast, func

from ..core.i18n import language_name
from ..directory.models import Organization, OrganizationKind
from ..extensions import db
from ..registration.dashboard import _nice_ceiling
from ..registration.exports import BYTE_ORDER_MARK
from ..registration.models import ROLE_LABELS, Registration, RegistrationRole, RegistrationStatus
from ..registration.participants import SECTION_TITLES

KIND_ORDER = (
    OrganizationKind.MEMBER_STATE,
    OrganizationKind.OBSERVER_STATE,
    OrganizationKind.IGO,
    OrganizationKind.NGO,
    OrganizationKind.OTHER,
)
ROLE_ORDER = tuple(RegistrationRole)

# The chart's drawing area, in SVG user units (the picture scales to the page's width).
CHART_WIDTH = 720
LABEL_WIDTH = 230
BAR_HEIGHT = 16
BAR_GAP = 4
GROUP_GAP = 18
CHART_TOP = 28
CHART_RIGHT_MARGIN = 48


@dataclass
class Row:
    key: str
    label: str
    persons_registered: int = 0
    persons_attended: int = 0
    delegations_registered: int = 0
    delegations_attended: int = 0


@dataclass
class Bar:
    label: str
    value: int
    series: str  # "registered" or "attended"
    x: float
    y: float
    width: float
    height: float = BAR_HEIGHT

    @property
    def text_x(self) -> float:
        return round(self.x + self.width + 4, 2)

    @property
    def text_y(self) -> float:
        return round(self.y + self.height - 4, 2)


@dataclass
class GroupLabel:
    text: str
    y: float


@dataclass
class Chart:
    """Two bars (registered, attended) per group, horizontal, in SVG user units."""

    title: str
    summary: str
    width: int = CHART_WIDTH
    height: int = 0
    left: int = LABEL_WIDTH
    top: int = CHART_TOP
    bars: list[Bar] = field(default_factory=list)
    labels: list[GroupLabel] = field(default_factory=list)


@dataclass
class Figures:
    kinds: list[Row]
    roles: list[Row]
    total: Row  # every delegation and every person, the Secretariat included in the persons
    secretariat: Row
    sentences: list[tuple[str, str, str]]  # (language code, language name, sentence)
    delegations_chart: Chart
    roles_chart: Chart


def _kind_column():
    return func.coalesce(Organization.kind, OrganizationKind.OTHER.value)


def _delegation_column():
    return func.coalesce(
        cast(Registration.organization_id, String), "other:" + func.lower(Registration.organization_name_other)
    )


def _confirmed(meeting):
    return (Registration.meeting_id == meeting.id, Registration.status == RegistrationStatus.CONFIRMED)


def rows_by_kind(meeting) -> list[Row]:
    """Delegations and persons by kind of organization, the Secretariat left out."""
    kind = _kind_column().label("kind")
    delegation = _delegation_column()
    attended = Registration.checked_in_at.is_not(None)
    result = db.session.execute(
        db.select(
            kind,
            func.count(Registration.id),
            func.count(Registration.checked_in_at),
            func.count(func.distinct(delegation)),
            func.count(func.distinct(case((attended, delegation)))),
        )
        .select_from(Registration)
        .outerjoin(Organization, Registration.organization_id == Organization.id)
        .where(*_confirmed(meeting), Registration.role != RegistrationRole.SECRETARIAT)
        .group_by(kind)
    ).all()
    numbers = {row[0]: row[1:] for row in result}
    rows = []
    for key in KIND_ORDER:
        persons, persons_attended, delegations, delegations_attended = numbers.get(key, (0, 0, 0, 0))
        rows.append(Row(key, str(SECTION_TITLES[key]), persons, persons_attended, delegations, delegations_attended))
    return rows


def rows_by_role(meeting) -> list[Row]:
    result = db.session.execute(
        db.select(Registration.role, func.count(Registration.id), func.count(Registration.checked_in_at))
        .where(*_confirmed(meeting))
        .group_by(Registration.role)
    ).all()
    numbers = {role: (persons, attended) for role, persons, attended in result}
    return [Row(role, str(ROLE_LABELS[role]), *numbers.get(role, (0, 0))) for role in ROLE_ORDER]


def report_sentence(attended: dict[str, int], language: str) -> str:
    """ "The meeting was attended by 45 Member States, 3 intergovernmental organizations and 7
    non-governmental organizations." in `language`, each kind with its plural, those with no
    delegation left out."""
    with force_locale(language):
        parts = []
        count = attended.get(OrganizationKind.MEMBER_STATE, 0)
        if count:
            parts.append(ngettext("%(num)d Member State", "%(num)d Member States", count))
        count = attended.get(OrganizationKind.OBSERVER_STATE, 0)
        if count:
            parts.append(ngettext("%(num)d observer State", "%(num)d observer States", count))
        count = attended.get(OrganizationKind.IGO, 0)
        if count:
            parts.append(
                ngettext("%(num)d intergovernmental organization", "%(num)d intergovernmental organizations", count)
            )
        count = attended.get(OrganizationKind.NGO, 0)
        if count:
            parts.append(
                ngettext("%(num)d non-governmental organization", "%(num)d non-governmental organizations", count)
            )
        if not parts:
            return _("No delegation of a State or an organization has been checked in at the meeting.")
        if len(parts) > 1:
            # "A, B and C", without a comma before "and" as in United Nations reports; the conjunction
            # comes from the catalog, like every other word of the sentence.
            parts = [_("%(items)s and %(last)s", items=", ".join(parts[:-1]), last=parts[-1])]
        return _("The meeting was attended by %(delegations)s.", delegations=parts[0])


def build_chart(title, summary, groups: list[tuple[str, int, int]]) -> Chart:
    """`groups`: (label, registered, attended)."""
    chart = Chart(title=title, summary=summary)
    top = _nice_ceiling(max([registered for _label, registered, _attended in groups] + [1]))
    plot_width = chart.width - chart.left - CHART_RIGHT_MARGIN
    y = chart.top
    for label, registered, attended in groups:
        chart.labels.append(GroupLabel(label, round(y + BAR_HEIGHT + BAR_GAP / 2 + 4, 2)))
        for series, value in (("registered", registered), ("attended", attended)):
            width = round(plot_width * value / top, 2)
            chart.bars.append(Bar(label, value, series, chart.left, y, width))
            y += BAR_HEIGHT + BAR_GAP
        y += GROUP_GAP
    chart.height = int(y)
    return chart


def figures(meeting) -> Figures:
    kinds = rows_by_kind(meeting)
    roles = rows_by_role(meeting)
    secretariat = next(row for row in roles if row.key == RegistrationRole.SECRETARIAT)
    total = Row(
        "total",
        _("Total"),
        sum(row.persons_registered for row in roles),
        sum(row.persons_attended for row in roles),
        sum(row.delegations_registered for row in kinds),
        sum(row.delegations_attended for row in kinds),
    )
    attended = {row.key: row.delegations_attended for row in kinds}
    sentences = [
        (language, language_name(language), report_sentence(attended, language)) for language in meeting.language_codes
    ]
    delegations_chart = build_chart(
        _("Delegations registered and attended, by kind of organization"),
        _(
            "%(attended)d of %(registered)d delegations registered attended the meeting.",
            attended=total.delegations_attended,
            registered=total.delegations_registered,
        ),
        [(row.label, row.delegations_registered, row.delegations_attended) for row in kinds],
    )
    roles_chart = build_chart(
        _("Participants registered and attended, by role"),
        _(
            "%(attended)d of %(registered)d participants registered attended the meeting.",
            attended=total.persons_attended,
            registered=total.persons_registered,
        ),
        [(row.label, row.persons_registered, row.persons_attended) for row in roles],
    )
    return Figures(kinds, roles, total, secretariat, sentences, delegations_chart, roles_chart)


def csv_text(data: Figures) -> str:
    """The figures as a CSV file (UTF-8 with a byte order mark, for Excel): one row per kind of
    organization, then one per role."""
    buffer = io.StringIO()
    buffer.write(BYTE_ORDER_MARK)
    writer = csv.writer(buffer)
    writer.writerow(
        [
            _("Breakdown"),
            _("Group"),
            _("Delegations registered"),
            _("Delegations attended"),
            _("Participants registered"),
            _("Participants attended"),
        ]
    )
    kind_heading = _("Kind of organization")
    for row in data.kinds:
        writer.writerow(
            [
                kind_heading,
                row.label,
                row.delegations_registered,
                row.delegations_attended,
                row.persons_registered,
                row.persons_attended,
            ]
        )
    role_heading = _("Role")
    for row in data.roles:
        writer.writerow([role_heading, row.label, "", "", row.persons_registered, row.persons_attended])
    writer.writerow(
        [
            _("Total"),
            "",
            data.total.delegations_registered,
            data.total.delegations_attended,
            data.total.persons_registered,
            data.total.persons_attended,
        ]
    )
    return buffer.getvalue()


def csv_filename(meeting) -> str:
    return f"participation-{meeting.slug}.csv"
