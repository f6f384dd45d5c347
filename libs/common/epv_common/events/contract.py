"""The published event contract: one JSON Schema per event type, checked in beside this file.

`contracts/envelope.schema.json` fixes the CloudEvents 1.0 envelope; `contracts/<type>.schema.json`
fixes the `data` of one type. Services validate every event they record, so an event that
breaks its contract fails the change that emits it instead of reaching subscribers.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import fastjsonschema
from jsonschema import Draft202012Validator

CONTRACTS_DIR = Path(__file__).with_name("contracts")


class ContractViolation(ValueError):
    pass


UUID_FORMAT = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


@functools.cache
def _schema(name: str) -> dict[str, Any]:
    path = CONTRACTS_DIR / f"{name}.schema.json"
    if not path.exists():
        raise ContractViolation(f"no JSON Schema for event type {name!r}")
    return json.loads(path.read_text())


@functools.cache
def _fast_check(name: str) -> Callable[[Any], Any]:
    """The schema compiled to Python (fastjsonschema): about 20x faster than interpreting it,
    which matters because every recorded event is checked inside its change's transaction."""
    return fastjsonschema.compile(_schema(name), formats={"uuid": UUID_FORMAT.pattern})


@functools.cache
def _validator(name: str) -> Draft202012Validator:
    """The reference validator: checks the schema itself, and names every broken rule."""
    schema = _schema(name)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def known_event_types() -> list[str]:
    return sorted(p.name.removesuffix(".schema.json") for p in CONTRACTS_DIR.glob("*.schema.json")
                  if p.name != "envelope.schema.json")


def validate_event(event: dict[str, Any]) -> None:
    """Raises ContractViolation naming every broken rule of the envelope and the data."""
    event_type = event.get("type")
    try:
        _fast_check("envelope")(event)
        _fast_check(event_type)(event.get("data"))  # type: ignore[arg-type]
        return
    except (fastjsonschema.JsonSchemaValueException, ContractViolation, TypeError):
        pass  # broken: the full validator below names every rule, not just the first
    problems = [f"envelope: {e.json_path}: {e.message}" for e in _validator("envelope").iter_errors(event)]
    event_type = event.get("type")
    if isinstance(event_type, str):
        try:
            data_validator = _validator(event_type)
        except ContractViolation as exc:
            problems.append(str(exc))
        else:
            problems += [f"data: {e.json_path}: {e.message}"
                         for e in data_validator.iter_errors(event.get("data"))]
    if problems:
        raise ContractViolation(f"event {event_type!r} breaks its contract: " + "; ".join(problems))
