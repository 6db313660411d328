"""Write one section of BENCHMARKS.md, leaving every other section as it is."""

from __future__ import annotations

from pathlib import Path

REPORT = Path(__file__).resolve().parents[1] / "BENCHMARKS.md"


def write_section(title: str, body: str, report: Path = REPORT) -> None:
    """Replace the section headed ``title`` (a "## ..." line) with ``body``, or append it."""
    document = report.read_text() if report.exists() else "# Benchmarks\n"
    section = f"{title}\n\n{body.strip()}\n"
    start = document.find(title)
    if start < 0:
        document = document.rstrip("\n") + "\n\n" + section
    else:
        following = document.find("\n## ", start + len(title))
        rest = "" if following < 0 else document[following:]
        document = document[:start] + section + rest
    report.write_text(document)
