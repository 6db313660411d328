"""Browser tests need Debian's Chromium, node and `npm ci` in tests/browser.

Outside CI they skip, with the reason, when a piece is missing; in CI (CI=true) a missing
piece is a failure, because .ci/run installs all of them.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

collect_ignore = ["node_modules"]

HERE = Path(__file__).parent
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))


def missing_pieces() -> list[str]:
    missing = []
    if not CHROMIUM.exists():
        missing.append(f"Chromium ({CHROMIUM}; apt-get install chromium)")
    if shutil.which("node") is None:
        missing.append("node")
    for package in ("scorm-again", "playwright-core"):
        if not (HERE / "node_modules" / package / "package.json").is_file():
            missing.append(f"{package} (npm ci in tests/browser)")
    return missing


def require_browser() -> None:
    """Skip (or, in CI, fail) when the browser test tools are not installed."""
    missing = missing_pieces()
    if not missing:
        return
    message = "browser tests need " + ", ".join(missing)
    if os.environ.get("CI") == "true":
        pytest.fail(message + " (CI must install them: see .ci/run)", pytrace=False)
    pytest.skip(message)
