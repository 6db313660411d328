"""The migration runner: walks the table page by page, applying one numbered migration at a time.

The table's schema version and any migration in progress live in one state item
(``pk = sk = MIGRATIONS``). The runner writes it after every page: the version it is moving to,
the direction, and the scan cursor. A run that crashes (or is stopped) leaves that record behind,
and the next run resumes from the cursor instead of starting over. The page it was on is walked
again, which is harmless because every migration step is idempotent: it looks at the item as it
is now and writes only with a condition. The state item is itself written with a condition on
its revision, so two runners started together cannot both make progress: the second one gets
:class:`MigrationBusy`.

Why our own runner and not a library: the migration tools on PyPI are for SQL schemas (alembic,
yoyo) or rewrite items through an ORM without a resumable cursor. What is needed here is a scan
with a saved cursor and conditional writes, which is a few dozen lines on boto3.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from content_service.migrations.kinds import ATTRIBUTE, kind_of, stamped, version_of

STATE_KEY = {"pk": {"S": "MIGRATIONS"}, "sk": {"S": "MIGRATIONS"}}


class Migration(Protocol):
    """One step between schema versions ``version - 1`` and ``version``."""

    version: int
    description: str

    def up(self, client: Any, table: str, item: dict[str, Any]) -> bool:
        """Bring one item (as ``scan`` returned it) to this version; True if anything was written."""
        ...

    def down(self, client: Any, table: str, item: dict[str, Any]) -> bool:
        """Take one item back to the previous version; True if anything was written."""
        ...


class MigrationBusy(RuntimeError):
    """Another runner moved the state on while this one was working."""


class UnknownVersion(ValueError):
    """A target version no migration leads to."""


@dataclass(frozen=True)
class Status:
    version: int
    latest: int
    running: dict[str, Any] | None
    """``{"direction", "target", "scanned", "changed"}`` of an interrupted run, else None."""


@dataclass(frozen=True)
class Progress:
    version: int
    direction: str
    description: str
    scanned: int
    changed: int
    finished: bool


class MigrationRunner:
    def __init__(
        self,
        client: Any,
        table: str,
        migrations: Sequence[Migration],
        *,
        page_size: int = 100,
        progress: Callable[[Progress], None] | None = None,
    ) -> None:
        versions = [m.version for m in migrations]
        if versions != list(range(2, 2 + len(migrations))):
            raise ValueError(f"migrations must be numbered 2, 3, ... in order, not {versions}")
        self._client = client
        self._table = table
        self._migrations = {m.version: m for m in migrations}
        self._page_size = page_size
        self._progress = progress or (lambda _: None)

    @property
    def latest(self) -> int:
        """The newest version (1 is the table before any migration)."""
        return 1 + len(self._migrations)

    def status(self) -> Status:
        state = self._state()
        running = state.get("running")
        return Status(
            state["version"],
            self.latest,
            None
            if running is None
            else {k: running[k] for k in ("direction", "target", "scanned", "changed")},
        )

    def up(self, to: int | None = None) -> int:
        """Apply migrations until the table is at ``to`` (default: the newest); returns the version."""
        return self._run(self.latest if to is None else to, "up")

    def down(self, to: int | None = None) -> int:
        """Undo migrations until the table is at ``to`` (default: one version back); returns the version."""
        current = self._state()["version"]
        return self._run(max(1, current - 1) if to is None else to, "down")

    def _run(self, target: int, direction: str) -> int:
        if not 1 <= target <= self.latest:
            raise UnknownVersion(f"version {target} does not exist (1 to {self.latest})")
        state = self._state()
        running = state.get("running")
        if running is not None and running["direction"] != direction:
            # An interrupted run in the other direction is finished first, so the version is exact.
            state = self._step(state, running["direction"])
        while True:
            version = state["version"]
            if (direction == "up" and version >= target) or (direction == "down" and version <= target):
                return version
            state = self._step(state, direction)

    def _step(self, state: dict[str, Any], direction: str) -> dict[str, Any]:
        running = state.get("running") or {
            "direction": direction,
            "target": state["version"] + 1 if direction == "up" else state["version"] - 1,
            "cursor": None,
            "scanned": 0,
            "changed": 0,
        }
        migration = self._migrations[running["target"] if direction == "up" else state["version"]]
        apply = migration.up if direction == "up" else migration.down
        state = self._save(state, {**state, "running": running})
        while True:
            page = self._scan(running["cursor"])
            for item in page.get("Items", []):
                if item["pk"] == STATE_KEY["pk"]:
                    continue
                # An item of a kind no migration knows stops the run before anything touches it.
                if not kind_of(item).migrated:
                    continue
                running["scanned"] += 1
                running["changed"] += int(apply(self._client, self._table, item))
                self._stamp(item, running["target"])
            running["cursor"] = page.get("LastEvaluatedKey")
            finished = running["cursor"] is None
            state = self._save(
                state,
                {**state, "version": running["target"], "running": None}
                if finished
                else {**state, "running": running},
            )
            self._progress(
                Progress(
                    migration.version,
                    direction,
                    migration.description,
                    running["scanned"],
                    running["changed"],
                    finished,
                )
            )
            if finished:
                return state

    def _stamp(self, item: dict[str, Any], version: int) -> None:
        """Record ``version`` on an item of a migrated kind; version 1 is no attribute.

        The stamp changes no revision, so it never looks like a new write of an aggregate (the
        stream adapter skips such records) and never fails the service's own conditional writes.
        It is conditional on what was read, re-read if the item changed meanwhile (the migration
        itself, or the service, wrote it): an aggregate on its revision, a projection row (it has
        none) on its stamp and its existence, so a stamp never brings back a row deleted meanwhile
        (an expired inbox marker, a finished claim). The service writes the current version anyway.
        """
        key = {"pk": item["pk"], "sk": item["sk"]}
        for _ in range(5):
            if version_of(item) == version and (version == 1) == (ATTRIBUTE not in item):
                return
            update = f"REMOVE {ATTRIBUTE}" if version == 1 else f"SET {ATTRIBUTE} = :v"
            values = {} if version == 1 else {":v": {"N": str(version)}}
            if "revision" in item:
                condition, values = "revision = :r", {**values, ":r": item["revision"]}
            elif ATTRIBUTE in item:
                condition, values = f"{ATTRIBUTE} = :read", {**values, ":read": item[ATTRIBUTE]}
            else:
                condition = f"attribute_exists(pk) AND attribute_not_exists({ATTRIBUTE})"
            try:
                self._client.update_item(
                    TableName=self._table,
                    Key=key,
                    UpdateExpression=update,
                    ConditionExpression=condition,
                    **({"ExpressionAttributeValues": values} if values else {}),
                )
                return
            except self._client.exceptions.ConditionalCheckFailedException:
                item = self._client.get_item(TableName=self._table, Key=key, ConsistentRead=True).get("Item")
                if item is None:
                    return
        raise MigrationBusy(f"{key['pk']['S']} kept changing while being stamped; run the migration again")

    def _scan(self, cursor: dict[str, Any] | None) -> dict[str, Any]:
        # Consistent reads, so an item written just before the scan reached its page is seen as it is.
        request: dict[str, Any] = {"TableName": self._table, "Limit": self._page_size, "ConsistentRead": True}
        if cursor:
            request["ExclusiveStartKey"] = cursor
        return self._client.scan(**request)

    def _state(self) -> dict[str, Any]:
        item = self._client.get_item(TableName=self._table, Key=STATE_KEY, ConsistentRead=True).get("Item")
        if item is None:
            return {"version": 1, "running": None, "revision": 0}
        return {**json.loads(item["state"]["S"]), "revision": int(item["revision"]["N"])}

    def _save(self, old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
        revision = old["revision"]
        body = {k: v for k, v in new.items() if k != "revision"}
        try:
            self._client.put_item(
                TableName=self._table,
                Item=stamped(
                    {
                        **STATE_KEY,
                        "entity": {"S": "migrations"},
                        "revision": {"N": str(revision + 1)},
                        "state": {"S": json.dumps(body)},
                    }
                ),
                ConditionExpression="attribute_not_exists(pk)" if revision == 0 else "revision = :r",
                **({} if revision == 0 else {"ExpressionAttributeValues": {":r": {"N": str(revision)}}}),
            )
        except self._client.exceptions.ConditionalCheckFailedException as error:
            raise MigrationBusy(
                "another migration run changed the state; let it finish, then retry"
            ) from error
        return {**body, "revision": revision + 1}
