"""Give in-process handlers a cold start: forget what earlier stacks in this process cached.

Lambda code caches clients and settings at module level (``functools.lru_cache`` on
``get_settings``, ``dependencies``, model factories...). In Lambda every deployment starts a fresh
container; in-process, a cache filled while one local stack ran would keep a client bound to
that stack's (stopped) moto endpoint. Clearing those caches when a stack starts and stops makes
each stack behave like a new container. Objects built at import time, outside a cache, are not
reset: keep such state behind a cached function.
"""

from __future__ import annotations

import sys

PACKAGE = "content_service"
#: The local stack's own modules are not Lambda code and keep their state.
EXCLUDED = ("content_service.local",)


def clear_cached_state(package: str = PACKAGE) -> list[str]:
    """Call ``cache_clear()`` on every module-level cached function under ``package``; return their names."""
    cleared = []
    for name, module in list(sys.modules.items()):
        if module is None or not (name == package or name.startswith(package + ".")):
            continue
        if name.startswith(EXCLUDED):
            continue
        for attribute, value in list(vars(module).items()):
            cache_clear = getattr(value, "cache_clear", None)
            # Only functions defined in this module: an imported cached function is cleared at home.
            if callable(cache_clear) and getattr(value, "__module__", None) == name:
                cache_clear()
                cleared.append(f"{name}.{attribute}")
    return cleared
