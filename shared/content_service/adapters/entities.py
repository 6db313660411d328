"""Devices, bundles, licence records and tamper reports on the single DynamoDB table.

Keys (every partition starts with the tenant, so another tenant's item is simply not found):
  device          pk = ``TENANT#{t}#DEVICE#{id}``   sk = ``DEVICE``
                  gsi1pk = ``TENANT#{t}#USER#{user}#DEVICES``  gsi1sk = ``{created_at}#{id}``
  device slots    pk = ``TENANT#{t}#USER#{user}#DEVICE_SLOTS``   sk = ``DEVICE_SLOTS``
  device key      pk = ``TENANT#{t}#DEVICE_KEY#{RFC 7638 thumbprint}``   sk = ``DEVICE_KEY``
  bundle          pk = ``TENANT#{t}#BUNDLE#{id}``   sk = ``BUNDLE``
                  gsi1pk = ``TENANT#{t}#BUNDLES``   gsi1sk = ``{created_at}#{id}``
  licence record  pk = ``TENANT#{t}#BUNDLE#{id}``   sk = ``LICENCE#{device}``
                  gsi1pk = ``TENANT#{t}#DEVICE#{device}#LICENCES``  gsi1sk = ``{expires_at}#{bundle}``
  tamper report   pk = ``TENANT#{t}#DEVICE#{id}``   sk = ``TAMPER#{report}``
  export job      pk = ``TENANT#{t}#EXPORT#{id}``   sk = ``EXPORT``
                  gsi2pk = ``EXPORT_PENDING``  gsi2sk = ``{updated_at}`` while pending only (the sweep's index)

The aggregate's fields are one JSON body mapped explicitly here; ``events`` holds the domain
events of the write, so the table's stream carries them (the outbox).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import asdict, replace
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.connection import Connection
from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.indexes import GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from content_service.adapters.conditional import conditional_save, persist
from content_service.adapters.cursors import decode_cursor, encode_cursor
from content_service.adapters.index_reads import items_of
from content_service.correlation import stamped
from content_service.domain.bundle import Bundle, BundlePackage, BundleState
from content_service.domain.device import Device, DeviceKeyAlreadyEnrolled, DeviceState
from content_service.domain.device_slots import DeviceSlot, DeviceSlots, DeviceSlotsChanged
from content_service.domain.errors import ConcurrencyConflict, NotFound
from content_service.domain.events import DomainEvent
from content_service.domain.export import ExportJob, ExportResult, ExportState
from content_service.domain.package import Problem
from content_service.domain.tenant import Branding, TenantSettings
from content_service.migrations import SCHEMA_VERSION
from content_service.service.ports import BundlePage, DevicePage, IssuedLicence, TamperReportRecord


@lru_cache(maxsize=8)
def entity_model(table_name: str, region: str) -> type[Model]:
    """The generic item model bound to a table."""

    class ByOwner(GlobalSecondaryIndex):
        class Meta:
            index_name = "gsi1"
            projection = KeysOnlyProjection()

        gsi1pk = UnicodeAttribute(hash_key=True)
        gsi1sk = UnicodeAttribute(range_key=True)

    # gsi2 is sparse and shared by two kinds of reads: a user's bundles (a learner lists only their
    # own) and the export jobs still pending (the sweep reads just those).
    class Gsi2(GlobalSecondaryIndex):
        class Meta:
            index_name = "gsi2"
            projection = KeysOnlyProjection()

        gsi2pk = UnicodeAttribute(hash_key=True)
        gsi2sk = UnicodeAttribute(range_key=True)

    class EntityItem(Model):
        class Meta:
            pass

        pk = UnicodeAttribute(hash_key=True)
        sk = UnicodeAttribute(range_key=True)
        gsi1pk = UnicodeAttribute(null=True)
        gsi1sk = UnicodeAttribute(null=True)
        gsi2pk = UnicodeAttribute(null=True)
        gsi2sk = UnicodeAttribute(null=True)
        entity = UnicodeAttribute()
        tenant_id = UnicodeAttribute()
        revision = NumberAttribute(default=0)
        schema_version = NumberAttribute(default=SCHEMA_VERSION)
        body = JSONAttribute()
        events = JSONAttribute(null=True)
        by_owner = ByOwner()
        gsi2 = Gsi2()

    EntityItem.Meta.table_name = table_name  # type: ignore[attr-defined]
    EntityItem.Meta.region = region  # type: ignore[attr-defined]
    return EntityItem


def _user_bundles(tenant_id: str, user_id: str) -> str:
    """The per-user bundle index's partition (gsi2): a learner lists only their own bundles."""
    return f"TENANT#{tenant_id}#USER#{user_id}#BUNDLES"


def _slots_key(tenant_id: str, user_id: str) -> tuple[str, str]:
    return f"TENANT#{tenant_id}#USER#{user_id}#DEVICE_SLOTS", "DEVICE_SLOTS"


def _device_licences_key(tenant_id: str, device_id: str) -> str:
    return f"TENANT#{tenant_id}#DEVICE#{device_id}#LICENCES"


def _optional_iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _optional_time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _events(events: tuple[DomainEvent, ...]) -> list[dict[str, Any]] | None:
    return [stamped(event.as_dict()) for event in events] or None


class _Store:
    def __init__(self, table_name: str, region: str) -> None:
        self._model = entity_model(table_name, region)

    def _insert(self, aggregate: Any, to_item: Callable[[Any], Model], what: str) -> Any:
        return persist(aggregate, to_item, self._model.pk.does_not_exist(), what, revision=1)

    def _update(self, aggregate: Any, to_item: Callable[[Any], Model], what: str) -> Any:
        condition = self._model.revision == aggregate.revision
        return persist(aggregate, to_item, condition, what, revision=aggregate.revision + 1)

    def _get(self, pk: str, sk: str, what: str) -> Any:
        try:
            return self._model.get(pk, sk, consistent_read=True)
        except DoesNotExist:
            raise NotFound(f"{what} not found") from None

    def _page(
        self, tenant_id: str, gsi1pk: str, cursor: str | None, limit: int
    ) -> tuple[list[Any], str | None]:
        return self._index_page(self._model.by_owner, "gsi1", tenant_id, gsi1pk, cursor, limit)

    def _index_page(
        self, index: Any, name: str, tenant_id: str, partition: str, cursor: str | None, limit: int
    ) -> tuple[list[Any], str | None]:
        fields = ("pk", "sk", f"{name}sk")
        start = None
        if cursor:
            position = decode_cursor(cursor, fields, f"TENANT#{tenant_id}#")
            start = {field: {"S": value} for field, value in {**position, f"{name}pk": partition}.items()}
        results = index.query(partition, scan_index_forward=False, limit=limit, last_evaluated_key=start)
        hits = list(results)
        last = results.last_evaluated_key
        items = items_of(self._model, hits, (f"{name}pk", f"{name}sk"))
        return items, encode_cursor(last, fields) if last and len(hits) >= limit else None


class DynamoDeviceRepository(_Store):
    """DeviceRepository on DynamoDB: devices, each user's slots record and the key claims.

    Enrolment is one TransactWriteItems of three puts, each with its own condition, so a
    cancellation's reasons (one per item, in order) say which rule refused it.
    """

    # Positions of the enrolment transaction's items. pynamodb sends puts in the order they are
    # added (after condition checks, deletes and updates, of which there are none here), and the
    # cancellation reasons follow the items one to one.
    _DEVICE, _SLOTS, _KEY_CLAIM = 0, 1, 2

    def __init__(self, table_name: str, region: str) -> None:
        super().__init__(table_name, region)
        self._connection = Connection(region=region)

    def enroll(self, device: Device, slots: DeviceSlots, key_thumbprint: str) -> Device:
        stored = replace(device, revision=1, events=())
        # A fresh token per attempt makes the SDK's own retries of this request idempotent (a
        # retried commit is not mistaken for a conflict), while the next attempt, with other
        # slots, is a new request.
        transaction = TransactWrite(connection=self._connection, client_request_token=str(uuid.uuid4()))
        try:
            with transaction:
                transaction.save(
                    self._item(replace(stored, events=device.events)), self._model.pk.does_not_exist()
                )
                transaction.save(self._slots_item(slots), self._slots_condition(slots))
                transaction.save(
                    self._key_claim_item(device, key_thumbprint), self._model.pk.does_not_exist()
                )
        except TransactWriteError as error:
            raise self._enrolment_refused(error, device, key_thumbprint) from error
        return stored

    def slots(self, tenant_id: str, user_id: str) -> DeviceSlots:
        try:
            item = self._model.get(*_slots_key(tenant_id, user_id), consistent_read=True)
        except DoesNotExist:
            devices = items_of(
                self._model,
                self._model.by_owner.query(f"TENANT#{tenant_id}#USER#{user_id}#DEVICES"),
                ("gsi1pk", "gsi1sk"),
            )
            active = (i.body["device_id"] for i in devices if i.body["state"] == DeviceState.ACTIVE.value)
            return DeviceSlots.first(tenant_id, user_id, active)
        return DeviceSlots(
            tenant_id=tenant_id,
            user_id=user_id,
            slots=tuple(
                DeviceSlot(s["device_id"], _optional_time(s["release_at"])) for s in item.body["slots"]
            ),
            revision=int(item.revision),
        )

    def save_slots(self, slots: DeviceSlots) -> DeviceSlots:
        try:
            conditional_save(self._slots_item(slots), self._slots_condition(slots), "device slots")
        except ConcurrencyConflict as error:
            raise DeviceSlotsChanged(error.detail) from error
        return replace(slots, revision=slots.revision + 1)

    def save(self, device: Device) -> Device:
        return self._update(device, self._item, f"device {device.device_id}")

    def get(self, tenant_id: str, device_id: str) -> Device:
        return self._device(
            self._get(f"TENANT#{tenant_id}#DEVICE#{device_id}", "DEVICE", f"device {device_id}")
        )

    def list_for_user(self, tenant_id: str, user_id: str, cursor: str | None, limit: int) -> DevicePage:
        items, next_cursor = self._page(
            tenant_id, f"TENANT#{tenant_id}#USER#{user_id}#DEVICES", cursor, limit
        )
        return DevicePage([self._device(item) for item in items], next_cursor)

    def _enrolment_refused(self, error: TransactWriteError, device: Device, thumbprint: str) -> Exception:
        # Which item's condition failed decides the error, never the message. A refused key claim
        # is reported first: it is final, whereas a slots conflict would only be retried into it.
        if error.cause_response_code != "TransactionCanceledException":
            return error
        codes = {index: reason.code for index, reason in enumerate(error.cancellation_reasons) if reason}
        if codes.get(self._KEY_CLAIM) == "ConditionalCheckFailed":
            return DeviceKeyAlreadyEnrolled(
                "a device of this tenant already has this public key", key_thumbprint=thumbprint
            )
        if codes.get(self._DEVICE) == "ConditionalCheckFailed":
            return ConcurrencyConflict(f"device {device.device_id} already exists")
        # A failed revision check, or DynamoDB's TransactionConflict (another transaction on one of
        # these items at the same moment), both mean: read the slots again and retry.
        if codes and set(codes.values()) <= {"ConditionalCheckFailed", "TransactionConflict"}:
            return DeviceSlotsChanged(f"the device slots of user {device.user_id} changed concurrently")
        return error

    def _slots_condition(self, slots: DeviceSlots) -> Any:
        return (
            self._model.pk.does_not_exist() if slots.revision == 0 else self._model.revision == slots.revision
        )

    def _slots_item(self, slots: DeviceSlots) -> Model:
        return self._model(
            *_slots_key(slots.tenant_id, slots.user_id),
            entity="device_slots",
            tenant_id=slots.tenant_id,
            revision=slots.revision + 1,
            body={
                "user_id": slots.user_id,
                "slots": [
                    {"device_id": s.device_id, "release_at": _optional_iso(s.release_at)} for s in slots.slots
                ],
            },
        )

    def _key_claim_item(self, device: Device, thumbprint: str) -> Model:
        # The claim is kept when the device is revoked: a revoked key never comes back as a device.
        return self._model(
            f"TENANT#{device.tenant_id}#DEVICE_KEY#{thumbprint}",
            "DEVICE_KEY",
            entity="device_key",
            tenant_id=device.tenant_id,
            revision=1,
            body={
                "thumbprint": thumbprint,
                "device_id": device.device_id,
                "user_id": device.user_id,
                "claimed_at": device.created_at.isoformat(),
            },
        )

    def _item(self, device: Device) -> Model:
        return self._model(
            f"TENANT#{device.tenant_id}#DEVICE#{device.device_id}",
            "DEVICE",
            gsi1pk=f"TENANT#{device.tenant_id}#USER#{device.user_id}#DEVICES",
            gsi1sk=f"{device.created_at.isoformat()}#{device.device_id}",
            entity="device",
            tenant_id=device.tenant_id,
            revision=device.revision,
            body={
                "device_id": device.device_id,
                "user_id": device.user_id,
                "name": device.name,
                "public_key": device.public_key,
                "state": device.state.value,
                "created_at": device.created_at.isoformat(),
                "updated_at": device.updated_at.isoformat(),
                "revoke_reason": device.revoke_reason,
            },
            events=_events(device.events),
        )

    @staticmethod
    def _device(item: Any) -> Device:
        body = item.body
        return Device(
            tenant_id=item.tenant_id,
            device_id=body["device_id"],
            user_id=body["user_id"],
            name=body["name"],
            public_key=body["public_key"],
            state=DeviceState(body["state"]),
            created_at=datetime.fromisoformat(body["created_at"]),
            updated_at=datetime.fromisoformat(body["updated_at"]),
            revision=int(item.revision),
            revoke_reason=body.get("revoke_reason"),
        )


class DynamoBundleRepository(_Store):
    """BundleRepository on DynamoDB."""

    def add(self, bundle: Bundle) -> Bundle:
        return self._insert(bundle, self._item, f"bundle {bundle.bundle_id}")

    def save(self, bundle: Bundle) -> Bundle:
        return self._update(bundle, self._item, f"bundle {bundle.bundle_id}")

    def get(self, tenant_id: str, bundle_id: str) -> Bundle:
        return self._bundle(
            self._get(f"TENANT#{tenant_id}#BUNDLE#{bundle_id}", "BUNDLE", f"bundle {bundle_id}")
        )

    def list(self, tenant_id: str, cursor: str | None, limit: int) -> BundlePage:
        items, next_cursor = self._page(tenant_id, f"TENANT#{tenant_id}#BUNDLES", cursor, limit)
        return BundlePage([self._bundle(item) for item in items], next_cursor)

    def list_for_user(self, tenant_id: str, user_id: str, cursor: str | None, limit: int) -> BundlePage:
        items, next_cursor = self._index_page(
            self._model.gsi2, "gsi2", tenant_id, _user_bundles(tenant_id, user_id), cursor, limit
        )
        return BundlePage([self._bundle(item) for item in items], next_cursor)

    def _item(self, bundle: Bundle) -> Model:
        return self._model(
            f"TENANT#{bundle.tenant_id}#BUNDLE#{bundle.bundle_id}",
            "BUNDLE",
            gsi1pk=f"TENANT#{bundle.tenant_id}#BUNDLES",
            gsi1sk=f"{bundle.created_at.isoformat()}#{bundle.bundle_id}",
            gsi2pk=_user_bundles(bundle.tenant_id, bundle.user_id),
            gsi2sk=f"{bundle.created_at.isoformat()}#{bundle.bundle_id}",
            entity="bundle",
            tenant_id=bundle.tenant_id,
            revision=bundle.revision,
            body={
                "bundle_id": bundle.bundle_id,
                "user_id": bundle.user_id,
                "residency_zone": bundle.residency_zone,
                "packages": [p.as_dict() for p in bundle.packages],
                "state": bundle.state.value,
                "created_at": bundle.created_at.isoformat(),
                "updated_at": bundle.updated_at.isoformat(),
                "manifest_key": bundle.manifest_key,
                "manifest_sha256": bundle.manifest_sha256,
                "request_hash": bundle.request_hash,
                "revoke_reason": bundle.revoke_reason,
                "withdrawal_id": bundle.withdrawal_id,
            },
            events=_events(bundle.events),
        )

    @staticmethod
    def _bundle(item: Any) -> Bundle:
        body = item.body
        return Bundle(
            tenant_id=item.tenant_id,
            bundle_id=body["bundle_id"],
            user_id=body["user_id"],
            residency_zone=body["residency_zone"],
            packages=tuple(BundlePackage.from_dict(p) for p in body["packages"]),
            state=BundleState(body["state"]),
            created_at=datetime.fromisoformat(body["created_at"]),
            updated_at=datetime.fromisoformat(body["updated_at"]),
            revision=int(item.revision),
            manifest_key=body.get("manifest_key"),
            manifest_sha256=body.get("manifest_sha256"),
            request_hash=body.get("request_hash"),
            revoke_reason=body.get("revoke_reason"),
            withdrawal_id=body.get("withdrawal_id"),
        )


class DynamoLicenceRecords(_Store):
    """The latest licence issued per (bundle, device): who holds the bundle."""

    def __init__(self, table_name: str, region: str) -> None:
        super().__init__(table_name, region)
        self._connection = Connection(region=region)

    def latest(self, tenant_id: str, bundle_id: str, device_id: str) -> IssuedLicence | None:
        try:
            item = self._model.get(
                f"TENANT#{tenant_id}#BUNDLE#{bundle_id}", f"LICENCE#{device_id}", consistent_read=True
            )
        except DoesNotExist:
            return None
        body = item.body
        return IssuedLicence(
            tenant_id=tenant_id,
            bundle_id=bundle_id,
            device_id=device_id,
            licence_id=body["licence_id"],
            token=body["token"],
            issued_at=datetime.fromisoformat(body["issued_at"]),
            expires_at=datetime.fromisoformat(body["expires_at"]),
        )

    def latest_expiry(self, tenant_id: str, device_id: str) -> datetime | None:
        # gsi1 sorts a device's records by expiry, so the newest one answers. Records written
        # before they carried these keys are not in the index (they expire within a validity).
        hits = self._model.by_owner.query(
            _device_licences_key(tenant_id, device_id), scan_index_forward=False, limit=1
        )
        for item in items_of(self._model, hits, ("gsi1pk", "gsi1sk")):
            return datetime.fromisoformat(item.body["expires_at"])
        return None

    def put(self, licence: IssuedLicence, device_revision: int) -> None:
        # Written only while the device is as the licence saw it (revision ``device_revision``): a
        # revocation between reading the device and this write cancels it, so a revoked device
        # never gains a licence that outlives the slot release its revocation computed.
        # The record is a cache of the latest licence, not an aggregate: last writer wins. Its
        # revision is the issue time in milliseconds, so each issue's event has its own id, and it
        # carries ``content.licence.issued.v1`` so the device's feed learns of the renewal.
        event = DomainEvent(
            "content.licence.issued.v1",
            licence.tenant_id,
            licence.licence_id,
            licence.issued_at,
            {
                "bundle_id": licence.bundle_id,
                "device_id": licence.device_id,
                "expires_at": licence.expires_at.isoformat(),
            },
        )
        item = self._model(
            f"TENANT#{licence.tenant_id}#BUNDLE#{licence.bundle_id}",
            f"LICENCE#{licence.device_id}",
            # Indexed by device, newest expiry last, so revoking a device can tell how long its
            # licences let it play offline. UTC, so that the ISO strings sort as the times do.
            gsi1pk=_device_licences_key(licence.tenant_id, licence.device_id),
            gsi1sk=f"{licence.expires_at.astimezone(UTC).isoformat()}#{licence.bundle_id}",
            entity="licence",
            revision=int(licence.issued_at.timestamp() * 1000),
            events=_events((event,)),
            tenant_id=licence.tenant_id,
            body={
                "licence_id": licence.licence_id,
                "device_id": licence.device_id,
                "token": licence.token,
                "issued_at": licence.issued_at.isoformat(),
                "expires_at": licence.expires_at.isoformat(),
            },
        )
        transaction = TransactWrite(connection=self._connection, client_request_token=str(uuid.uuid4()))
        try:
            with transaction:
                transaction.condition_check(
                    self._model,
                    f"TENANT#{licence.tenant_id}#DEVICE#{licence.device_id}",
                    "DEVICE",
                    condition=self._model.revision == device_revision,
                )
                transaction.save(item)
        except TransactWriteError as error:
            if error.cause_response_code == "TransactionCanceledException":
                raise ConcurrencyConflict(
                    f"device {licence.device_id} changed while its licence was issued; ask again"
                ) from error
            raise


class DynamoTamperReports(_Store):
    """Tamper reports, each written with its event so the stream publishes it."""

    def add(self, report: TamperReportRecord) -> None:
        event = DomainEvent(
            "content.bundle.tampered.v1",
            report.tenant_id,
            report.bundle_id,
            report.reported_at,
            {
                "device_id": report.device_id,
                "kind": report.kind,
                "report_id": report.report_id,
                "corroborated": report.corroborated,
            },
        )
        item = self._model(
            f"TENANT#{report.tenant_id}#DEVICE#{report.device_id}",
            f"TAMPER#{report.report_id}",
            entity="tamper_report",
            tenant_id=report.tenant_id,
            body={
                "report_id": report.report_id,
                "bundle_id": report.bundle_id,
                "kind": report.kind,
                "detail": report.detail,
                "reported_at": report.reported_at.isoformat(),
                "corroborated": report.corroborated,
                "evidence": asdict(report.evidence) if report.evidence else None,
            },
            events=_events((event,)),
        )
        conditional_save(item, self._model.pk.does_not_exist(), "tamper report")


EXPORT_PENDING_PARTITION = "EXPORT_PENDING"


class DynamoExportRepository(_Store):
    """Export jobs: pk = ``TENANT#{t}#EXPORT#{id}``, sk = ``EXPORT``; pending ones also in gsi2."""

    def add(self, job: ExportJob) -> ExportJob:
        return self._insert(job, self._item, f"export {job.export_id}")

    def save(self, job: ExportJob) -> ExportJob:
        return self._update(job, self._item, f"export {job.export_id}")

    def get(self, tenant_id: str, export_id: str) -> ExportJob:
        return self._job(self._get(f"TENANT#{tenant_id}#EXPORT#{export_id}", "EXPORT", f"export {export_id}"))

    def pending_since_before(self, cutoff: datetime, limit: int) -> list[ExportJob]:
        results = self._model.gsi2.query(
            EXPORT_PENDING_PARTITION, self._model.gsi2sk < cutoff.isoformat(), limit=limit
        )
        return [self._job(item) for item in items_of(self._model, results, ("gsi2pk", "gsi2sk"))]

    @staticmethod
    def _job(item: Any) -> ExportJob:
        body = item.body
        return ExportJob(
            tenant_id=item.tenant_id,
            export_id=body["export_id"],
            package_id=body["package_id"],
            version=int(body["version"]),
            format=body["format"],
            options=body["options"],
            state=ExportState(body["state"]),
            created_at=datetime.fromisoformat(body["created_at"]),
            updated_at=datetime.fromisoformat(body["updated_at"]),
            revision=int(item.revision),
            result=ExportResult(**body["result"]) if body.get("result") else None,
            problem=Problem(**body["problem"]) if body.get("problem") else None,
        )

    def _item(self, job: ExportJob) -> Model:
        pending = job.state is ExportState.PENDING
        return self._model(
            f"TENANT#{job.tenant_id}#EXPORT#{job.export_id}",
            "EXPORT",
            # Sparse, like the packages' building index: only pending jobs are in the sweep's index.
            gsi2pk=EXPORT_PENDING_PARTITION if pending else None,
            gsi2sk=job.updated_at.isoformat() if pending else None,
            entity="export",
            tenant_id=job.tenant_id,
            revision=job.revision,
            body={
                "export_id": job.export_id,
                "package_id": job.package_id,
                "version": job.version,
                "format": job.format,
                "options": job.options,
                "state": job.state.value,
                "created_at": job.created_at.isoformat(),
                "updated_at": job.updated_at.isoformat(),
                "result": None if job.result is None else job.result.__dict__,
                "problem": None if job.problem is None else job.problem.as_dict(),
            },
            events=_events(job.events),
        )


class DynamoTenantSettings(_Store):
    """Each tenant's settings: one item, written only over the revision that was read."""

    def get(self, tenant_id: str) -> TenantSettings | None:
        try:
            item = self._model.get(*_tenant_settings_key(tenant_id), consistent_read=True)
        except DoesNotExist:
            return None
        body = item.body
        branding = body.get("branding")
        return TenantSettings(
            tenant_id=tenant_id,
            zone=body["zone"],
            tamper_auto_revoke=body.get("tamper_auto_revoke"),
            # Items written before the domain's dict form held css_properties as [name, value] pairs.
            branding=None
            if branding is None
            else Branding.from_dict({**branding, "css_properties": dict(branding.get("css_properties") or {})}),
            revision=int(item.revision),
            updated_at=_optional_time(body.get("updated_at")),
            updated_by=body.get("updated_by"),
        )

    def save(self, settings: TenantSettings) -> TenantSettings:
        condition = (
            self._model.pk.does_not_exist()
            if settings.revision == 0
            else self._model.revision == settings.revision
        )
        item = _settings_model_item(self._model, settings)
        conditional_save(item, condition, f"the settings of tenant {settings.tenant_id}")
        return replace(settings, revision=settings.revision + 1)


def _settings_model_item(model: type[Model], settings: TenantSettings) -> Model:
    """The settings item as written over ``settings.revision`` (so at ``revision + 1``)."""
    branding = settings.branding
    return model(
        *_tenant_settings_key(settings.tenant_id),
        entity="tenant_settings",
        tenant_id=settings.tenant_id,
        revision=settings.revision + 1,
        body={
            "zone": settings.zone,
            "tamper_auto_revoke": settings.tamper_auto_revoke,
            "branding": None if branding is None else branding.as_dict(),
            "updated_at": _optional_iso(settings.updated_at),
            "updated_by": settings.updated_by,
        },
    )


def settings_item(table_name: str, settings: TenantSettings, region: str = "eu-west-1") -> dict[str, Any]:
    """The settings item in DynamoDB's wire form, for a write inside another transaction
    (a residency migration's switch); the same attributes ``DynamoTenantSettings.save`` writes."""
    return _settings_model_item(entity_model(table_name, region), settings).serialize()  # type: ignore[no-any-return]


def _tenant_settings_key(tenant_id: str) -> tuple[str, str]:
    return f"TENANT#{tenant_id}#SETTINGS", "SETTINGS"
