"""Use cases: one function per use case, written against small ports."""
