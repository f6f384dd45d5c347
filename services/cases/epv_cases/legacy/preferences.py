"""``epv-preferences`` mapped per the legacy README's table.

- ``theme``, ``currency``, ``numberFormat``, ``showMonteCarlo``, ``recommendedMethod`` → user
  preferences (``theme``, ``currency``, ``number_format``, ``show_monte_carlo``,
  ``recommended_method``), as given;
- ``defaultWacc``, ``defaultTaxRate`` → defaults for new cases (``wacc``,
  ``tax_rate_override``) as fractions: the number rule first (a number string is coerced with
  ``LEGACY_NUMBER_COERCED``; anything else that is not a number is left out with
  ``LEGACY_NUMBER_UNPARSEABLE``), then a value > 1 is divided by 100 with
  ``LEGACY_PERCENT_SCALED``. ``null`` counts as absent;
- any other member → ``LEGACY_UNKNOWN_FIELD``, kept in the import record (``unknown``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from epv_cases.legacy import codes
from epv_cases.legacy.codes import Outcome
from epv_cases.legacy.jsonvalue import JsonValue, compact_text, copy_json, is_json_number
from epv_cases.legacy.numbers import NumberKind, as_fraction, coerce_number
from epv_cases.legacy.report import Findings, LegacyWarning, Locator

USER_PREFERENCES: Final = (
    ("theme", "theme"),
    ("currency", "currency"),
    ("numberFormat", "number_format"),
    ("showMonteCarlo", "show_monte_carlo"),
    ("recommendedMethod", "recommended_method"),
)
CASE_DEFAULTS: Final = (
    ("defaultWacc", "wacc"),
    ("defaultTaxRate", "tax_rate_override"),
)
_KNOWN: Final = frozenset(old for old, _ in USER_PREFERENCES + CASE_DEFAULTS)


@dataclass(frozen=True, slots=True)
class PreferencesResult:
    outcome: Outcome
    user: dict[str, JsonValue] = field(default_factory=dict)
    case_defaults: dict[str, JsonValue] = field(default_factory=dict)
    warnings: tuple[LegacyWarning, ...] = ()
    unknown: dict[str, JsonValue] = field(default_factory=dict)
    unparseable_values: dict[str, JsonValue] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome.value,
            "user": copy_json(self.user),
            "case_defaults": copy_json(self.case_defaults),
            "warnings": [w.to_dict() for w in self.warnings],
            "unknown": copy_json(self.unknown),
            "unparseable_values": copy_json(self.unparseable_values),
        }


def parse_preferences(prefs: dict[str, JsonValue]) -> PreferencesResult:
    """Map the parsed ``epv-preferences`` object."""
    findings = Findings(Locator(codes.KEY_PREFERENCES))
    user = {new: copy_json(prefs[old]) for old, new in USER_PREFERENCES if old in prefs}
    defaults: dict[str, JsonValue] = {}
    for old, new in CASE_DEFAULTS:
        value = prefs.get(old)
        if value is None:
            continue
        fraction = _fraction(old, value, findings)
        if fraction is not None:
            defaults[new] = fraction
    for name, value in prefs.items():
        if name not in _KNOWN:
            findings.keep_unknown(name, value)
            findings.warn(
                codes.LEGACY_UNKNOWN_FIELD,
                name,
                "not a preference of the old app; kept in the import record",
            )
    warnings = tuple(findings.warnings)
    return PreferencesResult(
        outcome=Outcome.IMPORTED_WITH_WARNINGS if warnings else Outcome.IMPORTED,
        user=user,
        case_defaults=defaults,
        warnings=warnings,
        unknown=findings.unknown,
        unparseable_values=findings.unparseable,
    )


def _fraction(name: str, value: JsonValue, findings: Findings) -> JsonValue:
    result = coerce_number(value)
    if result.kind is NumberKind.COERCED:
        findings.coerced[name] = value
        findings.warn(
            codes.LEGACY_NUMBER_COERCED,
            name,
            f"number stored as the string {compact_text(value)}, read as "
            f"{compact_text(result.value)}",
        )
    elif result.kind is not NumberKind.NUMBER:
        findings.unparseable[name] = copy_json(value)
        findings.warn(
            codes.LEGACY_NUMBER_UNPARSEABLE,
            name,
            f"{compact_text(value)} is not a number; left out, the original is kept in the "
            "import record",
        )
        return None
    fraction, scaled = as_fraction(result.value)
    if not is_json_number(fraction):
        findings.unparseable[name] = copy_json(value)
        findings.warn(
            codes.LEGACY_NUMBER_UNPARSEABLE,
            name,
            f"{compact_text(value)} is out of range; left out",
        )
        return None
    if scaled:
        findings.warn(
            codes.LEGACY_PERCENT_SCALED,
            name,
            f"{compact_text(result.value)} read as a percentage: {compact_text(fraction)}",
        )
    return fraction
