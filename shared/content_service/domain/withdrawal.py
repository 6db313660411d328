"""Withdrawing a package version: the version is revoked, then every bundle holding it, then devices learn.

A version is withdrawn at most once (``revoked`` is final), so a withdrawal is named by the version
alone (:func:`withdrawal_id`). The work is planned into chunks of holding bundles; each chunk revokes
its bundles and appends ``bundle.revoked`` to the feed of every active device of each bundle's user,
under an event id derived from the withdrawal and the bundle (:func:`feed_event_id`), so a chunk
delivered twice appends nothing new: the feed is idempotent per (event, device).

Progress is counted per chunk: the withdrawal is ``done`` once it is planned, every planned chunk
has reported, and the completion time is stamped.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from content_service.domain.errors import ValidationFailed

#: How many holding bundles one chunk revokes. With a user's devices capped at 5 by default, a chunk
#: reaches about 125 devices: small enough that a worker finishes it in well under its timeout and a
#: redelivery repeats little, large enough that 100,000 devices are only some 800 messages.
DEFAULT_CHUNK_SIZE = 25
CHUNK_FORMAT = 1


def withdrawal_id(tenant_id: str, package_id: str, version: int) -> str:
    """The withdrawal of one package version (stable: a version is withdrawn once)."""
    material = f"{tenant_id}\x00{package_id}\x00{version}".encode()
    return "wdr_" + hashlib.sha256(material).hexdigest()[:32]


def feed_event_id(withdrawal: str, bundle_id: str) -> str:
    """The event id under which one bundle's revocation by a withdrawal enters every device's feed."""
    return "evt_" + hashlib.sha256(f"{withdrawal}\x00{bundle_id}".encode()).hexdigest()[:32]


class WithdrawalState(enum.StrEnum):
    #: The version is revoked; the fan-out has not started yet (the table stream is on its way).
    PENDING = "pending"
    #: The holding bundles are being listed and queued in chunks.
    PLANNING = "planning"
    #: Every chunk is queued; some have not reported yet.
    FANNING_OUT = "fanning_out"
    #: Every chunk has revoked its bundles and told their devices.
    DONE = "done"


@dataclass(frozen=True)
class Holder:
    """A bundle that holds the withdrawn version, and the user whose devices hold the bundle."""

    bundle_id: str
    user_id: str


@dataclass(frozen=True)
class WithdrawalChunk:
    """One unit of fan-out work: some holding bundles of one withdrawal."""

    tenant_id: str
    package_id: str
    version: int
    reason: str
    number: int
    holders: tuple[Holder, ...]

    @property
    def withdrawal_id(self) -> str:
        return withdrawal_id(self.tenant_id, self.package_id, self.version)

    def as_dict(self) -> dict[str, Any]:
        return {
            "v": CHUNK_FORMAT,
            "tenant_id": self.tenant_id,
            "package_id": self.package_id,
            "version": self.version,
            "reason": self.reason,
            "number": self.number,
            "holders": [[h.bundle_id, h.user_id] for h in self.holders],
        }

    @classmethod
    def from_dict(cls, data: Any) -> WithdrawalChunk:
        """Parse a chunk message; anything else is a ValidationFailed (the message is not ours)."""
        try:
            if data["v"] != CHUNK_FORMAT:
                raise ValueError(f"chunk format {data['v']!r}")
            holders = tuple(Holder(str(bundle), str(user)) for bundle, user in data["holders"])
            return cls(
                tenant_id=str(data["tenant_id"]),
                package_id=str(data["package_id"]),
                version=int(data["version"]),
                reason=str(data["reason"]),
                number=int(data["number"]),
                holders=holders,
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ValidationFailed(f"not a withdrawal chunk: {error}") from error


def chunked(
    tenant_id: str, package_id: str, version: int, reason: str, holders: Iterable[Holder], size: int
) -> Iterator[WithdrawalChunk]:
    """The holders in chunks of ``size``, numbered from 0 in the order given."""
    if size < 1:
        raise ValueError("a chunk holds at least one bundle")
    batch: list[Holder] = []
    number = 0
    for holder in holders:
        batch.append(holder)
        if len(batch) == size:
            yield WithdrawalChunk(tenant_id, package_id, version, reason, number, tuple(batch))
            batch, number = [], number + 1
    if batch:
        yield WithdrawalChunk(tenant_id, package_id, version, reason, number, tuple(batch))


@dataclass(frozen=True)
class WithdrawalProgress:
    """What the fan-out of one withdrawal has done so far (None counts: not known yet)."""

    tenant_id: str
    package_id: str
    version: int
    reason: str
    started_at: datetime | None = None
    planned_at: datetime | None = None
    completed_at: datetime | None = None
    bundles_total: int | None = None
    chunks_total: int | None = None
    chunks_done: int = 0
    bundles_revoked: int = 0
    devices_notified: int = 0

    @property
    def withdrawal_id(self) -> str:
        return withdrawal_id(self.tenant_id, self.package_id, self.version)

    @property
    def state(self) -> WithdrawalState:
        # Done only once stamped: whoever counts the last chunk stamps completed_at right after,
        # and a crash in between is redelivered and stamps it then.
        if self.completed_at is not None:
            return WithdrawalState.DONE
        if self.started_at is None:
            return WithdrawalState.PENDING
        if self.planned_at is None or self.chunks_total is None:
            return WithdrawalState.PLANNING
        return WithdrawalState.FANNING_OUT
