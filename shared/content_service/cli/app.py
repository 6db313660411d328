"""The typer application: every command group adds itself here, and every command is tracked so
that its errors come out as one line (cli/errors.py)."""

from __future__ import annotations

import typer

from content_service.cli import build, demo, device, export, local, migrate, validate
from content_service.cli.errors import track_commands

app = typer.Typer(
    name="content-service",
    help="Content delivery for learning platforms: validate, build and export packages, run the local stack"
    " and the demo.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

validate.register(app)
build.register(app)
export.register(app)
local.register(app)
demo.register(app)
device.register(app)
migrate.register(app)


track_commands(app)
