"""The checked-in event contract: schemas are valid, the AsyncAPI document is current."""

from __future__ import annotations

import json

import pytest

from epv_common.events import asyncapi
from epv_common.events.contract import (
    CONTRACTS_DIR,
    ContractViolation,
    _validator,
    known_event_types,
    validate_event,
)
from epv_common.events.envelope import CloudEvent


def test_asyncapi_document_is_up_to_date():
    assert asyncapi.DOCUMENT.read_text() == asyncapi.render(), (
        "run: python -m epv_common.events.asyncapi")


def test_asyncapi_lists_every_event_type():
    document = json.loads(asyncapi.DOCUMENT.read_text())
    addresses = {c["address"] for c in document["channels"].values()}
    assert addresses == set(known_event_types())


@pytest.mark.parametrize("event_type", known_event_types())
def test_every_schema_is_a_valid_json_schema(event_type):
    _validator(event_type)  # check_schema raises on an invalid schema


def test_schema_files_are_named_by_event_type():
    for path in CONTRACTS_DIR.glob("*.schema.json"):
        schema = json.loads(path.read_text())
        assert schema["$id"].endswith("/" + path.name)


def test_an_event_breaking_its_data_schema_is_refused():
    event = CloudEvent(source="cases", type="case.created", subject="x", data={"name": ""})
    with pytest.raises(ContractViolation) as raised:
        validate_event(event.model_dump(exclude_none=True))
    assert "case_id" in str(raised.value)


def test_an_unknown_event_type_is_refused():
    event = CloudEvent(source="cases", type="case.teleported", subject="x", data={})
    with pytest.raises(ContractViolation, match="no JSON Schema"):
        validate_event(event.model_dump(exclude_none=True))


def test_envelope_extensions_are_checked():
    event = CloudEvent(source="cases", type="case.created", subject="x", traceparent="nope",
                       data={"case_id": "6f1c1b2e-9a2a-4a43-9d3f-0c1d2e3f4a5b",
                             "owner_id": "6f1c1b2e-9a2a-4a43-9d3f-0c1d2e3f4a5b",
                             "name": "n", "status": "DRAFT", "version": 1})
    with pytest.raises(ContractViolation, match="traceparent"):
        validate_event(event.model_dump(exclude_none=True))


def test_valid_events_pass_the_compiled_fast_path():
    # The fast path must accept what is valid, or every event pays for the slow validator.
    from epv_common.events.contract import _fast_check

    event = CloudEvent(source="cases", type="case.created", subject="x",
                       data={"case_id": "6f1c1b2e-9a2a-4a43-9d3f-0c1d2e3f4a5b",
                             "owner_id": "6f1c1b2e-9a2a-4a43-9d3f-0c1d2e3f4a5b",
                             "name": "n", "status": "DRAFT", "version": 1})
    payload = event.model_dump(exclude_none=True)
    _fast_check("envelope")(payload)
    _fast_check("case.created")(payload["data"])


@pytest.mark.parametrize("event_type", known_event_types())
def test_every_schema_compiles_for_the_fast_path(event_type):
    from epv_common.events.contract import _fast_check

    assert callable(_fast_check(event_type))
