"""The reference device agent: enroll, download, verify, mount and read offline bundles.

Not part of the Lambda functions: it is what a learner's device does, in Python, so the
service's offline contract (docs/offline-bundles.md) is exercised end to end. It needs the
``local`` extra (requests).

Read the modules bottom-up; each calls only the ones above it:

- ``errors``: typed errors; ``store.DeviceStore``: the private state directory (0700; key, bundles).
- ``state.DeviceState``: the sealed (MACed) enrolment record and state root.
- ``clock.TrustedClock``: the anti-rollback clock, persisted in the state root.
- ``trust.Trust``: tokens verified against the pinned keys and held to the enrolment.
- ``http``: the network edge; ``outbox.Outbox``: durable queue of statements, reports, signals.
- ``reports.Reporter``: tamper reports with evidence, and ``device.status_forged`` signals.
- ``content.ContentChecks``: manifest, licence binding, containers, segments.
- ``licences.LicenceRules``: which licence a bundle holds, tombstones, whether it opens now.
- ``downloads.Downloads``; ``sync.Syncer`` and ``SyncLoop``; ``renewals.Renewals`` (before expiry,
  on ``licence.renewed``, back-off with jitter); ``mount.MountedBundle``.
- ``agent.DeviceAgent``: composes them; the Python API.

The threat model these parts answer is docs/threat-model.md.
"""

from content_service.device.agent import (
    BundleInfo,
    DeviceAgent,
    LicenceRefreshStatus,
    StatusSource,
    SyncStatus,
    VerifyReport,
)
from content_service.device.clock import TrustedClock
from content_service.device.errors import (
    AlreadyEnrolled,
    BundleNotFound,
    ClockUntrusted,
    DeviceError,
    DownloadIncomplete,
    EnrolmentAltered,
    InsecureStateDir,
    LicenceRevoked,
    LicenceUnknown,
    NotEnrolled,
    Offline,
    OutboxFull,
    StatusForged,
    TamperDetected,
)
from content_service.device.http import HttpStatementSink
from content_service.device.mount import MountedBundle
from content_service.device.outbox import Outbox
from content_service.device.renewals import RenewalOutcome, RenewalPolicy
from content_service.device.state import DeviceState
from content_service.device.store import DeviceStore
from content_service.device.sync import SyncLoop, SyncResult

__all__ = [
    "AlreadyEnrolled",
    "BundleInfo",
    "BundleNotFound",
    "ClockUntrusted",
    "DeviceAgent",
    "DeviceError",
    "DeviceStore",
    "DeviceState",
    "DownloadIncomplete",
    "EnrolmentAltered",
    "HttpStatementSink",
    "InsecureStateDir",
    "LicenceRefreshStatus",
    "LicenceRevoked",
    "LicenceUnknown",
    "MountedBundle",
    "NotEnrolled",
    "Offline",
    "Outbox",
    "OutboxFull",
    "RenewalOutcome",
    "RenewalPolicy",
    "StatusForged",
    "StatusSource",
    "SyncLoop",
    "SyncResult",
    "SyncStatus",
    "TamperDetected",
    "TrustedClock",
    "VerifyReport",
]
