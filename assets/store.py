"""The object store adapter (boto3): streamed multipart writes, presigned PUTs, reads.

One bucket holds every asset; keys are never reused (a revision is a new key), so a
published content version keeps pointing at the bytes it was published with.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from smartcourse.secrets import ensure_local_secret, required_secret
from smartcourse.settings import Settings

ACCESS_KEY_SECRET = "s3-access-key"
SECRET_KEY_SECRET = "s3-secret-key"
PART_BYTES = 8 * 1024 * 1024  # multipart part size (S3's minimum is 5 MiB but the last)
READ_BYTES = 256 * 1024


def local_credentials(settings: Settings, create: bool = False) -> tuple[str, str]:
    """The access key and secret: configured, else the local stack's generated pair."""
    if create:
        return (settings.s3_access_key or ensure_local_secret(settings, ACCESS_KEY_SECRET),
                settings.s3_secret_key or ensure_local_secret(settings, SECRET_KEY_SECRET))
    return (required_secret(settings, settings.s3_access_key, ACCESS_KEY_SECRET,
                            "SMARTCOURSE_S3_ACCESS_KEY"),
            required_secret(settings, settings.s3_secret_key, SECRET_KEY_SECRET,
                            "SMARTCOURSE_S3_SECRET_KEY"))


class ObjectMissing(LookupError):
    """No object under that key."""


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    content_type: str


def _client(settings: Settings, endpoint: str) -> Any:
    access_key, secret_key = local_credentials(settings)
    # Checksums only when an operation requires them: S3 servers other than AWS (S3Proxy
    # among them) refuse the CRC32 headers botocore would otherwise add to every part.
    config = Config(signature_version="s3v4", s3={"addressing_style": "path"},
                    request_checksum_calculation="when_required",
                    response_checksum_validation="when_required",
                    connect_timeout=5, read_timeout=60, retries={"max_attempts": 3})
    return boto3.client("s3", endpoint_url=endpoint, region_name=settings.s3_region,
                        aws_access_key_id=access_key, aws_secret_access_key=secret_key,
                        config=config)


class ObjectStore:
    """Blocking (boto3); async callers run it in a worker thread."""

    def __init__(self, client: Any, bucket: str, presigner: Any | None = None) -> None:
        self.client = client
        self.bucket = bucket
        self.presigner = presigner or client

    @classmethod
    def from_settings(cls, settings: Settings) -> ObjectStore:
        client = _client(settings, settings.s3_url)
        presigner = (client if settings.s3_public_url == settings.s3_url
                     else _client(settings, settings.s3_public_url))
        return cls(client, settings.s3_bucket, presigner)

    def list_buckets(self) -> list[str]:
        return [b["Name"] for b in self.client.list_buckets().get("Buckets", [])]

    def ensure_bucket(self) -> None:
        if self.bucket not in self.list_buckets():
            self.client.create_bucket(Bucket=self.bucket)

    # -- writes --------------------------------------------------------------------------
    def start_upload(self, key: str, content_type: str) -> MultipartWrite:
        reply = self.client.create_multipart_upload(Bucket=self.bucket, Key=key,
                                                    ContentType=content_type)
        return MultipartWrite(self, key, reply["UploadId"])

    def presign_put(self, key: str, content_type: str, expires: int) -> str:
        return self.presigner.generate_presigned_url(
            "put_object", Params={"Bucket": self.bucket, "Key": key, "ContentType": content_type},
            ExpiresIn=expires, HttpMethod="PUT")

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)

    # -- reads ---------------------------------------------------------------------------
    def head(self, key: str) -> ObjectInfo:
        try:
            reply = self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                raise ObjectMissing(key) from None
            raise
        return ObjectInfo(key, int(reply["ContentLength"]),
                          reply.get("ContentType") or "application/octet-stream")

    def open(self, key: str) -> tuple[ObjectInfo, Iterator[bytes]]:
        """The object's size and type, and its bytes in pieces (streamed, not buffered)."""
        try:
            reply = self.client.get_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                raise ObjectMissing(key) from None
            raise
        info = ObjectInfo(key, int(reply["ContentLength"]),
                          reply.get("ContentType") or "application/octet-stream")
        return info, reply["Body"].iter_chunks(READ_BYTES)

    def read(self, key: str, limit: int) -> bytes:
        """The whole object, refused past `limit` bytes (it never fills memory unbounded)."""
        info, pieces = self.open(key)
        if info.size > limit:
            raise ValueError(f"object {key} has {info.size} bytes, more than {limit}")
        return b"".join(pieces)

    def sha256(self, key: str) -> tuple[ObjectInfo, str, bytes]:
        """Size, type and SHA-256 of the stored bytes, and their first bytes (for sniffing)."""
        info, pieces = self.open(key)
        digest, head = hashlib.sha256(), b""
        for piece in pieces:
            if len(head) < 1024:
                head += piece[:1024 - len(head)]
            digest.update(piece)
        return info, digest.hexdigest(), head


class MultipartWrite:
    """One object written part by part while its bytes arrive; aborted unless completed."""

    def __init__(self, store: ObjectStore, key: str, upload_id: str) -> None:
        self.store, self.key, self.upload_id = store, key, upload_id
        self.parts: list[dict[str, Any]] = []

    def write_part(self, data: bytes) -> None:
        reply = self.store.client.upload_part(
            Bucket=self.store.bucket, Key=self.key, UploadId=self.upload_id,
            PartNumber=len(self.parts) + 1, Body=data)
        self.parts.append({"ETag": reply["ETag"], "PartNumber": len(self.parts) + 1})

    def complete(self) -> None:
        self.store.client.complete_multipart_upload(
            Bucket=self.store.bucket, Key=self.key, UploadId=self.upload_id,
            MultipartUpload={"Parts": self.parts})

    def abort(self) -> None:
        self.store.client.abort_multipart_upload(Bucket=self.store.bucket, Key=self.key,
                                                 UploadId=self.upload_id)


def shared_store(state: Any) -> ObjectStore:
    """The app's one ObjectStore (built on first use from `state.settings`)."""
    store = getattr(state, "asset_store", None)
    if store is None:
        store = state.asset_store = ObjectStore.from_settings(state.settings)
    return store


def asset_key(course_id: object, lesson_id: object, asset_id: object, upload_id: object) -> str:
    """Where one upload of an asset's file lives; a new upload is a new key."""
    return f"courses/{course_id}/lessons/{lesson_id}/assets/{asset_id}/{upload_id}"
