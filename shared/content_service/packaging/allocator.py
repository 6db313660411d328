"""glibc malloc settings for a process that builds packages.

A build allocates a fresh buffer of about 1 MiB for every piece it inflates (the inflaters return
new ``bytes``; neither zlib's nor ISA-L's Python binding can inflate into a buffer of ours) and
frees it a moment later. With glibc's default, dynamic thresholds a fresh process serves these
from ``mmap`` at first and then from the heap, whose top it gives back to the kernel whenever
more than twice the largest buffer lies free there, so the next buffer faults zeroed pages in
again: on the 500 MB benchmark package about 11 % of a one-worker build's CPU time went to those
faults and page clearing (2026-12-04, BENCHMARKS.md "Build"). Fixed thresholds above the build's
buffers keep the freed memory for reuse instead. This is a setting of the C library, not code
of ours to replace it: ``mallopt`` through ``ctypes``, called once at the start of a process
that builds (the build function, ``content-service build``), and a no-op where the C library is
not glibc.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

# mallopt's parameter numbers (glibc's malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

#: Allocations up to this size come from the heap: above the build's 1 MiB pieces and their
#: partly consumed input, far below a Lambda's memory.
MMAP_THRESHOLD = 8 * 1024 * 1024
#: Free memory kept at the heap's top before it is given back: a few dozen of those pieces.
TRIM_THRESHOLD = 64 * 1024 * 1024


def tune_for_builds() -> bool:
    """Set the thresholds above; True if the C library took them (glibc), else False."""
    if not sys.platform.startswith("linux"):  # macOS and Windows have no mallopt
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):  # no C library to load; one without mallopt
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)) and bool(
        mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
    )
