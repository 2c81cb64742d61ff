"""What the Segment routes share, built once by the composition root."""

from __future__ import annotations

from dataclasses import dataclass

from app.segment.mapping_rules import SegmentRules
from app.segment.write_keys import WriteKeys


@dataclass(frozen=True)
class SegmentDoor:
    write_keys: WriteKeys  # which sources may send
    rules: SegmentRules  # which messages become which events
