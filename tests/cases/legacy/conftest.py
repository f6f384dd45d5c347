"""Data for the legacy-import parsing tests: the real export and builders of small exports.

The export lives in the project's shared/ folder (next to the repository in development).
Set EPV_SHARED_DIR to point elsewhere.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from epv_common.testing.shared import shared_dir

EXPORT = Path("fixtures") / "legacy" / "localstorage-export.json"


@cache
def _export() -> dict[str, Any]:
    return json.loads((shared_dir() / EXPORT).read_text(encoding="utf-8"))


@pytest.fixture
def legacy_export() -> dict[str, str]:
    """The real localStorageData object (a fresh copy per test)."""
    return copy.deepcopy(_export())


@pytest.fixture
def fixture_cases() -> list[Any]:
    """The real ``epv-cases`` entries, parsed."""
    return json.loads(_export()["epv-cases"])


def _minimal_case(**overrides: Any) -> dict[str, Any]:
    case: dict[str, Any] = {
        "id": "case-1",
        "name": "Test practice",
        "lastModified": "2024-01-01T00:00:00.000Z",
        "status": "draft",
        "tags": ["t"],
        "financialData": {
            "periods": {"2023": "2023-12-31", "2024": "2024-12-31"},
            "revenue": {"total": [100, 200]},
            "meta": {"case_name": "Meta name"},
        },
        "analyses": [],
    }
    case.update(overrides)
    return {k: v for k, v in case.items() if v is not _DROP}


_DROP = object()


@pytest.fixture
def drop() -> object:
    """Pass as an override to :func:`case_factory` to remove the member."""
    return _DROP


@pytest.fixture
def case_factory() -> Callable[..., dict[str, Any]]:
    """A minimal clean legacy case; keyword overrides replace (or, with ``drop``, remove)."""
    return _minimal_case


@pytest.fixture
def export_of() -> Callable[..., dict[str, Any]]:
    """Build a localStorageData object: parsed values JSON-encoded, ``extra`` keys as given."""

    def build(
        cases: list[Any] | None = None,
        *,
        state: Any = None,
        preferences: Any = None,
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if cases is not None:
            data["epv-cases"] = json.dumps(cases)
        if state is not None:
            data["epv-pro-state"] = json.dumps(state)
        if preferences is not None:
            data["epv-preferences"] = json.dumps(preferences)
        data.update(extra or {})
        return data

    return build
