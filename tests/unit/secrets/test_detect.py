"""The detector on its own: what counts as a secret, what is an identifier, and
redaction of stage logs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from auditpipe.errors import SecretError
from auditpipe.secrets import SecretGuard, find_secret, is_secret_name, redact, write_private

SECRETS = [
    "postgres://svc:pw@host/db",
    "https://user:Tr0ub4dor@example.com/x",
    "AKIAQ7XR2MZL4KD9WP3T",
    "ghp_1234567890abcdefghijABCDEFGHIJ123456",
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----",
    "-----BEGIN OPENSSH PRIVATE KEY-----",
    "xoxb-123456789012-1234567890123-abcdefghijABCDEFGHIJklmn",
    "mysql -u root --password=S3cr3t",
    "PGPASSWORD=abc psql -h db",
    "python x.py --hf-token hf_abcdefghijklmnop",
    "aB3dE5fG7hJ9kL1mN3pQ5rS7tV9wX1yZ",
]
NOT_SECRETS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "9fceb02d0ae598e95dc970b74767f19372d61af8",
    "9fceb02",
    "123e4567-e89b-12d3-a456-426614174000",
    "python src/train.py --lr 0.1 --max-tokens 512 --tokenizer bert",
    "postgres://svc:${DB_PASSWORD}@host/db",
    'mysql --password "$DB_PASSWORD"',
    "ssh://git@github.com/org/repo",
    "sentence-transformers/all-MiniLM-L6-v2",
    "s3://my-bucket/datasets/wine/2024-01-15/train.parquet",
    "python src/prepare.py && python src/train.py data/prepared/train.parquet",
]


@pytest.mark.parametrize("value", SECRETS)
def test_secrets_are_found(value: str) -> None:
    assert find_secret(value) is not None


@pytest.mark.parametrize("value", NOT_SECRETS)
def test_identifiers_paths_and_references_are_not_secrets(value: str) -> None:
    assert find_secret(value) is None


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("db_password", True),
        ("dbPassword", True),
        ("PGPASSWORD", True),
        ("API_KEY", True),
        ("HF_TOKEN", True),
        ("pwd", True),
        ("aws.secret_access_key", True),
        ("max_tokens", False),
        ("tokenizer", False),
        ("keyword", False),
        ("n_estimators", False),
    ],
)
def test_secret_names(name: str, secret: bool) -> None:
    assert is_secret_name(name) is secret


def test_the_guard_names_the_key_never_the_value() -> None:
    with pytest.raises(SecretError) as caught:
        SecretGuard().check_params({"db": {"url": "postgres://svc:hunter2@h/db"}})
    assert caught.value.message.startswith("param 'db.url' looks like a secret")
    assert "hunter2" not in caught.value.diagnostics()
    SecretGuard.of(["db"]).check_params({"db": {"url": "postgres://svc:hunter2@h/db"}})


def test_redact_replaces_known_and_detected_values() -> None:
    log = b"pw=hunter2 key AKIAQ7XR2MZL4KD9WP3T sha e3b0c44298fc1c149afbf4c8996fb92427ae41e4\n\xff"
    out = redact(log, ["hunter2"])
    assert b"hunter2" not in out and b"AKIAQ7XR2MZL4KD9WP3T" not in out
    assert b"e3b0c44298fc1c149afbf4c8996fb92427ae41e4" in out and out.endswith(b"\n\xff")


def test_write_private_is_owner_only_even_over_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "log"
    path.write_bytes(b"old")
    os.chmod(path, 0o644)
    write_private(path, b"new")
    assert path.read_bytes() == b"new"
    assert path.stat().st_mode & 0o777 == 0o600


def test_the_shipped_patterns_are_those_of_the_installed_detect_secrets() -> None:
    """Regenerate with `python -m auditpipe.secrets.refresh` when this fails."""
    from auditpipe.secrets.patterns import PATTERNS
    from auditpipe.secrets.refresh import current

    assert current() == PATTERNS
