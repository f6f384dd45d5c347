"""``parse_export``: the whole localStorage export → an :class:`ImportPlan`.

Pure: no I/O, no clock, no randomness; the same input always gives an equal plan, and the
input is never mutated. It never raises on bad input: every defect is a report entry.

Keys are processed in a fixed order (``epv-cases``, ``epv-pro-state``, ``epv-preferences``,
``epv-pro-scenarios``); any other key is ignored and listed in ``ignored_keys`` (sorted).
A known key whose value does not parse is rejected ``LEGACY_JSON_INVALID``; one that parses
to the wrong shape ``LEGACY_WRONG_SHAPE``. Its raw text stays in its :class:`KeyReport`.

The README's 422 ("``localStorageData`` missing, or not an object whose values are strings")
is the caller's decision: such defects are listed in ``ImportPlan.shape_errors``, and the plan
is still built from whatever could be read (a value already parsed is used as is).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from epv_cases.legacy import codes
from epv_cases.legacy.analyses import AnalysisItem
from epv_cases.legacy.cases import CaseItem, first_cases_by_id, parse_cases
from epv_cases.legacy.codes import KeyOutcome, Outcome
from epv_cases.legacy.jsonvalue import (
    JsonProblem,
    JsonValue,
    checked_copy,
    compact_text,
    copy_json,
    json_type,
    parse_strict,
    safe_text,
)
from epv_cases.legacy.preferences import PreferencesResult, parse_preferences
from epv_cases.legacy.report import LegacyRejection, LegacyWarning, Locator
from epv_cases.legacy.state import QUEUE_FIELD, StateRecord, parse_queue, split_state

RECEIVED_STRING: Final = "string"
RECEIVED_PARSED: Final = "parsed"


@dataclass(frozen=True, slots=True)
class KeyReport:
    """What happened to one localStorage key, with its raw text for the import record."""

    key: str
    outcome: KeyOutcome
    received_as: str
    """``string`` (as the browser stores it) or ``parsed`` (a caller passed a JSON value)."""
    raw_text: str
    """The string as received (lone surrogates written as ``\\udXXX``), or the compact JSON
    text of a value received already parsed."""
    rejection: LegacyRejection | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "outcome": self.outcome.value,
            "received_as": self.received_as,
            "rejection": self.rejection.to_dict() if self.rejection else None,
            "raw_text": self.raw_text,
        }


@dataclass(frozen=True, slots=True)
class ImportPlan:
    """Everything the importer will do, and everything the import record keeps."""

    shape_errors: tuple[str, ...]
    """Why the body is not a localStorage dump (the API answers 422); empty when it is."""
    keys: tuple[KeyReport, ...]
    """Known keys in processing order, then ignored keys sorted."""
    cases: tuple[CaseItem, ...]
    """One per entry of ``epv-cases``, in position order (with their own analyses)."""
    queue_runs: tuple[AnalysisItem, ...]
    """One per run of ``epv-pro-state.analysisQueue``, in order."""
    preferences: PreferencesResult | None
    state: StateRecord | None
    scenarios: JsonValue
    """``epv-pro-scenarios`` as parsed (record only), or ``None`` if absent or rejected."""
    ignored_keys: tuple[str, ...]

    # --- derived views ------------------------------------------------------------------------
    def iter_analyses(self) -> Iterator[AnalysisItem]:
        """Every analysis item: each case's in case order, then the queue runs."""
        for item in self.cases:
            yield from item.analyses
        yield from self.queue_runs

    def cases_to_store(self) -> tuple[CaseItem, ...]:
        return tuple(item for item in self.cases if item.stored)

    def analyses_to_store(self) -> tuple[AnalysisItem, ...]:
        return tuple(item for item in self.iter_analyses() if item.stored)

    @property
    def rejected(self) -> tuple[LegacyRejection, ...]:
        return tuple(r for _, r in self._entries() if r is not None)

    @property
    def warnings(self) -> tuple[LegacyWarning, ...]:
        return tuple(w for w, _ in self._entries() if w is not None)

    def _entries(self) -> Iterator[tuple[LegacyWarning | None, LegacyRejection | None]]:
        """Report entries in a stable order: key by key, item by item."""
        for report in self.keys:
            if report.rejection is not None:
                yield None, report.rejection
            if report.key == codes.KEY_CASES:
                for case in self.cases:
                    yield from _item_entries(case)
                    for analysis in case.analyses:
                        yield from _item_entries(analysis)
            elif report.key == codes.KEY_STATE:
                for run in self.queue_runs:
                    yield from _item_entries(run)
            elif report.key == codes.KEY_PREFERENCES and self.preferences is not None:
                for warning in self.preferences.warnings:
                    yield warning, None

    @property
    def counts(self) -> dict[str, dict[str, int]]:
        cases = [item.outcome for item in self.cases]
        analyses = [item.outcome for item in self.iter_analyses()]
        return {
            "cases": {
                "imported": sum(o in _STORED for o in cases),
                "imported_with_warnings": cases.count(Outcome.IMPORTED_WITH_WARNINGS),
                "rejected": cases.count(Outcome.REJECTED),
                "skipped": cases.count(Outcome.SKIPPED),
            },
            "analyses": {
                "imported": sum(o in _STORED for o in analyses),
                "rejected": analyses.count(Outcome.REJECTED),
                "skipped": analyses.count(Outcome.SKIPPED),
            },
            "keys": {
                "rejected": sum(k.outcome is KeyOutcome.REJECTED for k in self.keys),
                "ignored": len(self.ignored_keys),
            },
        }

    def report(self) -> dict[str, Any]:
        """The README's report body, without ``import_id`` and ``dry_run``."""
        return {
            "counts": self.counts,
            "rejected": [r.to_dict() for r in self.rejected],
            "warnings": [w.to_dict() for w in self.warnings],
            "ignored_keys": list(self.ignored_keys),
        }

    def to_dict(self) -> dict[str, Any]:
        """The report, then everything the import record keeps. JSON-serialisable."""
        return {
            **self.report(),
            "shape_errors": list(self.shape_errors),
            "keys": [k.to_dict() for k in self.keys],
            "cases": [c.to_dict() for c in self.cases],
            "queue_runs": [r.to_dict() for r in self.queue_runs],
            "preferences": self.preferences.to_dict() if self.preferences else None,
            "state": self.state.to_dict() if self.state else None,
            "scenarios": copy_json(self.scenarios),
        }


_STORED: Final = (Outcome.IMPORTED, Outcome.IMPORTED_WITH_WARNINGS)


def _item_entries(
    item: CaseItem | AnalysisItem,
) -> Iterator[tuple[LegacyWarning | None, LegacyRejection | None]]:
    if item.rejection is not None:
        yield None, item.rejection
    for warning in item.warnings:
        yield warning, None


# --- parsing ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Received:
    key: str
    value: Any
    as_string: bool


def parse_export(
    local_storage_data: Mapping[str, Any],
    *,
    already_imported: Iterable[str] = (),
) -> ImportPlan:
    """Plan the import of a localStorage export (the ``localStorageData`` object).

    ``already_imported`` holds the idempotency keys (``CaseItem.case.idempotency_key``,
    ``LegacyAnalysis.idempotency_key``) the importing owner already has: those items come back
    skipped with ``LEGACY_ALREADY_IMPORTED``.
    """
    done = frozenset(k for k in _safe_iter(already_imported) if isinstance(k, str))
    shape_errors: list[str] = []
    received: dict[str, _Received] = {}
    if isinstance(local_storage_data, Mapping):
        for key, value in local_storage_data.items():
            if not isinstance(key, str):
                shape_errors.append(f"a key is {json_type(key)}, not a string")
                continue
            if not isinstance(value, str):
                shape_errors.append(f"the value of {key!r} is {json_type(value)}, not a string")
            received[key] = _Received(key, value, isinstance(value, str))
    else:
        shape_errors.append(f"localStorageData is {json_type(local_storage_data)}, not an object")

    reports: list[KeyReport] = []
    parsed: dict[str, JsonValue] = {}
    for key in codes.KNOWN_KEYS:
        if key in received:
            report, value = _read_key(received[key])
            reports.append(report)
            if report.outcome is KeyOutcome.PARSED:
                parsed[key] = value
    ignored = tuple(sorted(k for k in received if k not in codes.KNOWN_KEYS))
    for key in ignored:
        reports.append(
            KeyReport(key, KeyOutcome.IGNORED, _received_as(received[key]), _raw(received[key]))
        )
    by_key = {report.key: i for i, report in enumerate(reports)}

    def reject(key: str, reason: str, detail: str) -> None:
        old = reports[by_key[key]]
        rejection = Locator(key).rejection(reason, detail)
        reports[by_key[key]] = KeyReport(
            key, KeyOutcome.REJECTED, old.received_as, old.raw_text, rejection
        )

    cases: tuple[CaseItem, ...] = ()
    if codes.KEY_CASES in parsed:
        value = parsed[codes.KEY_CASES]
        if isinstance(value, list):
            cases = parse_cases(value, already_imported=done)
        else:
            reject(
                codes.KEY_CASES,
                codes.LEGACY_WRONG_SHAPE,
                _shape(codes.KEY_CASES, value, "an array"),
            )

    state: StateRecord | None = None
    queue_runs: tuple[AnalysisItem, ...] = ()
    if codes.KEY_STATE in parsed:
        value = parsed[codes.KEY_STATE]
        if isinstance(value, dict):
            state, queue = split_state(value)
            if isinstance(queue, list):
                queue_runs = parse_queue(
                    queue, cases=first_cases_by_id(cases), already_imported=done
                )
            elif queue is not None:
                reject(
                    codes.KEY_STATE,
                    codes.LEGACY_WRONG_SHAPE,
                    f"{QUEUE_FIELD} is {json_type(queue)}, not an array; the other fields are "
                    "kept in the import record",
                )
        else:
            reject(
                codes.KEY_STATE,
                codes.LEGACY_WRONG_SHAPE,
                _shape(codes.KEY_STATE, value, "an object"),
            )

    preferences: PreferencesResult | None = None
    if codes.KEY_PREFERENCES in parsed:
        value = parsed[codes.KEY_PREFERENCES]
        if isinstance(value, dict):
            preferences = parse_preferences(value)
        else:
            reject(
                codes.KEY_PREFERENCES,
                codes.LEGACY_WRONG_SHAPE,
                _shape(codes.KEY_PREFERENCES, value, "an object"),
            )

    scenarios: JsonValue = None
    if codes.KEY_SCENARIOS in parsed:
        value = parsed[codes.KEY_SCENARIOS]
        if isinstance(value, list):
            scenarios = value
        else:
            reject(
                codes.KEY_SCENARIOS,
                codes.LEGACY_WRONG_SHAPE,
                _shape(codes.KEY_SCENARIOS, value, "an array"),
            )

    return ImportPlan(
        shape_errors=tuple(shape_errors),
        keys=tuple(reports),
        cases=cases,
        queue_runs=queue_runs,
        preferences=preferences,
        state=state,
        scenarios=scenarios,
        ignored_keys=ignored,
    )


def _shape(key: str, value: JsonValue, expected: str) -> str:
    return f"{key} is {json_type(value)}, not {expected}"


def _safe_iter(values: Iterable[str]) -> Iterator[Any]:
    if isinstance(values, str):
        return iter((values,))
    try:
        return iter(list(values))
    except TypeError:
        return iter(())


def _received_as(item: _Received) -> str:
    return RECEIVED_STRING if item.as_string else RECEIVED_PARSED


def _raw(item: _Received) -> str:
    if item.as_string:
        return safe_text(item.value)
    try:
        return compact_text(checked_copy(item.value))
    except JsonProblem:
        return f"<not JSON: {type(item.value).__name__}>"


def _read_key(item: _Received) -> tuple[KeyReport, JsonValue]:
    """Parse one known key: a :class:`KeyReport` (parsed or rejected) and the value."""
    raw = _raw(item)
    try:
        value = parse_strict(item.value) if item.as_string else checked_copy(item.value)
    except JsonProblem as problem:
        rejection = Locator(item.key).rejection(codes.LEGACY_JSON_INVALID, str(problem))
        return KeyReport(item.key, KeyOutcome.REJECTED, _received_as(item), raw, rejection), None
    return KeyReport(item.key, KeyOutcome.PARSED, _received_as(item), raw), value
