"""The ``content-service`` command line: validate, demo, local stack.

Usage errors exit 2, refused input exits 1 with a one-line message, success exits 0.
"""

from __future__ import annotations

import sys

import typer

app = typer.Typer(
    name="content-service",
    help="Content delivery for learning platforms: validate packages, run the local stack, run the demo.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register_commands() -> None:
    # Each command group lives in its own module and adds itself to the app.
    from content_service.cli import demo, device, export, local, migrate, validate

    validate.register(app)
    local.register(app)
    demo.register(app)
    device.register(app)
    export.register(app)
    migrate.register(app)


_register_commands()


def main() -> None:
    """The console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)
