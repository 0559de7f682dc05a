"""Time in the meeting's zone: everything is stored in UTC and shown in the meeting's timezone."""

from datetime import UTC, date, datetime, time
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones


@cache
def timezone_names() -> tuple[str, ...]:
    return tuple(sorted(available_timezones()))


def is_timezone(name: str) -> bool:
    if not name or name not in timezone_names():
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def zone(tz_name: str) -> ZoneInfo:
    return ZoneInfo(tz_name)


def to_utc(local: datetime, tz_name: str) -> datetime:
    """A wall-clock time entered in the meeting's zone, as an aware UTC datetime."""
    if local.tzinfo is None:
        local = local.replace(tzinfo=ZoneInfo(tz_name))
    return local.astimezone(UTC)


def to_local(moment: datetime, tz_name: str) -> datetime:
    return moment.astimezone(ZoneInfo(tz_name))


def day_bounds_utc(first: date, last: date, tz_name: str) -> tuple[datetime, datetime]:
    """The UTC instants at which the local days from `first` to `last` begin and end."""
    zone = ZoneInfo(tz_name)
    start = datetime.combine(first, time.min, zone)
    end = datetime.combine(last, time.max, zone)
    return start.astimezone(UTC), end.astimezone(UTC)
