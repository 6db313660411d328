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


def missing_extra(error: BaseException) -> str | None:
    """The one-line hint when ``error`` is a module of the ``local`` extra missing, else None."""
    if not isinstance(error, ModuleNotFoundError):
        return None
    module = (error.name or "").partition(".")[0]
    if module not in LOCAL_EXTRA_MODULES:
        return None
    return f"the command line needs the local extra ({module} is not installed): {INSTALL_HINT}"


def main() -> None:
    """The console-script entry point: every error is one line on stderr (cli/errors.py)."""
    try:
        import typer

        from content_service.cli.app import app
        from content_service.cli.errors import run
    except ModuleNotFoundError as missing:
        hint = missing_extra(missing)
        if hint is None:
            raise
        sys.stderr.write(f"content-service: {hint}\n")
        sys.exit(1)
    except KeyboardInterrupt:
        sys.stderr.write("content-service: interrupted\n")
        sys.exit(130)
    sys.exit(run(typer.main.get_command(app), sys.argv[1:]))
