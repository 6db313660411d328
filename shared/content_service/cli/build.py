"""``content-service build PKG.zip -o OUTDIR [--json]``: the full build, offline, no stack.

The command runs the use case the build Lambda runs, ``service.packages.build_uploaded_package``,
with the local ports of ``adapters.directory`` in place of S3, DynamoDB and KMS: the zip goes
through the import sandbox, every file is hashed and stored content-addressed, the manifest is
written, and the package is sealed into its content container under a freshly generated content
key. OUTDIR then holds:

- ``manifest.json``: the PlayPackage manifest (the JSON the packages bucket would hold);
- ``files/<sha256>``: each file of the package, named by its SHA-256;
- ``content.cspc``: the sealed content container (docs/container-format.md);
- ``content.key``: its content key as a JSON Web Key, mode 0600.

OUTDIR must not exist (or be empty); it appears only when the build succeeded: a refused
package leaves nothing behind. Exit 0 built, 1 refused (the problem on one line, or the JSON
report), 2 usage error.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from content_service.adapters.directory import (
    CONTAINER_NAME,
    FILES_DIR,
    KEY_NAME,
    MANIFEST_NAME,
    DirectoryContainerStore,
    DirectoryPackageStore,
    FileContentKeys,
    LocalUpload,
    MemoryPackages,
)
from content_service.cli.errors import CliError, json_failure, track
from content_service.cli.paths import input_file, output_directory, staged
from content_service.cli.tempdirs import private_tempdir
from content_service.domain.package import DeclaredUpload, PackageManifest, PackageState, PlayPackage, Problem
from content_service.packaging.allocator import tune_for_builds
from content_service.packaging.limits import ImportLimits
from content_service.service.packages import build_uploaded_package, upload_key
from content_service.service.ports import Clock
from content_service.settings import get_settings

EXIT_BUILT = 0
EXIT_REFUSED = 1
EXIT_USAGE = 2
LOCAL_TENANT = "local"
_NOT_AN_ID = re.compile(r"[^A-Za-z0-9_-]+")


@dataclass(frozen=True)
class OfflineBuild:
    """What an offline build produced: the built package (with its manifest) or the problem."""

    package: PlayPackage
    manifest: PackageManifest | None
    out: Path

    @property
    def built(self) -> bool:
        return self.package.state is PackageState.BUILT

    def as_json_dict(self) -> dict[str, Any]:
        if not self.built or self.manifest is None or self.package.sealed is None:
            problem = self.package.problem or Problem("build.failed", "the build failed")
            return {"built": False, "problem": problem.as_dict()}
        container = self.package.sealed.container
        return {
            "built": True,
            "out": str(self.out),
            "standard": self.manifest.standard.value,
            "title": self.manifest.title,
            "launches": [launch.id for launch in self.manifest.launches],
            "files": len(self.manifest.files),
            "bytes": self.manifest.total_bytes,
            "content_hash": self.manifest.content_hash,
            "manifest": MANIFEST_NAME,
            "files_dir": FILES_DIR,
            "container": {"path": CONTAINER_NAME, "size": container.size, "sha256": container.sha256},
            "key": KEY_NAME,
        }


def package_id_for(source: Path) -> str:
    """A package id (letters, digits, ``-``, ``_``) made from the zip's file name."""
    return _NOT_AN_ID.sub("-", source.stem).strip("-")[:64] or "package"


def build_offline(
    source: Path, out: Path, *, limits: ImportLimits, clock: Clock | None = None
) -> OfflineBuild:
    """Build ``source`` as the build Lambda would, into ``out`` (created only if the build succeeds).

    The result is written to a private sibling directory first and renamed into place
    (``paths.staged``), so ``out`` never holds half a build, and a failure names ``out``.
    """
    if clock is None:
        # Imported here: the composition root pulls in every AWS adapter, which this command never uses.
        from content_service.bootstrap import SystemClock

        clock = SystemClock()
    with staged(out, directory=True) as stage:
        staging = stage.path
        packages = MemoryPackages()
        package_id = package_id_for(source)
        key = upload_key(LOCAL_TENANT, package_id, 1)
        packages.add(
            PlayPackage.start_building(
                tenant_id=LOCAL_TENANT,
                package_id=package_id,
                version=1,
                source_key=key,
                now=clock.now(),
                declared_upload=DeclaredUpload("application/zip", source.stat().st_size),
            )
        )
        store = DirectoryPackageStore(staging)
        outcome = build_uploaded_package(
            key,
            packages=packages,
            uploads=LocalUpload(source),
            store=store,
            keys=FileContentKeys(staging),
            containers=DirectoryContainerStore(staging),
            clock=clock,
            limits=limits,
        )
        package = outcome.package
        assert package is not None  # the key was made here, for the package added above
        if package.state is not PackageState.BUILT:
            return OfflineBuild(package, None, out)  # staged() removes what was written
        manifest = store.get_manifest(LOCAL_TENANT, package_id, 1)
        stage.publish()
        return OfflineBuild(package, manifest, out)


def register(app: typer.Typer) -> None:
    """Add the ``build`` command to the CLI."""
    app.command("build")(track(build_command))


def _failure_report(code: str, detail: str) -> dict[str, Any]:
    """The JSON result when the build could not run (cli/errors.py prints it)."""
    return {"built": False, "problem": Problem(code, detail).as_dict()}


@json_failure(_failure_report)
def build_command(
    path: Annotated[Path, typer.Argument(help="The package zip to build.", show_default=False)],
    out: Annotated[
        Path,
        typer.Option("--output", "-o", help="The directory to create with the build.", show_default=False),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Build a package zip as the service would: hashed files, manifest, sealed container and key."""
    input_file(path)
    output_directory(out)
    tune_for_builds()
    with private_tempdir("content-service-build-"):
        # The same limits the build Lambda uses, including IMPORT_LIMITS__* from the environment.
        result = build_offline(path, out, limits=get_settings().import_limits)
    if as_json:
        sys.stdout.write(json.dumps(result.as_json_dict(), ensure_ascii=False, indent=2) + "\n")
    elif result.built:
        report = result.as_json_dict()
        sys.stdout.write(
            f"built {report['standard']} package {report['title']!r}: {report['files']} files,"
            f" {report['bytes']} bytes, content hash {report['content_hash']}\n"
            f"  {out / MANIFEST_NAME}\n  {out / FILES_DIR}/\n  {out / CONTAINER_NAME}\n  {out / KEY_NAME} (0600)\n"
        )
    if not result.built:
        problem = result.package.problem
        if not as_json and problem is not None:
            where = f" ({problem.path})" if problem.path else ""
            # Details may quote names from the archive: cli/errors.py keeps the line one line.
            raise CliError(f"package refused: {problem.code}: {problem.detail}{where}", EXIT_REFUSED)
        raise typer.Exit(EXIT_REFUSED)
