"""Realistic client events for demos, load tests and benchmarks: pure generation, no I/O.

Users come back in sessions; in one they browse, maybe watch a movie and maybe comment on it.
Movie popularity follows a Zipf law, as real catalogues do: a few titles get most traffic.
Every draw comes from the given random.Random, so a seed replays the same traffic; event ids
are left to the server, so replaying a seed never collides with events already stored.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple


class Tone(NamedTuple):
    weight: int
    ratings: tuple[float, float]
    phrases: tuple[str, ...]
    emoji: str  # single code points, so any one character is a whole emoji


# fmt: off
# Well-known TMDB ids, most popular first: Zipf ranks follow this order.
DEFAULT_MOVIE_IDS: tuple[int, ...] = (
    550, 278, 238, 680, 155, 13, 603, 27205, 157336, 122, 120, 121, 424, 240, 11, 1891, 129,
    497, 769, 807, 274, 496243, 299536, 299534, 24428, 597, 19995, 329, 105, 85, 578, 62, 694,
    348, 679, 78, 218, 280, 862, 12, 14160, 10681, 8587, 98, 1124, 77, 49026, 272, 637, 389,
)
# Clicks that take the visitor to a movie's page.
BROWSE_ELEMENTS = ("poster", "search-result", "similar-movie", "trending-row", "genre-row")
LOCALES = ("en-US", "en-GB", "ko-KR", "fr-FR", "de-DE", "ja-JP", "es-ES", "pt-BR")
DEVICES = ("desktop", "mobile", "tablet", "tv")

# Comment tones: how often, the ratings that go with them, phrases and emoji. Negations and
# mixed feelings are here on purpose: they are what naive sentiment scoring gets wrong.
COMMENT_TONES: dict[str, Tone] = {
    "positive": Tone(35, (7.5, 10.0), ("Loved every minute of it.", "🔥🔥🔥",
                                       "A masterpiece, the ending gave me chills."), "😍👏🍿"),
    "negative": Tone(20, (0.0, 4.0), ("Boring and far too long.", "👎 waste of a night",
                                      "Terrible script, wooden acting."), "😴🙄"),
    "negated_positive": Tone(15, (6.0, 8.5), ("Not bad at all.", "Honestly not disappointing.",
                                              "I didn't expect to like it, but I did."), "🙂👍"),
    "negated_negative": Tone(10, (1.5, 4.5), ("Not good.", "Not worth the hype.",
                                              "Not funny, not scary, not anything."), "😕"),
    "mixed": Tone(20, (4.5, 7.0), ("Great visuals, dull plot.", "Fun, then it falls apart.",
                                   "Good acting, weak ending."), "🤔😐"),
}
# fmt: on


@dataclass(frozen=True)
class TrafficModel:
    users: int = 200
    movie_ids: tuple[int, ...] = DEFAULT_MOVIE_IDS
    zipf_exponent: float = 1.1  # catalogue popularity is roughly Zipf with s near 1
    open_sessions: int = 25  # visits interleaved at once, as on a live site
    user_prefix: str = "sim-user"


@dataclass(frozen=True)
class SimulatedUser:
    user_id: str
    locale: str
    device: str


def runtime_seconds(movie_id: int) -> float:
    """A stable runtime of 85 to 179 minutes per movie, so every watch agrees on it."""
    return 60.0 * (85 + movie_id * 37 % 95)


def generate_events(
    rng: random.Random, clock: Callable[[], datetime], model: TrafficModel | None = None
) -> Iterator[dict[str, Any]]:
    """Client events without end, as `POST /events` takes them, from interleaved sessions."""
    model = model or TrafficModel()
    users = [
        SimulatedUser(f"{model.user_prefix}-{n:05d}", rng.choice(LOCALES), rng.choice(DEVICES))
        for n in range(model.users)
    ]
    ranks = range(1, len(model.movie_ids) + 1)
    popularity = list(itertools.accumulate(rank**-model.zipf_exponent for rank in ranks))

    def pick_movie() -> int:
        return rng.choices(model.movie_ids, cum_weights=popularity)[0]

    def new_visit() -> Iterator[dict[str, Any]]:
        session = _Session(rng, rng.choice(users))
        _plan_visit(rng, session, pick_movie)
        return iter(session.stamped(clock()))

    visits = [new_visit() for _ in range(model.open_sessions)]
    while True:
        slot = rng.randrange(len(visits))
        event = next(visits[slot], None)
        if event is None:
            visits[slot] = new_visit()
        else:
            yield event


class _Session:
    """One visit planned up front, so its timestamps can end at `now` and never lie ahead."""

    def __init__(self, rng: random.Random, user: SimulatedUser) -> None:
        self.user = user
        self.session_id = f"sess-{rng.getrandbits(64):016x}"
        self.elapsed = 0.0
        self.page, self.referrer = "/", "https://www.google.com/"
        self.planned: list[tuple[float, dict[str, Any]]] = []

    def go(self, page: str) -> None:
        self.page, self.referrer = page, self.page

    def add(
        self, gap_seconds: float, event_type: str, movie_id: int, payload: dict[str, Any]
    ) -> None:
        self.elapsed += gap_seconds
        context = {"page": self.page, "referrer": self.referrer}
        context |= {"locale": self.user.locale, "device": self.user.device}
        event = {"event_type": event_type, "user_id": self.user.user_id}
        event |= {"session_id": self.session_id, "movie_id": movie_id}
        self.planned.append((self.elapsed, {**event, "context": context, "payload": payload}))

    def stamped(self, now: datetime) -> list[dict[str, Any]]:
        start = now - timedelta(seconds=self.elapsed)
        return [
            {**event, "occurred_at": (start + timedelta(seconds=at)).isoformat()}
            for at, event in self.planned
        ]


def _plan_visit(rng: random.Random, session: _Session, pick_movie: Callable[[], int]) -> None:
    for _ in range(rng.randint(1, 4)):  # browse; the last movie opened is the one chosen
        movie_id = pick_movie()
        _click(rng, session, rng.choice(BROWSE_ELEMENTS), movie_id, f"/movie/{movie_id}")
    if rng.random() < 0.3:  # a look before deciding, without leaving the page
        _click(rng, session, rng.choice(("trailer", "add-to-watchlist")), movie_id, None)
    watched = rng.random() < 0.7
    if watched:
        _click(rng, session, "play-button", movie_id, f"/movie/{movie_id}/watch")
        _watch(rng, session, movie_id)
        session.go(f"/movie/{movie_id}")
    if rng.random() < (0.35 if watched else 0.1):
        _comment(rng, session, movie_id)


def _click(
    rng: random.Random, session: _Session, element: str, movie_id: int, target: str | None
) -> None:
    payload = {"element": element, "page": session.page}
    if target is not None:
        payload["target"] = target
    session.add(rng.uniform(2, 45), "click", movie_id, payload)
    if target is not None:
        session.go(target)


def _watch(rng: random.Random, session: _Session, movie_id: int) -> None:
    duration = runtime_seconds(movie_id)
    resumed = rng.random() < 0.4  # coming back to a movie started earlier
    position = round(rng.uniform(0, duration * 0.97), 1) if resumed else 0.0

    def report(gap: float, action: str) -> None:
        payload = {"action": action, "position_seconds": position, "duration_seconds": duration}
        session.add(gap, "watch", movie_id, payload)

    report(rng.uniform(1, 5), "start")
    for _ in range(rng.randint(1, 10)):  # heartbeats while playing: watch time = elapsed time
        step = round(rng.uniform(60, 600), 1)
        if position + step >= duration:
            gap, position = duration - position, duration
            report(gap, "complete")
            return
        position = round(position + step, 1)
        report(step, "progress")
    pause_after = round(min(rng.uniform(5, 120), duration - position), 1)
    position = round(position + pause_after, 1)
    report(pause_after, "pause")


def _comment(rng: random.Random, session: _Session, movie_id: int) -> None:
    tones = list(COMMENT_TONES.values())
    tone = rng.choices(tones, weights=[tone.weight for tone in tones])[0]
    text = rng.choice(tone.phrases)
    if rng.random() < 0.3:
        text = f"{text} {rng.choice(tone.emoji)}"
    payload: dict[str, Any] = {"text": text}
    if rng.random() < 0.6:  # a rating is optional; in half-point steps like the UI's stars
        low, high = tone.ratings
        payload["rating"] = rng.randint(int(low * 2), int(high * 2)) / 2
    session.add(rng.uniform(10, 180), "comment", movie_id, payload)
