"""The streamed sha256 of one S3 object against a real S3 server on loopback (moto):
both body readers (through botocore for small objects, ``readinto`` on the HTTP
response for large ones) give sha256sum's digest, and a response cut off mid-body
is a clear ``ObjectStoreError``, never a digest."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.s3_helpers import CountingProxy, forget_client, loopback_client, moto_server

pytest.importorskip("moto.server")
pytest.importorskip("boto3")

MIB = 1 << 20


@pytest.fixture(scope="module")
def s3_server() -> Iterator[str]:
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def s3(s3_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    client = loopback_client(s3_server, monkeypatch)
    client.create_bucket(Bucket="blobs")
    yield client
    for obj in client.list_objects_v2(Bucket="blobs").get("Contents", []):
        client.delete_object(Bucket="blobs", Key=obj["Key"])
    client.delete_bucket(Bucket="blobs")
    forget_client()


@pytest.mark.parametrize("size", [0, 5, MIB + 3, 8 * MIB, 12 * MIB + 7])
def test_the_digest_is_sha256_of_the_bytes_on_both_readers(s3: Any, size: int) -> None:
    from auditpipe.storage import s3body
    from auditpipe.storage.s3 import client, hash_object, list_prefix

    data = os.urandom(size)
    s3.put_object(Bucket="blobs", Key="obj.bin", Body=data)
    probe = client().get_object(Bucket="blobs", Key="obj.bin")["Body"]
    # The large-object path is really taken where this botocore/urllib3 allows it.
    assert s3body._http_response(probe) is not None
    probe.close()
    info = list_prefix("blobs", "obj.bin")["obj.bin"]
    digest, _version = hash_object("blobs", info)
    assert digest == hashlib.sha256(data).hexdigest()
    assert hash_object("blobs", info)[0] == digest  # and again, on a pooled connection


@pytest.mark.parametrize("direct", [True, False], ids=["readinto", "botocore"])
def test_a_response_cut_off_mid_body_is_an_error_not_a_digest(
    s3: Any, s3_server: str, monkeypatch: pytest.MonkeyPatch, direct: bool
) -> None:
    from auditpipe.errors import FingerprintError
    from auditpipe.storage import s3 as store
    from auditpipe.storage import s3body

    if not direct:
        monkeypatch.setattr(s3body, "DIRECT_MIN_BYTES", 1 << 62)
    data = os.urandom(12 * MIB)
    s3.put_object(Bucket="blobs", Key="big.bin", Body=data)
    info = store.list_prefix("blobs", "big.bin")["big.bin"]
    proxy = CountingProxy(s3_server, cut_after=4 * MIB)
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.endpoint)
    store.reset()
    try:
        with pytest.raises(FingerprintError) as caught:
            store.hash_object("blobs", info)
    finally:
        proxy.close()
    text = caught.value.diagnostics()
    assert "s3://blobs/big.bin" in text
    assert "the read was cut off" in text, text
