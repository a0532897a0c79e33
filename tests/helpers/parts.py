"""Real parts a test needs (Chromium, a PostgreSQL server): skipped where missing, failed in CI."""

from __future__ import annotations

import os

import pytest

STRICT = "IVR_TEST_STRICT"


def missing(reason: str) -> None:
    """Skip the test for a missing part, or fail it where IVR_TEST_STRICT=1 (.ci/run sets it)."""
    if os.environ.get(STRICT) == "1":
        pytest.fail(f"{reason} ({STRICT}=1: every real part must be here)")
    pytest.skip(reason)
