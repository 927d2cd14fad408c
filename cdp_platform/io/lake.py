"""The lake: a flat key space of files under one root, on a local folder or on S3, with one API.

Everything the platform keeps in the lake (raw partitions, extraction checkpoints, dead letters)
goes through :class:`Lake`, so that the same code runs on a laptop folder and on a bucket.

Writes are atomic on both: locally a temporary file in the same folder is renamed over the target
(``os.replace`` is atomic on POSIX), and an S3 ``PutObject`` becomes visible whole or not at all.
A reader therefore never sees half a file. S3 writes always ask for server-side encryption.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from cdp_platform.settings import Settings


class LakeError(RuntimeError):
    """A lake operation failed; the message names the URI."""


class Lake(Protocol):
    """What every lake backend offers. Keys are ``/``-separated paths relative to the root."""

    def uri(self, key: str) -> str: ...
    def write_bytes(self, key: str, data: bytes) -> None: ...
    def read_bytes(self, key: str) -> bytes: ...
    def exists(self, key: str) -> bool: ...
    def delete(self, key: str) -> None: ...
    def delete_prefix(self, prefix: str) -> None: ...
    def list_keys(self, prefix: str) -> Iterator[str]: ...
    def size(self, key: str) -> int: ...


def _clean_key(key: str) -> str:
    key = key.strip("/")
    if not key or any(part in ("", ".", "..") for part in key.split("/")):
        raise LakeError(f"invalid lake key {key!r}")
    return key


@dataclass(frozen=True)
class LocalLake:
    """A lake in a local (or network-mounted) folder."""

    root: Path

    def _path(self, key: str) -> Path:
        return self.root / _clean_key(key)

    def uri(self, key: str) -> str:
        return str(self._path(key).resolve())

    def write_bytes(self, key: str, data: bytes) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def read_bytes(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise LakeError(f"{self.uri(key)} does not exist") from None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def delete_prefix(self, prefix: str) -> None:
        """Everything under ``prefix``, with the temporary files of writers killed before their rename
        (``list_keys`` does not show them) and the folders left empty."""
        base = self._path(prefix)
        if not base.is_dir():
            return
        for path in sorted(base.rglob("*"), key=lambda p: len(p.parts), reverse=True):
            if path.is_dir():
                path.rmdir()
            else:
                path.unlink(missing_ok=True)
        base.rmdir()

    def list_keys(self, prefix: str) -> Iterator[str]:
        base = self.root / prefix.strip("/") if prefix.strip("/") else self.root
        if not base.is_dir():
            return
        for path in sorted(base.rglob("*")):
            if path.is_file() and not path.name.startswith("."):
                yield path.relative_to(self.root).as_posix()

    def size(self, key: str) -> int:
        return self._path(key).stat().st_size


class S3Lake:
    """A lake under ``s3://bucket/prefix``, through boto3 ."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        client=None,
    ) -> None:
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.endpoint_url = endpoint_url
        self.region = region
        self._client = client or boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            config=Config(
                retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=60
            ),
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> S3Lake:
        return cls(
            settings.s3_bucket,
            settings.s3_prefix,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
        )

    def _object_key(self, key: str) -> str:
        key = _clean_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._object_key(key)}"

    def check(self) -> None:
        """Fail with the variable to fix when the bucket is missing or the endpoint unreachable."""
        from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

        from cdp_platform.settings import SettingsError

        try:
            self._client.head_bucket(Bucket=self.bucket)
        except EndpointConnectionError:
            raise SettingsError(
                f"CDP_S3_ENDPOINT_URL: the S3 endpoint {self.endpoint_url or 'AWS default'} cannot be "
                "reached; check the URL and the network, or unset it to use AWS."
            ) from None
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("404", "NoSuchBucket", "NotFound"):
                raise SettingsError(
                    f"CDP_LAKE_ROOT: the bucket {self.bucket!r} does not exist; create it or fix the "
                    "bucket name in CDP_LAKE_ROOT."
                ) from None
            raise SettingsError(
                f"CDP_LAKE_ROOT: access to bucket {self.bucket!r} was refused ({code}); check the AWS "
                "credentials (AWS_ACCESS_KEY_ID / AWS_PROFILE) and the bucket policy."
            ) from None
        except BotoCoreError as exc:
            raise SettingsError(
                f"CDP_S3_ENDPOINT_URL / AWS credentials: the S3 lake cannot be used ({type(exc).__name__}); "
                "check the endpoint and the AWS credentials."
            ) from None

    def write_bytes(self, key: str, data: bytes) -> None:
        self._client.put_object(
            Bucket=self.bucket,
            Key=self._object_key(key),
            Body=data,
            ServerSideEncryption="AES256",
        )

    def read_bytes(self, key: str) -> bytes:
        try:
            return self._client.get_object(Bucket=self.bucket, Key=self._object_key(key))["Body"].read()
        except self._client.exceptions.NoSuchKey:
            raise LakeError(f"{self.uri(key)} does not exist") from None

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self._client.head_object(Bucket=self.bucket, Key=self._object_key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def delete(self, key: str) -> None:
        self._client.delete_object(Bucket=self.bucket, Key=self._object_key(key))

    def delete_prefix(self, prefix: str) -> None:
        """Every object under ``prefix`` (a PutObject is whole or absent: no temporary objects)."""
        for key in list(self.list_keys(prefix)):
            self.delete(key)

    def list_keys(self, prefix: str) -> Iterator[str]:
        full_prefix = (
            self._object_key(prefix) + "/"
            if prefix.strip("/")
            else (f"{self.prefix}/" if self.prefix else "")
        )
        strip = len(self.prefix) + 1 if self.prefix else 0
        paginator = self._client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=full_prefix):
            for item in page.get("Contents", []):
                yield item["Key"][strip:]

    def size(self, key: str) -> int:
        return int(self._client.head_object(Bucket=self.bucket, Key=self._object_key(key))["ContentLength"])

    def head(self, key: str) -> dict:
        return self._client.head_object(Bucket=self.bucket, Key=self._object_key(key))


def lake_from_settings(settings: Settings) -> Lake:
    if settings.lake_on_s3:
        return S3Lake.from_settings(settings)
    return LocalLake(Path(settings.lake_root))


def lake_from_root(root: str, *, s3_endpoint_url: str | None = None, s3_region: str = "us-east-1") -> Lake:
    """Build a lake from a root string (``s3://bucket/prefix`` or a folder), as IO managers store it."""
    if root.startswith("s3://"):
        bucket, _, prefix = root.removeprefix("s3://").partition("/")
        return S3Lake(bucket, prefix, endpoint_url=s3_endpoint_url, region=s3_region)
    return LocalLake(Path(root))
