"""Cron expressions and time zones as Apify Schedules read them; pure, no I/O, no clock.

An expression has five fields (minute, hour, day of month, month, day of week), or six with a
seconds field first, or is one of the ``@yearly``-style names. Each field is ``*`` (``?`` for
the day fields), a number or name (``JAN``..``DEC``, ``SUN``..``SAT``; 7 is Sunday too), a range
``a-b``, a step ``*/n``, ``a-b/n`` or ``a/n``, or a comma-separated list of those. As in cron,
when both day fields are restricted a day matches either of them.

``parse`` returns a ``Cron`` or raises ``CronError`` with one sentence saying what is wrong;
``Cron.next_after`` gives the next run after a moment, in a time zone (``zone`` checks an IANA
name through ``zoneinfo``; the ``tzdata`` package supplies the database where the system has
none). The validator (``config.schedules``) and the emulator's ``nextRunAt`` share this module.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    first_name: int = 0


_SECOND = _Field("second", 0, 59)
_MINUTE = _Field("minute", 0, 59)
_HOUR = _Field("hour", 0, 23)
_DOM = _Field("day of month", 1, 31)
_MONTH = _Field("month", 1, 12, _MONTHS, 1)
_DOW = _Field("day of week", 0, 7, _DAYS, 0)

_SEARCH_DAYS = 366 * 8 + 2
"""How far ``next_after`` looks: far enough for ``0 0 29 2 1`` (a Monday 29 February)."""


class CronError(ValueError):
    """An expression Apify would refuse; the message says why."""


@dataclass(frozen=True)
class Cron:
    """A parsed expression: the allowed values of each field."""

    seconds: tuple[int, ...]
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    """0 is Sunday (7 is folded into 0)."""
    any_day: bool
    any_weekday: bool

    def day_matches(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        dom = day.day in self.days
        dow = (day.isoweekday() % 7) in self.weekdays
        if self.any_day or self.any_weekday:
            return dom and dow
        return dom or dow

    def next_after(self, moment: datetime, timezone: str = "UTC") -> datetime | None:
        """The first run strictly after ``moment`` (aware), in UTC; None if there is none in
        eight years (``0 0 31 2 *``)."""
        tz = zone(timezone)
        start = (moment.astimezone(tz) + timedelta(seconds=1)).replace(microsecond=0)
        for offset in range(_SEARCH_DAYS):
            day = start.date() + timedelta(days=offset)
            if not self.day_matches(day):
                continue
            found = self._on(day, start if offset == 0 else None, tz, moment)
            if found is not None:
                return found
        return None

    def _on(
        self, day: date, start: datetime | None, tz: zoneinfo.ZoneInfo, moment: datetime
    ) -> datetime | None:
        for h in self.hours:
            if start is not None and h < start.hour:
                continue
            for m in self.minutes:
                if start is not None and h == start.hour and m < start.minute:
                    continue
                for s in self.seconds:
                    local = datetime(day.year, day.month, day.day, h, m, s, tzinfo=tz)
                    when = local.astimezone(UTC)
                    if when > moment:
                        return when
        return None


def zone(name: str) -> zoneinfo.ZoneInfo:
    """The time zone of an IANA name (``Europe/Prague``); ``CronError`` if there is none."""
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise CronError(f"{name!r} is not an IANA time zone (e.g. UTC, Europe/Prague)") from None


def parse(expression: str) -> Cron:
    """Parse an expression; ``CronError`` says what is wrong."""
    text = expression.strip()
    if text.startswith("@"):
        if text.lower() not in MACROS:
            names = ", ".join(MACROS)
            raise CronError(f"unknown name {text!r}; use one of {names}")
        text = MACROS[text.lower()]
    parts = text.split()
    if len(parts) == 5:
        parts = ["0", *parts]
    if len(parts) != 6:
        raise CronError(
            f"a cron expression has 5 fields (minute hour day month weekday) or 6 with seconds "
            f"first; this one has {len(parts)}"
        )
    fields = (_SECOND, _MINUTE, _HOUR, _DOM, _MONTH, _DOW)
    values = [_values(part, field) for part, field in zip(parts, fields, strict=True)]
    return Cron(
        seconds=tuple(sorted(values[0])),
        minutes=tuple(sorted(values[1])),
        hours=tuple(sorted(values[2])),
        days=frozenset(values[3]),
        months=frozenset(values[4]),
        weekdays=frozenset(v % 7 for v in values[5]),
        any_day=parts[3] in ("*", "?"),
        any_weekday=parts[5] in ("*", "?"),
    )


def _values(text: str, field: _Field) -> set[int]:
    out: set[int] = set()
    for item in text.split(","):
        out |= _item(item, field)
    return out


def _item(item: str, field: _Field) -> set[int]:
    where = f"the {field.name} field"
    base, slash, step_text = item.partition("/")
    step = 1
    if slash:
        if not step_text.isdigit() or int(step_text) == 0:
            raise CronError(f"{where}: the step in {item!r} must be a positive number")
        step = int(step_text)
    if base in ("*", "?"):
        if base == "?" and field not in (_DOM, _DOW):
            raise CronError(f"{where}: '?' is only for the day fields")
        low, high = field.low, field.high
    elif "-" in base:
        first, _, last = base.partition("-")
        low, high = _number(first, field), _number(last, field)
        if low > high:
            raise CronError(f"{where}: the range {base!r} goes backwards")
    else:
        low = _number(base, field)
        high = field.high if slash else low
    return set(range(low, high + 1, step))


def _number(text: str, field: _Field) -> int:
    where = f"the {field.name} field"
    upper = text.upper()
    if upper in field.names:
        return field.names.index(upper) + field.first_name
    if not text.isdigit():
        raise CronError(f"{where}: {text!r} is not a number" + _name_hint(field))
    value = int(text)
    if not field.low <= value <= field.high:
        raise CronError(f"{where}: {value} is out of range {field.low}-{field.high}")
    return value


def _name_hint(field: _Field) -> str:
    if not field.names:
        return ""
    return f" nor a name ({field.names[0]}..{field.names[-1]})"
