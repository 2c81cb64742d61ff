"""One chaos run: the pipeline's processes started, steady simulated traffic, faults in a
seeded random order with poison records between them, then settling and reconciling."""

from __future__ import annotations

import asyncio
import os
import random
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from app.audit.canary import follow_canaries
from app.audit.reconciler import MINUTE, floor_minute, minutes, reconcile
from app.config import Settings
from app.db.postgres import PostgresPool
from app.producers.kafka_admin import spark_offsets_at_end
from app.simulation.answer_log import Answers, read_answers
from app.topics import USER_TOPICS
from bench.chaos.faults import Fault, Target, inject, plan_faults
from bench.chaos.poison import send_poison
from bench.chaos.reconcile import (
    STORES,
    DeadLetters,
    StoreCount,
    count_in_stores,
    dead_letter_ends,
    read_dead_letters,
)
from bench.chaos.targets import PipelineProcess, StackService
from bench.processes import REPO_ROOT, free_port, service_listeners

TARGETS = ("service", "consumer", "spark", "kafka", "ferretdb", "postgres")


@dataclass(frozen=True)
class ChaosPlan:
    minutes: float
    seed: int
    work_dir: Path
    rate: float = 100.0  # simulated events per second
    calm_seconds: tuple[float, float] = (4.0, 10.0)  # between one fault's end and the next
    hold_seconds: tuple[float, float] = (2.0, 8.0)
    settle_seconds: float = 300.0  # for each store in turn to catch up
    max_faults: int | None = None  # end sooner, after this many


@dataclass(frozen=True)
class AuditAfter:
    """The audit's findings about the run's minutes: opened during it, and still open once
    it settled and a last pass looked at them again."""

    opened: int
    still_open: int


@dataclass
class ChaosReport:
    faults: list[Fault] = field(default_factory=list)
    answers: Answers = field(default_factory=Answers)
    stores: dict[str, StoreCount] = field(default_factory=dict)
    dead_letters: DeadLetters | None = None
    poison_sent: int = 0
    fallback_runs: int = 0
    promoted: int = 0  # acknowledged events whose fact came from a fallback run's promotion
    settle_seconds: float = 0.0
    audit: AuditAfter | None = None

    def lost(self, store: str) -> int:
        return len(self.answers.acknowledged) - self.stores[store].found

    def duplicates(self, store: str) -> int:
        return self.stores[store].rows - self.stores[store].found

    @property
    def acknowledged_without_202(self) -> int:
        """Counted as acknowledged though no 202 accepted them: must be none."""
        return len(self.answers.acknowledged - self.answers.by_answer.get(202, set()))

    @property
    def clean(self) -> bool:
        letters = self.dead_letters
        return (
            all(self.lost(s) == 0 and self.duplicates(s) == 0 for s in self.stores)
            and self.acknowledged_without_202 == 0
            and letters is not None
            and letters.not_poison == 0
            and letters.poison_missed == 0
            and self.audit is not None
            and self.audit.still_open == 0
        )


def pipeline_env(settings: Settings, plan: ChaosPlan, port: int, offsets: str) -> dict[str, str]:
    return {
        **os.environ,
        **service_listeners(port),
        "SPARK_CHECKPOINT_DIR": str(plan.work_dir / "spark-checkpoint"),
        "SPARK_STARTING_OFFSETS": offsets,  # this run's events, not the topics' whole history
        "SPARK_TRIGGER_SECONDS": "2",
        # The automatic fallback looks back over this run only.
        "FALLBACK_MAX_LOOKBACK_SECONDS": str(int(plan.minutes * 60 + 2 * plan.settle_seconds)),
        "PYTHONUNBUFFERED": "1",
    }


def build_targets(env: dict[str, str], port: int, logs: Path) -> dict[str, Target]:
    def ours(name: str, *module: str, health: str | None = None) -> PipelineProcess:
        return PipelineProcess(name, list(module), env, logs / f"{name}.log", health)

    return {
        "service": ours("service", "app", health=f"http://127.0.0.1:{port}/health"),
        # A second member of the event groups: partitions move between it and the service's.
        "consumer": ours(
            "consumer", "app.consumers", "mongo-backup", "postgres-staging", "audit-receipts"
        ),
        "spark": ours("spark", "app.jobs", "spark"),
        **{name: StackService(name) for name in ("kafka", "ferretdb", "postgres")},
    }


async def run_chaos(settings: Settings, plan: ChaosPlan, say=print) -> ChaosReport:
    plan.work_dir.mkdir(parents=True, exist_ok=True)
    logs, answers_path = plan.work_dir / "logs", plan.work_dir / "answers.jsonl"
    logs.mkdir(exist_ok=True)
    rng, run_id, report = random.Random(plan.seed), uuid.uuid4().hex[:8], ChaosReport()
    started_at = datetime.now(UTC)
    dead_letters_from = await dead_letter_ends(settings)
    offsets = await spark_offsets_at_end(
        settings.kafka_bootstrap_servers, list(USER_TOPICS.values())
    )
    port = free_port()
    env = pipeline_env(settings, plan, port, offsets)
    targets = build_targets(env, port, logs)
    ours = [t for t in targets.values() if isinstance(t, PipelineProcess)]
    simulator = PipelineProcess(
        "simulator",
        ["app.simulation", "--url", f"http://127.0.0.1:{port}", "--rate", str(plan.rate),
         "--batch", "10", "--duration", "0", "--seed", str(plan.seed),
         "--record", str(answers_path)],
        env, logs / "simulator.log",
    )  # fmt: skip
    poison_keys: set[bytes] = set()
    try:
        for process in ours:
            await asyncio.to_thread(process.start)
        await asyncio.to_thread(simulator.start)
        deadline = time.monotonic() + plan.minutes * 60
        count = plan.max_faults if plan.max_faults is not None else 10**6
        for fault in plan_faults(rng, TARGETS, count, plan.hold_seconds):
            await asyncio.sleep(rng.uniform(*plan.calm_seconds))
            if time.monotonic() >= deadline:
                break
            if key := await send_poison(settings.kafka_bootstrap_servers, run_id, len(poison_keys)):
                poison_keys.add(key)
            say(f"fault {len(report.faults) + 1}: {fault.kind} {fault.target} "
                f"for {fault.hold_seconds:g}s")  # fmt: skip
            await asyncio.to_thread(inject, fault, targets[fault.target])
            report.faults.append(fault)
        await asyncio.to_thread(simulator.stop)
        traffic_ended = datetime.now(UTC)
        report.answers = read_answers(answers_path)
        report.poison_sent = len(poison_keys)
        settle_started = time.monotonic()
        say(f"settling: {len(report.answers.acknowledged)} acknowledged events")
        await settle(settings, plan, report, started_at, say)
        report.settle_seconds = time.monotonic() - settle_started
        report.audit = await audit_after(
            settings, started_at, traffic_ended, report.answers.acknowledged
        )
    finally:
        await asyncio.to_thread(simulator.stop)
        for process in ours:
            await asyncio.to_thread(process.stop)
    report.dead_letters = await read_dead_letters(settings, dead_letters_from, poison_keys)
    return report


async def settle(
    settings: Settings, plan: ChaosPlan, report: ChaosReport, started_at: datetime, say
) -> None:
    """Let the consumers and then the model catch up; promote what fallback runs built."""
    acknowledged = report.answers.acknowledged
    for store in STORES:  # PostgreSQL first: it answers quickly while FerretDB catches up
        await wait_for(settings, acknowledged, store, plan.settle_seconds)
        say(f"settling: {store} caught up, or its wait ended")
    connection = await asyncpg.connect(settings.database_url)
    try:
        report.fallback_runs = await connection.fetchval(
            "SELECT count(*) FROM fallback_runs WHERE started_at >= $1 AND status = 'succeeded'",
            started_at,
        )
    finally:
        await connection.close()
    if report.fallback_runs:
        await promote(started_at)
    report.stores = await count_in_stores(settings, acknowledged)
    report.promoted = await promoted_facts(settings, acknowledged)


async def audit_after(
    settings: Settings, started: datetime, ended: datetime, acknowledged: set[str]
) -> AuditAfter:
    """A last reconciler pass over the run's minutes and its canaries, while the pipeline
    still runs; then its findings about them, and those still open. A finding is the run's
    when it names the run's events or canaries, or none (a stall of receipts, a canary not
    sent) and was opened during it: the first minute may hold another's leftovers."""
    postgres = PostgresPool(settings.database_url)
    try:
        first, last = floor_minute(started), floor_minute(ended)
        await reconcile(postgres, settings, windows=minutes(first, last + MINUTE))
        async with postgres.connection() as connection:
            deadline = settings.audit_canary_deadline_seconds
            await follow_canaries(connection, deadline, 60, datetime.now(UTC))
            opened, still_open = await connection.fetchrow(
                "SELECT count(*), count(*) FILTER (WHERE closed_at IS NULL) FROM audit.findings f "
                "WHERE window_start BETWEEN $1 AND $2 AND (sample_ids && $3::text[] OR "
                "sample_ids = '{}' AND opened_at >= $4 OR stage = 'canary' AND EXISTS ("
                "SELECT 1 FROM audit.canaries c WHERE c.event_id::text = ANY(f.sample_ids) "
                "AND c.received_at >= $4))",
                first, last, list(acknowledged), started,
            )  # fmt: skip
    finally:
        await postgres.close()
    return AuditAfter(opened, still_open)


async def wait_for(settings: Settings, event_ids: set[str], store: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while (await count_in_stores(settings, event_ids, (store,)))[store].found < len(event_ids):
        if time.monotonic() > deadline:
            return
        await asyncio.sleep(2)


async def promote(since: datetime) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app.jobs", "promote", "--since", since.isoformat(), cwd=REPO_ROOT
    )
    if await process.wait() != 0:
        raise RuntimeError("promoting the fallback runs' facts failed")


async def promoted_facts(settings: Settings, event_ids: set[str]) -> int:
    connection = await asyncpg.connect(settings.database_url)
    try:
        return await connection.fetchval(
            "SELECT count(*) FROM fact_user_event WHERE event_id = ANY($1::uuid[]) "
            "AND source_flag = 'pandas'",
            [uuid.UUID(event_id) for event_id in event_ids],
        )
    finally:
        await connection.close()


def fault_counts(faults: list[Fault]) -> Counter[tuple[str, str]]:
    return Counter((fault.target, fault.kind) for fault in faults)
