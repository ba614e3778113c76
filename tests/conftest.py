"""Shared fixtures: where the project and the third-party corpus live, and skip rules."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from testpaths import CAPTURES, DATA, PUBLIC, ROOT, SHARED, public_files  # noqa: F401 - re-exported


@pytest.fixture(scope="session")
def public_dir() -> Path:
    """``../shared/captures/public``; the test is skipped when it is absent."""
    if not PUBLIC.is_dir():
        pytest.skip(f"third-party capture corpus not found at {PUBLIC}")
    return PUBLIC


@pytest.fixture(scope="session")
def tshark() -> str:
    """Path of the tshark binary; the test is skipped when it is not installed."""
    path = shutil.which("tshark")
    if path is None:
        pytest.skip("tshark is not installed (apt-get install tshark)")
    return path


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite the golden files under tests/golden/ instead of comparing (review the diff)",
    )


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    """Whether golden files are to be rewritten rather than compared."""
    return bool(request.config.getoption("--update-golden"))
