"""Shared fixtures: where the project and the third-party corpus live, skip rules, and the
``corpus`` marker.

Every test that reads the third-party corpus (``../shared/captures/public``) is marked
``corpus`` here, at collection: those that take the ``public_dir`` fixture and those
parametrized with a path under the corpus. ``pytest -m "not corpus"`` is the fast loop.
"""

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


def _in_corpus(value: object) -> bool:
    """Whether a test parameter is (or holds) a path under the corpus."""
    if isinstance(value, (tuple, list)):
        return any(_in_corpus(v) for v in value)
    return isinstance(value, Path) and value.is_relative_to(PUBLIC)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark ``corpus`` the tests that read the third-party corpus (see the module docstring)."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        params = callspec.params.values() if callspec is not None else ()
        if "public_dir" in getattr(item, "fixturenames", ()) or any(map(_in_corpus, params)):
            item.add_marker(pytest.mark.corpus)


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
