"""A separate process that appends signed entries to a repository's ledger.

Used by the concurrency and crash tests: ``python ledger_writer.py ROOT COUNT TAG``
appends COUNT stage-run entries (stage ``TAG``) and prints ``ready`` once its
imports are done, then one id per line. COUNT 0 means "until killed".
"""

from __future__ import annotations

import sys
from pathlib import Path

from auditpipe.ledger.ledger import Ledger
from auditpipe.pipeline.recorder import RunFacts, build, sign_and_append
from auditpipe.signing.factory import local_signer
from auditpipe.workspace import Workspace


def main() -> None:
    root, count, tag = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    signer = local_signer()
    with Ledger(Workspace.discover(root)) as ledger:
        print("ready", flush=True)
        n = 0
        while count == 0 or n < count:
            n += 1
            facts = RunFacts(stage=tag, command=f"step {n}", params={"n": n, "tag": tag})
            entry_id = sign_and_append(ledger, signer, build(ledger, facts))
            print(entry_id, flush=True)


if __name__ == "__main__":
    main()
