"""Licence renewal on the device: before expiry, and when the feed says a licence was renewed.

A stored licence is *due* once the trusted time reaches ``exp - window``. The window is a
setting (``RenewalPolicy.window``, seconds); by default it is half the licence's validity,
which is also when the service stops answering with the same licence (``POST
/v1/bundles/{id}/licenses`` is idempotent until then), so a renewal at the window's start
gets a fresh licence and one earlier would only get the same one back.

A ``licence.renewed`` change in the sync feed (the service's ``content.licence.issued.v1``
for this device) makes the device fetch that bundle's licence at once, whatever the window or
the back-off say: the service already holds a fresh one.

A failed attempt (offline, a server error, a licence that does not verify) is retried after an
exponential back-off with jitter: ``base * 2**(failures - 1)``, capped at ``max_delay``, of
which a random half is waited (so devices that went offline together do not all come back in
the same second, and no retry is ever sooner than half the delay). The back-off lives in memory:
a restart tries again at once, which is what a person restarting the app expects. A renewal
that returns the licence already held counts as a failure for the back-off, so a window set
wider than the service's half-validity does not ask on every tick.

A renewal the service *refuses* (the bundle or the device was revoked: ``LicenceRevoked``)
hands the bundle to ``refused``: the agent unmounts it at once and lets a sync apply the
signed revocation (tombstone, removal), as for any other revocation.

Times are the trusted clock's (``clock.TrustedClock``), so setting the device's clock back does
not postpone a renewal, and tests drive it with a fake clock.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from content_service.client import ApiError
from content_service.device.clock import TrustedClock
from content_service.device.errors import LicenceRevoked
from content_service.device.licences import LicenceRules
from content_service.domain.errors import DomainError

Outcome = Literal["renewed", "unchanged", "failed", "refused"]

#: ``renew(bundle_id)``: fetch, verify and keep the bundle's licence; return its claims.
Renew = Callable[[str], Mapping[str, Any]]


@dataclass(frozen=True)
class RenewalPolicy:
    """When to renew and how to back off: ``window`` seconds before ``exp`` (``None``: half the validity)."""

    window: float | None = None
    base_delay: float = 60.0
    max_delay: float = 3600.0

    def __post_init__(self) -> None:
        if self.window is not None and self.window <= 0:
            raise ValueError("the renewal window must be a positive number of seconds")
        if not 0 < self.base_delay <= self.max_delay:
            raise ValueError("the back-off needs 0 < base_delay <= max_delay")

    def due_at(self, claims: Mapping[str, Any]) -> float:
        """The trusted time from which this licence should be renewed."""
        exp = float(claims["exp"])
        if self.window is not None:
            return exp - self.window
        start = float(claims.get("nbf", claims.get("server_time", exp)))
        return exp - max(0.0, exp - start) / 2

    def delay(self, failures: int, draw: Callable[[], float]) -> float:
        """The wait after ``failures`` failed attempts in a row: half fixed, half random."""
        full = min(self.max_delay, self.base_delay * 2 ** max(0, failures - 1))
        return full / 2 + draw() * full / 2


@dataclass(frozen=True)
class RenewalOutcome:
    """One renewal attempt: what happened, and when this bundle is tried again (on failure)."""

    bundle_id: str
    outcome: Outcome
    detail: str = ""
    retry_at: float | None = None


class Renewals:
    """The renewals of one device's licences (see the module docstring)."""

    def __init__(
        self,
        licences: LicenceRules,
        clock: TrustedClock,
        *,
        held: Callable[[], list[str]],
        renew: Renew,
        refused: Callable[[str], None],
        policy: RenewalPolicy | None = None,
        draw: Callable[[], float] = random.random,
    ) -> None:
        self._licences = licences
        self._clock = clock
        self._held = held
        self._renew = renew
        self._refused = refused
        self.policy = policy or RenewalPolicy()
        self._draw = draw
        # bundle id -> (failures in a row, trusted time before which it is not tried again).
        self._backoff: dict[str, tuple[int, float]] = {}

    def due(self) -> list[str]:
        """Held bundles whose licence is in its renewal window and not waiting out a back-off."""
        now = self._clock.now()
        due = []
        for bundle_id in self._held():
            claims = self._claims(bundle_id)
            if claims is None or now < self.policy.due_at(claims):
                continue
            if now < self._backoff.get(bundle_id, (0, 0.0))[1]:
                continue
            due.append(bundle_id)
        return due

    def run(self, *, announced: Iterable[str] = ()) -> list[RenewalOutcome]:
        """Renew what the feed announced (held bundles only), then whatever is due; one attempt each."""
        held = set(self._held())
        order = [b for b in dict.fromkeys(announced) if b in held]
        order += [b for b in self.due() if b not in order]
        return [self._attempt(bundle_id) for bundle_id in order]

    def _attempt(self, bundle_id: str) -> RenewalOutcome:
        before = self._claims(bundle_id)
        try:
            claims = self._renew(bundle_id)
        except LicenceRevoked as error:
            self._backoff.pop(bundle_id, None)
            self._refused(bundle_id)
            return RenewalOutcome(bundle_id, "refused", str(error))
        except (DomainError, ApiError) as error:
            # Offline, a server error, or a licence that does not verify: keep the one held, try later.
            return self._failed(bundle_id, "failed", f"{type(error).__name__}: {error}")
        if before is not None and str(claims.get("jti", "")) == str(before.get("jti", "")):
            return self._failed(bundle_id, "unchanged", "the service returned the licence already held")
        self._backoff.pop(bundle_id, None)
        return RenewalOutcome(bundle_id, "renewed")

    def _failed(self, bundle_id: str, outcome: Outcome, detail: str) -> RenewalOutcome:
        failures = self._backoff.get(bundle_id, (0, 0.0))[0] + 1
        retry_at = self._clock.now() + self.policy.delay(failures, self._draw)
        self._backoff[bundle_id] = (failures, retry_at)
        return RenewalOutcome(bundle_id, outcome, detail, retry_at)

    def _claims(self, bundle_id: str) -> Mapping[str, Any] | None:
        # No licence, a tombstone, one that does not verify: nothing to renew (opening reports it).
        return self._licences.peek(bundle_id)


__all__ = ["RenewalOutcome", "RenewalPolicy", "Renewals"]
