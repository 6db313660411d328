"""Import limits: every sandbox bound is a setting with a safe default."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ImportLimits(BaseModel):
    """Bounds a package must stay within before anything in it is read or stored."""

    max_files: int = Field(default=10_000, ge=1)
    max_total_bytes: int = Field(default=2 * 1024**3, ge=1, description="sum of uncompressed sizes")
    max_file_bytes: int = Field(default=1024**3, ge=1)
    max_compression_ratio: float = Field(default=200.0, gt=1)
    max_path_depth: int = Field(default=24, ge=1)
    max_path_length: int = Field(default=1024, ge=1)
    max_descriptor_bytes: int = Field(default=8 * 1024**2, ge=1, description="imsmanifest.xml, cmi5.xml, ...")
    max_upload_bytes: int = Field(default=2 * 1024**3, ge=1, description="size of the uploaded zip itself")
    build_workers: int | None = Field(
        default=None, ge=1, le=64, description="threads spooling files at once; default: the CPUs available"
    )
