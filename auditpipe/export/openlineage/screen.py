"""What of a stage's params and command may leave the machine in a lineage event.

The one place lineage output passes through the secret rules; it applies the
manifest's rule (``SECRET_NAME``) to param names and to ``NAME=value`` /
``--name value`` pairs in the command.
"""

from __future__ import annotations

import re
from typing import Any

from auditpipe.manifest.predicates import SECRET_NAME

REDACTED = "***"

_ASSIGNMENT = re.compile(r"(?P<key>[A-Za-z_][\w.-]*)(?P<sep>=)(?P<value>\"[^\"]*\"|'[^']*'|\S+)")
_OPTION = re.compile(
    r"(?P<key>--?[A-Za-z][\w-]*)(?P<sep>\s+)(?P<value>\"[^\"]*\"|'[^']*'|[^\s-]\S*)"
)


def screen(params: dict[str, Any], command: str | None) -> tuple[dict[str, Any], str | None]:
    """Params and command with every value named like a secret replaced by ``***``."""
    return _params(params), _command(command) if command is not None else None


def _params(value: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, inner in value.items():
        if SECRET_NAME.search(str(key)):
            out[key] = REDACTED
        elif isinstance(inner, dict):
            out[key] = _params(inner)
        else:
            out[key] = inner
    return out


def _command(command: str) -> str:
    def hide(match: re.Match[str]) -> str:
        if not SECRET_NAME.search(match["key"]):
            return match[0]
        return f"{match['key']}{match['sep']}{REDACTED}"

    return _OPTION.sub(hide, _ASSIGNMENT.sub(hide, command))
