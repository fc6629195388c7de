"""Tables on S3: the Parquet profile comes from the footer (ranged reads, not a download),
the content digest from one read of the whole bytes, and neither again while the ETag
is unchanged. Bytes are counted by a TCP proxy between auditpipe and the server."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.s3_helpers import CountingProxy, aws_env, moto_server

pytest.importorskip("moto.server")
pytest.importorskip("boto3")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

ROWS = 1_000_000


@pytest.fixture
def proxied(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, CountingProxy, bytes]]:
    """A bucket holding a ~8 MiB Parquet object; auditpipe reaches it through the proxy."""
    import boto3
    import numpy as np

    from auditpipe.storage import s3 as store

    with moto_server() as endpoint:
        for name, value in aws_env(endpoint).items():
            monkeypatch.setenv(name, value)
        client = boto3.client("s3")
        client.create_bucket(Bucket="lake")
        values = np.random.default_rng(7).random(ROWS)  # incompressible: size ~ 8 bytes/row
        sink = io.BytesIO()
        pq.write_table(pa.table({"x": values, "i": np.arange(ROWS)}), sink)
        data = sink.getvalue()
        client.put_object(Bucket="lake", Key="big.parquet", Body=data)
        proxy = CountingProxy(endpoint)
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.endpoint)
        store.reset()
        try:
            yield client, proxy, data
        finally:
            proxy.close()
            store.reset()


def test_the_parquet_profile_reads_the_footer_not_the_object(
    proxied: tuple[Any, CountingProxy, bytes],
) -> None:
    from auditpipe.fingerprint import table
    from auditpipe.storage.objects import arrow_store

    _client, proxy, data = proxied
    url = "s3://lake/big.parquet"
    info = table.describe(arrow_store(url), "parquet", "lake/big.parquet", url)
    assert info.rows == ROWS and [f.name for f in info.schema] == ["x", "i"]
    assert info.stats("i").max == ROWS - 1
    assert proxy.received < len(data) / 20, (proxy.received, len(data))


def test_one_read_for_the_digest_and_none_while_the_etag_holds(
    proxied: tuple[Any, CountingProxy, bytes], tmp_path: Path
) -> None:
    from auditpipe.storage.objects import fingerprint_urls

    client, proxy, data = proxied
    url = "s3://lake/big.parquet"
    (fp,) = fingerprint_urls([url], state_dir=tmp_path).values()
    assert fp.sha256 == hashlib.sha256(data).hexdigest()
    assert fp.table is not None and fp.table.rows == ROWS
    assert fp.etag == client.head_object(Bucket="lake", Key="big.parquet")["ETag"].strip('"')
    # The whole bytes once (the digest), the footer for the profile: not a second download.
    assert proxy.received < len(data) * 1.1 + (1 << 20), (proxy.received, len(data))
    first = proxy.received
    (again,) = fingerprint_urls([url], state_dir=tmp_path).values()
    assert again == fp
    assert proxy.received - first < 64 << 10  # one listing: no object bytes at all


def test_a_partitioned_parquet_prefix_is_profiled_as_a_dataset(
    proxied: tuple[Any, CountingProxy, bytes], tmp_path: Path
) -> None:
    from auditpipe.storage.objects import fingerprint_urls

    client, _proxy, _data = proxied
    for part, rows in (("a", 3), ("b", 5)):
        sink = io.BytesIO()
        pq.write_table(pa.table({"v": list(range(rows))}), sink)
        client.put_object(Bucket="lake", Key=f"ds/part={part}/0.parquet", Body=sink.getvalue())
    client.put_object(Bucket="lake", Key="ds/_SUCCESS", Body=b"")
    (fp,) = fingerprint_urls(["s3://lake/ds"], state_dir=tmp_path).values()
    assert fp.kind == "directory" and fp.files == 3
    assert fp.table is not None and fp.table.rows == 8
    assert fp.table.partitioning == ("part",)
