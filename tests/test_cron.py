"""Cron expressions and time zones (``tasksync.cron``): syntax, ranges, names, the day rule,
and the next run in a zone, across daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tasksync import cron


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    "expression",
    [
        "* * * * *",
        "0 3 * * *",
        "*/15 0-6,22 1 JAN-mar MON-FRI",
        "30 0 3 * * 7",
        "@daily",
        "@HOURLY",
        "0 0 ? * SUN",
        "5/10 * * * *",
        "0 12 1-31/2 * *",
    ],
)
def test_valid_expressions(expression: str) -> None:
    cron.parse(expression)


@pytest.mark.parametrize(
    ("expression", "said"),
    [
        ("* * * *", "has 4"),
        ("60 * * * *", "minute field: 60 is out of range 0-59"),
        ("0 24 * * *", "hour field"),
        ("0 0 0 * *", "day of month field: 0"),
        ("0 0 1 13 *", "month field"),
        ("0 0 * * 8", "day of week field"),
        ("0 0 * * MOO", "nor a name"),
        ("*/0 * * * *", "step"),
        ("5-1 * * * *", "backwards"),
        ("@sometimes", "unknown name"),
        ("? * * * *", "only for the day fields"),
    ],
)
def test_invalid_expressions_say_why(expression: str, said: str) -> None:
    with pytest.raises(cron.CronError, match=said):
        cron.parse(expression)


def test_next_run_in_utc_and_in_a_zone() -> None:
    daily = cron.parse("0 3 * * *")
    assert daily.next_after(at("2026-01-10T02:59:59")) == at("2026-01-10T03:00:00")
    assert daily.next_after(at("2026-01-10T03:00:00")) == at("2026-01-10T03:00:00").replace(day=11)
    # Prague is UTC+1 in winter, UTC+2 in summer
    assert daily.next_after(at("2026-01-10T00:00:00"), "Europe/Prague") == at("2026-01-10T02:00")
    assert daily.next_after(at("2026-07-10T00:00:00"), "Europe/Prague") == at("2026-07-10T01:00")


def test_seconds_field_and_day_rule() -> None:
    assert cron.parse("30 * * * * *").next_after(at("2026-01-10T00:00:00")) == at(
        "2026-01-10T00:00:30"
    )
    # both day fields restricted: the 13th OR a Friday; 2026-02-06 is a Friday
    either = cron.parse("0 0 13 * FRI")
    assert either.next_after(at("2026-02-01T00:00:00")) == at("2026-02-06T00:00:00")
    assert cron.parse("0 0 29 2 *").next_after(at("2026-03-01T00:00:00")) == at("2028-02-29")
    assert cron.parse("0 0 31 2 *").next_after(at("2026-03-01T00:00:00")) is None


def test_time_zones() -> None:
    assert cron.zone("Europe/Prague").key == "Europe/Prague"
    for bad in ("Mars/Olympus", "", "../etc/passwd"):
        with pytest.raises(cron.CronError, match="not an IANA time zone"):
            cron.zone(bad)
