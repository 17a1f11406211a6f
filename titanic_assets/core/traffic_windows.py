"""Windows of traffic (the newest hour, the last 24 hours, since a model was promoted) from
the compacted hours' summaries and samples, so a 30-day window reads 720 small summaries and
at most WINDOW_SAMPLE sampled rows, never 30 days of rows.

The drift tests run on a uniform sample of the window: each hour contributes the first k of
its randomly ordered sample (core/compaction.py), k in proportion to its rows. Up to
WINDOW_SAMPLE rows in a window that is every row, so the tests are exactly the former ones;
beyond, the reference (the model's ~700 training rows) bounds their power, not the traffic:
a two-sample test's effective size n_ref * n / (n_ref + n) is 96.6% of its limit at 20,000
rows and cannot gain more than that from the other 3.5%.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from titanic_assets.core.compaction import (
    SAMPLE_ROWS,
    CompactedHour,
    read_compacted,
    read_summaries,
)
from titanic_assets.core.log_files import LogPlace, hour_start, hours_between

if TYPE_CHECKING:
    import pandas as pd

WINDOW_SAMPLE = SAMPLE_ROWS  # no hour is asked for more rows than its sample holds


@dataclass(frozen=True)
class TrafficWindow:
    """One model version's traffic over a span of hours, summed from the hours' summaries."""

    name: str
    model_version: str
    start: datetime
    end: datetime
    hours: dict[str, CompactedHour]  # the compacted hours in the span
    rows: int
    predicted_positive: int
    expected_correct: float  # CBPE: the sum over rows of the probability of what was predicted
    expected_correct_variance: float
    labelled: int
    correct: int

    def rows_by_hour(self) -> dict[str, int]:
        return {
            hour: int(summary.versions.get(self.model_version, {}).get("rows", 0))
            for hour, summary in self.hours.items()
        }


def traffic_window(
    place: LogPlace, name: str, model_version: str, start: datetime, end: datetime
) -> TrafficWindow:
    """The window of `model_version`'s traffic from `start` to `end` (whole hours)."""
    hours = read_summaries(place, hours_between(start, end))
    totals = dict.fromkeys(
        (
            "rows",
            "predicted_positive",
            "expected_correct",
            "expected_correct_variance",
            "labelled",
            "correct",
        ),
        0.0,
    )
    for summary in hours.values():
        for key, value in summary.versions.get(model_version, {}).items():
            if key in totals:  # a summary key an older compaction wrote is left out
                totals[key] += value
    return TrafficWindow(
        name=name,
        model_version=model_version,
        start=start,
        end=end,
        hours=hours,
        rows=int(totals["rows"]),
        predicted_positive=int(totals["predicted_positive"]),
        expected_correct=totals["expected_correct"],
        expected_correct_variance=totals["expected_correct_variance"],
        labelled=int(totals["labelled"]),
        correct=int(totals["correct"]),
    )


def standard_windows(
    place: LogPlace, model_version: str, promoted_at: datetime, now: datetime
) -> list[TrafficWindow]:
    """Since the model was promoted (what the checks judge), the last 24 hours, the newest
    hour with traffic: the serving model's rows in each."""
    since = traffic_window(place, "since promotion", model_version, promoted_at, now)
    day = traffic_window(
        place, "last 24 hours", model_version, max(promoted_at, now - timedelta(hours=24)), now
    )
    busy = [hour for hour, rows in since.rows_by_hour().items() if rows]
    newest = since
    if busy:
        start = hour_start(max(busy))
        newest = traffic_window(place, "newest hour", model_version, start, start)
    return [since, day, newest]


def drift_sample(place: LogPlace, window: TrafficWindow, size: int = WINDOW_SAMPLE):
    """A uniform sample of at most `size` of the window's rows (the raw inputs, timestamp and
    probability), each hour in proportion to its rows."""
    import pandas as pd

    rows = {hour: n for hour, n in window.rows_by_hour().items() if n}
    if not rows:
        return pd.DataFrame()
    share = min(1.0, size / max(1, window.rows))
    wanted = ", ".join(f"('{hour}', {math.ceil(n * share)})" for hour, n in rows.items())
    return read_compacted(
        place,
        "samples",
        sorted(rows),
        f"""
        SELECT rows.* FROM rows JOIN (VALUES {wanted}) AS wanted(hour, k) USING (hour)
        WHERE model_version = '{_sql_text(window.model_version)}' AND rank <= k
        ORDER BY timestamp
        """,
    )


def labelled_rows(place: LogPlace, window: TrafficWindow, columns: str = "*") -> pd.DataFrame:
    """The window's labelled rows of its model version (hours without any are not read),
    only the `columns` asked for (SQL, default all)."""
    hours = [
        h
        for h, s in window.hours.items()
        if s.versions.get(window.model_version, {}).get("labelled")
    ]
    return read_compacted(
        place,
        "labelled",
        hours,
        f"SELECT {columns} FROM rows WHERE model_version = '{_sql_text(window.model_version)}'",
    )


def _sql_text(value: str) -> str:
    return value.replace("'", "''")
