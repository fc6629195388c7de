"""Talking to S3 through boto3: one listing per prefix, a GET pinned to an ETag, and errors.

Owns the boto3 client (one per process, credentials and endpoint from the
standard AWS chain: ``AWS_*`` variables including ``AWS_ENDPOINT_URL``,
profiles, SSO, instance roles), ``ObjectInfo`` (what a listing says of one
object), the paginated listing, the streamed sha256 of one object's bytes read
with ``IfMatch`` (so the digest is of the version whose ETag is recorded), and
the translation of botocore's exceptions into ``ObjectStoreError``.

boto3 is imported here only, and only when an ``s3://`` URL is read.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import threading
from dataclasses import dataclass
from http.client import HTTPException
from typing import Any

from auditpipe.errors import FingerprintError
from auditpipe.storage.s3body import body_chunks

_CREDENTIAL_CODES = {
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidToken",
    "TokenRefreshRequired",
    "AccessDenied",
    "AllAccessDisabled",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "403",
}
_MISSING_CODES = {"NoSuchKey", "404", "NotFound", "NoSuchVersion"}
_SOURCES = {
    "env": "the AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY environment variables",
    "shared-credentials-file": "the shared credentials file (~/.aws/credentials)",
    "config-file": "the AWS config file (~/.aws/config)",
    "assume-role": "an assumed role (AWS profile with role_arn)",
    "sso": "AWS SSO (run `aws sso login`)",
    "iam-role": "the instance's IAM role",
    "container-role": "the container's IAM role",
    "custom-process": "a credential_process in the AWS config",
}


class ObjectStoreError(FingerprintError):
    """The object store refused, could not be reached, or an object moved under us."""


@dataclass(frozen=True)
class ObjectInfo:
    """One object as a listing (or a GET) describes it."""

    key: str
    size: int
    etag: str
    modified_ns: int
    version_id: str | None = None


_lock = threading.Lock()
_client: Any = None
_session: Any = None
_made_for: tuple[str | None, ...] = ()
# The variables a client is made from: a change (another endpoint, rotated keys) makes a new one.
_ENV = (
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
)


def client() -> Any:
    """The process's S3 client (thread-safe once made); ``ImportError`` without boto3/botocore."""
    global _client, _session, _made_for
    with _lock:
        env = tuple(os.environ.get(name) for name in _ENV)
        if _client is None or env != _made_for:
            _made_for = env
            # botocore (boto3's core, installed with it) directly: boto3 itself would
            # import s3transfer, ~0.1 s of a no-op status we do not use.
            import botocore.session
            from botocore.config import Config

            core = botocore.session.get_session()
            # botocore parses each listed LastModified with dateutil (0.16 s per 1,000
            # objects, a sixth of a no-op status); S3's ISO form needs no such parser.
            parsers = core.get_component("response_parser_factory")
            parsers.set_parser_defaults(timestamp_parser=_timestamp)
            config = Config(max_pool_connections=32, retries={"mode": "standard"})
            _client, _session = core.create_client("s3", config=config), core
        return _client


def _timestamp(value: Any) -> Any:
    """A timestamp from a response: ISO 8601 directly, anything else as botocore does."""
    if isinstance(value, str) and value.endswith("Z"):
        try:
            return datetime.datetime.fromisoformat(value)
        except ValueError:
            pass
    from botocore.utils import parse_timestamp

    return parse_timestamp(value)


def reset() -> None:
    """Forget the client (credentials or endpoint changed, e.g. between tests)."""
    global _client
    with _lock:
        _client = None


def credential_source() -> str:
    """Where botocore found the credentials, in words a user can act on."""
    try:
        client()
        creds = _session.get_credentials() if _session is not None else None
    except Exception:  # only naming the source of an error already raised
        creds = None
    if creds is None:
        return "no credentials were found (AWS_* variables, AWS_PROFILE, ~/.aws)"
    method = str(getattr(creds, "method", "") or "")
    return "credentials from " + _SOURCES.get(method, method or "the AWS credential chain")


def store_error(exc: Exception, url: str) -> ObjectStoreError:
    """A botocore exception about ``url`` as an error naming it and what to do."""
    from botocore import exceptions as bx

    if isinstance(exc, bx.NoCredentialsError | bx.PartialCredentialsError):
        return ObjectStoreError(
            f"no usable AWS credentials: {exc}",
            path=url,
            hint="set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE",
        )
    if isinstance(exc, bx.ClientError):
        code, text = error_code(exc), exc.response.get("Error", {}).get("Message") or ""
        if code in _CREDENTIAL_CODES:
            return ObjectStoreError(
                f"the store refused the request ({code}{': ' + text if text else ''}) "
                f"with {credential_source()}",
                path=url,
                hint="refresh or fix the credentials (expired keys, a token, a bucket policy)",
            )
        return ObjectStoreError(f"the store answered {code}: {text}", path=url)
    if isinstance(exc, bx.EndpointConnectionError | bx.ConnectionError | bx.HTTPClientError):
        return ObjectStoreError(
            f"cannot reach the object store: {exc}",
            path=url,
            hint="check the network and AWS_ENDPOINT_URL",
        )
    return ObjectStoreError(f"the object store failed: {exc}", path=url)


def error_code(exc: BaseException) -> str:
    """The S3 error code of a ``ClientError`` (``""`` for any other exception)."""
    response = getattr(exc, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


def _boto_errors() -> tuple[type[Exception], ...]:
    """botocore's exception bases, for ``except`` clauses (imported lazily)."""
    from botocore import exceptions as bx

    return (bx.BotoCoreError, bx.ClientError)


def _ns(when: Any) -> int:
    return int(when.timestamp() * 1_000_000) * 1000


def list_prefix(bucket: str, prefix: str, shown: str | None = None) -> dict[str, ObjectInfo]:
    """Every object under ``prefix`` (recursive), keyed by key: one paginated listing.

    A bucket that does not exist lists as empty (its objects are missing).
    ``shown`` names, in errors, the URLs the listing is for."""
    url = shown or f"s3://{bucket}/{prefix}"
    found: dict[str, ObjectInfo] = {}
    try:
        pages = client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for page in pages:
            for item in page.get("Contents", ()):
                key = item["Key"]
                found[key] = ObjectInfo(
                    key, int(item["Size"]), item["ETag"].strip('"'), _ns(item["LastModified"])
                )
    except _boto_errors() as exc:
        if error_code(exc) == "NoSuchBucket":
            return {}
        raise store_error(exc, url) from exc
    return found


def head(bucket: str, key: str) -> ObjectInfo | None:
    """The object's current metadata (with its version id), or None when absent."""
    url = f"s3://{bucket}/{key}"
    try:
        got = client().head_object(Bucket=bucket, Key=key)
    except _boto_errors() as exc:
        if error_code(exc) in _MISSING_CODES | {"NoSuchBucket"}:
            return None
        raise store_error(exc, url) from exc
    return ObjectInfo(
        key,
        int(got["ContentLength"]),
        got["ETag"].strip('"'),
        _ns(got["LastModified"]),
        got.get("VersionId"),
    )


def _cut_off(exc: BaseException) -> bool:
    """Whether botocore says the body ended early or its stream broke."""
    from botocore import exceptions as bx

    return isinstance(exc, bx.IncompleteReadError | bx.ResponseStreamingError)


def hash_object(bucket: str, info: ObjectInfo) -> tuple[str, str | None]:
    """sha256 of the bytes of the version whose ETag is ``info.etag``, and its version id.

    One GET with ``IfMatch``: an object overwritten or deleted since it was
    listed fails clearly instead of being hashed as another version."""
    url = f"s3://{bucket}/{info.key}"
    moved = f"changed or vanished while being hashed (listed with ETag {info.etag})"
    hint = "run again once the data is stable; nothing was recorded"
    try:
        got = client().get_object(Bucket=bucket, Key=info.key, IfMatch=f'"{info.etag}"')
        digest, size = hashlib.sha256(), 0
        for chunk in body_chunks(got["Body"], info.size):
            digest.update(chunk)
            size += len(chunk)
    except _boto_errors() as exc:
        if error_code(exc) in _MISSING_CODES | {"PreconditionFailed", "412", "NoSuchBucket"}:
            raise ObjectStoreError(moved, path=url, hint=hint) from exc
        if _cut_off(exc):
            raise ObjectStoreError(f"the read was cut off: {exc}", path=url, hint=hint) from exc
        raise store_error(exc, url) from exc
    except (OSError, HTTPException) as exc:  # HTTPException: http.client's IncompleteRead
        raise ObjectStoreError(f"the read was cut off: {exc}", path=url, hint=hint) from exc
    if got["ETag"].strip('"') != info.etag or size > info.size:
        raise ObjectStoreError(moved, path=url, hint=hint)
    if size != info.size:  # same version, fewer bytes: the connection ended early
        raise ObjectStoreError(
            f"the read was cut off after {size} of {info.size} bytes", path=url, hint=hint
        )
    return digest.hexdigest(), got.get("VersionId")
