"""Typed errors of the content container.

Opening a container never returns plaintext it could not authenticate: every failure is one of
these exceptions. They are ``DomainError`` subclasses so the API and the device agent map them to
problems in one place, by type, never by message text.
"""

from __future__ import annotations

from content_service.domain.errors import PROBLEM_BASE, DomainError


class ContainerError(DomainError):
    """Base of every error raised while sealing or opening a content container."""

    problem_type = PROBLEM_BASE + "container-invalid"
    title = "The content container cannot be used"
    status = 422


class ContainerTampered(ContainerError):
    """A segment, the index or the header failed authentication or is inconsistent.

    This is also what a cut inside a segment looks like: only a cut exactly at a segment
    boundary can be told apart from an alteration (see ``ContainerTruncated``).
    """

    problem_type = PROBLEM_BASE + "container-tampered"
    title = "The content container was altered"


class ContainerTruncated(ContainerError):
    """The container ends early: it is shorter than its header, or its last segment is not final."""

    problem_type = PROBLEM_BASE + "container-truncated"
    title = "The content container is incomplete"


class UnsupportedVersion(ContainerError):
    """The header carries a format version this code does not read."""

    problem_type = PROBLEM_BASE + "container-unsupported-version"
    title = "The content container format version is not supported"


class ContainerKeyMismatch(ContainerError):
    """The key does not open this container: a wrong key, or an altered header.

    The header carries a commitment to the key (derived from it), so a wrong key is refused
    before any segment is decrypted. The two causes cannot be told apart cryptographically.
    """

    problem_type = PROBLEM_BASE + "container-key-mismatch"
    title = "The key does not open this content container"


class ContainerPathNotFound(ContainerError):
    """The container holds no file with this path."""

    problem_type = PROBLEM_BASE + "container-path-not-found"
    title = "The content container holds no such file"
    status = 404


class InvalidContainerInput(ContainerError):
    """What the caller asked to seal cannot be stored: a bad or duplicate path, too much data."""

    problem_type = PROBLEM_BASE + "container-input-invalid"
    title = "The files cannot be sealed in a content container"
