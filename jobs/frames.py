"""DataFrames to database rows: pandas' missing values and numpy scalars as plain Python."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd


def plain(value: Any) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and np.isnan(value):
        return None
    if isinstance(value, np.generic):
        return None if isinstance(value, np.floating) and np.isnan(value) else value.item()
    return value


def frame_records(frame: pd.DataFrame, columns: Sequence[str]) -> Iterator[tuple[Any, ...]]:
    """Rows in column order; event ids as UUIDs where the column holds them."""
    for row in frame.loc[:, list(columns)].itertuples(index=False, name=None):
        record = tuple(plain(value) for value in row)
        if columns and columns[0] == "event_id":
            record = (uuid.UUID(record[0]), *record[1:])
        yield record
