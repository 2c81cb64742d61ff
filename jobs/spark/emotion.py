"""The emotion rule as Spark columns, with Python `re` token semantics on Java's regex engine.

Java's UNICODE_CHARACTER_CLASS (`(?U)`) is close to Python's Unicode classes but not equal:
its \\w also takes combining marks (Mn, Mc, Me), connector punctuation, ZWJ/ZWNJ and circled
letters, and leaves out No numbers (², ½); its \\s leaves out U+001C..U+001F. A decomposed
"é" (e + U+0301) is one token in Java and two in Python, which shifts the negation window.
So \\w, \\s and \\d (and their negations) are spelled out as the sets Python uses; checked
over every code point, they differ only where Java 17 (Unicode 13) lacks newer characters.
"""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

from jobs.rules import Rules

# Members of Python's Unicode classes, for use inside a Java character class.
PYTHON_WORD = r"\p{L}\p{N}_"  # str.isalnum() or "_"
PYTHON_WHITESPACE = r"\t\n\x0B\f\r\x1C-\x1F\x85\p{Z}"  # str.isspace()
PYTHON_DIGIT = r"\p{Nd}"  # str.isdecimal()
PYTHON_CLASSES = {"w": PYTHON_WORD, "s": PYTHON_WHITESPACE, "d": PYTHON_DIGIT}


def java_token_pattern(pattern: str) -> str:
    """The token pattern for java.util.regex, with Python's meaning of \\w, \\s and \\d, and of
    `[`, `&&` and a leading `]` inside a set (literal in Python, syntax in Java)."""
    pieces, class_start, index = ["(?U)"], None, 0
    while index < len(pattern):
        character, in_class, consumed = pattern[index], class_start is not None, 1
        if character == "\\":
            consumed = 2
            escape = pattern[index + 1 : index + 2]
            piece = class_escape(escape, in_class) or pattern[index : index + 2]
        elif not in_class and character == "[":
            piece = "[^" if pattern.startswith("[^", index) else "["
            consumed = len(piece)
            class_start = index + consumed  # a `]` right here is a literal, as in Python
        elif in_class and character == "]" and index > class_start:
            piece, class_start = character, None
        elif in_class and character in "[]&":
            piece = "\\" + character
        else:
            piece = character
        pieces.append(piece)
        index += consumed
    return "".join(pieces)


def class_escape(escape: str, in_class: bool) -> str | None:
    members = PYTHON_CLASSES.get(escape.lower()) if escape.isalpha() else None
    if members is None:
        return None
    if escape.isupper():
        return f"[^{members}]"  # nested inside a class, Java unions it
    return members if in_class else f"[{members}]"


def emotion_tokens(text: Column, rules: Rules) -> Column:
    cleaned = F.lower(text)  # lower-case first, then drop ignored characters, as rules.py says
    for character in rules.ignored_characters:
        cleaned = F.replace(cleaned, F.lit(character), F.lit(""))
    pattern = F.lit(java_token_pattern(rules.token_pattern))
    return F.regexp_extract_all(cleaned, pattern, F.lit(0))


def emotion_score(tokens: Column, rules: Rules) -> Column:
    """Lexicon score of the tokens; null without text. Pass a column, not the expression:
    the window lookups refer to it once per token."""
    positive, negative = word_array(rules.positive_words), word_array(rules.negative_words)
    negators, window = word_array(rules.negators), rules.negation_window

    def token_score(token: Column, index: Column) -> Column:
        polarity = (
            F.when(F.array_contains(positive, token), 1)
            .when(F.array_contains(negative, token), -1)
            .otherwise(0)
        )
        # The window tokens before this one: slice is 1-based and takes a length.
        preceding = F.slice(
            tokens, F.greatest(index - window + 1, F.lit(1)), F.least(index, F.lit(window))
        )
        negated = F.exists(preceding, lambda word: F.array_contains(negators, word))
        return F.when(negated, -polarity).otherwise(polarity)

    scores = F.transform(tokens, token_score)
    return F.aggregate(scores, F.lit(0), lambda total, score: total + score).cast("int")


def word_array(words: frozenset[str]) -> Column:
    return F.array(*[F.lit(word) for word in sorted(words)]).cast("array<string>")


def emotion_label(score: Column) -> Column:
    return F.when(score > 0, "positive").when(score < 0, "negative").when(score == 0, "neutral")
