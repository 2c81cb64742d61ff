"""How a comment reads, as a Spark column: jobs/sentiment.py run as a Python UDF, so the stream
and the pandas fallback read every comment with the same code and write the same values.

The reading's modules are pickled by value, so executors need Python and pyspark, not this
project installed.
"""

from __future__ import annotations

from collections.abc import Callable

from pyspark import cloudpickle
from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs import sentiment, sentiment_rules
from jobs.sentiment_rules import SentimentRules

cloudpickle.register_pickle_by_value(sentiment)
cloudpickle.register_pickle_by_value(sentiment_rules)

READING = T.StructType(
    [
        T.StructField("score", T.DoubleType()),
        T.StructField("label", T.StringType()),
        T.StructField("primary_emotion", T.StringType()),
    ]
)


def comment_reading(text: Column, rules: SentimentRules) -> Column:
    """A struct of score, label and primary_emotion; null without text."""
    return F.udf(reader(rules), READING, useArrow=False)(text)


def reader(rules: SentimentRules) -> Callable[[str | None], tuple[float, str, str] | None]:
    """What the executors run. It refers to this project only through the modules pickled by
    value, so it unpickles where the project is not installed."""

    def read(comment: str | None) -> tuple[float, str, str] | None:
        if comment is None:
            return None
        reading = sentiment.read_comment(comment, rules)
        return reading.score, reading.label, reading.primary_emotion

    return read
