"""Business time: open hours on business days in the desk's zone, public holidays skipped.

Every answer is worked out by hand in the comment beside it (London is UTC+0 in winter and
UTC+1 in summer; New York UTC-5 and UTC-4).
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any

import pytest
from pydantic import ValidationError

from core.business_time import (
    add_business_hours,
    business_hours_between,
    calendar,
    parse_hours,
)
from core.config import Settings

LONDON = calendar("Mon-Fri 09:00-17:30", "Europe/London", "GB")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_the_default_settings_make_the_london_calendar() -> None:
    assert Settings(_env_file=None).business_calendar == LONDON  # type: ignore[call-arg]


def test_hours_inside_one_day_end_the_same_day() -> None:
    # Tue 1 Dec 2026, 10:00 + 3 h = 13:00.
    assert add_business_hours(utc(2026, 12, 1, 10), 3, LONDON) == utc(2026, 12, 1, 13)


def test_a_weekend_is_skipped() -> None:
    # Fri 27 Nov 15:00: 2.5 h to 17:30, then 1.5 h on Mon 30 Nov from 09:00.
    assert add_business_hours(utc(2026, 11, 27, 15), 4, LONDON) == utc(2026, 11, 30, 10, 30)


def test_sixteen_hours_span_a_weekend() -> None:
    # Thu 26 Nov 13:00: 4.5 h Thu, 8.5 h Fri (13 h), 3 h Mon 30 Nov: 12:00.
    due = add_business_hours(utc(2026, 11, 26, 13), 16, LONDON)
    assert due == utc(2026, 11, 30, 12)
    assert business_hours_between(utc(2026, 11, 26, 13), due, LONDON) == 16.0


def test_a_registration_at_17_29_on_a_friday_is_due_on_tuesday_afternoon() -> None:
    # 1 minute on Fri 27 Nov, 8.5 h Mon, the remaining 7 h 29 min on Tue 1 Dec: 16:29.
    due = add_business_hours(utc(2026, 11, 27, 17, 29), 16, LONDON)
    assert due == utc(2026, 12, 1, 16, 29)


def test_a_registration_at_night_starts_counting_at_the_next_opening() -> None:
    # Tue 1 Dec 23:00: nothing until Wed 09:00; 8.5 h Wed, 7.5 h Thu 3 Dec: 16:30.
    assert add_business_hours(utc(2026, 12, 1, 23), 16, LONDON) == utc(2026, 12, 3, 16, 30)
    # Before opening on a working day, the same day counts from 09:00.
    assert add_business_hours(utc(2026, 12, 2, 6), 1, LONDON) == utc(2026, 12, 2, 10)


def test_christmas_and_the_boxing_day_substitute_are_skipped() -> None:
    # Thu 24 Dec 10:00: 7.5 h; Fri 25 Christmas; the weekend; Mon 28 Dec is the substitute
    # for Boxing Day (a Saturday); Tue 29 Dec gives the last 8.5 h, due at closing.
    due = add_business_hours(utc(2026, 12, 24, 10), 16, LONDON)
    assert due == utc(2026, 12, 29, 17, 30)
    assert business_hours_between(utc(2026, 12, 24, 10), utc(2026, 12, 29, 10), LONDON) == 8.5


def test_spring_forward_in_london_counts_local_opening_hours() -> None:
    # Thu 25 Mar 2027 16:00 GMT: 1.5 h; Fri 26 is Good Friday; clocks go forward Sun 28.
    # GB as a whole has no Easter Monday: Mon 29 Mar opens 09:00 BST (08:00 UTC); +2.5 h
    # is 11:30 BST, 10:30 UTC.
    start = utc(2027, 3, 25, 16)
    assert add_business_hours(start, 4, LONDON) == utc(2027, 3, 29, 10, 30)
    # England keeps Easter Monday: Tue 30 Mar, 09:00 BST + 2.5 h = 11:30 BST.
    england = calendar("Mon-Fri 09:00-17:30", "Europe/London", "GB-ENG")
    assert add_business_hours(start, 4, england) == utc(2027, 3, 30, 10, 30)
    assert business_hours_between(start, utc(2027, 3, 29, 10, 30), LONDON) == 4.0


def test_fall_back_in_london_counts_local_opening_hours() -> None:
    # Fri 23 Oct 2026 16:30 BST (15:30 UTC): 1 h; clocks go back Sun 25 Oct; Mon 26 Oct
    # opens 09:00 GMT (09:00 UTC): the second hour ends at 10:00 UTC.
    due = add_business_hours(utc(2026, 10, 23, 15, 30), 2, LONDON)
    assert due == utc(2026, 10, 26, 10)
    assert business_hours_between(utc(2026, 10, 23, 15, 30), due, LONDON) == 2.0


def test_new_york_hours_across_its_spring_forward() -> None:
    new_york = calendar("Mon-Fri 09:00-17:00", "America/New_York", "US")
    # Fri 12 Mar 2027 16:00 EST (21:00 UTC): 1 h; clocks go forward Sun 14 Mar; Mon 15 Mar
    # opens 09:00 EDT (13:00 UTC): +2 h = 15:00 UTC.
    assert add_business_hours(utc(2027, 3, 12, 21), 3, new_york) == utc(2027, 3, 15, 15)
    # Thanksgiving, Thu 26 Nov 2026: Wed 25 Nov 16:00 EST + 2 h ends Fri 27 Nov 10:00 EST.
    assert add_business_hours(utc(2026, 11, 25, 21), 2, new_york) == utc(2026, 11, 27, 15)


def test_a_subdivisions_own_holidays_count() -> None:
    # Thu 31 Dec 2026 17:00: 0.5 h; Fri 1 Jan is New Year's Day everywhere.
    start = utc(2026, 12, 31, 17)
    assert add_business_hours(start, 1, LONDON) == utc(2027, 1, 4, 9, 30)
    # Scotland's 2 January falls on a Saturday, observed Mon 4 Jan: Tue 5 Jan 09:30.
    scotland = calendar("Mon-Fri 09:00-17:30", "Europe/London", "GB-SCT")
    assert add_business_hours(start, 1, scotland) == utc(2027, 1, 5, 9, 30)


def test_hours_between_count_only_open_hours_and_never_go_negative() -> None:
    # Fri 27 Nov 12:00 to Mon 30 Nov 12:00: 5.5 h Fri + 3 h Mon.
    assert business_hours_between(utc(2026, 11, 27, 12), utc(2026, 11, 30, 12), LONDON) == 8.5
    assert business_hours_between(utc(2026, 11, 28, 0), utc(2026, 11, 29, 23), LONDON) == 0.0
    assert business_hours_between(utc(2026, 11, 30, 12), utc(2026, 11, 27, 12), LONDON) == 0.0


def test_zero_hours_is_the_start_itself() -> None:
    assert add_business_hours(utc(2026, 11, 28, 3), 0, LONDON) == utc(2026, 11, 28, 3)


def test_a_week_that_wraps_and_a_list_of_days_parse() -> None:
    assert parse_hours("Sun-Thu 08:00-16:00").days == {6, 0, 1, 2, 3}
    hours = parse_hours("Mon,Wed-Thu 9:15-13:00")
    assert hours.days == {0, 2, 3} and (hours.opens, hours.closes) == (time(9, 15), time(13))


@pytest.mark.parametrize(
    ("setting", "value", "said"),
    [
        ("business_hours", "Mon-Fry 09:00-17:30", "'Fry' is not a day"),
        ("business_hours", "weekdays", "is not like 'Mon-Fri 09:00-17:30'"),
        ("business_hours", "Mon-Fri 17:30-09:00", "opening time must come before"),
        ("business_hours", "Mon-Fri 09:00-25:00", "'25:00' is not a time of day"),
        ("business_timezone", "Europe/Londn", "not a known time zone"),
        ("business_holidays", "XX", "no public holidays known for country 'XX'"),
        ("business_holidays", "GB-XYZ", "unknown subdivision 'XYZ'"),
    ],
)
def test_a_bad_business_setting_is_refused_naming_it(setting: str, value: str, said: str) -> None:
    values: dict[str, Any] = {setting: value}
    with pytest.raises(ValidationError) as raised:
        Settings(_env_file=None, **values)  # type: ignore[call-arg]
    [error] = raised.value.errors()
    assert error["loc"] == (setting,) and said in error["msg"]
