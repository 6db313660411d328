"""The local replicator: what S3 replication and DynamoDB global tables do, which moto does not.

moto serves every region from one endpoint (by the region a request is signed for) but copies
nothing between them. :class:`LocalReplicator` plays both services for a zone:

* **Buckets** (one way, primary → peer, as the template's ``ReplicationConfiguration``): every
  new object version of the source is copied to the target with its content type and metadata;
  delete markers are not (``DeleteMarkerReplication: Disabled``), so a delete stays local.
* **Tables** (both ways, as a global table's replicas): every change on a replica's stream is
  applied to the other replica. A change the target already holds is skipped, and the stream
  records of the replicator's own writes are not replicated back (as a global table does not
  replicate its replication writes), so nothing echoes. Concurrent writes to one key in both
  regions are applied in the order the replicator reads them, not last-writer-wins.

Each copy is held back until it is at least ``delay`` seconds old (a stand-in for S3 RTC's and
global tables' propagation time), and the replicator records each copy's lag, from the source
write to the replica write, so tests and benchmarks can read it (:attr:`lags`).

Why our own code: no library plays S3 replication or global tables against moto; this is a
small loop over the same APIs the services expose (ListObjectVersions, DynamoDB Streams).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.exceptions import ClientError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BucketReplication:
    """Copy new object versions of ``source`` (in ``source_region``) to ``target`` (``target_region``)."""

    source: str
    source_region: str
    target: str
    target_region: str


@dataclass(frozen=True)
class TableReplicas:
    """One global table: ``name`` in each of ``regions`` (the zone's), kept equal both ways."""

    name: str
    regions: tuple[str, ...]


@dataclass(frozen=True)
class Copy:
    """One replicated change and how long after its source write it reached the replica."""

    kind: str
    """``object`` or ``item``."""
    what: str
    source_region: str
    target_region: str
    lag_seconds: float


@dataclass
class _StreamCursor:
    stream_arn: str
    iterators: dict[str, str | None] = field(default_factory=dict)
    pending: list[dict[str, Any]] = field(default_factory=list)


class LocalReplicator:
    """Replicates a zone's buckets and tables through moto, once (:meth:`run_once`) or in a thread."""

    def __init__(
        self,
        endpoint_url: str,
        buckets: Sequence[BucketReplication] = (),
        tables: Sequence[TableReplicas] = (),
        *,
        delay: float = 0.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``delay``: seconds a change waits before it is copied (the lag to emulate)."""
        self.endpoint_url = endpoint_url
        self.buckets = tuple(buckets)
        self.tables = tuple(tables)
        self.delay = delay
        self._clock = clock
        self._clients: dict[tuple[str, str], Any] = {}
        self._copied_versions: set[tuple[str, str, str]] = set()
        self._cursors: dict[tuple[str, str], _StreamCursor] = {}
        # Changes this replicator wrote, by (table, region, key, image): their stream records are echoes.
        self._echoes: Counter[tuple[str, str, str, str]] = Counter()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.copies: list[Copy] = []

    @property
    def lags(self) -> list[float]:
        """Every copy's lag in seconds, in the order the copies were made."""
        return [copy.lag_seconds for copy in self.copies]

    # ------------------------------------------------------------ lifecycle
    def start(self, interval: float = 0.2) -> LocalReplicator:
        """Replicate every ``interval`` seconds in a daemon thread until :meth:`stop`."""
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._loop, args=(interval,), name="local-replicator", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread (a copy in progress finishes first)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _loop(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self.run_once()
            except Exception:
                # A failed region (the fault switch) or a table not made yet: try again next round,
                # as the services do; the change stays pending, nothing is lost.
                logger.warning("replication round failed; retrying", exc_info=True)

    def run_once(self) -> list[Copy]:
        """Copy every change old enough (``delay``) that is not copied yet; return the copies."""
        with self._lock:
            jobs: list[Callable[[], list[Copy]]] = [
                functools.partial(self._replicate_bucket, bucket) for bucket in self.buckets
            ]
            jobs += [
                functools.partial(self._replicate_table, table.name, source, target)
                for table in self.tables
                for source in table.regions
                for target in table.regions
                if source != target
            ]
            made: list[Copy] = []
            failures: list[Exception] = []
            for job in jobs:
                # Each replication runs on its own, as S3 and DynamoDB do: a failed region's S3
                # (the fault switch) must not hold up the table replicas, or a revocation
                # written in the secondary would wait for the primary's S3.
                try:
                    made += job()
                except Exception as failure:
                    failures.append(failure)
            self.copies += made
            if failures:
                raise failures[0]
            return made

    # --------------------------------------------------------------- buckets
    def _replicate_bucket(self, spec: BucketReplication) -> list[Copy]:
        source = self._client("s3", spec.source_region)
        target = self._client("s3", spec.target_region)
        made = []
        for version in _object_versions(source, spec.source):
            marker = (spec.source, version["Key"], version["VersionId"])
            if marker in self._copied_versions:
                continue
            written = version["LastModified"].timestamp()
            if self._clock() - written < self.delay:
                continue
            reply = source.get_object(Bucket=spec.source, Key=version["Key"], VersionId=version["VersionId"])
            body = reply["Body"].read()
            target.put_object(
                Bucket=spec.target,
                Key=version["Key"],
                Body=body,
                ContentType=reply.get("ContentType", "application/octet-stream"),
                Metadata=reply.get("Metadata", {}),
            )
            self._copied_versions.add(marker)
            made.append(
                Copy(
                    "object", version["Key"], spec.source_region, spec.target_region, self._clock() - written
                )
            )
        return made

    # ---------------------------------------------------------------- tables
    def _replicate_table(self, name: str, source_region: str, target_region: str) -> list[Copy]:
        cursor = self._cursor(name, source_region)
        streams = self._client("dynamodbstreams", source_region)
        for shard_id, iterator in list(cursor.iterators.items()):
            if iterator is None:
                continue
            response = streams.get_records(ShardIterator=iterator)
            cursor.iterators[shard_id] = response.get("NextShardIterator")
            cursor.pending += response.get("Records", [])
        target = self._client("dynamodb", target_region)
        made, waiting = [], []
        for record in cursor.pending:
            if self._is_echo(name, source_region, record):
                continue
            written = _record_time(record)
            if self._clock() - written < self.delay:
                waiting.append(record)
                continue
            if self._apply(target, name, record):
                self._echoes[_change_id(name, target_region, record)] += 1
                keys = record["dynamodb"]["Keys"]
                what = "/".join(str(next(iter(v.values()))) for v in keys.values())
                made.append(Copy("item", what, source_region, target_region, self._clock() - written))
        cursor.pending = waiting
        return made

    def _is_echo(self, name: str, region: str, record: dict[str, Any]) -> bool:
        """Whether ``record`` is the stream's view of a write this replicator made in ``region``.

        Global tables do not replicate their own replication writes. Comparing with the target's
        current item is not enough: when one key changes twice before a round, the target holds
        the second image while the first one's copy is applied, so an echo of the first would put
        the older image back, and the two replicas would trade it for ever.
        """
        change = _change_id(name, region, record)
        if self._echoes[change] <= 0:
            return False
        self._echoes[change] -= 1
        return True

    def _cursor(self, name: str, region: str) -> _StreamCursor:
        key = (name, region)
        if key not in self._cursors:
            dynamodb = self._client("dynamodb", region)
            stream_arn = dynamodb.describe_table(TableName=name)["Table"]["LatestStreamArn"]
            streams = self._client("dynamodbstreams", region)
            shards = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]
            cursor = _StreamCursor(stream_arn)
            for shard in shards:
                cursor.iterators[shard["ShardId"]] = streams.get_shard_iterator(
                    StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]
            self._cursors[key] = cursor
        return self._cursors[key]

    @staticmethod
    def _apply(target: Any, name: str, record: dict[str, Any]) -> bool:
        """Apply one stream record to the other replica; False when it already holds the change."""
        change = record["dynamodb"]
        keys = change["Keys"]
        current = target.get_item(TableName=name, Key=keys, ConsistentRead=True).get("Item")
        if record["eventName"] == "REMOVE":
            if current is None:
                return False
            target.delete_item(TableName=name, Key=keys)
            return True
        new_image = change["NewImage"]
        if current == new_image:
            return False
        target.put_item(TableName=name, Item=new_image)
        return True

    def _client(self, service: str, region: str) -> Any:
        key = (service, region)
        if key not in self._clients:
            self._clients[key] = boto3.client(service, endpoint_url=self.endpoint_url, region_name=region)
        return self._clients[key]


def create_replica_table(endpoint_url: str, name: str, source_region: str, target_region: str) -> None:
    """Make ``name`` in ``target_region`` as a global table makes a new replica: same keys, indexes, stream."""
    source = boto3.client("dynamodb", endpoint_url=endpoint_url, region_name=source_region)
    target = boto3.client("dynamodb", endpoint_url=endpoint_url, region_name=target_region)
    table = source.describe_table(TableName=name)["Table"]
    args: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": table["AttributeDefinitions"],
        "KeySchema": table["KeySchema"],
        "BillingMode": "PAY_PER_REQUEST",
        "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    }
    if table.get("GlobalSecondaryIndexes"):
        args["GlobalSecondaryIndexes"] = [
            {"IndexName": i["IndexName"], "KeySchema": i["KeySchema"], "Projection": i["Projection"]}
            for i in table["GlobalSecondaryIndexes"]
        ]
    try:
        target.create_table(**args)
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceInUseException":
            raise


def _object_versions(s3: Any, bucket: str) -> list[dict[str, Any]]:
    versions: list[dict[str, Any]] = []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        # Delete markers are listed apart ("DeleteMarkers") and are deliberately not replicated.
        versions += page.get("Versions", [])
    return sorted(versions, key=lambda v: v["LastModified"])


def _change_id(name: str, region: str, record: dict[str, Any]) -> tuple[str, str, str, str]:
    """(table, region, key, new image) of a stream record, comparable across the two replicas."""
    change = record["dynamodb"]
    image = change.get("NewImage") if record["eventName"] != "REMOVE" else None
    return (
        name,
        region,
        json.dumps(change["Keys"], sort_keys=True),
        json.dumps(image, sort_keys=True),
    )


def _record_time(record: dict[str, Any]) -> float:
    created = record["dynamodb"].get("ApproximateCreationDateTime")
    if isinstance(created, dt.datetime):
        return created.timestamp()
    return float(created) if created is not None else time.time()
