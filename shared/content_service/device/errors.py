"""Typed errors of the reference device agent.

They subclass ``DomainError`` so the CLI maps them to one line and an exit code by type, never by
message text. Licence refusals reuse the domain's ``LicenceRefused`` family, so the device and
the server speak of the same rules with the same types.
"""

from __future__ import annotations

from typing import Literal

from content_service.domain.errors import PROBLEM_BASE, DomainError
from content_service.domain.licence import LicenceRefused

TamperKind = Literal["manifest", "container", "license"]


class DeviceError(DomainError):
    """Base of every error the device agent raises on purpose."""

    problem_type = PROBLEM_BASE + "device-error"
    title = "The device cannot do this"
    status = 400


class NotEnrolled(DeviceError):
    """The state directory holds no enrolled device."""

    title = "This device is not enrolled"


class AlreadyEnrolled(DeviceError):
    """The state directory already holds an enrolled device; enrolling again would lose its key."""

    title = "This device is already enrolled"
    status = 409


class InsecureStateDir(DeviceError):
    """The state directory (or a file in it) is reachable by other users, or is not what it claims."""

    title = "The device state directory is not private"
    status = 500


class BundleNotFound(DeviceError):
    """The bundle, or the part of it asked for (licence, manifest, a package), is not on this device."""

    title = "The bundle is not on this device"
    status = 404


class DownloadIncomplete(DeviceError):
    """A download stopped before the size the signed manifest gives; running it again resumes."""

    title = "The download is incomplete"
    status = 503


class Offline(DeviceError):
    """The network, the API or the CDN could not be reached."""

    title = "The service cannot be reached"
    status = 503


class OutboxFull(DeviceError):
    """The statements outbox reached its disk cap: nothing queued is dropped, the new statement is refused.

    Sending the queue (being online once) frees the space; docs/offline-statements.md.
    """

    title = "The device cannot record more learning activity until it is online"
    status = 507


class OutboxDamaged(DeviceError):
    """The outbox file was not a readable database (edited, truncated, replaced, deleted, rolled back).

    What could be read was saved into a fresh outbox and the damaged file is kept beside it
    (``outbox.damaged-*``), so nothing queued is dropped without this report; running the
    command again uses the fresh outbox. docs/offline-statements.md.
    """

    problem_type = PROBLEM_BASE + "device-outbox-damaged"
    title = "The device's queue of learning activity was damaged"
    status = 500


class OutboxBusy(DeviceError):
    """Another device process held the outbox past the wait, or the disk refused it (full, I/O
    error); nothing was changed and nothing was moved aside."""

    title = "The device's queue of learning activity is busy"
    status = 503


class LicenceRevoked(LicenceRefused):
    """Online, the service refused a fresh licence: the bundle or the device was revoked."""


class ClockUntrusted(LicenceRefused):
    """The device's authenticated state is missing, altered or rolled back on an enrolled device.

    Nothing opens until the device has been online once: a signed status answering the device's
    own nonce brings a server time, which restores the clock (see docs/threat-model.md).
    """


class LicenceUnknown(LicenceRefused):
    """The licence on disk verifies, but it is not the one this device stored (a restored or copied file)."""


class EnrolmentAltered(DeviceError):
    """The sealed enrolment record (device id, user, tenant, pinned keys) fails its MAC; enrol again."""

    problem_type = PROBLEM_BASE + "device-enrolment-altered"
    title = "The device's enrolment record was altered"
    status = 422


class StatusForged(DeviceError):
    """A sync status or a key set did not verify, or was replayed: nothing in it was believed.

    It is reported to the service as a ``device.status_forged`` signal, never as bundle tampering.
    ``document`` is ``status`` or ``jwks``.
    """

    problem_type = PROBLEM_BASE + "device-status-forged"
    title = "The service's status could not be trusted"
    status = 422

    def __init__(self, detail: str, *, document: str, **extensions: object) -> None:
        super().__init__(detail, document=document, **extensions)
        self.document = document


class TamperDetected(DeviceError):
    """Something on the device does not match what the service signed; nothing is opened.

    ``kind`` is the tamper-report kind of the API (``manifest``, ``container`` or ``license``).
    A report is queued in the outbox before this is raised.
    """

    problem_type = PROBLEM_BASE + "tamper-detected"
    title = "The offline content was altered"
    status = 422

    def __init__(self, detail: str, *, kind: TamperKind, bundle_id: str, **extensions: object) -> None:
        super().__init__(detail, kind=kind, bundle_id=bundle_id, **extensions)
        self.kind: TamperKind = kind
        self.bundle_id = bundle_id
