"""The Spark stream as the service runs it: its plain configuration from Settings (the engine
in jobs/ reads no settings), and a supervisor that restarts it after a failure."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from app.config import Settings
from app.metrics import SPARK_RESTARTS
from app.topics import USER_TOPICS
from jobs.rules import Rules
from jobs.spark.session import SparkConfig
from jobs.spark.stream import StreamConfig

log = logging.getLogger(__name__)
RunStream = Callable[[StreamConfig, Rules], None]


def spark_config(settings: Settings) -> SparkConfig:
    return SparkConfig(
        master=settings.spark_master,
        driver_memory=settings.spark_driver_memory,
        executor_memory=settings.spark_executor_memory,
        executor_cores=settings.spark_executor_cores,
        jars=split_list(settings.spark_jars),
        packages=split_list(settings.spark_jars_packages),
        conf=dict(settings.spark_conf),
    )


def stream_config(settings: Settings, available_now: bool) -> StreamConfig:
    return StreamConfig(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        topics=tuple(USER_TOPICS.values()),
        checkpoint_dir=settings.spark_checkpoint_dir,
        database_url=settings.database_url,
        starting_offsets=settings.spark_starting_offsets,
        max_offsets_per_trigger=settings.spark_max_offsets_per_trigger,
        trigger_seconds=settings.spark_trigger_seconds,
        available_now=available_now,
        spark=spark_config(settings),
    )


def split_list(value: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(",") if item.strip())


class StreamGaveUp(RuntimeError):
    """The stream failed this many times in a row; the last failure is the cause."""


def supervise(
    run: RunStream,
    config: StreamConfig,
    rules: Rules,
    max_backoff_seconds: float = 60.0,
    healthy_after_seconds: float = 300.0,
    give_up_after: int | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Run the stream until it ends on its own (a drain with --available-now); after a failure
    (one batch's error stops a Spark query) start it again from its checkpoint, with backoff.
    The checkpoint and the idempotent writes make a restart safe. `give_up_after` failures in a
    row (none counts after a healthy run) raise StreamGaveUp: a drain that cannot finish says so
    instead of retrying for ever."""
    backoff, failures = 1.0, 0
    while True:
        started = time.monotonic()
        try:
            run(config, rules)
            return
        except Exception as error:  # any failure of the query; its cause goes to the log
            SPARK_RESTARTS.inc()
            if time.monotonic() - started > healthy_after_seconds:
                backoff, failures = 1.0, 0
            failures += 1
            if give_up_after is not None and failures >= give_up_after:
                raise StreamGaveUp(failures) from error
            log.exception("the Spark stream failed; restarting", extra={"in_seconds": backoff})
        sleep(backoff)
        backoff = min(backoff * 2, max_backoff_seconds)
