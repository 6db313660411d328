"""The table of sandbox problem codes and the code that raises them stay in step."""

from __future__ import annotations

import re
from pathlib import Path

import content_service.packaging as packaging
from content_service.packaging.codes import SANDBOX_CODES, UPLOAD_CODES

SOURCES = [path for path in Path(packaging.__file__).parent.glob("*.py") if path.name != "codes.py"]


def _raised_codes() -> set[str]:
    pattern = re.compile(r'"((?:zip|package|internal)\.[a-z0-9_]+)"')
    return {code for path in SOURCES for code in pattern.findall(path.read_text())}


def test_every_code_the_sandbox_raises_is_documented() -> None:
    assert _raised_codes() - SANDBOX_CODES.keys() == set()


def test_every_documented_code_is_raised_somewhere() -> None:
    assert SANDBOX_CODES.keys() - _raised_codes() == set()


def test_the_upload_codes_the_build_sets_are_in_the_table_and_the_format_document() -> None:
    import content_service.service.packages as packages

    raised = set(re.findall(r'"(upload\.[a-z0-9_]+)"', Path(packages.__file__).read_text()))
    assert raised == UPLOAD_CODES.keys()
    document = (Path(__file__).parents[3] / "docs" / "package-format.md").read_text()
    assert {code for code in UPLOAD_CODES if f"| `{code}` |" not in document} == set()


def test_every_sandbox_code_has_a_row_in_the_format_document() -> None:
    document = (Path(__file__).parents[3] / "docs" / "package-format.md").read_text()

    assert {code for code in SANDBOX_CODES if f"| `{code}` |" not in document} == set()
