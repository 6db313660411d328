"""Devices, bundles, licence records and tamper reports on the single DynamoDB table.

Keys (every partition starts with the tenant, so another tenant's item is simply not found):
  device          pk = ``TENANT#{t}#DEVICE#{id}``   sk = ``DEVICE``
                  gsi1pk = ``TENANT#{t}#USER#{user}#DEVICES``  gsi1sk = ``{created_at}#{id}``
  bundle          pk = ``TENANT#{t}#BUNDLE#{id}``   sk = ``BUNDLE``
                  gsi1pk = ``TENANT#{t}#BUNDLES``   gsi1sk = ``{created_at}#{id}``
  licence record  pk = ``TENANT#{t}#BUNDLE#{id}``   sk = ``LICENCE#{device}``
  tamper report   pk = ``TENANT#{t}#DEVICE#{id}``   sk = ``TAMPER#{report}``
  export job      pk = ``TENANT#{t}#EXPORT#{id}``   sk = ``EXPORT``
                  gsi2pk = ``EXPORT_PENDING``  gsi2sk = ``{updated_at}`` while pending only (the sweep's index)

The aggregate's fields are one JSON body mapped explicitly here; ``events`` holds the domain
events of the write, so the table's stream carries them (the outbox).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from typing import Any

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import DoesNotExist
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from content_service.adapters.conditional import conditional_save, persist
from content_service.adapters.cursors import decode_cursor, encode_cursor
from content_service.domain.bundle import Bundle, BundlePackage, BundleState
from content_service.domain.device import Device, DeviceState
from content_service.domain.errors import NotFound
from content_service.domain.events import DomainEvent
from content_service.domain.export import ExportJob, ExportResult, ExportState
from content_service.domain.package import Problem
from content_service.service.ports import BundlePage, DevicePage, IssuedLicence, TamperReportRecord

_CURSOR_FIELDS = ("pk", "sk", "gsi1sk")


@lru_cache(maxsize=8)
def entity_model(table_name: str, region: str) -> type[Model]:
    """The generic item model bound to a table."""

    class ByOwner(GlobalSecondaryIndex):
        class Meta:
            index_name = "gsi1"
            projection = AllProjection()

        gsi1pk = UnicodeAttribute(hash_key=True)
        gsi1sk = UnicodeAttribute(range_key=True)

    class Pending(GlobalSecondaryIndex):
        class Meta:
            index_name = "gsi2"
            projection = AllProjection()

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
        body = JSONAttribute()
        events = JSONAttribute(null=True)
        by_owner = ByOwner()
        pending = Pending()

    EntityItem.Meta.table_name = table_name  # type: ignore[attr-defined]
    EntityItem.Meta.region = region  # type: ignore[attr-defined]
    return EntityItem


def _events(events: tuple[DomainEvent, ...]) -> list[dict[str, Any]] | None:
    return [event.as_dict() for event in events] or None


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
        start = None
        if cursor:
            position = decode_cursor(cursor, _CURSOR_FIELDS, f"TENANT#{tenant_id}#")
            start = {name: {"S": value} for name, value in {**position, "gsi1pk": gsi1pk}.items()}
        results = self._model.by_owner.query(
            gsi1pk, scan_index_forward=False, limit=limit, last_evaluated_key=start
        )
        items = list(results)
        last = results.last_evaluated_key
        return items, encode_cursor(last, _CURSOR_FIELDS) if last and len(items) >= limit else None


class DynamoDeviceRepository(_Store):
    """DeviceRepository on DynamoDB."""

    def add(self, device: Device) -> Device:
        return self._insert(device, self._item, f"device {device.device_id}")

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

    def count_active(self, tenant_id: str, user_id: str) -> int:
        results = self._model.by_owner.query(f"TENANT#{tenant_id}#USER#{user_id}#DEVICES")
        return sum(1 for item in results if item.body["state"] == DeviceState.ACTIVE.value)

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

    def _item(self, bundle: Bundle) -> Model:
        return self._model(
            f"TENANT#{bundle.tenant_id}#BUNDLE#{bundle.bundle_id}",
            "BUNDLE",
            gsi1pk=f"TENANT#{bundle.tenant_id}#BUNDLES",
            gsi1sk=f"{bundle.created_at.isoformat()}#{bundle.bundle_id}",
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
        )


class DynamoLicenceRecords(_Store):
    """The latest licence issued per (bundle, device): who holds the bundle."""

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

    def put(self, licence: IssuedLicence) -> None:
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
        self._model(
            f"TENANT#{licence.tenant_id}#BUNDLE#{licence.bundle_id}",
            f"LICENCE#{licence.device_id}",
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
        ).save(add_version_condition=False)


class DynamoTamperReports(_Store):
    """Tamper reports, each written with its event so the stream publishes it."""

    def add(self, report: TamperReportRecord) -> None:
        event = DomainEvent(
            "content.bundle.tampered.v1",
            report.tenant_id,
            report.bundle_id,
            report.reported_at,
            {"device_id": report.device_id, "kind": report.kind, "report_id": report.report_id},
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
        results = self._model.pending.query(
            EXPORT_PENDING_PARTITION, self._model.gsi2sk < cutoff.isoformat(), limit=limit
        )
        return [self._job(item) for item in results]

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
