"""What the stages of one window should hold, from their counts alone: pure, no I/O.

The stages, each counted per minute of receive time:
- `acknowledged`: what ingest answered 202 for (its receipts);
- `backed_up` and `staged`: what the two consumer groups wrote, and `dead_letter:<group>`,
  what each refused (an event a group dead-lettered is accounted for, not missing);
- `modelled`: the facts (Spark's, and the fallback's once promoted; the rules' refusals are
  facts too, flagged), and `fallback`: the fallback's facts, some awaiting promotion.

Kafka = backup = staging + dead letters, and staged = modelled (or awaiting) + refused; the
Segment messages kept raw (type `segment`) go to the backup alone, so Kafka = backup for them.
Where a count falls short (or the facts outnumber the staged events), the reconciler names the
event ids with an anti-join bounded to the window; where the counts agree it reads no row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

Kind = Literal["missing", "extra", "duplicate", "stalled"]
BACKUP_GROUP, STAGING_GROUP = "mongo-backup", "postgres-staging"


@dataclass(frozen=True)
class Suspect:
    """A stage whose count says events may be missing (or extra) in a window."""

    stage: str
    kind: Literal["missing", "extra"]  # the anti-join tells the exact events


@dataclass(frozen=True)
class Finding:
    stage: str
    window_start: datetime
    kind: Kind
    events: int
    sample_ids: tuple[str, ...]
    detail: str


def dead_letters(counts: Mapping[str, int], group: str) -> int:
    return counts.get(f"dead_letter:{group}", 0)


def suspects(counts: Mapping[str, int], backup_only: bool = False) -> list[Suspect]:
    """The stages to look into, by the counts of one window of one event type; `backup_only`:
    a type only the backup keeps (Segment messages kept raw)."""
    acknowledged = counts.get("acknowledged", 0)
    backed_up = counts.get("backed_up", 0) + dead_letters(counts, BACKUP_GROUP)
    if backup_only:
        return [Suspect("backed_up", "missing")] if backed_up != acknowledged else []
    staged_rows = counts.get("staged", 0)
    staged = staged_rows + dead_letters(counts, STAGING_GROUP)
    modelled = counts.get("modelled", 0)
    # Any difference, either way, is looked into: events stored without a receipt (or facts
    # without a staged event) must not hide as many that are lost.
    found = []
    if backed_up != acknowledged:
        found.append(Suspect("backed_up", "missing"))
    if staged != acknowledged:
        found.append(Suspect("staged", "missing"))
    if modelled != staged_rows:
        # Some may await promotion in the fallback: only the anti-join can tell.
        found.append(Suspect("modelled", "missing"))
        found.append(Suspect("modelled", "extra"))
    return found


def unacknowledged(counts: Mapping[str, int]) -> int:
    """Events stored without a receipt: a client that got no 202 (a timeout, a killed API
    process) may have sent them, which at-least-once allows; or the receipts are not read yet,
    which the acknowledged stage's own progress tells apart (a stall)."""
    stored = max(counts.get("backed_up", 0), counts.get("staged", 0))
    return max(0, stored - counts.get("acknowledged", 0))


def kind_of(stage_reached: datetime | None, newest_lacking: datetime) -> Kind:
    """Events a stage lacks are `stalled` while it has written nothing received as late as them
    (it has not got there yet), `missing` once it has (it moved past them)."""
    if stage_reached is None or stage_reached < newest_lacking:
        return "stalled"
    return "missing"


def completeness(acknowledged: int, accounted: int) -> float:
    return 1.0 if acknowledged == 0 else accounted / acknowledged
