"""Migrations of the table's items: numbered, forward and back, resumable (``content-service migrate``)."""
