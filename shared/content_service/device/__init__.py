"""The reference device agent: enroll, download, verify, mount and read offline bundles.

Not part of the Lambda functions: it is what a learner's device does, in Python, so the
service's offline contract (docs/offline-bundles.md) is exercised end to end. It needs the
``local`` extra (requests).

- ``agent.DeviceAgent``: the Python API.
- ``store.DeviceStore``: the private state directory (0700; key, enrolment, bundles).
- ``clock.TrustedClock``: the anti-rollback clock.
- ``outbox.Outbox``: durable, idempotent queue of xAPI statements and tamper reports.
- ``mount.MountedBundle``: decrypt-on-read access under the licence.
- ``sync``: the sync feed (``sync_once``, ``SyncLoop``, ``SyncStatus``): revoked bundles are removed.
"""

from content_service.device.agent import (
    BundleInfo,
    DeviceAgent,
    LicenceRefreshStatus,
    StatusSource,
    VerifyReport,
)
from content_service.device.clock import TrustedClock
from content_service.device.errors import (
    AlreadyEnrolled,
    BundleNotFound,
    ClockUntrusted,
    DeviceError,
    DownloadIncomplete,
    InsecureStateDir,
    LicenceRevoked,
    NotEnrolled,
    Offline,
    TamperDetected,
)
from content_service.device.http import HttpStatementSink
from content_service.device.mount import MountedBundle
from content_service.device.outbox import Outbox
from content_service.device.store import DeviceStore
from content_service.device.sync import SyncLoop, SyncResult, SyncStatus

__all__ = [
    "AlreadyEnrolled",
    "BundleInfo",
    "BundleNotFound",
    "ClockUntrusted",
    "DeviceAgent",
    "DeviceError",
    "DeviceStore",
    "DownloadIncomplete",
    "HttpStatementSink",
    "InsecureStateDir",
    "LicenceRefreshStatus",
    "LicenceRevoked",
    "MountedBundle",
    "NotEnrolled",
    "Offline",
    "Outbox",
    "StatusSource",
    "SyncLoop",
    "SyncResult",
    "SyncStatus",
    "TamperDetected",
    "TrustedClock",
    "VerifyReport",
]
