"""The chaos run's report as markdown tables: faults by kind, what the service answered, and
what each store holds of the acknowledged events."""

from __future__ import annotations

from app.simulation.answer_log import TRANSPORT_ERROR
from bench.chaos.run import TARGETS, ChaosReport, fault_counts


def markdown(header: tuple[str, ...], rows: list[tuple[object, ...]]) -> str:
    lines = [f"| {' | '.join(header)} |", f"|{'|'.join('---:' for _ in header)}|"]
    lines += [f"| {' | '.join(str(cell) for cell in row)} |" for row in rows]
    return "\n".join(lines)


def report_tables(report: ChaosReport) -> str:
    counts = fault_counts(report.faults)
    faults = markdown(
        ("target", "SIGKILL", "SIGSTOP/SIGCONT"),
        [(t, counts[(t, "kill")], counts[(t, "pause")]) for t in TARGETS]
        + [("all", sum(c for (_, k), c in counts.items() if k == "kill"),
            sum(c for (_, k), c in counts.items() if k == "pause"))],
    )  # fmt: skip
    by_answer = report.answers.by_answer
    counted = (202, 503, TRANSPORT_ERROR)
    refused = sum(len(ids) for answer, ids in by_answer.items() if answer not in counted)
    answers = markdown(
        ("sent", "acknowledged (202)", "answered 503", "no answer", "other answers",
         "acknowledged without a 202"),
        [(report.answers.sent, len(report.answers.acknowledged), len(by_answer.get(503, ())),
          len(by_answer.get(TRANSPORT_ERROR, ())), refused, report.acknowledged_without_202)],
    )  # fmt: skip
    stores = markdown(
        ("store", "acknowledged found", "duplicates", "lost"),
        [(s, report.stores[s].found, report.duplicates(s), report.lost(s))
         for s in ("raw.user_logs", "stg_user_logs", "fact_user_event") if s in report.stores],
    )  # fmt: skip
    letters = report.dead_letters
    dead = markdown(
        ("poison sent", "dead letters", "not poison", "poison not dead-lettered"),
        [(report.poison_sent, letters.records, letters.not_poison, letters.poison_missed)]
        if letters else [],
    )  # fmt: skip
    audit = markdown(
        ("findings about the run's minutes", "still open after settling"),
        [(report.audit.opened, report.audit.still_open)] if report.audit else [],
    )
    return "\n\n".join(
        (
            f"Faults ({len(report.faults)}):\n\n{faults}",
            f"Events:\n\n{answers}",
            f"Stores, after settling {report.settle_seconds:.0f} s ({report.fallback_runs} "
            f"fallback runs; {report.promoted} facts promoted from them):\n\n{stores}",
            f"Dead-letter topic:\n\n{dead}",
            f"The audit (python -m app.jobs audit names them):\n\n{audit}",
        )
    )
