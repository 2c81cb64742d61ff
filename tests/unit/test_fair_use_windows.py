"""The fixed windows behind the fair-use limits: per client, starting at its first hit."""

from __future__ import annotations

from limits import parse

from app.api.fair_use import Window


def test_a_client_gets_its_amount_per_window_and_another_is_counted_apart():
    window = Window(parse("3/minute"))
    assert [window.hit("a", 100.0 + n) for n in range(4)] == [True, True, True, False]
    assert window.hit("b", 103.5)
    assert window.seconds_left("a", 110.0) == 50.0


def test_a_window_starts_at_the_clients_first_hit_and_ends_its_length_later():
    window = Window(parse("2/second"))
    assert window.hit("a", 10.9) and window.hit("a", 11.2)
    assert not window.hit("a", 11.8)  # no boundary at 11.0 to reset it
    assert window.hit("a", 11.95)  # the first window ended at 11.9


def test_clients_of_ended_windows_are_swept():
    window = Window(parse("5/second"))
    for n in range(1000):
        window.hit(f"client-{n}", 0.5)
    window.hit("late", 2.0)  # a window length later: a sweep
    assert window.hit("client-1", 2.0)
    assert len(window._hits) == 2
