"""Names that say "this is a credential": param keys, flags and variables.

Split into words (``db_password``, ``dbPassword``, ``DB-PASSWORD`` are all
``db`` + ``password``) so ``max_tokens`` and ``tokenizer`` are not mistaken for
``token``; a few words are also caught inside a longer one (``PGPASSWORD``).
Kept free of heavy imports: the manifest and spec layers use it.
"""

from __future__ import annotations

import itertools
import re

# A whole word of the name.
_WORDS = frozenset(
    {
        "password",
        "passwd",
        "pwd",
        "passphrase",
        "secret",
        "secrets",
        "token",
        "apikey",
        "credential",
        "credentials",
        "privatekey",
        "secretkey",
        "accesskey",
        "sessionkey",
        "clientsecret",
    }
)
# Two adjacent words.
_PAIRS = frozenset(
    {
        ("api", "key"),
        ("private", "key"),
        ("secret", "key"),
        ("access", "key"),
        ("session", "key"),
        ("signing", "key"),
        ("auth", "key"),
        ("bearer", "token"),
    }
)
# Inside any word: unambiguous enough to catch run-together names.
_INFIXES = ("password", "passwd", "passphrase", "secret", "credential", "apikey", "privatekey")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SPLIT = re.compile(r"[^A-Za-z0-9]+")


def words(name: str) -> list[str]:
    """``"dbPassword"`` -> ``["db", "password"]``; ``"API_KEY"`` -> ``["api", "key"]``."""
    return [w.lower() for w in _SPLIT.split(_CAMEL.sub("_", name)) if w]


def is_secret_name(name: str) -> bool:
    """Whether a key, flag or variable name says it holds a credential."""
    parts = words(name)
    if any(w in _WORDS for w in parts):
        return True
    if any(pair in _PAIRS for pair in itertools.pairwise(parts)):
        return True
    return any(infix in w for w in parts for infix in _INFIXES)
