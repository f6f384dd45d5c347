"""Builds the AsyncAPI 3.0 document of the event contract from the JSON Schemas beside it.

`python -m epv_common.events.asyncapi` rewrites contracts/asyncapi.json; a test checks that the
checked-in document equals what this builds, so it never drifts from the schemas.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from epv_common.events.contract import CONTRACTS_DIR, known_event_types

DOCUMENT = CONTRACTS_DIR / "asyncapi.json"

PUBLISHERS = {"auth": "auth", "case": "cases", "analysis": "cases", "migration": "cases",
              "audit": "audit", "marketdata": "marketdata"}


def _message_name(event_type: str) -> str:
    return "".join(part.capitalize() for part in event_type.replace("_", ".").split("."))


def build() -> dict[str, Any]:
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for event_type in known_event_types():
        name = _message_name(event_type)
        schema = json.loads((CONTRACTS_DIR / f"{event_type}.schema.json").read_text())
        messages[name] = {
            "name": event_type,
            "title": schema.get("title", event_type),
            "contentType": "application/cloudevents+json",
            "payload": {
                "allOf": [
                    {"$ref": "./envelope.schema.json"},
                    {"type": "object", "properties": {
                        "type": {"const": event_type},
                        "data": {"$ref": f"./{event_type}.schema.json"}}},
                ],
            },
        }
        channels[name] = {
            "address": event_type,
            "description": f"Routing key `{event_type}` on the topic exchange `epv.events`.",
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
            "bindings": {"amqp": {"is": "routingKey", "exchange": {
                "name": "epv.events", "type": "topic", "durable": True, "autoDelete": False}}},
        }
        publisher = PUBLISHERS.get(event_type.split(".", 1)[0], "unknown")
        operations[f"publish{name}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{name}"},
            "summary": f"Published by the {publisher} service through its transactional outbox.",
            "bindings": {"amqp": {"deliveryMode": 2, "mandatory": True}},
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "EPV Valuation Pro events",
            "version": "1.0.0",
            "description": (
                "Every event is a CloudEvents 1.0 envelope (JSON structured mode) published as a "
                "persistent message to the durable topic exchange `epv.events` with the event "
                "type as routing key. Delivery is at least once: consumers deduplicate on the "
                "envelope `id`. Subscribe by binding your own queue to `epv.events`."),
        },
        "defaultContentType": "application/cloudevents+json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


def render() -> str:
    return json.dumps(build(), indent=2, sort_keys=False) + "\n"


def main() -> int:
    DOCUMENT.write_text(render())
    print(f"wrote {DOCUMENT} ({len(known_event_types())} event types)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
