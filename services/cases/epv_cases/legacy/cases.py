"""The ``epv-cases`` array: one :class:`CaseItem` per entry, in position order.

Per entry, in this order:

1. not an object → rejected ``LEGACY_NOT_AN_OBJECT``; no usable ``id`` (a non-empty string) or
   no ``financialData`` object → rejected ``LEGACY_CASE_INVALID``;
2. the same ``id`` as an earlier imported entry: JSON-equal to it → skipped
   ``LEGACY_DUPLICATE_SKIPPED``; different → imported as a separate case with
   ``LEGACY_DUPLICATE_ID``, its idempotency key then carrying its position;
3. name, status, tags, ``lastModified``, unknown fields, ``financialData``, ``epvInputs``
   normalized, each defect a warning;
4. its ``analyses[]`` and ``epvOutputs`` built as analysis items;
5. an idempotency key already imported → skipped ``LEGACY_ALREADY_IMPORTED`` (that warning only).

Idempotency keys (owner-independent; the store adds the owner): ``<legacy id>`` for the first
imported case with that id, ``<legacy id>#<position>`` for a renamed duplicate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from epv_cases.legacy import codes
from epv_cases.legacy.analyses import (
    SOURCE_EMBEDDED,
    AnalysisItem,
    CaseRef,
    build_agent_item,
    build_epv_outputs_item,
)
from epv_cases.legacy.codes import Outcome
from epv_cases.legacy.financial import normalize_epv_inputs, normalize_financial_data
from epv_cases.legacy.jsonvalue import (
    JsonValue,
    canonical_text,
    compact_text,
    copy_json,
    json_type,
)
from epv_cases.legacy.report import Findings, LegacyRejection, LegacyWarning, Locator
from epv_cases.legacy.timestamps import normalize_timestamp

CASE_FIELDS: Final = frozenset(
    {
        "id",
        "name",
        "lastModified",
        "financialData",
        "analyses",
        "status",
        "tags",
        "epvInputs",
        "epvOutputs",
    }
)
EPV_INPUTS_MEMBER: Final = "epvInputs"
"""The member of ``financial_data`` that holds the case's ``epvInputs``."""


@dataclass(frozen=True, slots=True)
class NormalizedCase:
    """The case fields ready to store."""

    legacy_id: str
    name: str
    status: str
    tags: tuple[str, ...]
    financial_data: dict[str, JsonValue]
    """FinancialDatasetV1 (numbers coerced), with the case's ``epvInputs`` under
    ``"epvInputs"`` when it has them."""
    legacy_updated_at: str | None
    idempotency_key: str
    duplicate_position: int | None
    """The position that is part of ``idempotency_key`` (renamed duplicates only)."""

    @property
    def epv_inputs(self) -> dict[str, JsonValue] | None:
        value = self.financial_data.get(EPV_INPUTS_MEMBER)
        return value if isinstance(value, dict) else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "legacy_id": self.legacy_id,
            "name": self.name,
            "status": self.status,
            "tags": list(self.tags),
            "financial_data": copy_json(self.financial_data),
            "legacy_updated_at": self.legacy_updated_at,
            "idempotency_key": self.idempotency_key,
            "duplicate_position": self.duplicate_position,
        }


@dataclass(frozen=True, slots=True)
class CaseItem:
    """The outcome for one entry of ``epv-cases``, with everything the import record keeps."""

    where: Locator
    outcome: Outcome
    warnings: tuple[LegacyWarning, ...] = ()
    rejection: LegacyRejection | None = None
    case: NormalizedCase | None = None
    """Set when the entry parsed (imported, or skipped as already imported)."""
    analyses: tuple[AnalysisItem, ...] = ()
    """Its ``analyses[]`` in order, then its ``epvOutputs``."""
    duplicate_of: int | None = None
    """For ``LEGACY_DUPLICATE_SKIPPED``: the position of the case it repeats."""
    unknown_fields: dict[str, JsonValue] = field(default_factory=dict)
    coerced_values: dict[str, JsonValue] = field(default_factory=dict)
    unparseable_values: dict[str, JsonValue] = field(default_factory=dict)
    raw: JsonValue = None
    """The entry as received (parsed)."""

    @property
    def index(self) -> int:
        return self.where.index if self.where.index is not None else -1

    @property
    def legacy_id(self) -> str | None:
        return self.where.legacy_id

    @property
    def stored(self) -> bool:
        return self.outcome in (Outcome.IMPORTED, Outcome.IMPORTED_WITH_WARNINGS)

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.where.index,
            "legacy_id": self.where.legacy_id,
            "outcome": self.outcome.value,
            "warnings": [w.to_dict() for w in self.warnings],
            "rejection": self.rejection.to_dict() if self.rejection else None,
            "case": self.case.to_dict() if self.case else None,
            "analyses": [a.to_dict() for a in self.analyses],
            "duplicate_of": self.duplicate_of,
            "unknown_fields": copy_json(self.unknown_fields),
            "coerced_values": copy_json(self.coerced_values),
            "unparseable_values": copy_json(self.unparseable_values),
            "raw": copy_json(self.raw),
            "raw_text": compact_text(self.raw) if self.outcome is Outcome.REJECTED else None,
        }


def parse_cases(
    entries: Sequence[JsonValue], *, already_imported: frozenset[str] = frozenset()
) -> tuple[CaseItem, ...]:
    """Every entry of ``epv-cases``, in order."""
    kept: dict[str, _Kept] = {}
    items: list[CaseItem] = []
    for index, entry in enumerate(entries):
        item = _parse_case(index, entry, kept=kept, already_imported=already_imported)
        if item.case is not None:
            seen = kept.setdefault(item.case.legacy_id, _Kept(first=index))
            seen.by_content.setdefault(canonical_text(entry), index)
        items.append(item)
    return tuple(items)


@dataclass(slots=True)
class _Kept:
    """The imported entries of one legacy id: the first position, and one per content."""

    first: int
    by_content: dict[str, int] = field(default_factory=dict)


def first_cases_by_id(items: Sequence[CaseItem]) -> dict[str, CaseRef]:
    """The first imported (or previously imported) case for each legacy id."""
    refs: dict[str, CaseRef] = {}
    for item in items:
        case = item.case
        if case is not None and item.duplicate_of is None and case.legacy_id not in refs:
            refs[case.legacy_id] = CaseRef(
                legacy_id=case.legacy_id,
                index=item.index,
                idempotency_key=case.idempotency_key,
                legacy_updated_at=case.legacy_updated_at,
            )
    return refs


def _parse_case(
    index: int,
    entry: JsonValue,
    *,
    kept: dict[str, _Kept],
    already_imported: frozenset[str],
) -> CaseItem:
    where = Locator(codes.KEY_CASES, index)
    if not isinstance(entry, dict):
        return _rejected(
            where, codes.LEGACY_NOT_AN_OBJECT, f"entry is {json_type(entry)}, not an object", entry
        )
    legacy_id = entry.get("id")
    if not isinstance(legacy_id, str) or not legacy_id.strip():
        return _rejected(
            where,
            codes.LEGACY_CASE_INVALID,
            f"id is {json_type(legacy_id)}, not a non-empty string",
            entry,
        )
    where = Locator(codes.KEY_CASES, index, legacy_id)
    raw_financial = entry.get("financialData")
    if not isinstance(raw_financial, dict):
        return _rejected(
            where,
            codes.LEGACY_CASE_INVALID,
            f"financialData is {json_type(raw_financial)}, not an object",
            entry,
        )

    findings = Findings(where)
    duplicate_position: int | None = None
    earlier = kept.get(legacy_id)
    if earlier is not None:
        same = earlier.by_content.get(canonical_text(entry))
        if same is not None:
            skipped = where.warning(
                codes.LEGACY_DUPLICATE_SKIPPED,
                None,
                f"exact duplicate of the case at position {same}; skipped",
            )
            return CaseItem(
                where, Outcome.SKIPPED, (skipped,), duplicate_of=same, raw=copy_json(entry)
            )
        duplicate_position = index
        findings.warn(
            codes.LEGACY_DUPLICATE_ID,
            None,
            f"the case at position {earlier.first} has the same id with different content; "
            "imported as a separate case",
        )

    name = _name(entry, raw_financial, legacy_id, findings)
    status = _status(entry, findings)
    tags = _tags(entry, findings)
    updated_at = normalize_timestamp(entry.get("lastModified"))
    if updated_at is None:
        findings.warn(
            codes.LEGACY_TIMESTAMP_INVALID,
            "lastModified",
            "lastModified is missing or not an ISO 8601 date-time; legacy_updated_at left empty",
        )
    for member, value in entry.items():
        if member not in CASE_FIELDS:
            findings.keep_unknown(member, value)
            findings.warn(
                codes.LEGACY_UNKNOWN_FIELD,
                member,
                "not a field of the old app's CaseData; kept in the import record",
            )
    financial = normalize_financial_data(raw_financial, findings)
    if EPV_INPUTS_MEMBER in financial:  # the member is ours: the case's epvInputs go there
        path = f"financialData.{EPV_INPUTS_MEMBER}"
        findings.keep_unknown(path, raw_financial[EPV_INPUTS_MEMBER])
        findings.warn(
            codes.LEGACY_UNKNOWN_FIELD,
            path,
            "not a field of FinancialDatasetV1; kept in the import record",
        )
        del financial[EPV_INPUTS_MEMBER]
    raw_inputs = entry.get("epvInputs")
    if isinstance(raw_inputs, dict):
        financial[EPV_INPUTS_MEMBER] = normalize_epv_inputs(raw_inputs, findings)
    elif raw_inputs is not None:
        _wrong_shape(findings, "epvInputs", raw_inputs, "an object")

    key = legacy_id if duplicate_position is None else f"{legacy_id}#{duplicate_position}"
    case = NormalizedCase(
        legacy_id=legacy_id,
        name=name,
        status=status,
        tags=tags,
        financial_data=financial,
        legacy_updated_at=updated_at,
        idempotency_key=key,
        duplicate_position=duplicate_position,
    )
    ref = CaseRef(legacy_id, index, key, updated_at)
    analyses = _analyses(entry, ref, findings, already_imported)

    warnings = tuple(findings.warnings)
    if key in already_imported:
        warnings = (
            where.warning(
                codes.LEGACY_ALREADY_IMPORTED, None, "imported by an earlier import; skipped"
            ),
        )
        outcome = Outcome.SKIPPED
    else:
        outcome = Outcome.IMPORTED_WITH_WARNINGS if warnings else Outcome.IMPORTED
    return CaseItem(
        where,
        outcome,
        warnings,
        case=case,
        analyses=analyses,
        unknown_fields=findings.unknown,
        coerced_values=findings.coerced,
        unparseable_values=findings.unparseable,
        raw=copy_json(entry),
    )


def _rejected(where: Locator, reason: str, detail: str, entry: JsonValue) -> CaseItem:
    return CaseItem(
        where, Outcome.REJECTED, rejection=where.rejection(reason, detail), raw=copy_json(entry)
    )


def _wrong_shape(findings: Findings, member: str, value: JsonValue, expected: str) -> None:
    findings.keep_unknown(member, value)
    findings.warn(
        codes.LEGACY_WRONG_SHAPE,
        member,
        f"{member} is {json_type(value)}, not {expected}; left out and kept in the import record",
    )


def _name(
    entry: dict[str, JsonValue],
    financial: dict[str, JsonValue],
    legacy_id: str,
    findings: Findings,
) -> str:
    name = entry.get("name")
    if not (isinstance(name, str) and name.strip()):
        meta = financial.get("meta")
        fallback = meta.get("case_name") if isinstance(meta, dict) else None
        if isinstance(fallback, str) and fallback.strip():
            name, source = fallback, "financialData.meta.case_name"
        else:
            name, source = f"Untitled case {legacy_id}", "a placeholder"
        findings.warn(
            codes.LEGACY_NAME_MISSING, None, f"the case has no name; named after {source}"
        )
    if len(name) > codes.NAME_MAX_LENGTH:
        findings.warn(
            codes.LEGACY_NAME_TRUNCATED,
            "name",
            f"name of {len(name)} characters cut to {codes.NAME_MAX_LENGTH}",
        )
        name = name[: codes.NAME_MAX_LENGTH]
    return name


def _status(entry: dict[str, JsonValue], findings: Findings) -> str:
    status = entry.get("status")
    if status is None:
        return codes.STATUS_DEFAULT
    if isinstance(status, str) and status.strip().lower() in codes.STATUS_MAP:
        return codes.STATUS_MAP[status.strip().lower()]
    findings.warn(
        codes.LEGACY_UNKNOWN_STATUS,
        "status",
        f"status {compact_text(status)} is not known; imported as {codes.STATUS_DEFAULT}",
    )
    return codes.STATUS_DEFAULT


def _tags(entry: dict[str, JsonValue], findings: Findings) -> tuple[str, ...]:
    tags = entry.get("tags")
    if tags is None:
        return ()
    if not isinstance(tags, list):
        _wrong_shape(findings, "tags", tags, "an array")
        return ()
    kept: list[str] = []
    for i, tag in enumerate(tags):
        if isinstance(tag, str):
            kept.append(tag)
        else:
            path = f"tags[{i}]"
            findings.keep_unknown(path, tag)
            findings.warn(
                codes.LEGACY_UNKNOWN_FIELD,
                path,
                f"tag is {json_type(tag)}, not a string; dropped and kept in the import record",
            )
    return tuple(kept)


def _analyses(
    entry: dict[str, JsonValue],
    case: CaseRef,
    findings: Findings,
    already_imported: frozenset[str],
) -> tuple[AnalysisItem, ...]:
    items: list[AnalysisItem] = []
    embedded = entry.get("analyses")
    if isinstance(embedded, list):
        for i, result in enumerate(embedded):
            where = Locator(codes.KEY_CASES, case.index, case.legacy_id, analysis_index=i)
            items.append(
                build_agent_item(
                    result,
                    source=SOURCE_EMBEDDED,
                    where=where,
                    case=case,
                    idempotency_key=f"{case.idempotency_key}/analyses[{i}]",
                    already_imported=already_imported,
                    field_prefix=f"analyses[{i}]",
                    raw=copy_json(result),
                )
            )
    elif embedded is not None:
        _wrong_shape(findings, "analyses", embedded, "an array")
    outputs = entry.get("epvOutputs")
    if outputs is not None:
        where = Locator(codes.KEY_CASES, case.index, case.legacy_id)
        items.append(
            build_epv_outputs_item(
                copy_json(outputs), where=where, case=case, already_imported=already_imported
            )
        )
    return tuple(items)
