"""Start-up cost is a feature: loading the CLI imports none of the heavy libraries.

Each command imports what it needs when it runs; a module-level import in any
verb module would make every command pay for it.
"""

from __future__ import annotations

import subprocess
import sys

HEAVY = (
    "pydantic",
    "dulwich",
    "cryptography",
    "pyarrow",
    "pandas",
    "great_expectations",
    "weasyprint",
    "jinja2",
    "celpy",
    "sigstore",
    "sigstore_models",
    "rfc8785",
    "openlineage",
    "in_toto_attestation",
    "boto3",
    "botocore",
)


def test_loading_the_cli_imports_no_heavy_library() -> None:
    # ``auditpipe.cli`` itself loads nothing; registering every verb is what a command pays.
    code = (
        "import sys, auditpipe.cli.verbs\nauditpipe.cli.verbs.register()\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == ""
