"""Pure parsing of the old browser app's localStorage export (the legacy import).

No I/O, no database, no framework: :func:`parse_export` turns the ``localStorageData``
object into an :class:`ImportPlan` that says, per item, what to import, with which warnings,
and what to reject and why (codes in :mod:`epv_cases.legacy.codes`). The rules are those of
``shared/fixtures/legacy/README.md``.

Modules: ``codes`` (stable codes and constants), ``jsonvalue`` (strict JSON), ``numbers``
(number strings, fractions), ``timestamps``, ``report`` (entries), ``financial``
(financialData / epvInputs), ``analyses``, ``cases``, ``state`` (workspace state and queue),
``preferences``, ``plan`` (``parse_export``, ``ImportPlan``).
"""

from epv_cases.legacy.analyses import AnalysisItem, LegacyAnalysis
from epv_cases.legacy.cases import CaseItem, NormalizedCase
from epv_cases.legacy.codes import KeyOutcome, Outcome
from epv_cases.legacy.numbers import Coercion, NumberKind, as_fraction, coerce_number
from epv_cases.legacy.plan import ImportPlan, KeyReport, parse_export
from epv_cases.legacy.preferences import PreferencesResult
from epv_cases.legacy.report import LegacyRejection, LegacyWarning
from epv_cases.legacy.state import StateRecord

__all__ = [
    "AnalysisItem",
    "CaseItem",
    "Coercion",
    "ImportPlan",
    "KeyOutcome",
    "KeyReport",
    "LegacyAnalysis",
    "LegacyRejection",
    "LegacyWarning",
    "NormalizedCase",
    "NumberKind",
    "Outcome",
    "PreferencesResult",
    "StateRecord",
    "as_fraction",
    "coerce_number",
    "parse_export",
]
