"""Stable codes, outcomes, key names and origins of the legacy import.

The codes are part of the API contract (shared/fixtures/legacy/README.md): a rejection carries
one as its ``reason``, a warning as its ``code``. Two are this package's own, for defects the
README leaves open: ``LEGACY_CASE_INVALID`` and ``LEGACY_TIMESTAMP_INVALID``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

# --- rejections (the item is not imported; its raw text goes to the import record) ---------
LEGACY_JSON_INVALID: Final = "LEGACY_JSON_INVALID"
"""A key's string is not strict JSON (syntax, NaN/Infinity, lone surrogates, out of range)."""
LEGACY_WRONG_SHAPE: Final = "LEGACY_WRONG_SHAPE"
"""A known key parses but has the wrong shape. Also a warning for a case field of the wrong
type (``tags``, ``analyses``, ``epvInputs``), which is then left out and recorded."""
LEGACY_NOT_AN_OBJECT: Final = "LEGACY_NOT_AN_OBJECT"
"""A case, an embedded analysis, ``epvOutputs`` or a queue run that is not a JSON object."""
LEGACY_CASE_INVALID: Final = "LEGACY_CASE_INVALID"
"""(ours) A case object without a usable ``id`` or without a ``financialData`` object."""
LEGACY_ANALYSIS_INVALID: Final = "LEGACY_ANALYSIS_INVALID"
"""An analysis without ``agentType`` or without a numeric ``enterpriseValue``."""
LEGACY_ORPHAN_ANALYSIS: Final = "LEGACY_ORPHAN_ANALYSIS"
"""A completed queue run whose case is not among the imported cases."""

# --- warnings (the item is imported, or skipped, and the report says why) --------------------
LEGACY_NAME_MISSING: Final = "LEGACY_NAME_MISSING"
LEGACY_NAME_TRUNCATED: Final = "LEGACY_NAME_TRUNCATED"
LEGACY_NUMBER_COERCED: Final = "LEGACY_NUMBER_COERCED"
LEGACY_NUMBER_UNPARSEABLE: Final = "LEGACY_NUMBER_UNPARSEABLE"
LEGACY_DUPLICATE_ID: Final = "LEGACY_DUPLICATE_ID"
LEGACY_DUPLICATE_SKIPPED: Final = "LEGACY_DUPLICATE_SKIPPED"
LEGACY_UNKNOWN_FIELD: Final = "LEGACY_UNKNOWN_FIELD"
LEGACY_UNKNOWN_STATUS: Final = "LEGACY_UNKNOWN_STATUS"
LEGACY_INCOMPLETE_RUN: Final = "LEGACY_INCOMPLETE_RUN"
LEGACY_ALREADY_IMPORTED: Final = "LEGACY_ALREADY_IMPORTED"
LEGACY_PERCENT_SCALED: Final = "LEGACY_PERCENT_SCALED"
LEGACY_TIMESTAMP_INVALID: Final = "LEGACY_TIMESTAMP_INVALID"
"""(ours) ``lastModified`` / ``completedAt`` missing or not an ISO 8601 date-time."""

REJECTION_CODES: Final = frozenset(
    {
        LEGACY_JSON_INVALID,
        LEGACY_WRONG_SHAPE,
        LEGACY_NOT_AN_OBJECT,
        LEGACY_CASE_INVALID,
        LEGACY_ANALYSIS_INVALID,
        LEGACY_ORPHAN_ANALYSIS,
    }
)
WARNING_CODES: Final = frozenset(
    {
        LEGACY_WRONG_SHAPE,
        LEGACY_NAME_MISSING,
        LEGACY_NAME_TRUNCATED,
        LEGACY_NUMBER_COERCED,
        LEGACY_NUMBER_UNPARSEABLE,
        LEGACY_DUPLICATE_ID,
        LEGACY_DUPLICATE_SKIPPED,
        LEGACY_UNKNOWN_FIELD,
        LEGACY_UNKNOWN_STATUS,
        LEGACY_INCOMPLETE_RUN,
        LEGACY_ALREADY_IMPORTED,
        LEGACY_PERCENT_SCALED,
        LEGACY_TIMESTAMP_INVALID,
    }
)
NO_FIELD_WARNINGS: Final = frozenset(
    {
        LEGACY_NAME_MISSING,
        LEGACY_DUPLICATE_ID,
        LEGACY_DUPLICATE_SKIPPED,
        LEGACY_INCOMPLETE_RUN,
        LEGACY_ALREADY_IMPORTED,
    }
)
"""Warnings whose ``field`` is always ``null`` (README, "The report")."""


class Outcome(StrEnum):
    """What happened to one item of the export."""

    IMPORTED = "imported"
    IMPORTED_WITH_WARNINGS = "imported_with_warnings"
    REJECTED = "rejected"
    SKIPPED = "skipped"


class KeyOutcome(StrEnum):
    """What happened to one localStorage key."""

    PARSED = "parsed"
    REJECTED = "rejected"
    IGNORED = "ignored"


# --- localStorage keys ----------------------------------------------------------------------
KEY_CASES: Final = "epv-cases"
KEY_STATE: Final = "epv-pro-state"
KEY_PREFERENCES: Final = "epv-preferences"
KEY_SCENARIOS: Final = "epv-pro-scenarios"
KNOWN_KEYS: Final = (KEY_CASES, KEY_STATE, KEY_PREFERENCES, KEY_SCENARIOS)
"""In the order they are processed (cases first: queue runs attach to them)."""

# --- analysis origins -----------------------------------------------------------------------
ORIGIN_AGENT_PREFIX: Final = "legacy-agent:"
ORIGIN_EPV_PRO: Final = "legacy-epv-pro"

# --- case statuses --------------------------------------------------------------------------
STATUS_DEFAULT: Final = "DRAFT"
STATUS_MAP: Final = {
    "draft": "DRAFT",
    "analyzing": "ANALYZING",
    "review": "REVIEW",
    "complete": "COMPLETE",
    "archived": "ARCHIVED",
}

NAME_MAX_LENGTH: Final = 500
