"""Shared data for the engine tests: the reference vectors and the legacy fixture.

They live in the project's shared/ folder (next to the repository in development). Set
EPV_SHARED_DIR to point elsewhere.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import pytest

from epv_common.testing.shared import shared_dir


@cache
def reference_vectors() -> dict[str, Any]:
    return json.loads((shared_dir() / "reference" / "epv-vectors.json").read_text())


@cache
def legacy_export() -> dict[str, Any]:
    return json.loads((shared_dir() / "fixtures" / "legacy" / "localstorage-export.json").read_text())


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "vector" in metafunc.fixturenames:
        data = reference_vectors()
        entries = data["cases"] + data["edge_cases"]
        metafunc.parametrize("vector", entries, ids=[e["id"] for e in entries])
    if "ok_vector" in metafunc.fixturenames:
        data = reference_vectors()
        entries = [e for e in data["cases"] + data["edge_cases"] if e["expected"]["status"] == "ok"]
        metafunc.parametrize("ok_vector", entries, ids=[e["id"] for e in entries])


@pytest.fixture
def vectors() -> dict[str, Any]:
    return reference_vectors()


@pytest.fixture
def vector_by_id() -> dict[str, dict[str, Any]]:
    data = reference_vectors()
    return {e["id"]: e for e in data["cases"] + data["edge_cases"]}


@pytest.fixture
def legacy_cases() -> list[Any]:
    return json.loads(legacy_export()["epv-cases"])
