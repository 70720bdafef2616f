"""Tests of crac_tools.periods: fixed UTC hour/day/week/month periods."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crac_tools.periods import period_end, period_start, periods_between, time_in

T = pd.Timestamp


@pytest.mark.parametrize("t, period, start", [
    ("2024-03-14 17:05:59.5", "hour", "2024-03-14 17:00"),
    ("2024-03-14 17:00", "hour", "2024-03-14 17:00"),
    ("2024-03-14 17:05", "day", "2024-03-14"),
    ("2024-03-14 00:00", "day", "2024-03-14"),
    ("2024-03-14 17:05", "week", "2024-03-11"),  # Thursday -> Monday
    ("2024-03-11 00:00", "week", "2024-03-11"),  # a Monday is its own start
    ("2024-03-17 23:59:59", "week", "2024-03-11"),  # Sunday belongs to the week before
    ("2024-01-03 12:00", "week", "2024-01-01"),
    ("2025-01-01 06:00", "week", "2024-12-30"),  # across a year boundary
    ("2024-03-14 17:05", "month", "2024-03-01"),
    ("2024-02-29 23:59", "month", "2024-02-01"),
    ("2024-12-31 23:59:59", "month", "2024-12-01"),
])
def test_period_start(t, period, start):
    assert period_start(T(t), period) == T(start)


@pytest.mark.parametrize("start, period, end", [
    ("2024-03-14 17:00", "hour", "2024-03-14 18:00"),
    ("2024-03-14 23:00", "hour", "2024-03-15 00:00"),
    ("2024-03-14", "day", "2024-03-15"),
    ("2024-02-28", "day", "2024-02-29"),  # leap day
    ("2024-12-31", "day", "2025-01-01"),
    ("2024-03-11", "week", "2024-03-18"),
    ("2024-12-30", "week", "2025-01-06"),
    ("2024-01-01", "month", "2024-02-01"),
    ("2024-02-01", "month", "2024-03-01"),  # leap February (29 days)
    ("2023-02-01", "month", "2023-03-01"),
    ("2024-04-01", "month", "2024-05-01"),
    ("2024-12-01", "month", "2025-01-01"),  # Dec -> Jan of the next year
])
def test_period_end(start, period, end):
    assert period_end(T(start), period) == T(end)


def test_month_lengths():
    lengths = [(period_end(T(f"2024-{m:02d}-01"), "month") - T(f"2024-{m:02d}-01")).days for m in range(1, 13)]
    assert lengths == [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]


@pytest.mark.parametrize("fn", [period_start, period_end])
def test_unknown_period(fn):
    with pytest.raises(ValueError, match="unknown period 'year'"):
        fn(T("2024-01-01"), "year")


def test_periods_between_days():
    got = periods_between(T("2024-01-01 23:00"), T("2024-01-03 01:00"), "day")
    assert got == [T("2024-01-01"), T("2024-01-02"), T("2024-01-03")]


def test_periods_between_single_instant():
    assert periods_between(T("2024-01-01 12:00"), T("2024-01-01 12:00"), "day") == [T("2024-01-01")]


def test_periods_between_closed_span_ending_on_boundary():
    # the span is closed: a last record exactly at midnight belongs to the next day
    assert periods_between(T("2024-01-01 00:00"), T("2024-01-02 00:00"), "day") == [T("2024-01-01"),
                                                                                     T("2024-01-02")]
    # just before the boundary it does not
    assert periods_between(T("2024-01-01 00:00"), T("2024-01-01 23:59:59.999"), "day") == [T("2024-01-01")]


def test_periods_between_months_across_year():
    got = periods_between(T("2023-11-15"), T("2024-02-29 23:00"), "month")
    assert got == [T("2023-11-01"), T("2023-12-01"), T("2024-01-01"), T("2024-02-01")]


def test_periods_between_weeks_and_hours():
    assert periods_between(T("2024-03-10 12:00"), T("2024-03-18 00:00"), "week") == [
        T("2024-03-04"), T("2024-03-11"), T("2024-03-18")]
    assert periods_between(T("2024-03-10 22:30"), T("2024-03-11 00:59"), "hour") == [
        T("2024-03-10 22:00"), T("2024-03-10 23:00"), T("2024-03-11 00:00")]


def test_periods_between_empty_when_last_before_first_period():
    assert periods_between(T("2024-01-02 05:00"), T("2024-01-01 12:00"), "day") == []


def test_time_in_half_open():
    times = np.array(["2024-01-01T23:59:59", "2024-01-02", "2024-01-02T12:00", "2024-01-03"], "datetime64[ns]")
    mask = time_in(times, T("2024-01-02"), T("2024-01-03"))
    assert mask.tolist() == [False, True, True, False]
    # another resolution (microseconds) compares by instant, not by raw integers
    assert time_in(times.astype("datetime64[us]"), T("2024-01-02"), T("2024-01-03")).tolist() == mask.tolist()
    assert time_in(np.array(["NaT"], "datetime64[ns]"), T("2024-01-02"), T("2024-01-03")).tolist() == [False]
