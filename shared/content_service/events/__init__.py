"""Versioned integration events: the public contract of what the service publishes on its bus."""
