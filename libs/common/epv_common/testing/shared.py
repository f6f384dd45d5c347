"""Where the project's shared/ folder is (reference vectors, recorded fixtures): next to the
repository in development and CI, or wherever EPV_SHARED_DIR says."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

MARKER = Path("reference") / "epv-vectors.json"


@cache
def shared_dir() -> Path:
    env = os.environ.get("EPV_SHARED_DIR")
    if env:
        return Path(env)
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "shared"
        if (candidate / MARKER).is_file():
            return candidate
    raise RuntimeError(f"shared/{MARKER} not found above the project; set EPV_SHARED_DIR")


def marketdata_fixtures() -> Path:
    return shared_dir() / "fixtures" / "marketdata"
