"""The sample package the demo uploads is a valid native package, zipped deterministically."""

from __future__ import annotations

import io
import zipfile

import pytest

from content_service.domain.package import Standard
from content_service.samples import sample_names, sample_zip_bytes
from content_service.standards import detect_and_parse
from tests.memory_source import MemorySource


def test_the_welcome_sample_zips_to_the_same_bytes_every_time() -> None:
    assert sample_zip_bytes("welcome") == sample_zip_bytes()


def test_the_welcome_sample_is_a_valid_native_package() -> None:
    with zipfile.ZipFile(io.BytesIO(sample_zip_bytes())) as archive:
        infos = archive.infolist()
        files = {info.filename: archive.read(info) for info in infos}
    assert [info.filename for info in infos] == sorted(files)
    assert {info.date_time for info in infos} == {(1980, 1, 1, 0, 0, 0)}
    descriptor = detect_and_parse(MemorySource(files))
    assert descriptor.standard is Standard.NATIVE
    assert [launch.href for launch in descriptor.launches] == ["index.html", "how-it-works.html"]
    assert {"style.css", "images/logo.svg"} <= set(files)


def test_an_unknown_sample_is_an_error() -> None:
    assert "welcome" in sample_names()
    with pytest.raises(ValueError, match="no sample package"):
        sample_zip_bytes("nope")
