"""Domain events: what an aggregate records on each transition (the outbox row of its write)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class DomainEvent:
    """A past-tense fact with a versioned subject such as ``content.bundle.revoked.v1``."""

    name: str
    tenant_id: str
    subject_id: str
    occurred_at: datetime
    data: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "tenant_id": self.tenant_id,
            "subject_id": self.subject_id,
            "occurred_at": self.occurred_at.isoformat(),
            "data": self.data,
        }
