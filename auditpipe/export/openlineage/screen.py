"""What of a stage's params and command may leave the machine in a lineage event.

The one place lineage output passes through the secret rules
(``auditpipe.secrets``): a param or ``NAME=value`` / ``--name value`` pair of
the command whose name looks like a secret, or whose value the detector flags,
is replaced by ``***``. (Runs are refused before they start when they hold a
secret that is not allow-listed; this is the second line, for allow-listed ones.)
"""

from __future__ import annotations

import re
from typing import Any

from auditpipe.secrets.detect import find_secret
from auditpipe.secrets.names import is_secret_name

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
        if is_secret_name(str(key)) or (isinstance(inner, str) and find_secret(inner)):
            out[key] = REDACTED
        elif isinstance(inner, dict):
            out[key] = _params(inner)
        else:
            out[key] = inner
    return out


def _command(command: str) -> str:
    def hide(match: re.Match[str]) -> str:
        key = match["key"].lstrip("-")
        if not is_secret_name(key) and find_secret(match["value"]) is None:
            return match[0]
        return f"{match['key']}{match['sep']}{REDACTED}"

    return _OPTION.sub(hide, _ASSIGNMENT.sub(hide, command))
