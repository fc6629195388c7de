"""What must never enter the permanent record: secrets found by name and by value
in commands, params and environment variables, refused before a stage runs, and
redacted from the stage logs kept beside the ledger."""

from auditpipe.secrets.detect import Finding, find_secret
from auditpipe.secrets.guard import EnvRecord, SecretGuard, command_key, split_env
from auditpipe.secrets.names import is_secret_name
from auditpipe.secrets.redact import redact, write_private

__all__ = [
    "EnvRecord",
    "Finding",
    "SecretGuard",
    "command_key",
    "find_secret",
    "is_secret_name",
    "redact",
    "split_env",
    "write_private",
]
