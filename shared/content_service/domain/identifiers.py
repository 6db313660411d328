"""The shapes of the service's identifiers: one place for every id a route, a token or a device checks.

Every id ends up inside a table key or an object key (``TENANT#{tenant}#...``,
``uploads/{tenant}/{package}/...``), so none may carry ``#``, ``/``, whitespace or control
characters. Ids the service makes are a prefix and a UUID's 32 hex digits; ids clients choose
(packages, users) are short runs of safe characters. These are regular-expression strings, so that
pydantic fields and route parameters (which take a pattern string) and ``re`` users share them.
"""

from __future__ import annotations

#: A tenant, from a verified token: what every key of the tenant starts with.
TENANT_ID = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
#: A person's user id or a service client's id, from a verified token (Cognito subs, client ids, emails).
PRINCIPAL_ID = r"^[A-Za-z0-9][A-Za-z0-9_:.@+-]{0,127}$"
#: A user a request names (the same shape as a principal's id).
USER_ID = PRINCIPAL_ID
#: A package: made by the service (``pkg_`` + hex) or chosen by its author.
PACKAGE_ID = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
DEVICE_ID = r"^dev_[0-9a-f]{32}$"
BUNDLE_ID = r"^bnd_[0-9a-f]{32}$"
EXPORT_ID = r"^exp_[0-9a-f]{32}$"
MIGRATION_ID = r"^mig_[0-9a-f]{32}$"
#: An assistant configuration: ``v{package version}r{revision}``.
ASSISTANT_CONFIG_ID = r"^v[1-9][0-9]{0,9}r[1-9][0-9]{0,3}$"
#: A queued generation of an assistant configuration.
ASSISTANT_GENERATION_ID = r"^asg_[0-9a-f]{32}$"
