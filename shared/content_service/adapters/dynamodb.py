"""PlayPackage persistence on the single DynamoDB table (pynamodb models stay in this module).

Keys:
  package version   pk = ``TENANT#{tenant}#PACKAGE#{id}``   sk = ``V#{version:010d}``
  gsi1 (list)       gsi1pk = ``TENANT#{tenant}#PACKAGES``   gsi1sk = ``{created_at}#{id}#{version}``
  gsi2 (sparse)     gsi2pk = ``BUILDING``                    gsi2sk = ``{updated_at}`` while building only

Every write is one conditional put: new versions require the key to be absent, transitions
require the stored ``revision`` to be the one read. The item carries ``last_event``, the
domain event of the transition, so the table's stream is the outbox.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.exceptions import DoesNotExist
from pynamodb.indexes import GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from content_service.adapters.conditional import persist
from content_service.adapters.cursors import decode_cursor, encode_cursor
from content_service.adapters.index_reads import items_of
from content_service.correlation import stamped
from content_service.domain.errors import NotFound
from content_service.domain.package import (
    ContainerRef,
    DeclaredUpload,
    PackageEvent,
    PackageState,
    PackageSummary,
    PlayPackage,
    Problem,
    SealedContent,
    Standard,
)
from content_service.migrations import SCHEMA_VERSION
from content_service.service.ports import Page

BUILDING_PARTITION = "BUILDING"
_CURSOR_FIELDS = ("pk", "sk", "gsi1sk")


def _pk(tenant_id: str, package_id: str) -> str:
    return f"TENANT#{tenant_id}#PACKAGE#{package_id}"


def _sk(version: int) -> str:
    return f"V#{version:010d}"


def _list_pk(tenant_id: str) -> str:
    return f"TENANT#{tenant_id}#PACKAGES"


@lru_cache(maxsize=8)
def package_model(table_name: str, region: str) -> type[Model]:
    """The pynamodb model bound to a table (names come from settings, so the class is made here)."""

    class ByTenant(GlobalSecondaryIndex):
        class Meta:
            index_name = "gsi1"
            projection = KeysOnlyProjection()

        gsi1pk = UnicodeAttribute(hash_key=True)
        gsi1sk = UnicodeAttribute(range_key=True)

    class Building(GlobalSecondaryIndex):
        class Meta:
            index_name = "gsi2"
            projection = KeysOnlyProjection()

        gsi2pk = UnicodeAttribute(hash_key=True)
        gsi2sk = UnicodeAttribute(range_key=True)

    class PackageItem(Model):
        class Meta:
            pass

        pk = UnicodeAttribute(hash_key=True)
        sk = UnicodeAttribute(range_key=True)
        gsi1pk = UnicodeAttribute()
        gsi1sk = UnicodeAttribute()
        gsi2pk = UnicodeAttribute(null=True)
        gsi2sk = UnicodeAttribute(null=True)
        entity = UnicodeAttribute(default="package")
        tenant_id = UnicodeAttribute()
        package_id = UnicodeAttribute()
        version = NumberAttribute()
        state = UnicodeAttribute()
        revision = NumberAttribute()
        schema_version = NumberAttribute(default=SCHEMA_VERSION)
        source_key = UnicodeAttribute()
        created_at = UTCDateTimeAttribute()
        updated_at = UTCDateTimeAttribute()
        summary = JSONAttribute(null=True)
        sealed = JSONAttribute(null=True)
        problem = JSONAttribute(null=True)
        revoke_reason = UnicodeAttribute(null=True)
        declared_upload = JSONAttribute(null=True)
        last_event = JSONAttribute(null=True)
        by_tenant = ByTenant()
        building = Building()

    PackageItem.Meta.table_name = table_name  # type: ignore[attr-defined]
    PackageItem.Meta.region = region  # type: ignore[attr-defined]
    return PackageItem


def _event_json(event: PackageEvent | None) -> dict[str, Any] | None:
    if event is None:
        return None
    return stamped(
        {
            "name": event.name,
            "tenant_id": event.tenant_id,
            "package_id": event.package_id,
            "version": event.version,
            "occurred_at": event.occurred_at.isoformat(),
            "data": event.data,
        }
    )


class DynamoPackageRepository:
    """PackageRepository on DynamoDB."""

    def __init__(self, table_name: str, region: str) -> None:
        self._model = package_model(table_name, region)

    def add(self, package: PlayPackage) -> PlayPackage:
        what = f"package {package.package_id} v{package.version}"
        return persist(package, self._to_item, self._model.pk.does_not_exist(), what, revision=1)

    def save(self, package: PlayPackage) -> PlayPackage:
        what = f"package {package.package_id} v{package.version}"
        condition = self._model.revision == package.revision
        return persist(package, self._to_item, condition, what, revision=package.revision + 1)

    def get(self, tenant_id: str, package_id: str, version: int | None = None) -> PlayPackage:
        try:
            if version is not None:
                return self._from_item(
                    self._model.get(_pk(tenant_id, package_id), _sk(version), consistent_read=True)
                )
            for item in self._model.query(
                _pk(tenant_id, package_id), scan_index_forward=False, limit=1, consistent_read=True
            ):
                return self._from_item(item)
        except DoesNotExist:
            pass
        # Another tenant's package is indistinguishable from a missing one: the key holds the tenant.
        suffix = f" v{version}" if version is not None else ""
        raise NotFound(f"package {package_id}{suffix} not found")

    def list(self, tenant_id: str, cursor: str | None, limit: int) -> Page:
        start = self._decode_cursor(tenant_id, cursor)
        results = self._model.by_tenant.query(
            _list_pk(tenant_id), scan_index_forward=False, limit=limit, last_evaluated_key=start
        )
        hits = list(results)
        last = results.last_evaluated_key
        items = [self._from_item(item) for item in items_of(self._model, hits, ("gsi1pk", "gsi1sk"))]
        return Page(
            items=items, next_cursor=self._encode_cursor(last) if last and len(hits) >= limit else None
        )

    def building_since_before(self, cutoff: datetime, limit: int) -> list[PlayPackage]:
        results = self._model.building.query(
            BUILDING_PARTITION, self._model.gsi2sk < cutoff.isoformat(), limit=limit
        )
        return [self._from_item(item) for item in items_of(self._model, results, ("gsi2pk", "gsi2sk"))]

    @staticmethod
    def _encode_cursor(last: dict[str, Any]) -> str:
        return encode_cursor(last, _CURSOR_FIELDS)

    @staticmethod
    def _decode_cursor(tenant_id: str, cursor: str | None) -> dict[str, Any] | None:
        if not cursor:
            return None
        position = decode_cursor(cursor, _CURSOR_FIELDS, f"TENANT#{tenant_id}#")
        return {name: {"S": value} for name, value in {**position, "gsi1pk": _list_pk(tenant_id)}.items()}

    def _to_item(self, package: PlayPackage) -> Model:
        summary = package.summary
        item = self._model(
            _pk(package.tenant_id, package.package_id),
            _sk(package.version),
            gsi1pk=_list_pk(package.tenant_id),
            gsi1sk=f"{package.created_at.isoformat()}#{package.package_id}#{package.version:010d}",
            tenant_id=package.tenant_id,
            package_id=package.package_id,
            version=package.version,
            state=package.state.value,
            revision=package.revision,
            source_key=package.source_key,
            created_at=package.created_at,
            updated_at=package.updated_at,
            summary=None if summary is None else {**summary.__dict__, "standard": summary.standard.value},
            sealed=None
            if package.sealed is None
            else _sealed_item(package.sealed),
            problem=None if package.problem is None else package.problem.as_dict(),
            revoke_reason=package.revoke_reason,
            declared_upload=None if package.declared_upload is None else package.declared_upload.as_dict(),
            last_event=_event_json(package.last_event),
        )
        if package.state is PackageState.BUILDING:
            item.gsi2pk = BUILDING_PARTITION
            item.gsi2sk = package.updated_at.isoformat()
        return item

    @staticmethod
    def _from_item(item: Any) -> PlayPackage:
        summary = None
        if item.summary:
            summary = PackageSummary(**{**item.summary, "standard": Standard(item.summary["standard"])})
        return PlayPackage(
            tenant_id=item.tenant_id,
            package_id=item.package_id,
            version=int(item.version),
            state=PackageState(item.state),
            source_key=item.source_key,
            created_at=item.created_at,
            updated_at=item.updated_at,
            revision=int(item.revision),
            summary=summary,
            sealed=SealedContent(
                ContainerRef(**item.sealed["container"]),
                item.sealed["wrapped_key"],
                item.sealed.get("wrapped_lineage_key"),
            )
            if item.sealed
            else None,
            problem=Problem(**item.problem) if item.problem else None,
            revoke_reason=item.revoke_reason,
            declared_upload=DeclaredUpload(**item.declared_upload) if item.declared_upload else None,
        )


def _sealed_item(sealed: SealedContent) -> dict[str, Any]:
    """A package's sealed content as stored; version 1 records keep their old shape exactly."""
    item: dict[str, Any] = {"container": sealed.container.as_dict(), "wrapped_key": sealed.wrapped_key}
    if sealed.wrapped_lineage_key is not None:
        item["wrapped_lineage_key"] = sealed.wrapped_lineage_key
    return item
