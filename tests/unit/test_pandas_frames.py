"""DataFrames to database rows (jobs/frames.py): plain Python values, None for every kind of
missing value. No services."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pandas as pd

from jobs.frames import frame_records

MOMENT = datetime(2026, 11, 20, 12, 0, 0, 123456, tzinfo=UTC)


def test_values_become_plain_python_and_missing_ones_none() -> None:
    ratios = pd.Series([1.0, 0.0, None], dtype="Float64")
    frame = pd.DataFrame(
        {
            "event_id": ["0b6ef1a8-6bd5-4c42-9d25-5b1a32c8f0a1", "x", "y"],
            "text": ["a", None, np.nan],
            "count": pd.Series([1, None, 3], dtype="Int64"),
            "ratio": ratios / ratios,  # 0/0 is NaN, not NA, in a Float64 column
            "plain_float": [0.5, np.nan, 2.0],
            "flag": [True, False, True],
            "whole": np.array([1, 2, 3], dtype=np.int64),
            "at": pd.to_datetime([MOMENT, None, MOMENT], utc=True),
            "day": [date(2026, 11, 20), None, pd.NA],
            "missing": ["b", pd.NaT, None],
        }
    )
    records = list(frame_records(frame, list(frame.columns)))
    assert records == [
        ("0b6ef1a8-6bd5-4c42-9d25-5b1a32c8f0a1", "a", 1, 1.0, 0.5, True, 1, MOMENT,
         date(2026, 11, 20), "b"),
        ("x", None, None, None, None, False, 2, None, None, None),
        ("y", None, 3, None, 2.0, True, 3, MOMENT, None, None),
    ]  # fmt: skip
    for record in records:
        for value in record:
            assert not isinstance(value, np.generic | pd.Timestamp), (value, type(value))


def test_columns_come_in_the_order_asked_and_the_frame_is_left_as_it_was() -> None:
    frame = pd.DataFrame({"a": [1.0, np.nan], "b": ["x", None]})
    before = frame.copy()
    assert list(frame_records(frame, ["b", "a"])) == [("x", 1.0), (None, None)]
    pd.testing.assert_frame_equal(frame, before)
