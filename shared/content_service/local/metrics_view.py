"""`content-service local metrics`: the figures the dashboards would show, from the local stack.

The local stack's functions append each figure they emit (the same ones their EMF lines carry to
CloudWatch on AWS) to ``<state dir>/metrics.jsonl``; this module folds them into one row per
figure and dimension set: how many values, their sum, p95 and the latest.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class FigureSummary:
    name: str
    dimensions: tuple[tuple[str, str], ...]
    unit: str
    values: list[float] = field(default_factory=list)

    @property
    def total(self) -> float:
        return sum(self.values)

    @property
    def p95(self) -> float:
        ordered = sorted(self.values)
        return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def summarise(lines: Iterable[str], since: float = 0.0) -> list[FigureSummary]:
    """One summary per (figure, dimensions), sorted by name; lines that are not records are skipped."""
    summaries: dict[tuple[str, tuple[tuple[str, str], ...]], FigureSummary] = {}
    for line in lines:
        try:
            record = json.loads(line)
            name, value, unit = str(record["name"]), float(record["value"]), str(record["unit"])
            dimensions = tuple(
                sorted((str(k), str(v)) for k, v in dict(record.get("dimensions") or {}).items())
            )
            moment = float(record.get("t", 0))
        except (ValueError, KeyError, TypeError, AttributeError):
            continue  # a line cut by a crash mid-write, or not ours
        if moment < since:
            continue
        summary = summaries.setdefault((name, dimensions), FigureSummary(name, dimensions, unit))
        summary.values.append(value)
    return sorted(summaries.values(), key=lambda s: (s.name, s.dimensions))


def read_summaries(path: Path, since: float = 0.0) -> list[FigureSummary]:
    if not path.exists():
        return []
    with path.open(encoding="utf-8", errors="replace") as lines:
        return summarise(lines, since)
