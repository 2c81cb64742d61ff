"""`POST /events` declares its body in the OpenAPI document, and its examples are valid."""

from __future__ import annotations

import orjson

from app.api.ingest_docs import inline_definitions
from app.ingest.accept import validate_all
from app.ingest.events import EventLimits
from app.ingest.request_body import parse_events
from app.main import create_app
from jobs.rules import load_rules


def test_both_media_types_declare_the_three_body_shapes_with_examples_that_are_accepted():
    body = create_app().openapi()["paths"]["/events"]["post"]["requestBody"]
    assert body["required"] is True
    assert set(body["content"]) == {"application/json", "text/plain"}
    limits = EventLimits.from_rules(load_rules())
    for declared in body["content"].values():
        assert len(declared["schema"]["oneOf"]) == 3
        for example in declared["examples"].values():
            candidates = parse_events(orjson.dumps(example["value"]), 500, 100_000)
            validated = validate_all(candidates, limits, None)
            assert len(validated.accepted) == 1 and not validated.rejected


def test_definitions_are_written_in_place_of_their_references():
    schema = {
        "$defs": {"Inner": {"type": "string"}},
        "properties": {"a": {"$ref": "#/$defs/Inner"}, "b": [{"$ref": "#/$defs/Inner"}]},
    }
    assert inline_definitions(schema) == {
        "properties": {"a": {"type": "string"}, "b": [{"type": "string"}]}
    }
