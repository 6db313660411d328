"""The edge cache's byte budget, freshness and Range arithmetic."""

from __future__ import annotations

import threading

import pytest

from content_service.local.edge_cache import CachedObject, EdgeCache, RangeNotSatisfiable, parse_range


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        (None, 10, None),
        ("bytes=0-3", 10, (0, 3)),
        ("bytes=4-", 10, (4, 9)),
        ("bytes=-3", 10, (7, 9)),
        ("bytes=-30", 10, (0, 9)),
        ("bytes=5-100", 10, (5, 9)),
        ("bytes=9-9", 10, (9, 9)),
        ("bytes=3-1", 10, None),
        ("bytes=0-1,4-5", 10, None),
        ("items=0-1", 10, None),
        ("bytes=a-b", 10, None),
    ],
)
def test_ranges_follow_rfc_9110(header: str | None, size: int, expected: tuple[int, int] | None) -> None:
    assert parse_range(header, size) == expected


@pytest.mark.parametrize(
    ("header", "size"), [("bytes=10-", 10), ("bytes=10-20", 10), ("bytes=-0", 10), ("bytes=-1", 0)]
)
def test_ranges_past_the_end_are_unsatisfiable(header: str, size: int) -> None:
    with pytest.raises(RangeNotSatisfiable):
        parse_range(header, size)


def _object(key: str, size: int, etag: str = '"e"', at: float = 0.0) -> CachedObject:
    return CachedObject(key, etag, "date", "application/octet-stream", b"x" * size, stored_at=at)


def test_the_least_recently_used_objects_go_first_when_bytes_run_out() -> None:
    cache = EdgeCache(max_bytes=100, max_object_bytes=100, clock=lambda: 0.0)
    cache.put(_object("a", 40))
    cache.put(_object("b", 40))
    assert cache.get("a") is not None  # "a" is now the most recently used.
    cache.put(_object("c", 40))

    assert cache.get("b") is None
    assert cache.get("a") is not None and cache.get("c") is not None
    assert cache.bytes_used == 80


def test_objects_over_the_per_object_limit_are_not_kept() -> None:
    cache = EdgeCache(max_bytes=100, max_object_bytes=10)
    cache.put(_object("big", 11))
    assert cache.get("big") is None
    assert not cache.cacheable(11) and cache.cacheable(10)


def test_a_new_etag_replaces_the_old_copy_and_its_bytes() -> None:
    cache = EdgeCache(max_bytes=100, clock=lambda: 0.0)
    cache.put(_object("a", 30, '"1"'))
    cache.put(_object("a", 20, '"2"'))
    cached = cache.get("a")
    assert cached is not None and cached.etag == '"2"'
    assert cache.bytes_used == 20


def test_stale_objects_are_dropped() -> None:
    now = [0.0]
    cache = EdgeCache(max_bytes=100, ttl_seconds=10, clock=lambda: now[0])
    cache.put(_object("a", 10, at=0.0))
    now[0] = 9.9
    assert cache.get("a") is not None
    now[0] = 10.0
    assert cache.get("a") is None
    assert cache.bytes_used == 0


def test_filling_one_key_is_serialised() -> None:
    cache = EdgeCache()
    inside, overlaps = [0], []
    lock = threading.Lock()

    def fill() -> None:
        with cache.filling("k"):
            with lock:
                inside[0] += 1
                overlaps.append(inside[0])
            threading.Event().wait(0.01)
            with lock:
                inside[0] -= 1

    threads = [threading.Thread(target=fill) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert overlaps == [1] * 5
