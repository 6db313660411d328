"""The pure domain: aggregates, their state machines, invariants, events and typed errors.

Nothing here does I/O or imports the AWS SDK; a ruff banned-import rule holds that line.
"""
