"""The malloc settings a building process takes keep the inflaters' freed buffers for reuse.

Measured by what they change, page faults, in fresh processes (the settings are process-wide and
the thresholds glibc adapts by itself depend on what the process did before): the same build in
a process that took the settings and in one that did not.
"""

from __future__ import annotations

import ctypes
import json
import os
import platform
import random
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from content_service.packaging import allocator

glibc = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the settings are glibc's mallopt")

_BUILD = textwrap.dedent(
    """
    import json, os, resource, sys
    from pathlib import Path

    from content_service.packaging.allocator import tune_for_builds
    from content_service.packaging.containers import build_and_seal
    from content_service.packaging.limits import ImportLimits

    source, scratch, tuned = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] == "tuned"
    took = tune_for_builds() if tuned else None

    class Store:
        def put_file(self, sha256, size, media_type, path):
            pass  # the build removes the spool

    (scratch / "spool").mkdir()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    build_and_seal(source, ImportLimits(), Store(), lambda: os.urandom(32), scratch / "c",
                   workdir=scratch / "spool", workers=1)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    print(json.dumps({"took": took, "faults": faults}))
    """
)


def _package(path: Path) -> Path:
    """A native package with files of a few MiB that compress about 2:1, like the benchmark's."""
    rng = random.Random(7)
    words = [
        bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9)))
        for _ in range(4000)
    ]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "playpackage.json", json.dumps({"title": "Big", "language": "en", "entry": "index.html"})
        )
        archive.writestr("index.html", "<!doctype html><title>Big</title>")
        for number in range(6):
            text = b" ".join(rng.choice(words) for _ in range(500_000))
            archive.writestr(f"part-{number}.txt", text)
    return path


def _faults(source: Path, scratch: Path, mode: str) -> dict[str, object]:
    scratch.mkdir()
    done = subprocess.run(
        [sys.executable, "-c", _BUILD, str(source), str(scratch), mode], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@glibc
@pytest.mark.skipif(
    "MUTANT_UNDER_TEST" in os.environ,
    reason="its child processes import the installed package, not mutmut's mutated copy, so it cannot"
    " tell mutants apart (and under mutmut they measured 57 and 59 faults alike, 2026-12-04)",
)
def test_a_build_in_a_tuned_process_faults_far_fewer_pages_in(tmp_path: Path) -> None:
    source = _package(tmp_path / "big.zip")
    default = _faults(source, tmp_path / "default", "default")
    tuned = _faults(source, tmp_path / "tuned", "tuned")
    assert tuned["took"] is True
    # About 3x fewer here (20 MiB of content: the first touch of the kept memory is most of what
    # is left) and 12x on the 500 MB benchmark package; untuned, the two are the same.
    assert int(tuned["faults"]) * 2 < int(default["faults"]), (tuned, default)  # type: ignore[call-overload]


def test_a_c_library_without_mallopt_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    class NoMallopt:
        def __init__(self, name: str | None) -> None:
            pass

    monkeypatch.setattr(ctypes, "CDLL", NoMallopt)
    assert allocator.tune_for_builds() is False


def test_a_c_library_that_cannot_be_loaded_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(name: str | None) -> None:
        raise OSError("no C library here")

    monkeypatch.setattr(ctypes, "CDLL", refuse)
    assert allocator.tune_for_builds() is False


@pytest.mark.parametrize("platform_name", ["win32", "darwin"])
def test_other_systems_are_left_alone(monkeypatch: pytest.MonkeyPatch, platform_name: str) -> None:
    def no_call(name: str | None) -> None:
        raise AssertionError("no C library is loaded off Linux")

    monkeypatch.setattr(sys, "platform", platform_name)
    monkeypatch.setattr(ctypes, "CDLL", no_call)
    assert allocator.tune_for_builds() is False
