"""The table cache key names the engine without importing it."""

from __future__ import annotations

import subprocess
import sys


def test_engine_tag_is_the_version_pyarrow_reports() -> None:
    from auditpipe.fingerprint import table
    from auditpipe.fingerprint.engine import engine_tag

    assert engine_tag() == table.ENGINE


def test_engine_tag_does_not_import_pyarrow() -> None:
    code = (
        "import sys\nfrom auditpipe.fingerprint.engine import engine_tag\n"
        "print(engine_tag(), 'pyarrow' in sys.modules)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    tag, imported = proc.stdout.split()
    assert tag.startswith("pyarrow-") and imported == "False"
