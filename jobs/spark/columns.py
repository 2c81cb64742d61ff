"""Column helpers the Spark rules share: SQL's CASE, its three values down to two, exact
floor division of a long."""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F


def first_match(cases: list[tuple[Column, object]], otherwise: object = None) -> Column:
    """CASE WHEN in order: the first true condition wins; a null condition counts as false."""
    (condition, value), *rest = cases
    result = F.when(condition, value)
    for condition, value in rest:
        result = result.when(condition, value)
    return result if otherwise is None else result.otherwise(otherwise)


def is_true(condition: Column) -> Column:
    """SQL's three values down to two, as pandas' fillna(False) does."""
    return F.coalesce(condition, F.lit(False))


def floor_div(value: Column, divisor: int) -> Column:
    """Exact floor division of a long: a multiple of the divisor divides exactly in a double."""
    return ((value - F.pmod(value, F.lit(divisor))) / divisor).cast("long")
