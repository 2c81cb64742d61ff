"""`python -m app.jobs dead-letters list [--reason R] | show OFFSET [--partition P] |
redrive [--reason R] [--dry-run]`: what the dead-letter topic holds, one record in full, and
sending records back to their topic once a fix is in."""

from __future__ import annotations

import argparse
import getpass

from app.bootstrap import Resources
from app.ops.dead_letters import dead_letter_at, dead_letters, redrive, summary

REASON_HELP = "only dead letters whose reason contains this text"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="counts by reason, origin topic and group")
    listing.add_argument("--reason", help=REASON_HELP)
    show = actions.add_parser("show", help="one dead letter: its headers and the record")
    show.add_argument("offset", type=int)
    show.add_argument("--partition", type=int, default=0)
    again = actions.add_parser("redrive", help="send dead letters back to their topic, once")
    again.add_argument("--reason", help=REASON_HELP)
    again.add_argument("--dry-run", action="store_true", help="say what would be sent")


async def run(args: argparse.Namespace, resources: Resources) -> int:
    if args.action == "list":
        letters = await dead_letters(resources, args.reason)
        print(f"{len(letters)} dead letters")
        for (kind, topic, group), count in summary(letters).most_common():
            print(f"  {count:>8}  {kind}  (from {topic}, refused by {group})")
        if letters:
            print("most recent (partition:offset, group, origin):")
        for letter in letters[-10:]:
            print(f"  {letter.partition}:{letter.offset}  {letter.group}  {letter.origin}")
        return 0
    if args.action == "show":
        letter = await dead_letter_at(resources, args.partition, args.offset)
        if letter is None:
            print(f"no dead letter at partition {args.partition} offset {args.offset}")
            return 1
        print(f"dead letter {letter.partition}:{letter.offset}")
        print(f"  refused by: {letter.group}\n  origin:     {letter.origin}")
        print(f"  reason:     {letter.reason}")
        print(f"  key:        {letter.key.decode(errors='replace')}")
        print(f"  record:     {letter.value.decode(errors='replace')[:4000]}")
        return 0
    outcome = await redrive(resources, args.reason, getpass.getuser(), args.dry_run)
    verb = "would send" if args.dry_run else "sent"
    print(
        f"redrive: {outcome.chosen} dead letters not redriven before; {verb} "
        f"{outcome.records} records back to their topics"
    )
    return 0
