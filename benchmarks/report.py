"""Write one section of BENCHMARKS.md, leaving every other section as it is."""

from __future__ import annotations

from pathlib import Path

REPORT = Path(__file__).resolve().parents[1] / "BENCHMARKS.md"


def replace_section(document: str, section: str) -> str:
    """``document`` with the section headed like ``section`` (its first, "## ..." line) replaced or appended."""
    title = section.splitlines()[0]
    section = section.strip("\n") + "\n"
    if not document.strip():
        document = "# Benchmarks\n"
    start = document.find(title)
    if start < 0:
        return document.rstrip("\n") + "\n\n" + section
    following = document.find("\n## ", start + len(title))
    rest = document[following + 1 :] if following >= 0 else ""
    return document[:start] + section + ("\n" + rest if rest else "")


def write_section(section: str, report: Path = REPORT) -> None:
    """Replace (or append) this benchmark's section of BENCHMARKS.md."""
    document = report.read_text(encoding="utf-8") if report.exists() else ""
    report.write_text(replace_section(document, section), encoding="utf-8")
