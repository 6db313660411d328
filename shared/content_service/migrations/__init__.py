"""Migrations of the table's items: numbered, forward and back, resumable (``content-service migrate``).

Every aggregate item (one with a ``revision``: packages, devices, device slots and key claims,
bundles, licence records, tamper reports, exports) carries ``schema_version``: the code writes
:data:`SCHEMA_VERSION`, and a migration run stamps every item it walks with the version it moves
to. An item without the attribute is at version 1 (written before versions existed). Projection
rows (sync feeds, inbox markers) carry none: they are rebuilt from events, never migrated.
"""

SCHEMA_VERSION = 2
"""The version the code writes: 1 + the number of migrations (a test holds the two together)."""
