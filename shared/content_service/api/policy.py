"""The policy table: for every operation of the API, who may call it and whose resource it touches.

This is the one place that says who may do what inside a tenant (DESIGN.md "Authorization").
The resolver enforces the roles before the request is even validated (a role the caller lacks is a
403); the use cases enforce ownership where they load the resource (another user's device or bundle
is a 404, so its existence is not revealed). An operation with no entry makes the app refuse to
start (:func:`require_policy_for`), so a new route cannot ship unguarded.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from content_service.domain.errors import Forbidden
from content_service.domain.principal import Principal, Role


class Ownership(enum.StrEnum):
    """Whose resource an operation may touch, once the role check has passed."""

    #: A tenant resource with no owner (packages, exports) or a public route.
    NONE = "none"
    #: A user's device or bundle: learners only their own; catalog and admin any of the tenant.
    OWN_OR_TENANT_WIDE = "own-or-tenant-wide"
    #: A device-bound act (licence, download, sync, tamper report): only the device's owner, whatever
    #: the caller's roles, because the result is bound to the device's key.
    OWNER_ONLY = "owner-only"


@dataclass(frozen=True)
class Policy:
    """Who may call one operation: ``roles`` (None: public, no token) and the ownership rule."""

    roles: frozenset[Role] | None
    ownership: Ownership = Ownership.NONE
    summary: str = ""

    @property
    def public(self) -> bool:
        return self.roles is None


def _roles(*roles: Role) -> frozenset[Role]:
    return frozenset(roles)


EVERYONE = _roles(Role.LEARNER, Role.AUTHOR, Role.CATALOG, Role.ADMIN)
AUTHORING = _roles(Role.AUTHOR, Role.ADMIN)
CATALOG = _roles(Role.CATALOG, Role.ADMIN)
LEARNER = _roles(Role.LEARNER, Role.ADMIN)
ADMIN = _roles(Role.ADMIN)

POLICIES: dict[str, Policy] = {
    # Authoring: uploads and the tenant's packages.
    "create_upload": Policy(AUTHORING, summary="register a package version and get its upload URL"),
    "list_packages": Policy(AUTHORING, summary="the tenant's package versions"),
    "get_package": Policy(AUTHORING, summary="one package version"),
    "get_manifest": Policy(AUTHORING, summary="a built package version's manifest"),
    # Devices: a learner enrols, reads and revokes their own; catalog reads any; admin revokes any.
    "enroll_device": Policy(LEARNER, summary="enrol a device of the caller"),
    "list_devices": Policy(
        _roles(Role.LEARNER, Role.CATALOG, Role.ADMIN),
        Ownership.OWN_OR_TENANT_WIDE,
        "the caller's devices (catalog and admin: any user's, with ?user_id=)",
    ),
    "get_device": Policy(
        _roles(Role.LEARNER, Role.CATALOG, Role.ADMIN), Ownership.OWN_OR_TENANT_WIDE, "one device"
    ),
    "revoke_device": Policy(LEARNER, Ownership.OWN_OR_TENANT_WIDE, "revoke a device"),
    # Bundles: catalog creates and revokes any; learners read their own.
    "create_bundle": Policy(CATALOG, summary="create a bundle for a user of the tenant"),
    "list_bundles": Policy(
        _roles(Role.LEARNER, Role.CATALOG, Role.ADMIN),
        Ownership.OWN_OR_TENANT_WIDE,
        "the caller's bundles (catalog and admin: the tenant's, or one user's with ?user_id=)",
    ),
    "get_bundle": Policy(
        _roles(Role.LEARNER, Role.CATALOG, Role.ADMIN), Ownership.OWN_OR_TENANT_WIDE, "one bundle"
    ),
    "revoke_bundle": Policy(CATALOG, Ownership.OWN_OR_TENANT_WIDE, "revoke a bundle for every device"),
    # Delivery to a device: only the owner of the device and the bundle.
    "issue_licence": Policy(LEARNER, Ownership.OWNER_ONLY, "a licence for the caller's device"),
    "download_bundle": Policy(LEARNER, Ownership.OWNER_ONLY, "signed URLs for the caller's device"),
    "report_tamper": Policy(LEARNER, Ownership.OWNER_ONLY, "the caller's device reports tampering"),
    "sync_device": Policy(LEARNER, Ownership.OWNER_ONLY, "the caller's device's change feed"),
    "report_device_signal": Policy(
        LEARNER, Ownership.OWNER_ONLY, "the caller's device reports a forged status or key set"
    ),
    # Exports: admins only.
    "create_export": Policy(ADMIN, summary="export a package version to a standard"),
    "get_export": Policy(ADMIN, summary="an export and its download URL"),
    "get_branding_overlay": Policy(EVERYONE, summary="the tenant's signed branding overlay"),
    "get_branding_logo": Policy(EVERYONE, summary="the logo bytes the branding overlay names"),
    # Assistant configs: authors and admins generate and read them; only admins approve (they ship).
    "create_assistant_config": Policy(
        AUTHORING, summary="queue the generation of a draft assistant config from a package's text"
    ),
    "get_assistant_generation": Policy(
        AUTHORING, summary="an assistant generation: pending, ready or failed"
    ),
    "list_assistant_configs": Policy(AUTHORING, summary="a package version's assistant configs"),
    "get_assistant_config": Policy(AUTHORING, summary="one assistant config and its provenance"),
    "approve_assistant_config": Policy(ADMIN, summary="approve an assistant config so it ships"),
    "get_bundle_assistant": Policy(
        _roles(Role.LEARNER, Role.CATALOG, Role.ADMIN),
        Ownership.OWN_OR_TENANT_WIDE,
        "signed overlays of a bundle's approved assistant configs",
    ),
    "get_tenant_settings": Policy(ADMIN, summary="the tenant's zone, tamper policy and branding"),
    "update_tenant_settings": Policy(ADMIN, summary="change the tenant's tamper policy, branding, first zone"),
    "put_branding_logo": Policy(ADMIN, summary="upload the tenant's logo (PNG, JPEG or WebP; no SVG)"),
    "delete_branding_logo": Policy(ADMIN, summary="remove the logo from the tenant's branding"),
    # Residency migration: admins only (it moves every object and item of the tenant to another zone).
    "create_migration": Policy(ADMIN, summary="start moving the tenant to another residency zone"),
    "get_migration": Policy(ADMIN, summary="a residency migration and its progress"),
    # Withdrawing a package version: admins only (it revokes every bundle that holds it).
    "withdraw_package_version": Policy(
        ADMIN, summary="withdraw a package version from every bundle and device"
    ),
    "get_withdrawal": Policy(ADMIN, summary="the progress of a package version's withdrawal"),
    # Public: devices pin these keys before they hold a token.
    "get_jwks": Policy(None, summary="the keys that verify manifests and licences"),
}


class PolicyMissing(RuntimeError):
    """A route has no entry in the policy table: the app must not start."""


def policy_for(operation_id: str) -> Policy:
    """The policy of ``operation_id``; a route without one is refused (the app check runs at start)."""
    try:
        return POLICIES[operation_id]
    except KeyError:
        raise PolicyMissing(f"operation {operation_id!r} has no entry in the policy table") from None


def require_role(principal: Principal, operation_id: str) -> None:
    """Refuse (403) a caller that holds none of the roles ``operation_id`` allows."""
    policy = policy_for(operation_id)
    if policy.roles is not None and not principal.has_any(policy.roles):
        allowed = ", ".join(sorted(policy.roles))
        raise Forbidden(
            f"{operation_id} needs one of the roles: {allowed}", required_roles=sorted(policy.roles)
        )


def require_policy_for(operation_ids: Iterable[str]) -> None:
    """Raise :class:`PolicyMissing` unless every operation has an entry (and no entry is stale)."""
    ids = set(operation_ids)
    missing = sorted(ids - POLICIES.keys())
    if missing:
        raise PolicyMissing(f"routes without a policy entry: {', '.join(missing)}")
    stale = sorted(POLICIES.keys() - ids)
    if stale:
        raise PolicyMissing(f"policy entries without a route: {', '.join(stale)}")


def markdown_table(operations: dict[str, tuple[str, str]]) -> str:
    """The policy table as docs/api.md shows it; ``operations`` maps an id to (method, path)."""
    roles = [Role.LEARNER, Role.AUTHOR, Role.CATALOG, Role.ADMIN]
    lines = [
        "| operation | route | " + " | ".join(roles) + " | whose resource |",
        "| --- | --- | " + " | ".join("---" for _ in roles) + " | --- |",
    ]
    for operation_id, policy in POLICIES.items():
        method, path = operations[operation_id]
        if policy.roles is None:
            marks = ["public"] * len(roles)
        else:
            marks = ["yes" if role in policy.roles else "—" for role in roles]
        lines.append(
            f"| `{operation_id}` | `{method} {path}` | "
            + " | ".join(marks)
            + f" | {_OWNERSHIP_TEXT[policy.ownership]} |"
        )
    return "\n".join(lines) + "\n"


_OWNERSHIP_TEXT = {
    Ownership.NONE: "no owner check (tenant scope)",
    Ownership.OWN_OR_TENANT_WIDE: "learner: own only; catalog, admin: any user's",
    Ownership.OWNER_ONLY: "own device and bundle only, whatever the role",
}
