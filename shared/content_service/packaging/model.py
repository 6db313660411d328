"""The contract between the zip sandbox, the standard parsers and the builder."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from content_service.domain.package import Launch, Problem, Standard


class PackageRejected(Exception):  # noqa: N818 - a rejection, not a programming error
    """The package cannot be built; ``problems`` says why (the first is the main reason)."""

    def __init__(self, problems: list[Problem]) -> None:
        if not problems:
            raise ValueError("a rejection needs at least one problem")
        super().__init__("; ".join(f"{p.code}: {p.detail}" for p in problems))
        self.problems = problems


class DescriptorSource(Protocol):
    """What a standard parser may see of a package that passed the central-directory checks."""

    @property
    def names(self) -> frozenset[str]:
        """Every file path in the package ('/'-separated, no directory entries)."""
        ...

    def read(self, path: str) -> bytes:
        """The bytes of one descriptor file, bounded by the descriptor size limit."""
        ...


@dataclass(frozen=True)
class Descriptor:
    """What a standard parser learned from a package's descriptor."""

    standard: Standard
    title: str
    language: str | None
    launches: tuple[Launch, ...]
    metadata: dict[str, Any] = field(default_factory=dict)
