"""How comments read (jobs/sentiment.py): the labels a reader gives, and each mechanism."""

from __future__ import annotations

import dataclasses

import pytest

from app.serving.answers import PrimaryEmotions
from app.serving.queries import PRIMARY_EMOTIONS
from jobs.rules import load_rules
from jobs.sentiment import read_comment

RULES = load_rules().sentiment


def reading(text: str):
    return read_comment(text, RULES)


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("Not good. Boring.", "negative"),  # the "not" stays in its sentence
        ("Scary and sad, I couldn't enjoy it.", "negative"),
        ("Stunning visuals, superb cast.", "positive"),
        ("I did not like it at all.", "negative"),
        ("Poorly written and badly directed.", "negative"),
    ],
)
def test_the_issues_examples_read_as_a_reader_reads_them(text, label) -> None:
    assert reading(text).label == label


def test_negation_flips_within_its_clause_only() -> None:
    assert reading("not good").score < 0 < reading("good").score
    assert reading("Not bad at all").label == "positive"
    assert reading("not funny, boring").score < reading("not funny").score < 0
    # Three tokens back is inside the window; four is not.
    assert reading("not a very good film").score < 0
    assert reading("not at all a good film").score > 0


def test_contractions_and_curly_apostrophes_negate() -> None:
    assert reading("isn't good").score == reading("isn\u2019t good").score < 0
    assert reading("I didn't hate it").label == "positive"


def test_boosters_raise_and_dampeners_lower_the_strength() -> None:
    plain, very, slightly = (reading(t).score for t in ("good", "very good", "slightly good"))
    assert slightly < plain < very
    assert (
        reading("extremely boring").score
        < reading("boring").score
        < reading("kind of boring").score
        < 0
    )


def test_contrast_gives_the_last_word_more_weight() -> None:
    assert reading("Great cast but a boring script").label == "negative"
    assert reading("The script is boring but the cast is great").label == "positive"
    assert reading("Although the plot was thin, I had a blast").label == "positive"
    # The concession's own clause counts for less: without the rule, the same words read worse.
    text = "Although it was boring, the cast was good"
    unweighted = dataclasses.replace(RULES, concession_words=frozenset())
    assert reading(text).score > read_comment(text, unweighted).score


def test_emoji_and_emoticons_carry_sentiment() -> None:
    assert reading("😍").label == reading(":)").label == reading("❤️").label == "positive"
    assert reading("👎👎").label == reading(":(").label == "negative"
    assert reading("not 😍").label == "negative"
    assert reading("👎👎").score < reading("👎").score


def test_capitals_and_exclamations_emphasise() -> None:
    assert reading("It was GOOD").score > reading("It was good").score
    assert reading("It was good!!").score > reading("It was good").score
    assert reading("IT WAS GOOD").score == reading("it was good").score  # all capitals: no cue


def test_idioms_read_as_one_unit() -> None:
    assert reading("Don't waste your money.").label == "negative"
    assert reading("Can't wait to watch it again!").label == "positive"
    assert reading("I want those two hours back.").label == "negative"
    assert reading("10/10").label == "positive" and reading("2/10").label == "negative"


def test_facts_without_opinion_are_neutral() -> None:
    for text in ("It is 2 hours long.", "Watched it on Sunday with my brother.", ""):
        assert reading(text).label == "neutral" and reading(text).score == 0


def test_scores_stay_within_minus_one_and_one() -> None:
    assert -1 <= reading("awful " * 200).score < 0 < reading("superb " * 200).score <= 1


def test_the_labels_come_from_the_thresholds_in_the_rules() -> None:
    text = "decent"
    score = reading(text).score
    assert reading(text).label == "positive"
    stricter = dataclasses.replace(RULES, positive_at=score + 0.01)
    assert read_comment(text, stricter).label == "neutral"


@pytest.mark.parametrize(
    ("text", "emotion"),
    [
        ("Loved every minute, so much fun", "joy"),
        ("It made me cry, heartbreaking", "sadness"),
        ("Genuinely terrifying, I was scared all night", "fear"),
        ("This ending made me furious", "anger"),
        ("Didn't see that coming!", "surprise"),
        ("What a twist, I was shocked", "surprise"),
        ("The gore was revolting, gross", "disgust"),
        ("Decent film.", "none"),
        ("It wasn't scary at all", "none"),  # a negated emotion word does not count
    ],
)
def test_primary_emotion(text, emotion) -> None:
    assert reading(text).primary_emotion == emotion


def test_fear_words_name_an_emotion_not_a_verdict() -> None:
    """Fear is what a horror film sells: it sets the emotion, other words the polarity."""
    praise = reading("Terrifying, the best horror film in years")
    assert (praise.label, praise.primary_emotion) == ("positive", "fear")


def test_a_few_common_words_of_other_languages() -> None:
    assert reading("Me encantó").label == reading("Muito bom").label == "positive"
    assert reading("Sehr langweilig").label == reading("Très ennuyeux").label == "negative"


def test_every_emotion_of_the_lexicon_is_counted_and_served() -> None:
    """The rollups (migration 0011) and the API count the lexicon's emotions, no other."""
    assert RULES.emotions == PRIMARY_EMOTIONS == tuple(PrimaryEmotions.model_fields)
