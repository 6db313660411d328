"""An author's upload as the real client makes it, for tests whose subject is what comes after.

``POST /v1/uploads``, the PUT of the zip to the presigned URL it hands back (with exactly the
headers it was signed for), then polling the package version until the build has settled. A test
about the upload itself (the URL, the signed headers, a refused PUT) makes those steps on its own.
"""

from __future__ import annotations

from typing import Any

from content_service.client import ApiClient, put_upload


def upload_and_settle(
    author: ApiClient, data: bytes, package_id: str | None = None, *, timeout: float = 60
) -> dict[str, Any]:
    """Upload ``data`` as a new package (or a new version of ``package_id``) and return that
    version once it has left ``building``, in whatever state it settled."""
    created = author.create_upload(len(data), package_id=package_id)
    put_upload(created["upload"], data)
    package = created["package"]
    return author.wait_until_settled(
        package["package_id"], int(package["version"]), timeout=timeout, interval=0.1
    )


def upload_and_build(
    author: ApiClient, data: bytes, package_id: str | None = None, *, timeout: float = 60
) -> dict[str, Any]:
    """:func:`upload_and_settle`, and the version must have been built."""
    package = upload_and_settle(author, data, package_id, timeout=timeout)
    assert package["state"] == "built", package
    return package
