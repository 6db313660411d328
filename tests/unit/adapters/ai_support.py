"""Package text for generator tests: the documents of a real package zip, as the service reads them."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

from content_service.domain.assistant_ai import GenerationRequest, SourceDocument
from content_service.domain.assistant_text import extract
from content_service.packaging.media_types import media_type
from content_service.samples import sample_zip_bytes

ROOT = Path(__file__).resolve().parents[3]
PACKAGES = ROOT / "tests" / "data" / "conformance" / "packages"
#: A zip of ADL test manifests only: no content, so nothing for an assistant to read.
MANIFESTS_ONLY = {"adl_cts_4th_lms_test_manifests.zip"}
#: The shared sample packages that carry text: each standard's top-level conformance zips, and ours.
SAMPLE_ZIPS = sorted(
    p
    for standard in PACKAGES.iterdir()
    if standard.is_dir()
    for p in standard.glob("*.zip")
    if p.name not in MANIFESTS_ONLY
)


def zip_bytes(name: str) -> bytes:
    return sample_zip_bytes("welcome") if name == "welcome" else (PACKAGES / name).read_bytes()


def documents_of(data: bytes) -> tuple[tuple[SourceDocument, ...], frozenset[str]]:
    archive = zipfile.ZipFile(io.BytesIO(data))
    paths = frozenset(name for name in archive.namelist() if not name.endswith("/"))
    documents = []
    for path in sorted(paths):
        body = archive.read(path)
        document = extract(path, hashlib.sha256(body).hexdigest(), media_type(path), body)
        if document is not None:
            documents.append(document)
    return tuple(documents), paths


def a_request(name: str, title: str = "Course") -> GenerationRequest:
    documents, paths = documents_of(zip_bytes(name))
    return GenerationRequest(title, "en", documents, paths)
