"""The last-resort boundary between a hostile package and the rest of the service.

Every malformed archive must already be refused with a specific ``zip.*`` (or standards)
problem; the property-based fuzz test in tests/security is what guards that. If a package
still reaches an exception nobody planned for, validation and the build must not print a
traceback, retry forever or leave the package ``building``: the error is logged with its
stack (so it can be fixed) and becomes an ``internal.*`` problem that refuses the package.

Only the code that reads the package is guarded. Errors of the infrastructure around it
(the blob store, the disk the spool lives on) still propagate, so that a delivery which
failed for a passing reason is retried instead of failing the package for good.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from content_service.domain.package import Problem
from content_service.packaging.model import PackageRejected

logger = logging.getLogger(__name__)

VALIDATION_CRASHED = "internal.validation_crashed"
BUILD_CRASHED = "internal.build_crashed"


def internal_problem(code: str, error: BaseException) -> Problem:
    """The problem an unexpected error becomes; the detail names the error's type, never its text."""
    detail = (
        f"the package could not be checked: the service hit an unexpected {type(error).__name__}; "
        "this is a defect of the service and has been logged"
    )
    return Problem(code, detail, None)


@contextmanager
def package_boundary(code: str, subject: str) -> Iterator[None]:
    """Turn an unexpected exception inside the block into ``PackageRejected([internal problem])``."""
    try:
        yield
    except PackageRejected:
        raise
    except Exception as error:
        logger.exception("unexpected error while %s", subject)
        raise PackageRejected([internal_problem(code, error)]) from error


def guarded(chunks: Iterator[bytes], code: str, subject: str) -> Iterator[bytes]:
    """The same chunks, with errors raised while producing them (never by the consumer) guarded."""
    with package_boundary(code, subject):
        yield from chunks
