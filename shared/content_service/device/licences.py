"""The licence rules on the device: which licence a bundle holds, and whether it opens now.

A licence is kept only once verified (signature, issuer, tenant, user, device, bundle) and is
then entered in the sealed licence index (its SHA-256, id and signed server time). Opening a
bundle needs, in order:

- no tombstone: a bundle revoked once stays refused here, even if its folder is restored;
- a stored licence that verifies (else a tamper report) and is the one in the index (else
  ``LicenceUnknown``: a restored or copied licence file);
- a trusted state (else ``ClockUntrusted``: the state root was lost or altered);
- the domain's ``check_licence_use`` at the trusted time: not before ``nbf``, not past
  ``exp + offline_grace``, and, online, a fresh signed status (no older than the licence's
  status interval, measured from the status's own signed ``server_time``).
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Any

from content_service.crypto import TokenError
from content_service.device.clock import TrustedClock
from content_service.device.content import sha256
from content_service.device.errors import (
    BundleNotFound,
    ClockUntrusted,
    InsecureStateDir,
    LicenceRevoked,
    LicenceUnknown,
)
from content_service.device.reports import Reporter, manifest_evidence
from content_service.device.state import DeviceState
from content_service.device.store import DeviceStore, read_private, write_private
from content_service.device.trust import Trust
from content_service.domain.errors import DomainError
from content_service.domain.licence import check_licence_use

DEFAULT_STATUS_INTERVAL = 12 * 3600


class LicenceRules:
    """The stored licences of one device and the rules that open them."""

    def __init__(
        self, store: DeviceStore, state: DeviceState, trust: Trust, clock: TrustedClock, reporter: Reporter
    ) -> None:
        self._store = store
        self._state = state
        self._trust = trust
        self._clock = clock
        self._reporter = reporter

    def refuse_if_revoked(self, bundle_id: str) -> None:
        """``LicenceRevoked`` if this device learnt that the bundle was revoked (a tombstone)."""
        if bundle_id in self._state.tombstones():
            raise LicenceRevoked(
                f"{bundle_id} was revoked; a copy restored on this device stays refused", status=410
            )

    def keep(self, bundle_id: str, token: str) -> dict[str, Any]:
        """Verify a licence the service just issued, store it, index it; return its claims."""
        self.refuse_if_revoked(bundle_id)
        try:
            claims = self._trust.licence(bundle_id, token)
        except TokenError as error:
            raise self._reporter.tamper(
                bundle_id, "license", f"a fetched licence does not verify: {error}"
            ) from error
        files = self._store.bundle_dir(bundle_id)
        if files.manifest.is_file():
            manifest = read_private(files.manifest)
            expected, found = str(claims.get("content_hash", "")), sha256(manifest)
            if not hmac.compare_digest(expected, found):
                raise self._reporter.tamper(
                    bundle_id,
                    "manifest",
                    "the manifest is not the one the licence was issued for",
                    manifest_evidence(expected, found),
                )
        self._clock.observe_server_time(float(claims["server_time"]))
        write_private(files.licence, token.encode("ascii"))
        self._state.index_licence(
            bundle_id,
            {
                "sha256": sha256(token.encode("ascii")),
                "jti": str(claims.get("jti", "")),
                "server_time": int(claims["server_time"]),
            },
        )
        return claims

    def load(self, bundle_id: str) -> dict[str, Any]:
        """The claims of the licence this device stored for ``bundle_id`` (see the module docstring)."""
        self.refuse_if_revoked(bundle_id)
        files = self._store.bundle(bundle_id)
        if not files.licence.is_file():
            raise BundleNotFound(
                f"no licence for {bundle_id} on this device; fetch one first", bundle_id=bundle_id
            )
        try:
            data = read_private(files.licence)
        except InsecureStateDir as error:
            # Not a file this device wrote (a symlink, a huge file): like a restored licence, it
            # is not the indexed one, and online the agent fetches a new one over it.
            raise LicenceUnknown(f"the licence of {bundle_id} on disk is not the one this device stored: {error}") from error
        try:
            claims = self._trust.licence(bundle_id, data.decode("ascii"))
        except (TokenError, UnicodeError) as error:
            raise self._reporter.tamper(
                bundle_id, "license", f"the stored licence does not verify: {error}"
            ) from error
        reason = self._state.untrusted()
        if reason:
            # A lost state lost its licence index too: the state, not the licence, is the problem.
            raise ClockUntrusted(
                f"the device's state cannot be trusted ({reason}); connect once to restore it"
            )
        entry = self._state.licence_entry(bundle_id)
        if entry is None or not hmac.compare_digest(str(entry.get("sha256", "")), sha256(data)):
            raise LicenceUnknown(
                f"the licence of {bundle_id} on disk is not the one this device stored; fetch one again online"
            )
        # The licence was signed at server_time, so now cannot be earlier, whatever the floor says.
        self._clock.observe_server_time(float(claims["server_time"]))
        return claims

    def peek(self, bundle_id: str) -> dict[str, Any] | None:
        """The stored licence's verified claims, or ``None``: no tombstone, no report, no index check.

        For deciding *when* to renew (``renewals``), which must not queue a tamper report on every
        sync; opening still goes through ``load``, which reports.
        """
        if bundle_id in self._state.tombstones():
            return None
        files = self._store.bundle(bundle_id)
        try:
            return self._trust.licence(bundle_id, read_private(files.licence).decode("ascii"))
        except (OSError, TokenError, UnicodeError, DomainError):
            return None

    def forget(self, bundle_id: str) -> None:
        self._state.forget_licence(bundle_id)

    def last_status(self, bundle_id: str) -> int | None:
        """The signed time of the latest fresh status for this bundle: its licence or the device's sync."""
        times = [self._state.newest_status()]
        entry = self._state.licence_entry(bundle_id)
        if entry is not None:
            times.append(int(entry.get("server_time", 0)))
        known = [t for t in times if t > 0]
        return max(known) if known else None

    def fresh(self, bundle_id: str, claims: Mapping[str, Any]) -> bool:
        last = self.last_status(bundle_id)
        return last is not None and self._clock.now_int() - last <= status_interval(claims)

    def check(self, bundle_id: str, claims: Mapping[str, Any], *, online: bool) -> None:
        """Raise unless the licence opens now (trusted state, then the domain's rules)."""
        reason = self._state.untrusted()
        if reason:
            raise ClockUntrusted(
                f"the device's state cannot be trusted ({reason}); connect once to restore it"
            )
        check_licence_use(
            dict(claims),
            device_id=self._state.record().device_id,
            trusted_now=self._clock.now_int(),
            online=online,
            last_status_at=self.last_status(bundle_id),
            status_interval=status_interval(claims),
        )


def status_interval(claims: Mapping[str, Any]) -> int:
    """How long a status stays fresh: the licence's ``status_deadline - server_time``."""
    try:
        return max(0, int(claims["status_deadline"]) - int(claims["server_time"]))
    except (KeyError, TypeError, ValueError):
        return DEFAULT_STATUS_INTERVAL
