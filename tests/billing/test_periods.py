"""Quota periods: calendar weeks from Monday 00:00 and calendar months, in the service's time zone."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from billing.periods import period_bounds

SEOUL = ZoneInfo("Asia/Seoul")


def test_the_week_starts_on_monday_midnight_in_seoul():
    sunday_late = datetime(2026, 3, 15, 23, 59, tzinfo=SEOUL)
    monday = datetime(2026, 3, 16, 0, 0, tzinfo=SEOUL)
    assert period_bounds("week", sunday_late) == (date(2026, 3, 9), monday)
    assert period_bounds("week", monday) == (date(2026, 3, 16), datetime(2026, 3, 23, tzinfo=SEOUL))


def test_a_utc_sunday_afternoon_is_already_monday_in_seoul():
    # 15:00 UTC on Sunday is 00:00 Monday in Seoul (UTC+9)
    assert period_bounds("week", datetime(2026, 3, 15, 15, 0, tzinfo=UTC))[0] == date(2026, 3, 16)
    assert period_bounds("week", datetime(2026, 3, 15, 14, 59, tzinfo=UTC))[0] == date(2026, 3, 9)


def test_months_are_calendar_months_across_the_year_end():
    assert period_bounds("month", datetime(2026, 12, 31, 23, 59, tzinfo=SEOUL)) == (
        date(2026, 12, 1),
        datetime(2027, 1, 1, tzinfo=SEOUL),
    )
    assert period_bounds("month", datetime(2028, 2, 29, 12, 0, tzinfo=SEOUL)) == (
        date(2028, 2, 1),
        datetime(2028, 3, 1, tzinfo=SEOUL),
    )


def test_the_time_zone_is_a_setting(settings):
    settings.TIME_ZONE = "UTC"
    assert period_bounds("week", datetime(2026, 3, 15, 15, 0, tzinfo=UTC))[0] == date(2026, 3, 9)
