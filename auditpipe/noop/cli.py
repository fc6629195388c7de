"""``status`` and ``run`` answered before the CLI framework loads: plain
``auditpipe status [STAGE...] [--json]`` and ``auditpipe run [-j N]`` when every
selected stage is up to date by the verified state; anything else (other
options, a stale stage, any doubt) returns None and the full CLI runs. Prints
exactly what the full path prints."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def fast(tokens: list[str]) -> int | None:
    """The exit code when the fast path answered, else None (nothing printed)."""
    if tokens[:1] == ["run"] and _plain_run(tokens[1:]):
        return _run()
    if not tokens or tokens[0] != "status":
        return None
    as_json, stages = False, []
    for token in tokens[1:]:
        if token == "--json":
            as_json = True
        elif token.startswith("-") or not token:
            return None
        else:
            stages.append(token)
    try:
        from auditpipe.noop.probe import probe

        found = probe(Path.cwd(), stages or None)
    except Exception:  # a cache: any surprise means the full path answers
        return None
    if found is None or not found.rows:
        return None
    if as_json:
        text = json.dumps([r.to_json() for r in found.rows], indent=2, sort_keys=True) + "\n"
    else:
        lines = []
        for row in found.rows:
            seen = f"run {row.run[:12]}" if row.run else "; ".join(row.reasons)
            lines.append(f"{row.stage}: up to date ({seen})\n")
        text = "".join(lines)
    sys.stdout.write(text)
    return 0


def _run() -> int | None:
    try:
        from auditpipe.noop.probe import probe
        from auditpipe.noop.run import fast_run

        found = probe(Path.cwd(), None)
        return None if found is None or not found.rows else fast_run(found)
    except Exception:  # a cache: any surprise means the full path answers
        return None


def _plain_run(options: list[str]) -> bool:
    """No options, or only ``-j N`` / ``--jobs N`` (N >= 1): parallelism does not
    change what a run that skips every stage does."""
    if options and options[0].startswith("--jobs="):
        options = ["--jobs", options[0].removeprefix("--jobs=")]
    if not options:
        return True
    return (
        len(options) == 2
        and options[0] in ("-j", "--jobs")
        and options[1].isascii()
        and options[1].isdigit()
        and int(options[1]) >= 1
    )
