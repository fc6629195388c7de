"""Refuse secrets before anything runs, and split a stage's ``env:`` into what
is recorded by value (public) and what by name only (secret).

Every check names the key it refused (a param path, a variable, ``cmd``) and
never the value. An allow-list entry (``secrets: allow:`` in auditpipe.yaml,
``--allow-secret``) is a key, and covers everything under it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from auditpipe.errors import SecretError
from auditpipe.secrets.detect import find_secret, leaves
from auditpipe.secrets.names import is_secret_name

HINT = (
    "a signed ledger is permanent: pass a secret through a variable listed under the "
    "stage's `env: {{secret: [...]}}` (recorded as set / not set, never its value); "
    "if this is not a secret, allow it with `secrets: {{allow: [{key}]}}` in "
    "auditpipe.yaml or `--allow-secret {key}`"
)

SecretState = Literal["set", "not set"]


def command_key(stage: str) -> str:
    """The key that names a stage's command in messages and allow-lists."""
    return f"stages.{stage}.cmd"


@dataclass(frozen=True)
class EnvRecord:
    """A stage's variables as the ledger records them, and the values to redact."""

    public: Mapping[str, str] = field(default_factory=dict)
    secret: Mapping[str, SecretState] = field(default_factory=dict)
    secret_values: tuple[str, ...] = ()


@dataclass(frozen=True)
class SecretGuard:
    """Checks names and values against the detector, minus the allowed keys."""

    allow: frozenset[str] = frozenset()

    @classmethod
    def of(cls, *allowed: Iterable[str]) -> SecretGuard:
        return cls(frozenset(key for group in allowed for key in group))

    def allowed(self, key: str) -> bool:
        return any(key == a or key.startswith((f"{a}.", f"{a}[")) for a in self.allow)

    def refuse(self, what: str, key: str, why: str) -> SecretError:
        return SecretError(f"{what} {key!r} looks like a secret: {why}", hint=HINT.format(key=key))

    def check_text(self, what: str, key: str, value: str) -> None:
        """Refuse ``value`` if it looks like a credential (unless ``key`` is allowed)."""
        if self.allowed(key):
            return
        finding = find_secret(value)
        if finding is not None:
            raise self.refuse(what, key, f"its value holds {finding.reason}")

    def check_params(self, params: Mapping[str, Any], what: str = "param") -> None:
        """Every key by name, every string by value."""
        for path, key, value in leaves(dict(params)):
            if self.allowed(path):
                continue
            if key is not None and is_secret_name(key):
                raise self.refuse(what, path, "its name says it holds a credential")
            if isinstance(value, str):
                self.check_text(what, path, value)

    def split_env(
        self,
        names: Sequence[str],
        environ: Mapping[str, str],
        *,
        public: Iterable[str] = (),
        secret: Iterable[str] = (),
    ) -> EnvRecord:
        """Classify ``names``: declared secret ones by name only; declared public
        ones by value (refused if they look secret); a plain name is secret when
        its name or value looks like one, public otherwise."""
        public, secret = set(public), set(secret)
        by_value: dict[str, str] = {}
        by_name: dict[str, SecretState] = {}
        values: list[str] = []
        for name in names:
            value = environ.get(name)
            looks = not self.allowed(name) and (
                is_secret_name(name) or (value is not None and find_secret(value) is not None)
            )
            if name in secret or (looks and name not in public):
                by_name[name] = "set" if value is not None else "not set"
                if value:
                    values.append(value)
            elif looks:
                raise self.refuse(
                    "environment variable", name, "it is declared public but looks like a secret"
                )
            elif value is not None:
                by_value[name] = value
        return EnvRecord(by_value, by_name, tuple(values))


def split_env(names: Sequence[str], environ: Mapping[str, str]) -> EnvRecord:
    """A plain list of variables, classified by the detector (no allow-list)."""
    return SecretGuard().split_env(names, environ)
