"""Does a value look like a credential? Patterns from ``detect-secrets`` (cloud
keys, tokens, private-key blocks), URLs with a password, secret-named flags in a
command line, and high-entropy tokens.

Hex strings (sha256/sha1 digests, git SHAs) and UUIDs are identifiers, not
secrets: ML params carry them all the time. A ``$VAR`` or ``${VAR}`` in the
place of a value is a reference the shell resolves, so it is never a finding.
detect-secrets' patterns are used as data (``patterns.py``, see ``refresh.py``).
"""

from __future__ import annotations

import math
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from auditpipe.secrets.names import is_secret_name
from auditpipe.secrets.patterns import PATTERNS

# scheme://user:password@host -- a password in user-info (a bare user, as in
# ssh://git@host, is not one).
_URL_PASSWORD = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s/:@]*:(?P<pw>[^\s/@]+)@")
_TOKEN = re.compile(r"[A-Za-z0-9+/=_-]{20,}")
_HEX = re.compile(r"[0-9a-fA-F]+")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_PRIVATE_KEY_BLOCK = re.compile(
    r"-----BEGIN[ A-Z0-9]*PRIVATE KEY[ A-Z0-9]*-----"
    r".*?(-----END[ A-Z0-9]*PRIVATE KEY[ A-Z0-9]*-----|\Z)",
    re.DOTALL,
)
_FLAG = re.compile(r"^(?:--?|)(?P<name>[A-Za-z][A-Za-z0-9_.-]*)(?:=(?P<value>.*))?$", re.DOTALL)
# detect-secrets' own limit for base64-like strings.
ENTROPY_LIMIT = 4.5


@dataclass(frozen=True)
class Finding:
    """Why a value looks like a secret (never the value itself)."""

    reason: str


@lru_cache(maxsize=1)
def _patterns() -> tuple[tuple[str, re.Pattern[str]], ...]:
    """(description, compiled regex) of every pattern-based detector in detect-secrets."""
    return tuple((kind, re.compile(pattern, flags)) for kind, pattern, flags in PATTERNS)


def entropy(token: str) -> float:
    """Shannon entropy in bits per character (as detect-secrets computes it)."""
    counts: dict[str, int] = {}
    for char in token:
        counts[char] = counts.get(char, 0) + 1
    return -sum(n / len(token) * math.log2(n / len(token)) for n in counts.values())


def _identifier(token: str) -> bool:
    return bool(_HEX.fullmatch(token.replace("-", "").replace("_", ""))) or bool(
        _UUID.fullmatch(token)
    )


def _high_entropy(token: str) -> bool:
    if len(token) < 20 or _identifier(token):
        return False
    mixed = (
        any(c.isdigit() for c in token)
        and any(c.islower() for c in token)
        and any(c.isupper() for c in token)
    )
    return mixed and entropy(token) > ENTROPY_LIMIT


def _reference(value: str) -> bool:
    return value.startswith("$") or (value.startswith("%") and value.endswith("%"))


def _flag_findings(text: str) -> Iterator[Finding]:
    """``--password=x``, ``--api-key x``, ``PGPASSWORD=x cmd``: a secret-named
    option or assignment given a literal value on the command line."""
    try:
        tokens = shlex.split(text)
    except ValueError:
        tokens = text.split()
    for i, token in enumerate(tokens):
        match = _FLAG.match(token)
        if match is None or not is_secret_name(match["name"]):
            continue
        value = match["value"]
        if value is None and token.startswith("-") and i + 1 < len(tokens):
            value = tokens[i + 1] if not tokens[i + 1].startswith("-") else None
        if value and not _reference(value):
            yield Finding(f"a literal value for {match['name']!r}")


def find_secret(value: str) -> Finding | None:
    """The first reason ``value`` looks like a credential, or None."""
    for match in _URL_PASSWORD.finditer(value):
        if not _reference(match["pw"]):
            return Finding("a URL with a password in its user-info")
    if _PRIVATE_KEY_BLOCK.search(value):
        return Finding("a private key block")
    for kind, regex in _patterns():
        if regex.search(value):
            return Finding(f"{'an' if kind[0] in 'AEIOU' else 'a'} {kind}")
    for finding in _flag_findings(value):
        return finding
    for token in _TOKEN.findall(value):
        if _high_entropy(token):
            return Finding("a high-entropy token (like a generated key)")
    return None


def secret_spans(text: str) -> list[tuple[int, int]]:
    """Where in ``text`` detected secrets are (for redacting logs)."""
    spans = [m.span() for m in _PRIVATE_KEY_BLOCK.finditer(text)]
    spans += [m.span("pw") for m in _URL_PASSWORD.finditer(text)]
    for _kind, regex in _patterns():
        spans += [m.span() for m in regex.finditer(text)]
    spans += [m.span() for m in _TOKEN.finditer(text) if _high_entropy(m.group())]
    return spans


def leaves(value: Any, prefix: str = "") -> Iterator[tuple[str, str | None, Any]]:
    """Every (dotted path, key, value) in nested params; list items have key None."""
    if isinstance(value, dict):
        for key, inner in value.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            yield path, str(key), inner
            yield from leaves(inner, path)
    elif isinstance(value, list | tuple):
        for index, inner in enumerate(value):
            path = f"{prefix}[{index}]"
            yield path, None, inner
            yield from leaves(inner, path)
