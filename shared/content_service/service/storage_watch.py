"""Unexpected writes to the bundles bucket: S3 notifications checked against the records.

The records are the single source of truth for what the service wrote: a bundle names its
manifest key and the manifest's SHA-256, a built package names its container key, size and
SHA-256. Object metadata would prove nothing (whoever can write the object can write its
metadata), so it is not used. The rules:

- an object whose record does not exist yet, or does not name it yet, is the service's own write
  in flight (the service writes the object first and the record after it): not a tamper signal;
- a created object that a record names must have the recorded size and SHA-256;
- the service never deletes bundle objects, so removing a recorded object is tampering;
- a key outside the service's layout is counted and logged (no bundle to revoke);
- a branding asset (the logo) is the service's own when its bytes hash to its name, else counted
  and logged (devices refuse a logo that is not the signed overlay's).

A tampered object becomes a ``content.bundle.tampered.v1`` for every live bundle it belongs to,
written as an outbox row, so the fan-out revokes the bundle by tenant policy.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from urllib.parse import unquote_plus

from content_service.domain.bundle import BundleState
from content_service.domain.errors import NotFound, ValidationFailed
from content_service.service.outbox_ports import Metrics
from content_service.service.ports import BundleRepository, PackageRepository
from content_service.service.telemetry import TAMPER_EVENTS

logger = logging.getLogger(__name__)

_CONTAINER = re.compile(
    r"^tenants/(?P<tenant>[^/]+)/containers/(?P<package>[^/]+)/v(?P<version>\d+)/[^/]+\.(?:cspc|csix)$"
)
# Container format version 2 file objects, named by the SHA-256 of their own bytes.
_OBJECT = re.compile(r"^tenants/(?P<tenant>[^/]+)/objects/(?P<package>[^/]+)/(?P<sha256>[0-9a-f]{64})\.csob$")
_MANIFEST = re.compile(r"^tenants/(?P<tenant>[^/]+)/bundles/(?P<bundle>[^/]+)/manifest\.jws$")
# Branding overlay assets (the logo), named by the SHA-256 of their own bytes like file objects.
_BRANDING_ASSET = re.compile(
    r"^tenants/(?P<tenant>[^/]+)/branding/logo/(?P<sha256>[0-9a-f]{64})\.(?:png|jpg|webp)$"
)


@dataclass(frozen=True)
class ObjectChange:
    """One S3 ObjectCreated or ObjectRemoved notification record of the bundles bucket."""

    key: str
    event_name: str
    size: int
    sequencer: str
    at: datetime

    @property
    def created(self) -> bool:
        return self.event_name.startswith("ObjectCreated:")


class ObjectDigests(Protocol):
    def sha256(self, key: str) -> str | None:
        """The SHA-256 (hex) of the object's current bytes, streamed; None if there is none."""
        ...


class StorageTamperLog(Protocol):
    def add(self, tenant_id: str, bundle_id: str, change: ObjectChange, record_id: str) -> None:
        """Write a ``content.bundle.tampered.v1`` outbox row once per ``record_id``."""
        ...


def object_changes(message_body: str) -> list[ObjectChange]:
    """The created or removed objects an S3 notification announces (keys URL-decoded once)."""
    try:
        payload = json.loads(message_body)
    except json.JSONDecodeError as error:
        raise ValidationFailed("the message is not an S3 event notification") from error
    if not isinstance(payload, dict) or payload.get("Event") == "s3:TestEvent":
        return []
    changes = []
    for record in payload.get("Records", []):
        name = str(record.get("eventName", ""))
        if not name.startswith(("ObjectCreated:", "ObjectRemoved:")):
            continue
        obj = record["s3"]["object"]
        changes.append(
            ObjectChange(
                key=unquote_plus(obj["key"]),
                event_name=name,
                size=int(obj.get("size", 0)),
                sequencer=str(obj.get("sequencer", "")),
                at=datetime.fromisoformat(record["eventTime"].replace("Z", "+00:00")),
            )
        )
    return changes


def check_bundle_object(
    change: ObjectChange,
    *,
    bundles: BundleRepository,
    packages: PackageRepository,
    digests: ObjectDigests,
    tampers: StorageTamperLog,
    metrics: Metrics,
    page_size: int = 100,
) -> list[str]:
    """Decide whether a change was the service's own; returns the bundles flagged as tampered."""
    if manifest := _MANIFEST.fullmatch(change.key):
        tenant, flagged = (
            manifest["tenant"],
            _manifest_tampered(change, manifest["bundle"], manifest["tenant"], bundles, digests),
        )
    elif container := _CONTAINER.fullmatch(change.key):
        tenant = container["tenant"]
        flagged = _container_tampered(
            change,
            tenant,
            container["package"],
            int(container["version"]),
            bundles,
            packages,
            digests,
            page_size,
        )
    elif asset := _BRANDING_ASSET.fullmatch(change.key):
        # No bundle holds a logo (devices check it against the signed overlay): a write whose bytes
        # hash to its name is the service's; anything else is counted and logged, never revoked.
        if change.created and digests.sha256(change.key) == asset["sha256"]:
            return []
        metrics.count(TAMPER_EVENTS)
        logger.error("a branding asset was altered or removed", extra={"key": change.key})
        return []
    elif content_object := _OBJECT.fullmatch(change.key):
        # A file object is shared by every version of its lineage that holds the file, and is not
        # recorded one by one: it is the service's own when its bytes hash to its name. Otherwise
        # (or removed: the service never deletes) it is counted and logged; devices refuse it by
        # that same hash, and the bundles' indexes, which are recorded, are checked above.
        if change.created and digests.sha256(change.key) == content_object["sha256"]:
            return []
        metrics.count(TAMPER_EVENTS)
        logger.error("a content object was altered or removed", extra={"key": change.key})
        return []
    else:
        metrics.count(TAMPER_EVENTS)
        logger.error("an object outside the service's layout changed", extra={"key": change.key})
        return []
    record_id = hashlib.sha256(
        f"{change.key}\x00{change.sequencer}\x00{change.event_name}".encode()
    ).hexdigest()[:32]
    for bundle_id in flagged:
        tampers.add(tenant, bundle_id, change, record_id)
    return flagged


def _manifest_tampered(
    change: ObjectChange, bundle_id: str, tenant: str, bundles: BundleRepository, digests: ObjectDigests
) -> list[str]:
    try:
        bundle = bundles.get(tenant, bundle_id)
    except NotFound:
        return []  # The service writes the manifest before the bundle record: a creation in flight.
    if bundle.state is not BundleState.BUILT or bundle.manifest_key != change.key:
        return []
    if change.created and digests.sha256(change.key) == bundle.manifest_sha256:
        return []
    return [bundle_id]


def _container_tampered(
    change: ObjectChange,
    tenant: str,
    package_id: str,
    version: int,
    bundles: BundleRepository,
    packages: PackageRepository,
    digests: ObjectDigests,
    page_size: int,
) -> list[str]:
    try:
        package = packages.get(tenant, package_id, version)
    except NotFound:
        return []
    sealed = package.sealed
    if sealed is None or sealed.container.key != change.key:
        return []  # The build uploads the container before it records it: a build in flight.
    expected = sealed.container
    if change.created and change.size == expected.size and digests.sha256(change.key) == expected.sha256:
        return []
    return _live_bundles_holding(tenant, change.key, bundles, page_size)


def _live_bundles_holding(tenant: str, key: str, bundles: BundleRepository, page_size: int) -> list[str]:
    # A tenant's bundles are listed in pages; a container is shared by every bundle of its version.
    holding, cursor = [], None
    while True:
        page = bundles.list(tenant, cursor, page_size)
        holding += [
            b.bundle_id
            for b in page.items
            if b.state is BundleState.BUILT and any(p.container.key == key for p in b.packages)
        ]
        if page.next_cursor is None:
            return holding
        cursor = page.next_cursor
