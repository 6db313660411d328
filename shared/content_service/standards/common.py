"""Small helpers every standard parser shares."""

from __future__ import annotations

from content_service.domain.package import Problem
from content_service.packaging.model import PackageRejected
from content_service.standards.hrefs import HrefRefused


class ProblemList:
    """Collects the problems of one checking pass so a package is refused with all of them.

    A pass reports everything it finds (an author fixes them in one go); the first problem
    stays the main reason, so passes run in order of severity: XML, structure, launches.
    """

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, code: str, detail: str, path: str | None) -> None:
        """Record one problem."""
        self.problems.append(Problem(code=code, detail=detail, path=path))

    def add_refusal(self, refusal: HrefRefused) -> None:
        """Record the problem an href refusal carries."""
        self.problems.append(refusal.problem)

    def raise_if_any(self) -> None:
        """Refuse the package if this pass found anything."""
        if self.problems:
            raise PackageRejected(list(self.problems))


def reject(code: str, detail: str, path: str | None) -> PackageRejected:
    """A rejection with a single problem."""
    return PackageRejected([Problem(code=code, detail=detail, path=path)])
