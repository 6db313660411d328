"""Who is calling: a person or a platform service of one tenant, and the roles its token grants.

The principal is built from the verified token only (never from the request body or headers):
people get roles from their user-pool groups, service clients from their OAuth scopes. Every
signed-in person is a learner; a service client has only the roles its scopes grant.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Role(enum.StrEnum):
    LEARNER = "learner"
    AUTHOR = "author"
    CATALOG = "catalog"
    ADMIN = "admin"


class PrincipalKind(enum.StrEnum):
    USER = "user"
    SERVICE = "service"


#: Roles that act on any user's devices and bundles of the tenant, not only the caller's own.
TENANT_WIDE_ROLES = frozenset({Role.CATALOG, Role.ADMIN})


@dataclass(frozen=True)
class Principal:
    """The verified caller: tenant, principal id (``sub`` or client id), kind and roles."""

    tenant_id: str
    principal_id: str
    kind: PrincipalKind
    roles: frozenset[Role]

    def has_any(self, roles: frozenset[Role] | set[Role]) -> bool:
        """True if the caller holds at least one of ``roles``."""
        return not self.roles.isdisjoint(roles)

    @property
    def is_tenant_wide(self) -> bool:
        """True if the caller may act on every user's devices and bundles of its tenant."""
        return self.has_any(TENANT_WIDE_ROLES)

    def may_act_for(self, owner_user_id: str) -> bool:
        """True if the caller may see or act on a resource owned by ``owner_user_id``.

        Learners see only their own; catalog and admin see every user's resource of the tenant.
        """
        return self.is_tenant_wide or owner_user_id == self.principal_id

    @classmethod
    def user(cls, tenant_id: str, user_id: str, *roles: Role) -> Principal:
        """A person: always a learner, plus the roles of their groups."""
        return cls(tenant_id, user_id, PrincipalKind.USER, frozenset({Role.LEARNER, *roles}))

    @classmethod
    def service(cls, tenant_id: str, client_id: str, *roles: Role) -> Principal:
        """A platform service client: only the roles its scopes grant."""
        return cls(tenant_id, client_id, PrincipalKind.SERVICE, frozenset(roles))
