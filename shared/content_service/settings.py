"""Settings: one pydantic model parsed once from the environment; nothing else reads os.environ."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from content_service.packaging.limits import ImportLimits


class Settings(BaseSettings):
    """Everything the functions and the CLI are configured with.

    Field names map to upper-case environment variables (``TABLE_NAME``...); the import
    limits read ``IMPORT_LIMITS__MAX_FILES`` and friends.
    """

    model_config = SettingsConfigDict(env_nested_delimiter="__", extra="ignore")

    table_name: str = "content-service-table"
    idempotency_table_name: str = "content-service-idempotency"
    uploads_bucket: str = "content-service-uploads"
    packages_bucket: str = "content-service-packages"
    aws_region: str = Field(default="eu-west-1", validation_alias="AWS_DEFAULT_REGION")
    upload_url_ttl_seconds: int = Field(default=900, ge=60, le=7 * 24 * 3600)
    build_timeout_seconds: int = Field(
        default=18_000,
        ge=60,
        description=(
            "a package still building this long after its last change was abandoned; longer than every"
            " SQS attempt of its build (maxReceiveCount x VisibilityTimeout)"
        ),
    )
    build_max_attempts: int = Field(
        default=3,
        ge=1,
        description="the build queue's maxReceiveCount: the last attempt fails the package on a crash",
    )
    page_size_default: int = Field(default=25, ge=1, le=100)
    import_limits: ImportLimits = Field(default_factory=ImportLimits)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, parsed once."""
    return Settings()
