"""The pool behind S3's background uploads: taken by rename, bounded, first error, nothing left behind."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from content_service.adapters.background_uploads import BackgroundUploads


def _spool(folder: Path, name: str, data: bytes = b"x") -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


def test_a_file_is_taken_by_rename_uploaded_and_its_staging_removed(tmp_path: Path) -> None:
    uploads = BackgroundUploads(threads=2)
    got: dict[str, bytes] = {}
    lock = threading.Lock()

    def upload_as(name: str):  # type: ignore[no-untyped-def]
        def upload(staged: Path) -> None:
            assert staged.parent.parent == tmp_path  # beside the spool: the same file system
            with lock:
                got[name] = staged.read_bytes()

        return upload

    for name in ("a", "b", "c"):
        spool = _spool(tmp_path, f"{name}.spool", name.encode() * 3)
        uploads.submit(name, spool, upload_as(name))
        assert not spool.exists()  # taken, not copied
    uploads.finish()
    assert got == {"a": b"aaa", "b": b"bbb", "c": b"ccc"}
    assert list(tmp_path.iterdir()) == []


def test_a_key_submitted_twice_is_uploaded_once_and_its_second_file_left_in_place(tmp_path: Path) -> None:
    uploads = BackgroundUploads(threads=2)
    calls: list[Path] = []
    uploads.submit("k", _spool(tmp_path, "1.spool"), calls.append)
    second = _spool(tmp_path, "2.spool")
    uploads.submit("k", second, calls.append)
    uploads.finish()
    assert len(calls) == 1 and second.exists()


def test_finish_raises_the_first_error_and_after_it_the_next_submit_at_once(tmp_path: Path) -> None:
    uploads = BackgroundUploads(threads=1)
    boom = OSError("the network is gone")
    failed = threading.Event()
    ran: list[str] = []

    def fail(staged: Path) -> None:
        failed.set()
        raise boom

    uploads.submit("a", _spool(tmp_path, "a.spool"), fail)
    assert failed.wait(5)
    with pytest.raises(OSError) as raised:
        # The failure is recorded once the worker returns; a submit after it never stages its file.
        while True:
            uploads.submit(f"k{len(ran)}", _spool(tmp_path, f"{len(ran)}.spool"), lambda p: None)
            ran.append("submitted")
    assert raised.value is boom
    uploads.abandon()
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{len(ran)}.spool"]  # the refused one only

    uploads.submit("b", _spool(tmp_path, "b.spool"), fail)
    with pytest.raises(OSError) as raised:
        uploads.finish()
    assert raised.value is boom
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{len(ran)}.spool"]


def test_abandon_cancels_what_has_not_started_waits_for_the_rest_and_removes_every_file(
    tmp_path: Path,
) -> None:
    uploads = BackgroundUploads(threads=1, staged=5)
    started, release = threading.Event(), threading.Event()
    ran: list[str] = []

    def slow(staged: Path) -> None:
        started.set()
        release.wait(5)
        ran.append("slow")

    uploads.submit("slow", _spool(tmp_path, "slow.spool"), slow)
    for n in range(3):
        uploads.submit(f"k{n}", _spool(tmp_path, f"{n}.spool"), lambda p: ran.append("queued"))
    assert started.wait(5)
    threading.Timer(0.2, release.set).start()
    uploads.abandon()
    assert ran == ["slow"]  # waited for, the queued ones cancelled
    assert list(tmp_path.iterdir()) == []


def test_submit_blocks_while_the_bound_is_staged(tmp_path: Path) -> None:
    uploads = BackgroundUploads(threads=1, staged=2)
    release = threading.Event()
    uploads.submit("a", _spool(tmp_path, "a.spool"), lambda p: release.wait(5))
    uploads.submit("b", _spool(tmp_path, "b.spool"), lambda p: None)
    third = _spool(tmp_path, "c.spool")
    done = threading.Event()
    threading.Thread(target=lambda: (uploads.submit("c", third, lambda p: None), done.set())).start()
    assert not done.wait(0.3) and third.exists()  # two staged: the third waits
    release.set()
    assert done.wait(5)
    uploads.finish()
    assert list(tmp_path.iterdir()) == []


def test_the_bounds_must_be_positive() -> None:
    with pytest.raises(ValueError):
        BackgroundUploads(threads=0)
    with pytest.raises(ValueError):
        BackgroundUploads(threads=1, staged=0)
    assert BackgroundUploads(threads=3).limit == 6
