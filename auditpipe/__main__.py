import sys

# A no-op `status` answers before the CLI framework (cyclopts, rich, every verb) loads.
from auditpipe.noop.cli import fast

answered = fast(sys.argv[1:])
if answered is not None:
    sys.exit(answered)

from auditpipe.cli import run  # noqa: E402

run()
