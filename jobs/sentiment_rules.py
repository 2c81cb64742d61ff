"""The `emotions` section of transform_rules.json and the two lexicon files it names, checked.

The section holds the reading's mechanics (negation, boosters, contrast, emphasis, thresholds);
the sentiment lexicon (token, valence from -4 to 4) and the emotion lexicon (emotion -> tokens)
sit beside the rules file, and their bytes are part of the rules' digest.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

NO_EMOTION = "none"


class SentimentRulesError(ValueError):
    """The emotions section or a lexicon it names is wrong; the message says where."""


@dataclass(frozen=True)
class Phrase:
    valence: float
    emotion: str | None


@dataclass(frozen=True)
class SentimentRules:
    ignored_characters: tuple[str, ...]
    replacements: dict[str, str]
    token_pattern: re.Pattern[str]
    clause_punctuation: str  # a token made only of these ends a clause (and a negation's reach)
    negators: frozenset[str]
    negation_suffix: str  # "n't": any token ending so negates too
    negation_window: int
    negation_scalar: float
    boosters: dict[str, float]  # one or two words -> valence added (< 0 for dampeners)
    booster_decay: tuple[float, ...]  # booster weight by distance 1, 2, 3 ... tokens before
    caps_emphasis: float
    contrast_words: frozenset[str]
    contrast_before: float
    contrast_after: float
    concession_words: frozenset[str]
    concession_weight: float
    exclamation_emphasis: float
    max_exclamations: int
    normalisation_alpha: float
    positive_at: float
    negative_at: float
    valences: dict[str, float]
    phrases: dict[tuple[str, ...], Phrase]  # idioms read as one token
    phrase_lengths: dict[str, tuple[int, ...]]  # first word -> its idioms' lengths, longest first
    emotions: tuple[str, ...]  # in the order that breaks ties
    emotion_words: dict[str, tuple[str, ...]]  # token -> its emotions


def parse_sentiment(section: dict[str, Any], folder: Path) -> tuple[SentimentRules, bytes]:
    """The rules and the bytes of the lexicon files, for the digest."""
    lexicon_path = folder / _string(section, "lexicon_file")
    emotion_path = folder / _string(section, "emotion_lexicon_file")
    lexicon_bytes, emotion_bytes = _read(lexicon_path), _read(emotion_path)
    emotions, emotion_words = _emotion_lexicon(emotion_bytes, emotion_path)
    boosters = _numbers(section, "boosters")
    rules = SentimentRules(
        ignored_characters=tuple(_strings(section, "ignored_characters")),
        replacements={str(k): str(v) for k, v in _object(section, "replacements").items()},
        token_pattern=_pattern(section),
        clause_punctuation=_string(section, "clause_punctuation"),
        negators=frozenset(_strings(section, "negators")),
        negation_suffix=_string(section, "negation_suffix"),
        negation_window=int(_number(section, "negation_window")),
        negation_scalar=_number(section, "negation_scalar"),
        boosters=boosters,
        booster_decay=tuple(float(x) for x in _list(section, "booster_decay")),
        caps_emphasis=_number(section, "caps_emphasis"),
        contrast_words=frozenset(_strings(section, "contrast_words")),
        contrast_before=_number(section, "contrast_before"),
        contrast_after=_number(section, "contrast_after"),
        concession_words=frozenset(_strings(section, "concession_words")),
        concession_weight=_number(section, "concession_weight"),
        exclamation_emphasis=_number(section, "exclamation_emphasis"),
        max_exclamations=int(_number(section, "max_exclamations")),
        normalisation_alpha=_number(section, "normalisation_alpha"),
        positive_at=_number(section, "positive_at"),
        negative_at=_number(section, "negative_at"),
        valences=_valences(lexicon_bytes, lexicon_path),
        phrases=(phrases := _phrases(section, emotions)),
        phrase_lengths=_phrase_lengths(phrases),
        emotions=emotions,
        emotion_words=emotion_words,
    )
    if not rules.negative_at < 0 < rules.positive_at:
        raise SentimentRulesError("emotions: negative_at < 0 < positive_at must hold")
    if len(rules.booster_decay) < rules.negation_window:
        raise SentimentRulesError("emotions.booster_decay needs a weight per negation_window token")
    if bad := [phrase for phrase in boosters if len(phrase.split()) > 2]:
        raise SentimentRulesError(f"emotions.boosters: one or two words each, not {bad}")
    return rules, lexicon_bytes + emotion_bytes


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise SentimentRulesError(f"cannot read {path.name}: {error}") from None


def _valences(raw: bytes, path: Path) -> dict[str, float]:
    valences: dict[str, float] = {}
    for number, line in enumerate(raw.decode("utf-8").splitlines(), start=1):
        if not line or line.startswith("#"):
            continue
        token, value, *_source = line.split("\t")
        try:
            valences[token] = float(value)
        except ValueError:
            raise SentimentRulesError(f"{path.name}:{number}: valence {value!r}") from None
        if token != token.lower() or not -4 <= valences[token] <= 4:
            raise SentimentRulesError(f"{path.name}:{number}: lower-case token, valence -4..4")
    return valences


def _emotion_lexicon(raw: bytes, path: Path) -> tuple[tuple[str, ...], dict[str, tuple[str, ...]]]:
    try:
        lists = json.loads(raw)["emotions"]
        emotions = tuple(lists)
        pairs = [(str(token), emotion) for emotion in emotions for token in lists[emotion]]
    except (ValueError, KeyError, TypeError):
        raise SentimentRulesError(f"{path.name}: needs emotions: {{name: [tokens]}}") from None
    if NO_EMOTION in emotions:
        raise SentimentRulesError(f"{path.name}: '{NO_EMOTION}' is the absence of an emotion")
    words: dict[str, tuple[str, ...]] = {}
    for token, emotion in pairs:
        words[token] = (*words.get(token, ()), emotion)
    return emotions, words


def _phrases(section: dict[str, Any], emotions: tuple[str, ...]) -> dict[tuple[str, ...], Phrase]:
    phrases = {}
    for text, meaning in _object(section, "phrases").items():
        valence, emotion = meaning.get("valence", 0), meaning.get("emotion")
        if isinstance(valence, bool) or not isinstance(valence, int | float):
            raise SentimentRulesError(f"emotions.phrases[{text!r}].valence must be a number")
        if emotion is not None and emotion not in emotions:
            raise SentimentRulesError(f"emotions.phrases[{text!r}]: unknown emotion {emotion!r}")
        words = tuple(text.lower().split())
        if len(words) < 2:
            raise SentimentRulesError(f"emotions.phrases[{text!r}]: two words or more")
        phrases[words] = Phrase(float(valence), emotion)
    return phrases


def _phrase_lengths(phrases: dict[tuple[str, ...], Phrase]) -> dict[str, tuple[int, ...]]:
    lengths: dict[str, set[int]] = {}
    for words in phrases:
        lengths.setdefault(words[0], set()).add(len(words))
    return {first: tuple(sorted(found, reverse=True)) for first, found in lengths.items()}


def _object(section: dict[str, Any], key: str) -> dict[str, Any]:
    value = section.get(key)
    if not isinstance(value, dict):
        raise SentimentRulesError(f"emotions.{key} must be an object")
    return value


def _list(section: dict[str, Any], key: str) -> list[Any]:
    value = section.get(key)
    if not isinstance(value, list):
        raise SentimentRulesError(f"emotions.{key} must be a list")
    return value


def _strings(section: dict[str, Any], key: str) -> list[str]:
    value = _list(section, key)
    if not all(isinstance(item, str) for item in value):
        raise SentimentRulesError(f"emotions.{key} must be a list of strings")
    return value


def _string(section: dict[str, Any], key: str) -> str:
    value = section.get(key)
    if not isinstance(value, str) or not value:
        raise SentimentRulesError(f"emotions.{key} must be a non-empty string")
    return value


def _number(section: dict[str, Any], key: str) -> float:
    value = section.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SentimentRulesError(f"emotions.{key} must be a number")
    return float(value)


def _numbers(section: dict[str, Any], key: str) -> dict[str, float]:
    value = _object(section, key)
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value.values()):
        raise SentimentRulesError(f"emotions.{key} must map words to numbers")
    return {str(k): float(v) for k, v in value.items()}


def _pattern(section: dict[str, Any]) -> re.Pattern[str]:
    try:
        return re.compile(_string(section, "token_pattern"))
    except re.error as error:
        raise SentimentRulesError(f"emotions.token_pattern does not compile: {error}") from None
