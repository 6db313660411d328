"""The ``content-service`` command line: validate, build, export, local stack, demo, device agent.

Usage errors exit 2, refused input exits 1 with a one-line message, success exits 0.

The command line's own libraries (typer, rich, and moto, requests and PyYAML for the local stack)
come with the ``local`` extra, which is never shipped to Lambda. Installed without it
(``pip install content-service``), the command says so in one line instead of a traceback.
"""

from __future__ import annotations

import sys

INSTALL_HINT = "pip install 'content-service[local]'"
# Top-level modules of the ``local`` extra and what it pulls in (pyproject.toml).
LOCAL_EXTRA_MODULES = frozenset({"typer", "click", "rich", "moto", "requests", "yaml", "werkzeug", "flask"})


def main() -> None:
    """The console-script entry point."""
    try:
        from content_service.cli.app import app

        app()
    except ModuleNotFoundError as missing:
        module = (missing.name or "").partition(".")[0]
        if module not in LOCAL_EXTRA_MODULES:
            raise
        sys.stderr.write(
            f"content-service: the command line needs the local extra ({module} is not installed):"
            f" {INSTALL_HINT}\n"
        )
        sys.exit(1)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)
