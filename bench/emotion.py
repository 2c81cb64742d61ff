"""How well comments are read: our rules against VADER on labelled comments, in one run.

`python -m bench.emotion` prints, for each labelled set (bench/emotion_*.jsonl): polarity
accuracy overall and per label, a confusion table for our rules and for VADER (its compound
score with its own +-0.05 thresholds), accuracy per kind of comment, and our primary emotion
against the labels. Needs no stack; vaderSentiment is a dev dependency for this comparison.
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from jobs.rules import load_rules
from jobs.sentiment import read_comment

SETS = {
    "development": Path(__file__).with_name("emotion_comments.jsonl"),
    "held-out": Path(__file__).with_name("emotion_holdout.jsonl"),
}
POLARITIES = ("positive", "negative", "neutral")


@dataclass(frozen=True)
class Comment:
    text: str
    polarity: str
    emotion: str
    kind: str


def load_comments(path: Path) -> list[Comment]:
    return [Comment(**orjson.loads(line)) for line in path.read_bytes().splitlines() if line]


def vader_reader() -> Callable[[str], str]:
    analyzer = SentimentIntensityAnalyzer()

    def polarity(text: str) -> str:
        compound = analyzer.polarity_scores(text)["compound"]
        return "positive" if compound >= 0.05 else "negative" if compound <= -0.05 else "neutral"

    return polarity


def accuracy(pairs: Sequence[tuple[str, str]]) -> float:
    return sum(truth == guess for truth, guess in pairs) / len(pairs) if pairs else float("nan")


def polarity_table(comments: list[Comment], readers: dict[str, Callable[[str], str]]) -> str:
    guesses = {name: [read(c.text) for c in comments] for name, read in readers.items()}
    by_label = {label: [label in ("all", c.polarity) for c in comments]
                for label in (*POLARITIES, "all")}  # fmt: skip
    by_kind = {
        kind: [c.kind == kind for c in comments] for kind in sorted({c.kind for c in comments})
    }
    lines = accuracy_rows("polarity", by_label, comments, guesses)
    for name in readers:
        lines.append("")
        lines.append(
            confusion(f"{name}: labelled (rows) read as (columns)", comments, guesses[name])
        )
    lines += ["", *accuracy_rows("kind", by_kind, comments, guesses)]
    return "\n".join(lines)


def accuracy_rows(
    heading: str,
    groups: dict[str, list[bool]],
    comments: list[Comment],
    guesses: dict[str, list[str]],
) -> list[str]:
    """A table of each reader's accuracy per group (a mask over the comments)."""
    lines = [f"| {heading} | comments | " + " | ".join(guesses) + " |"]
    lines.append("| --- | ---: |" + " ---: |" * len(guesses))
    for group, mask in groups.items():
        chosen = [i for i, chosen in enumerate(mask) if chosen]
        cells = [
            f"{accuracy([(comments[i].polarity, read[i]) for i in chosen]):.3f}"
            for read in guesses.values()
        ]
        lines.append(f"| {group} | {len(chosen)} | " + " | ".join(cells) + " |")
    return lines


def confusion(title: str, comments: list[Comment], guesses: list[str]) -> str:
    counts = Counter((c.polarity, guess) for c, guess in zip(comments, guesses, strict=True))
    lines = [f"{title}", "", "| | " + " | ".join(POLARITIES) + " |", "| --- |" + " ---: |" * 3]
    for truth in POLARITIES:
        lines.append(f"| {truth} | " + " | ".join(str(counts[truth, g]) for g in POLARITIES) + " |")
    return "\n".join(lines)


def emotion_table(comments: list[Comment], emotions: Sequence[str], read: Callable[[str], str]):
    guesses = [read(c.text) for c in comments]
    labels = (*emotions, "none")
    lines = ["| emotion | comments | recall | precision |", "| --- | ---: | ---: | ---: |"]
    for label in labels:
        truth = [i for i, c in enumerate(comments) if c.emotion == label]
        read_as = [i for i, g in enumerate(guesses) if g == label]
        hits = len(set(truth) & set(read_as))
        recall = f"{hits / len(truth):.3f}" if truth else "-"
        precision = f"{hits / len(read_as):.3f}" if read_as else "-"
        lines.append(f"| {label} | {len(truth)} | {recall} | {precision} |")
    pairs = [(c.emotion, g) for c, g in zip(comments, guesses, strict=True)]
    lines.append(f"| all | {len(comments)} | accuracy {accuracy(pairs):.3f} | |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", choices=sorted(SETS), action="append", help="default: all")
    arguments = parser.parse_args()
    sentiment = load_rules().sentiment
    readers = {
        "ours": lambda text: read_comment(text, sentiment).label,
        "VADER": vader_reader(),
    }
    for name in arguments.set or SETS:
        comments = load_comments(SETS[name])
        print(f"## {name} set ({SETS[name].name}, {len(comments)} comments)\n")
        print(polarity_table(comments, readers))
        print("\nprimary emotion, ours:\n")
        print(
            emotion_table(
                comments, sentiment.emotions, lambda t: read_comment(t, sentiment).primary_emotion
            )
        )
        print()


if __name__ == "__main__":
    main()
