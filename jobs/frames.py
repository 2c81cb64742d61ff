"""DataFrames to database rows: pandas' missing values as None, typed columns as plain Python."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd


def plain_values(column: pd.Series) -> list[Any]:
    """The column's values as Python objects (an object column's as they are), None where
    missing (None, NaN, NA or NaT)."""
    if pd.api.types.is_datetime64_any_dtype(column.dtype):
        values = column.array.to_pydatetime()  # asyncpg encodes datetimes far faster
    else:
        values = column.to_numpy(dtype=object)
    return np.where(pd.isna(values), None, values).tolist()


def frame_records(frame: pd.DataFrame, columns: Sequence[str]) -> Iterator[tuple[Any, ...]]:
    """Rows in column order. Event ids stay in their text form, which asyncpg takes for a uuid
    column."""
    return zip(*(plain_values(frame[name]) for name in columns), strict=True)
