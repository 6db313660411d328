"""Migrations of the table's items: numbered, forward and back, resumable (``content-service migrate``).

Every item the service writes carries ``schema_version``. Aggregates and projection rows alike
(:mod:`content_service.migrations.kinds` lists every kind) follow the table's version: the code
writes :data:`SCHEMA_VERSION`, and a migration run stamps every item it walks with the version it
moves to. An item without the attribute is at version 1 (written before versions existed).
"""

SCHEMA_VERSION = 2
"""The version the code writes: 1 + the number of migrations (a test holds the two together)."""
