"""How a comment reads: a polarity score in [-1, 1], its label, and its primary emotion.

Pure Python, no I/O: the pandas fallback calls it directly and the Spark stream runs the same
function as a Python UDF, so both engines write identical rows. The mechanics follow VADER's
(Hutto and Gilbert, 2014), with negation and boosters that stop at clause punctuation:
- each lexicon token has a valence (-4..4); a word in capitals among words that are not gets
  `caps_emphasis` more of it;
- up to `negation_window` tokens before it, in the same clause: boosters add their weight
  (decayed by distance; dampeners are negative), and a negator scales the valence by
  `negation_scalar`;
- a contrast word ("but") scales what comes before it by `contrast_before` and what follows by
  `contrast_after`; a concession ("although") scales its own clause by `concession_weight`;
- exclamation marks (up to `max_exclamations`) add emphasis in the sum's direction;
- the sum s is normalised to s / sqrt(s^2 + alpha) and rounded to 4 places.
The primary emotion is the emotion whose words, not negated, weigh most (contrast weights
apply); ties go to the earlier emotion of the lexicon; without any it is 'none'.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from jobs.sentiment_rules import NO_EMOTION, Phrase, SentimentRules


@dataclass(frozen=True)
class Reading:
    score: float
    label: str  # positive, negative or neutral
    primary_emotion: str  # an emotion of the lexicon, or 'none'


def read_comment(text: str, rules: SentimentRules) -> Reading:
    tokens, lowered, phrases = phrase_units(tokenize(text, rules), rules)
    clauses = clause_numbers(lowered, rules)
    weights = contrast_weights(lowered, clauses, rules)
    negators, boosts, modifiers = modifier_marks(lowered, phrases, rules)
    shouting = is_shouting(tokens)
    total, emotion_weights = 0.0, dict.fromkeys(rules.emotions, 0.0)
    for index, word in enumerate(lowered):
        if phrase := phrases.get(index):
            valence, emotions = phrase.valence, (phrase.emotion,) if phrase.emotion else ()
        else:
            valence, emotions = rules.valences.get(word, 0.0), rules.emotion_words.get(word, ())
        if modifiers[index] or not (valence or emotions):
            continue
        negated, boost = False, 0.0
        for distance in range(1, min(rules.negation_window, index) + 1):
            before = index - distance
            if clauses[before] != clauses[index]:
                break
            boost += boosts[before] * rules.booster_decay[distance - 1]
            negated = negated or negators[before]
        if valence:
            if shouting and tokens[index].isupper():
                valence += math.copysign(rules.caps_emphasis, valence)
            valence += boost if valence > 0 else -boost  # boosters push away from 0
            if negated:
                valence *= rules.negation_scalar
            total += valence * weights[index]
        if not negated:
            for emotion in emotions:
                emotion_weights[emotion] += weights[index]
    if total:
        exclamations = min(text.count("!"), rules.max_exclamations)
        total += math.copysign(exclamations * rules.exclamation_emphasis, total)
    score = round(total / math.sqrt(total * total + rules.normalisation_alpha), 4)
    return Reading(score, polarity_label(score, rules), primary_emotion(emotion_weights))


def tokenize(text: str, rules: SentimentRules) -> list[str]:
    for character in rules.ignored_characters:
        text = text.replace(character, "")
    for old, new in rules.replacements.items():
        text = text.replace(old, new)
    return rules.token_pattern.findall(text)


def phrase_units(
    tokens: list[str], rules: SentimentRules
) -> tuple[list[str], list[str], dict[int, Phrase]]:
    """The tokens, lower-cased, with each idiom of the rules joined into one unit (longest
    first), and the idiom at each such unit's index."""
    lowered = [token.lower() for token in tokens]
    if not rules.phrase_lengths.keys() & lowered:
        return tokens, lowered, {}
    units, lowered_units, phrases, index = [], [], {}, 0
    while index < len(tokens):
        for length in rules.phrase_lengths.get(lowered[index], ()):
            if phrase := rules.phrases.get(tuple(lowered[index : index + length])):
                phrases[len(units)] = phrase
                units.append(" ".join(tokens[index : index + length]))
                lowered_units.append(" ".join(lowered[index : index + length]))
                index += length
                break
        else:
            units.append(tokens[index])
            lowered_units.append(lowered[index])
            index += 1
    return units, lowered_units, phrases


def clause_numbers(lowered: list[str], rules: SentimentRules) -> list[int]:
    """Each token's clause: clause punctuation and contrast words start a new one."""
    numbers, clause = [], 0
    for word in lowered:
        starts_clause = word in rules.contrast_words or word in rules.concession_words
        if starts_clause or is_clause_mark(word, rules):
            clause += 1
        numbers.append(clause)
    return numbers


def is_clause_mark(word: str, rules: SentimentRules) -> bool:
    return not word.strip(rules.clause_punctuation)


def contrast_weights(lowered: list[str], clauses: list[int], rules: SentimentRules) -> list[float]:
    weights = [1.0] * len(lowered)
    if clauses[-1:] == [0]:  # one clause: no contrast word
        return weights
    contrasts = [i for i, word in enumerate(lowered) if word in rules.contrast_words]
    if contrasts:  # the last "but" has the final say
        pivot = contrasts[-1]
        weights = [
            rules.contrast_before if i < pivot else rules.contrast_after if i > pivot else 1.0
            for i in range(len(lowered))
        ]
    for i, word in enumerate(lowered):
        if word in rules.concession_words:
            conceded = clauses[i]
            weights = [
                w * rules.concession_weight if clauses[j] == conceded else w
                for j, w in enumerate(weights)
            ]
    return weights


def is_shouting(tokens: list[str]) -> bool:
    """Some words, not all, in capitals: then capitals emphasise."""
    words = [token for token in tokens if any(character.isalpha() for character in token)]
    capitals = sum(word.isupper() for word in words)
    return 0 < capitals < len(words)


def modifier_marks(
    lowered: list[str], phrases: dict[int, Phrase], rules: SentimentRules
) -> tuple[list[bool], list[float], list[bool]]:
    """Per token: is it a negator, what it boosts by, and whether it only modifies others (no
    valence of its own). A two-word booster ("kind of") counts at its second word."""
    negators = [
        index not in phrases and (word in rules.negators or word.endswith(rules.negation_suffix))
        for index, word in enumerate(lowered)
    ]
    boosts, modifiers = [0.0] * len(lowered), list(negators)
    for index, word in enumerate(lowered):
        pair = f"{word} {lowered[index + 1]}" if index + 1 < len(lowered) else ""
        if pair in rules.boosters:
            boosts[index + 1] = rules.boosters[pair]
            modifiers[index] = modifiers[index + 1] = True
        elif word in rules.boosters and not modifiers[index]:
            boosts[index], modifiers[index] = rules.boosters[word], True
    return negators, boosts, modifiers


def polarity_label(score: float, rules: SentimentRules) -> str:
    if score >= rules.positive_at:
        return "positive"
    return "negative" if score <= rules.negative_at else "neutral"


def primary_emotion(weights: dict[str, float]) -> str:
    best = max(weights, key=lambda emotion: weights[emotion], default=NO_EMOTION)
    return best if weights.get(best, 0.0) > 0 else NO_EMOTION
