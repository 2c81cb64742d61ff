"""The rules loader: the shipped file loads; a bad one fails with a message naming the problem."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from jobs.rules import DEFAULT_RULES_PATH, RulesError, load_rules


def rules_file(tmp_path: Path, change) -> Path:
    """A changed copy of the shipped rules, beside copies of their lexicons."""
    document = json.loads(DEFAULT_RULES_PATH.read_text(encoding="utf-8"))
    for name in (
        document["emotions"]["lexicon_file"],
        document["emotions"]["emotion_lexicon_file"],
    ):
        shutil.copy(DEFAULT_RULES_PATH.with_name(name), tmp_path / name)
    change(document)
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def test_the_shipped_rules_load_and_carry_a_version_with_their_digest():
    rules = load_rules()
    version, digest = rules.version.split(":")
    assert version == "2" and len(digest) == 12
    assert rules.aliases["view"] == "watch"
    assert rules.fields["position_seconds"] == ("payload", "position_seconds")
    assert rules.rating_buckets[-1].max == 10


def test_a_change_to_the_file_changes_the_version(tmp_path):
    path = rules_file(tmp_path, lambda d: d["emotions"]["negators"].append("nae"))
    assert load_rules(path).version != load_rules().version


def test_a_change_to_a_lexicon_changes_the_version(tmp_path):
    """The lexicons are part of the rules: their bytes are in the digest."""
    path = rules_file(tmp_path, lambda d: None)
    before = load_rules(path).version
    lexicon = (tmp_path / "sentiment_lexicon.tsv").read_text(encoding="utf-8")
    (tmp_path / "sentiment_lexicon.tsv").write_text(lexicon + "bonkers\t1.5\tproject\n")
    changed = load_rules(path)
    assert changed.version != before
    assert changed.sentiment.valences["bonkers"] == 1.5


def set_in(*keys_and_value):
    *keys, value = keys_and_value

    def change(document):
        target = document
        for key in keys[:-1]:
            target = target[key]
        if value is KeyError:
            del target[keys[-1]]
        else:
            target[keys[-1]] = value

    return change


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (set_in("sessions", KeyError), "sessions must be an object"),
        (set_in("sessions", "inactivity_gap_seconds", "30 minutes"), "inactivity_gap_seconds"),
        (set_in("sessions", "max_session_seconds", 60), "max_session_seconds"),
        (set_in("validity", "max_age_days", -1), "max_age_days must be a non-negative"),
        (set_in("validity", "max_age_days", 1.5), "max_age_days must be a whole number"),
        (set_in("event_types", "aliases", {"seen": "viewed"}), "aliases map to unknown types"),
        (set_in("fields", "page", "headers.page"), "fields.page must be payload"),
        (set_in("fields", "rating", KeyError), "fields lacks ['rating']"),
        (set_in("emotions", "token_pattern", "[unclosed"), "token_pattern does not compile"),
        (set_in("emotions", "lexicon_file", "missing.tsv"), "cannot read missing.tsv"),
        (set_in("emotions", "positive_at", -0.1), "negative_at < 0 < positive_at"),
        (set_in("emotions", "boosters", {"very": "much"}), "boosters must map words to numbers"),
        (set_in("emotions", "phrases", {"meh": {"valence": -1}}), "two words or more"),
        (
            set_in("emotions", "phrases", {"so so": {"valence": 0, "emotion": "ennui"}}),
            "unknown emotion 'ennui'",
        ),
        (set_in("emotions", "negation_scalar", KeyError), "negation_scalar must be a number"),
        (set_in("derived", "completion_threshold", 2), "completion_threshold"),
        (
            set_in(
                "derived",
                "rating_buckets",
                [{"name": "a", "min": 0, "max": 4}, {"name": "b", "min": 5, "max": 10}],
            ),
            "without gaps",
        ),
        (set_in("derived", "rating_buckets", [{"name": "a", "min": "x", "max": 4}]), "numbers"),
    ],
)
def test_a_bad_rules_file_fails_with_a_clear_message(tmp_path, change, message):
    path = rules_file(tmp_path, change)
    with pytest.raises(RulesError) as error:
        load_rules(path)
    assert message in str(error.value)
    assert str(path) in str(error.value)


def test_unreadable_json_names_the_file(tmp_path):
    path = tmp_path / "rules.json"
    path.write_text("{ not json", encoding="utf-8")
    with pytest.raises(RulesError, match="cannot read the rules"):
        load_rules(path)
