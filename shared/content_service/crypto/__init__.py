"""Content cryptography: the streaming-AEAD content container (and, later, signing and licences).

This package is the only place in the service that imports ``cryptography.hazmat``.
"""

from content_service.crypto.container import ContainerSummary, seal
from content_service.crypto.errors import (
    ContainerError,
    ContainerKeyMismatch,
    ContainerPathNotFound,
    ContainerTampered,
    ContainerTruncated,
    InvalidContainerInput,
    UnsupportedVersion,
)
from content_service.crypto.header import DEFAULT_SEGMENT_SIZE, FORMAT_VERSION
from content_service.crypto.index import IndexEntry
from content_service.crypto.reader import ContainerFile, ContainerReader, RangeRead

__all__ = [
    "DEFAULT_SEGMENT_SIZE",
    "FORMAT_VERSION",
    "ContainerError",
    "ContainerFile",
    "ContainerKeyMismatch",
    "ContainerPathNotFound",
    "ContainerReader",
    "ContainerSummary",
    "ContainerTampered",
    "ContainerTruncated",
    "IndexEntry",
    "InvalidContainerInput",
    "RangeRead",
    "UnsupportedVersion",
    "seal",
]
