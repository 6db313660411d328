"""The uploads and packages buckets on S3."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

import boto3
from boto3.s3.transfer import TransferConfig, create_transfer_manager
from botocore.config import Config
from botocore.exceptions import ClientError

from content_service.adapters.background_uploads import DEFAULT_THREADS as DEFAULT_UPLOAD_THREADS
from content_service.adapters.background_uploads import MAX_THREADS as MAX_UPLOAD_THREADS
from content_service.adapters.background_uploads import BackgroundUploads
from content_service.domain.errors import NotFound, ValidationFailed
from content_service.domain.logo import LOGO_MEDIA_TYPES, BrandLogo
from content_service.domain.package import PackageManifest
from content_service.service.ports import PresignedUpload, StoredUpload

_CHUNK = 1024 * 1024

#: Parts of one large file sent at once: the build already runs several files' uploads at once.
PARTS_AT_ONCE = 2
#: Connections the client keeps, enough for every upload's parts (boto's default is 10, and a
#: request beyond the pool opens a connection only to throw it away, with a warning): a format 2
#: build runs two sets of uploads at once on one client, its files' and its file objects'.
POOL_CONNECTIONS = 2 * MAX_UPLOAD_THREADS * PARTS_AT_ONCE


def s3_client(region: str, endpoint_url: str | None = None) -> Any:
    """An S3 client; the endpoint comes from the standard AWS_ENDPOINT_URL settings (moto, LocalStack, AWS).

    ``endpoint_url`` overrides them for one client (the local S3 front that presigned uploads go to).
    """
    # SigV4 so that presigned URLs sign the Content-Type and Content-Length headers (SigV2 cannot).
    return boto3.client(
        "s3",
        region_name=region,
        endpoint_url=endpoint_url,
        config=Config(signature_version="s3v4", max_pool_connections=POOL_CONNECTIONS),
    )


class S3UploadStore:
    """UploadStore on the uploads bucket.

    ``presigner`` signs the upload URLs when they must point somewhere other than ``client``'s
    endpoint (locally, the S3 front that checks them); by default ``client`` signs them.
    """

    def __init__(self, client: Any, bucket: str, presigner: Any | None = None) -> None:
        self._s3 = client
        self._presigner = presigner or client
        self._bucket = bucket

    def presign_put(
        self, key: str, content_type: str, content_length: int, ttl_seconds: int
    ) -> PresignedUpload:
        # Content-Type and Content-Length are signed headers: a PUT with another type or length
        # fails the signature check, so the limit checked at request time holds at upload time.
        url = self._presigner.generate_presigned_url(
            "put_object",
            Params={
                "Bucket": self._bucket,
                "Key": key,
                "ContentType": content_type,
                "ContentLength": content_length,
            },
            ExpiresIn=ttl_seconds,
            HttpMethod="PUT",
        )
        headers = {"Content-Type": content_type, "Content-Length": str(content_length)}
        return PresignedUpload(url, "PUT", headers, datetime.now(UTC) + timedelta(seconds=ttl_seconds))

    def head(self, key: str) -> StoredUpload:
        try:
            response = self._s3.head_object(Bucket=self._bucket, Key=key)
        except ClientError as error:
            if error.response["Error"]["Code"] in {"NoSuchKey", "404", "NotFound"}:
                raise NotFound(f"upload {key} not found") from error
            raise
        return StoredUpload(int(response["ContentLength"]), str(response.get("ContentType") or ""))

    def download(self, key: str, destination: Path, max_bytes: int) -> int:
        try:
            response = self._s3.get_object(Bucket=self._bucket, Key=key)
        except ClientError as error:
            if error.response["Error"]["Code"] in {"NoSuchKey", "404"}:
                raise NotFound(f"upload {key} not found") from error
            raise
        if response["ContentLength"] > max_bytes:
            response["Body"].close()
            raise ValidationFailed(
                f"the upload is {response['ContentLength']} bytes; the limit is {max_bytes}"
            )
        written = 0
        with destination.open("wb") as sink:
            for chunk in response["Body"].iter_chunks(_CHUNK):
                written += len(chunk)
                if written > max_bytes:
                    raise ValidationFailed(f"the upload is over the {max_bytes}-byte limit")
                sink.write(chunk)
        return written


def object_exists(client: Any, bucket: str, key: str) -> bool:
    """Whether ``key`` is in ``bucket`` (a HEAD); other errors than "not found" propagate."""
    try:
        client.head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if error.response["Error"]["Code"] in {"404", "NoSuchKey", "NotFound"}:
            return False
        raise
    return True


class BackgroundPuts:
    """Files taken by rename and sent to one bucket in the background, each unless its key is there.

    Content-addressed objects (a key names its bytes), so an object already there is this one. The
    uploads run on ``uploads``' threads (``background_uploads``: at most twice as many files
    staged) and share one transfer manager, whose pool sends the parts of large files, made with
    the first upload and shut down by ``finish`` or ``abandon``. Each part is read from the staged
    file; a failed request raises its own ``ClientError`` (``upload_file`` would rewrap it as
    ``S3UploadFailedError``).
    """

    def __init__(self, client: Any, bucket: str, uploads: BackgroundUploads) -> None:
        self._s3 = client
        self._bucket = bucket
        self._uploads = uploads
        self._transfers: Any | None = None
        self._lock = threading.Lock()

    def submit(self, key: str, path: Path, extra: dict[str, Any]) -> None:
        """Take the file at ``path`` and store it as ``key`` with ``extra`` (ExtraArgs) in the background."""
        self._uploads.submit(key, path, lambda staged: self._send(staged, key, extra))

    def finish(self) -> None:
        """Wait for every file taken; raises the first error an upload raised, unchanged."""
        try:
            self._uploads.finish()
        finally:
            self._close_transfers()

    def abandon(self) -> None:
        """The build failed: cancel or wait for the uploads, and remove every file taken."""
        try:
            self._uploads.abandon()
        finally:
            self._close_transfers()

    def _send(self, staged: Path, key: str, extra: dict[str, Any]) -> None:
        if not object_exists(self._s3, self._bucket, key):
            self._transfer_manager().upload(str(staged), self._bucket, key, extra_args=extra).result()

    def _transfer_manager(self) -> Any:
        with self._lock:
            if self._transfers is None:
                config = TransferConfig(max_concurrency=self._uploads.threads * PARTS_AT_ONCE)
                self._transfers = create_transfer_manager(self._s3, config)
            return self._transfers

    def _close_transfers(self) -> None:
        # Called once the uploads are done: nothing is left in the manager's pool.
        with self._lock:
            transfers, self._transfers = self._transfers, None
        if transfers is not None:
            transfers.shutdown()


class S3TenantBlobs:
    """One tenant's content-addressed files: ``tenants/{tenant}/blobs/sha256/{hex}``.

    ``put`` stores a file before it returns. ``put_file`` takes the build's spool itself (a
    rename) and uploads it in the background (``BackgroundPuts``; by default ``DEFAULT_THREADS``
    at once); the build calls ``finish`` once it has handed over every file, which waits for them
    and raises the first upload error, or ``abandon`` when it fails. Either way a file already
    stored under its SHA-256 is not sent again.
    """

    def __init__(
        self, client: Any, bucket: str, tenant_id: str, *, uploads: BackgroundUploads | None = None
    ) -> None:
        self._s3 = client
        self._bucket = bucket
        self._prefix = f"tenants/{tenant_id}/blobs/sha256/"
        self._puts = BackgroundPuts(client, bucket, uploads or BackgroundUploads())

    def key(self, sha256: str) -> str:
        return self._prefix + sha256

    def put(self, sha256: str, size: int, media_type: str, spool: BinaryIO) -> None:
        key = self.key(sha256)
        if not object_exists(self._s3, self._bucket, key):
            # upload_fileobj streams in parts, so a large file never sits in memory whole.
            self._s3.upload_fileobj(spool, self._bucket, key, ExtraArgs=_blob_args(sha256, size, media_type))

    def put_file(self, sha256: str, size: int, media_type: str, path: Path) -> None:
        """Take the file at ``path`` (a rename) and store it in the background; see ``finish``."""
        self._puts.submit(self.key(sha256), path, _blob_args(sha256, size, media_type))

    def finish(self) -> None:
        """Wait for every file ``put_file`` took; raises the first error an upload raised, unchanged."""
        self._puts.finish()

    def abandon(self) -> None:
        """The build failed: cancel or wait for the uploads, and remove every file taken."""
        self._puts.abandon()


def _blob_args(sha256: str, size: int, media_type: str) -> dict[str, Any]:
    return {"ContentType": media_type, "Metadata": {"sha256": sha256, "size": str(size)}}


class S3PackageStore:
    """PackageStore on the packages bucket."""

    def __init__(self, client: Any, bucket: str, *, upload_threads: int = DEFAULT_UPLOAD_THREADS) -> None:
        self._s3 = client
        self._bucket = bucket
        self._upload_threads = upload_threads

    def blobs(self, tenant_id: str) -> S3TenantBlobs:
        uploads = BackgroundUploads(self._upload_threads)
        return S3TenantBlobs(self._s3, self._bucket, tenant_id, uploads=uploads)

    @staticmethod
    def manifest_key(tenant_id: str, package_id: str, version: int) -> str:
        return f"tenants/{tenant_id}/packages/{package_id}/v{version}/manifest.json"

    def put_manifest(self, tenant_id: str, package_id: str, version: int, manifest: PackageManifest) -> str:
        key = self.manifest_key(tenant_id, package_id, version)
        body = json.dumps(manifest.as_dict(), sort_keys=True, separators=(",", ":")).encode()
        self._s3.put_object(Bucket=self._bucket, Key=key, Body=body, ContentType="application/json")
        return key

    def open_blob(self, tenant_id: str, sha256: str) -> BinaryIO:
        """A stream of one stored file (the reader checks its size and hash)."""
        try:
            return self._s3.get_object(Bucket=self._bucket, Key=self.blobs(tenant_id).key(sha256))["Body"]
        except ClientError as error:
            if error.response["Error"]["Code"] in {"NoSuchKey", "404"}:
                raise NotFound(f"file {sha256} not found") from error
            raise

    def get_manifest(self, tenant_id: str, package_id: str, version: int) -> PackageManifest:
        key = self.manifest_key(tenant_id, package_id, version)
        try:
            body = self._s3.get_object(Bucket=self._bucket, Key=key)["Body"].read()
        except ClientError as error:
            if error.response["Error"]["Code"] in {"NoSuchKey", "404"}:
                raise NotFound(f"manifest of {package_id} v{version} not found") from error
            raise
        return PackageManifest.from_dict(json.loads(body))


class S3BundleStore:
    """BundleStore on the bundles bucket (the CDN's origin)."""

    def __init__(self, client: Any, bucket: str, *, upload_threads: int = DEFAULT_UPLOAD_THREADS) -> None:
        self._s3 = client
        self._bucket = bucket
        self._upload_threads = upload_threads

    def put_container(
        self, tenant_id: str, package_id: str, version: int, content_hash: str, path: Path
    ) -> str:
        key = f"tenants/{tenant_id}/containers/{package_id}/v{version}/{content_hash}.cspc"
        # upload_file switches to multipart for large containers and never reads one whole.
        self._s3.upload_file(
            str(path), self._bucket, key, ExtraArgs={"ContentType": "application/octet-stream"}
        )
        return key

    @staticmethod
    def objects_prefix(tenant_id: str, package_id: str) -> str:
        """Where a package lineage's version 2 file objects live (one prefix for all its versions)."""
        return f"tenants/{tenant_id}/objects/{package_id}/"

    def put_index(self, tenant_id: str, package_id: str, version: int, content_hash: str, path: Path) -> str:
        """Upload a version 2 index; returns its object key."""
        key = f"tenants/{tenant_id}/containers/{package_id}/v{version}/{content_hash}.csix"
        self._s3.upload_file(
            str(path), self._bucket, key, ExtraArgs={"ContentType": "application/octet-stream"}
        )
        return key

    def content_objects(self, tenant_id: str, package_id: str) -> S3ContentObjects:
        """One build's file objects of a lineage, uploaded in the background (``BackgroundPuts``)."""
        uploads = BackgroundUploads(self._upload_threads)
        puts = BackgroundPuts(self._s3, self._bucket, uploads)
        return S3ContentObjects(puts, self.objects_prefix(tenant_id, package_id))

    def put_manifest(self, tenant_id: str, bundle_id: str, token: str) -> str:
        key = f"tenants/{tenant_id}/bundles/{bundle_id}/manifest.jws"
        self._s3.put_object(Bucket=self._bucket, Key=key, Body=token.encode(), ContentType="application/jose")
        return key


class S3ContentObjects:
    """A lineage's version 2 file objects under ``prefix``, each stored unless it is there already.

    Objects are named by the SHA-256 of their bytes, so an object already there is this one.
    """

    def __init__(self, puts: BackgroundPuts, prefix: str) -> None:
        self._puts = puts
        self._prefix = prefix

    def put_file(self, name: str, path: Path) -> None:
        """Take the sealed object at ``path`` and upload it in the background; see ``finish``."""
        self._puts.submit(self._prefix + name, path, {"ContentType": "application/octet-stream"})

    def finish(self) -> None:
        """Wait for every object taken; raises the first error an upload raised, unchanged."""
        self._puts.finish()

    def abandon(self) -> None:
        """The build failed: cancel or wait for the uploads, and remove every object taken."""
        self._puts.abandon()


class S3BrandingAssets:
    """BrandingAssets on the bundles bucket: ``tenants/{tenant}/branding/logo/{sha256}.{ext}``.

    Beside the tenant's bundles (so a residency migration moves them with the rest), named by the
    SHA-256 of their bytes: a second upload of the same logo writes the same object again, and an
    object under a name its bytes do not hash to is not the service's (the storage watch counts it).
    """

    def __init__(self, client: Any, bucket: str) -> None:
        self._s3 = client
        self._bucket = bucket

    @staticmethod
    def logo_key(tenant_id: str, logo: BrandLogo) -> str:
        return f"tenants/{tenant_id}/branding/logo/{logo.sha256}.{LOGO_MEDIA_TYPES[logo.media_type]}"

    def put_logo(self, tenant_id: str, logo: BrandLogo, data: bytes) -> str:
        # Put unconditionally: the name is the bytes' SHA-256, so writing it again writes the same
        # object (and a HEAD without s3:ListBucket would answer 403, not 404, for a new logo).
        key = self.logo_key(tenant_id, logo)
        self._s3.put_object(Bucket=self._bucket, Key=key, Body=data, ContentType=logo.media_type)
        return key

    def get_logo(self, tenant_id: str, logo: BrandLogo) -> bytes:
        try:
            body = self._s3.get_object(Bucket=self._bucket, Key=self.logo_key(tenant_id, logo))["Body"]
        except ClientError as error:
            if error.response["Error"]["Code"] in {"NoSuchKey", "404"}:
                raise NotFound("the tenant's logo is not stored") from error
            raise
        # Never more than the logo's size plus one byte: whoever checks it sees a longer object.
        return bytes(body.read(logo.size + 1))


class S3ExportStore:
    """ExportStore on the exports bucket."""

    def __init__(self, client: Any, bucket: str) -> None:
        self._s3 = client
        self._bucket = bucket

    def put_export(self, tenant_id: str, export_id: str, filename: str, path: Path) -> str:
        key = f"tenants/{tenant_id}/exports/{export_id}/{filename}"
        self._s3.upload_file(str(path), self._bucket, key, ExtraArgs={"ContentType": "application/zip"})
        return key

    def presign_get(self, key: str, ttl_seconds: int) -> str:
        filename = key.rsplit("/", 1)[-1]
        return self._s3.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self._bucket,
                "Key": key,
                "ResponseContentDisposition": f'attachment; filename="{filename}"',
            },
            ExpiresIn=ttl_seconds,
        )
