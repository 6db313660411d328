"""Where the tests find the vendored conformance fixtures (tests/data/conformance, see SOURCES.md there).

The fixtures live in the repository, so a clone in an empty folder runs every test that reads
them; a missing file is a failure, never a skip (tests/conftest.py holds that line).
"""

from __future__ import annotations

from pathlib import Path

CONFORMANCE = Path(__file__).parent / "data" / "conformance"
PACKAGES = CONFORMANCE / "packages"
XSD = CONFORMANCE / "xsd"
XAPI_SCHEMAS = CONFORMANCE / "xapi" / "json-schema-1.0.1"
