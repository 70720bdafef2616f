"""Fixed UTC accumulation periods (hour, day, week starting Monday, calendar month).

Examples
--------
>>> import pandas as pd
>>> period_start(pd.Timestamp("2024-03-14 17:05"), "week")
Timestamp('2024-03-11 00:00:00')
>>> period_end(pd.Timestamp("2024-02-01"), "month")
Timestamp('2024-03-01 00:00:00')
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def period_start(t: pd.Timestamp, period: str) -> pd.Timestamp:
    """Start of the period that contains ``t``."""
    t = pd.Timestamp(t)
    if period == "hour":
        return t.floor("h")
    if period == "day":
        return t.normalize()
    if period == "week":
        d = t.normalize()
        return d - pd.Timedelta(days=d.weekday())
    if period == "month":
        return t.normalize().replace(day=1)
    raise ValueError(f"unknown period {period!r}; expected hour, day, week or month")


def period_end(start: pd.Timestamp, period: str) -> pd.Timestamp:
    """Exclusive end of the period that begins at ``start``."""
    start = pd.Timestamp(start)
    if period == "hour":
        return start + pd.Timedelta(hours=1)
    if period == "day":
        return start + pd.Timedelta(days=1)
    if period == "week":
        return start + pd.Timedelta(weeks=1)
    if period == "month":
        return start + pd.offsets.MonthBegin(1)
    raise ValueError(f"unknown period {period!r}; expected hour, day, week or month")


def periods_between(first: pd.Timestamp, last: pd.Timestamp, period: str) -> list[pd.Timestamp]:
    """Starts of every period touched by the closed span ``[first, last]``.

    Examples
    --------
    >>> [str(p.date()) for p in periods_between(pd.Timestamp("2024-01-01 23:00"),
    ...                                         pd.Timestamp("2024-01-03 01:00"), "day")]
    ['2024-01-01', '2024-01-02', '2024-01-03']
    """
    out = []
    p = period_start(first, period)
    last = pd.Timestamp(last)
    while p <= last:
        out.append(p)
        p = period_end(p, period)
    return out


def time_in(times: np.ndarray, start: pd.Timestamp, end: pd.Timestamp) -> np.ndarray:
    """Boolean mask of ``times`` (datetime64[ns]) inside ``[start, end)``."""
    return (times >= np.datetime64(start, "ns")) & (times < np.datetime64(end, "ns"))
