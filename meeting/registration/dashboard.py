"""The organizers' dashboard of a meeting's registrations: how many in each status and from each kind
of organization, how many delegations are represented, and a chart of the registrations received
each day.

Every number comes from an aggregate query (GROUP BY), so the page costs the same few queries for
ten registrations or ten thousand. The chart is drawn as SVG by the template from the geometry
computed here; its numbers are also given as a table for those who cannot see it."""

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from babel.dates import format_skeleton
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import String, cast, func

from ..core.i18n import get_locale
from ..core.timeutil import zone
from ..directory.forms import KIND_LABELS
from ..directory.models import Organization, OrganizationKind
from ..extensions import db
from .models import STATUS_LABELS, Registration, RegistrationStatus

KIND_ORDER = (
    OrganizationKind.MEMBER_STATE,
    OrganizationKind.OBSERVER_STATE,
    OrganizationKind.IGO,
    OrganizationKind.NGO,
    OrganizationKind.OTHER,
)

# The chart's drawing area, in SVG user units (the picture scales to the page's width).
CHART_WIDTH = 720
CHART_HEIGHT = 260
MARGIN_LEFT = 44
MARGIN_RIGHT = 12
MARGIN_TOP = 16
MARGIN_BOTTOM = 44
MAX_DAY_LABELS = 12
# Registrations for longer than this are shown for their last days only (the table says so).
MAX_DAYS = 366
# SQLite knows no time zones: registrations are counted per UTC quarter of an hour, and the quarters
# are added up into the meeting's local days (every time zone's offset is a whole number of quarters).
QUARTER = timedelta(minutes=15)


def _kind_column():
    return func.coalesce(Organization.kind, OrganizationKind.OTHER.value)


def counts_by_kind_and_status(meeting) -> dict[tuple[str, str], int]:
    """{(kind of organization, status): registrations}; "other" holds the names outside the directory."""
    kind = _kind_column().label("kind")
    rows = db.session.execute(
        db.select(kind, Registration.status, func.count(Registration.id))
        .select_from(Registration)
        .outerjoin(Organization, Registration.organization_id == Organization.id)
        .where(Registration.meeting_id == meeting.id)
        .group_by(kind, Registration.status)
    ).all()
    return {(row_kind, status): count for row_kind, status, count in rows}


def delegations_by_kind(meeting) -> dict[str, int]:
    """{kind: delegations with at least one confirmed participant}. A delegation is an organization
    of the directory, or a name given for an organization outside it (counted once however typed in
    capitals)."""
    kind = _kind_column().label("kind")
    delegation = func.coalesce(
        cast(Registration.organization_id, String), "other:" + func.lower(Registration.organization_name_other)
    )
    rows = db.session.execute(
        db.select(kind, func.count(func.distinct(delegation)))
        .select_from(Registration)
        .outerjoin(Organization, Registration.organization_id == Organization.id)
        .where(Registration.meeting_id == meeting.id, Registration.status == RegistrationStatus.CONFIRMED)
        .group_by(kind)
    ).all()
    return dict(rows)


def registrations_per_day(meeting) -> dict[date, int]:
    """{local day in the meeting's timezone: registrations received that day}, days without any left out."""
    if db.session.get_bind().dialect.name == "postgresql":
        day = func.to_char(func.timezone(meeting.timezone, Registration.created_at), "YYYY-MM-DD").label("day")
        rows = db.session.execute(
            db.select(day, func.count(Registration.id)).where(Registration.meeting_id == meeting.id).group_by(day)
        ).all()
        return {date.fromisoformat(value): count for value, count in rows}

    minutes = cast(func.strftime("%M", Registration.created_at), db.Integer) / 15 * 15
    hour = func.strftime("%Y-%m-%d %H:", Registration.created_at, type_=String)
    quarter = (hour + func.printf("%02d", minutes, type_=String)).label("quarter")
    rows = db.session.execute(
        db.select(quarter, func.count(Registration.id)).where(Registration.meeting_id == meeting.id).group_by(quarter)
    ).all()
    local_zone = zone(meeting.timezone)
    days: dict[date, int] = {}
    for value, count in rows:
        local_day = datetime.fromisoformat(value).replace(tzinfo=UTC).astimezone(local_zone).date()
        days[local_day] = days.get(local_day, 0) + count
    return days


@dataclass
class KindRow:
    kind: str
    label: str
    counts: dict[str, int]
    total: int
    delegations: int


@dataclass
class Bar:
    day: date
    label: str  # the day as people read it: "6 Nov"
    count: int
    x: float
    y: float
    width: float
    height: float


@dataclass
class Tick:
    value: int
    y: float


@dataclass
class DayLabel:
    text: str
    x: float


@dataclass
class Chart:
    """The geometry of the bar chart of registrations per day, in SVG user units."""

    width: int = CHART_WIDTH
    height: int = CHART_HEIGHT
    left: int = MARGIN_LEFT
    right: int = CHART_WIDTH - MARGIN_RIGHT
    top: int = MARGIN_TOP
    baseline: int = CHART_HEIGHT - MARGIN_BOTTOM
    bars: list[Bar] = field(default_factory=list)
    ticks: list[Tick] = field(default_factory=list)
    day_labels: list[DayLabel] = field(default_factory=list)
    summary: str = ""

    @property
    def label_y(self) -> int:
        return self.baseline + 18


@dataclass
class Dashboard:
    by_status: dict[str, int]
    status_labels: dict
    total: int
    kinds: list[KindRow]
    delegations: int
    chart: Chart
    truncated_before: date | None  # days before this one are not in the chart


def _nice_ceiling(value: int) -> int:
    """The round number the axis ends at: 1, 2, 5, 10, 20, 50..."""
    if value <= 1:
        return 1
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def build_chart(per_day: dict[date, int], language: str) -> tuple[Chart, date | None]:
    chart = Chart()
    if not per_day:
        chart.summary = _("No registration has been received yet.")
        return chart, None
    first, last = min(per_day), max(per_day)
    truncated_before = None
    if (last - first).days + 1 > MAX_DAYS:
        first = truncated_before = last - timedelta(days=MAX_DAYS - 1)
    days = [first + timedelta(days=offset) for offset in range((last - first).days + 1)]
    counts = [per_day.get(day, 0) for day in days]
    top = _nice_ceiling(max(counts))
    plot_width = chart.right - chart.left
    plot_height = chart.baseline - chart.top
    slot = plot_width / len(days)
    bar_width = max(slot * 0.8, 1.0)
    for index, (day, count) in enumerate(zip(days, counts, strict=True)):
        height = plot_height * count / top
        chart.bars.append(
            Bar(
                day=day,
                label=format_skeleton("MMMd", day, locale=language),
                count=count,
                x=round(chart.left + index * slot + (slot - bar_width) / 2, 2),
                y=round(chart.baseline - height, 2),
                width=round(bar_width, 2),
                height=round(height, 2),
            )
        )
    chart.ticks = [Tick(value, round(chart.baseline - plot_height * value / top, 2)) for value in {0, top // 2, top}]
    chart.ticks.sort(key=lambda tick: tick.value)
    every = max(1, math.ceil(len(days) / MAX_DAY_LABELS))
    chart.day_labels = [
        DayLabel(bar.label, round(bar.x + bar.width / 2, 2))
        for index, bar in enumerate(chart.bars)
        if index % every == 0 or (index == len(chart.bars) - 1 and index % every > every // 2)
    ]
    busiest = max(chart.bars, key=lambda bar: bar.count)
    chart.summary = ngettext(
        "From %(first)s to %(last)s: %(num)d registration; the most in one day, %(most)d, on %(busiest)s.",
        "From %(first)s to %(last)s: %(num)d registrations; the most in one day, %(most)d, on %(busiest)s.",
        sum(counts),
        first=chart.bars[0].label,
        last=chart.bars[-1].label,
        most=busiest.count,
        busiest=busiest.label,
    )
    return chart, truncated_before


def dashboard(meeting) -> Dashboard:
    """Three aggregate queries, whatever the number of registrations."""
    by_kind_and_status = counts_by_kind_and_status(meeting)
    delegations = delegations_by_kind(meeting)
    by_status = {status.value: 0 for status in RegistrationStatus}
    kinds = []
    for kind in KIND_ORDER:
        counts = {status.value: by_kind_and_status.get((kind.value, status.value), 0) for status in RegistrationStatus}
        for status, count in counts.items():
            by_status[status] += count
        kinds.append(KindRow(kind, str(KIND_LABELS[kind]), counts, sum(counts.values()), delegations.get(kind, 0)))
    chart, truncated_before = build_chart(registrations_per_day(meeting), get_locale())
    return Dashboard(
        by_status=by_status,
        status_labels=STATUS_LABELS,
        total=sum(by_status.values()),
        kinds=kinds,
        delegations=sum(delegations.values()),
        chart=chart,
        truncated_before=truncated_before,
    )
