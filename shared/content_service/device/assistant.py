"""The study assistant's configuration on the device: fetched beside a bundle, verified, read offline.

The service hands a bundle's approved assistant configs as signed overlays (docs/assistant.md):
a JWS (``assistant-overlay+jws``) naming the bundle, the package version, its content hash and
the config's RFC 8785 SHA-256, with the config itself beside it. The device keeps an overlay
only if the token verifies against its pinned JWKS, names the issuer and tenant of its enrolment
(as every manifest and licence must), names this bundle and a package version
whose content hash the bundle's verified manifest lists, and the config hashes to what the token
says; it checks all of that again every time it reads one, offline. The overlays live in the
bundle's folder, so removing a revoked bundle removes them too; they are never part of the
content or its hash.

Rollback. An older overlay is still a genuine, signed one, so a verifying signature cannot tell
the config approved today from one the service replaced or withdrew. The device seals the
SHA-256 of each overlay it keeps in its state root (``assistant`` section, per bundle and
package), and reads only the sealed one: an older overlay restored, or one copied from another
bundle or device, is ``OverlayInvalid`` until the next fetch (a download or an approval synced).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Protocol

from content_service.crypto.signing import TokenError
from content_service.device.errors import BundleNotFound, DeviceError, InsecureStateDir
from content_service.device.http import DeviceApi
from content_service.device.state import DeviceState
from content_service.device.store import PACKAGE_ID, DeviceStore, read_private, write_private
from content_service.device.trust import Trust
from content_service.domain.assistant import OVERLAY_TYP, canonical_sha256


class _Parts(Protocol):
    @property
    def trust(self) -> Trust: ...

    @property
    def state(self) -> DeviceState: ...


class DeviceAgent(Protocol):
    """What this module needs of ``agent.DeviceAgent``, which composes it (so it is not imported here:
    a sync that reads an approval calls ``fetch_assistant`` through the agent)."""

    store: DeviceStore

    @property
    def api(self) -> DeviceApi: ...

    @property
    def parts(self) -> _Parts: ...


class OverlayInvalid(DeviceError):
    """An assistant overlay that does not verify or does not belong to the bundle's content."""

    title = "The assistant overlay does not verify"
    status = 422


def overlay_path(agent: DeviceAgent, bundle_id: str, package_id: str) -> Path:
    if not PACKAGE_ID.fullmatch(package_id):
        raise BundleNotFound(f"not a package id: {package_id!r}")
    return agent.store.bundle(bundle_id).root / f"assistant-{package_id}.json"


def fetch_assistant(agent: DeviceAgent, bundle_id: str) -> list[str]:
    """Fetch, verify and keep the bundle's assistant overlays; return the package ids kept.

    The bundle must be downloaded first (its manifest is what the overlays are checked against).
    A package whose overlay went away (a newer approval is another overlay) keeps nothing stale:
    every overlay file of the bundle not in the answer is removed.
    """
    answer = agent.api.bundle_assistant(bundle_id)
    kept: dict[str, str] = {}
    for overlay in answer.get("overlays", []):
        package_id = str(overlay.get("package_id", ""))
        _check(agent, bundle_id, package_id, overlay)
        data = json.dumps(overlay, sort_keys=True).encode()
        # The file first, the seal second: a crash between leaves a refused file, never a seal
        # naming a file that is not there.
        write_private(overlay_path(agent, bundle_id, package_id), data)
        kept[package_id] = hashlib.sha256(data).hexdigest()
    _seal(agent, bundle_id, kept)
    for stale in agent.store.bundle(bundle_id).root.glob("assistant-*.json"):
        if stale.name[len("assistant-") : -len(".json")] not in kept:
            stale.unlink()
    return list(kept)


def _seal(agent: DeviceAgent, bundle_id: str, kept: dict[str, str]) -> None:
    """Name, in the sealed root, the overlays this bundle holds now (and only those)."""

    def change(root: dict[str, Any]) -> None:
        section = root.get("assistant") if isinstance(root.get("assistant"), dict) else {}
        section[bundle_id] = dict(kept)
        root["assistant"] = section

    agent.parts.state.update(change)


def _sealed_digest(agent: DeviceAgent, bundle_id: str, package_id: str) -> str | None:
    section = agent.parts.state.read().get("assistant")
    held = section.get(bundle_id) if isinstance(section, dict) else None
    digest = held.get(package_id) if isinstance(held, dict) else None
    return digest if isinstance(digest, str) else None


def read_assistant(agent: DeviceAgent, bundle_id: str, package_id: str) -> dict[str, Any]:
    """The verified assistant config of one package of a bundle on this device (works offline).

    Returns the config with the overlay's claims (config id, provenance summary); raises
    BundleNotFound if the package has no approved config on this device, OverlayInvalid if the
    stored overlay no longer verifies.
    """
    path = overlay_path(agent, bundle_id, package_id)
    if not path.is_file():
        raise BundleNotFound(
            f"no approved assistant config of {package_id} in bundle {bundle_id} on this device"
        )
    try:
        data = read_private(path)
        overlay = json.loads(data.decode("utf-8"))
    except (ValueError, UnicodeError, InsecureStateDir) as error:
        raise OverlayInvalid(f"the stored assistant overlay of {package_id} is not JSON") from error
    claims = _check(agent, bundle_id, package_id, overlay)
    # A genuine overlay is not enough: it must be the one this device kept last (not an older one).
    if hashlib.sha256(data).hexdigest() != _sealed_digest(agent, bundle_id, package_id):
        raise OverlayInvalid(
            f"the stored assistant overlay of {package_id} is not the one this device kept "
            "(an older or copied file); it is fetched again online"
        )
    return {"claims": claims, "config": overlay["config"]}


def _check(agent: DeviceAgent, bundle_id: str, package_id: str, overlay: Any) -> dict[str, Any]:
    if not isinstance(overlay, dict) or not isinstance(overlay.get("token"), str):
        raise OverlayInvalid(f"the assistant overlay of {package_id!r} has no token")
    try:
        claims = agent.parts.trust.assistant_overlay(bundle_id, package_id, overlay["token"], OVERLAY_TYP)
    except TokenError as error:
        # A ClaimsRefused (another issuer, tenant, bundle or package) is a TokenError too.
        raise OverlayInvalid(f"the assistant overlay of {package_id!r} is refused: {error}") from error
    listed = {
        (str(p.get("package_id")), p.get("version")): p.get("content_hash")
        for p in _manifest(agent, bundle_id)
    }
    if listed.get((package_id, claims.get("version"))) != claims.get("content_hash"):
        raise OverlayInvalid(
            f"the assistant overlay of {package_id!r} is for content this bundle's manifest does not hold"
        )
    if canonical_sha256(overlay.get("config")) != claims.get("config_sha256"):
        raise OverlayInvalid(f"the assistant config of {package_id!r} is not the one the service signed")
    return claims


def _manifest(agent: DeviceAgent, bundle_id: str) -> list[dict[str, Any]]:
    files = agent.store.bundle(bundle_id)
    if not files.manifest.is_file():
        raise BundleNotFound(f"bundle {bundle_id} is not downloaded on this device")
    try:
        claims = agent.parts.trust.manifest(bundle_id, files.manifest.read_bytes())
    except TokenError as error:
        raise OverlayInvalid(f"the manifest of bundle {bundle_id} does not verify: {error}") from error
    packages = claims.get("packages")
    return [p for p in packages if isinstance(p, dict)] if isinstance(packages, list) else []
