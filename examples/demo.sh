#!/usr/bin/env bash
# The README's demo: set up, then run the wine-quality example pipeline in a
# throw-away git repository (your checkout is never touched): run every stage
# (Great Expectations gates included), run again (nothing to do), verify the
# signed ledger and the model's provenance, gate it under the default policy,
# and write the auditor's PDF report.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
# AUDITPIPE_SKIP_SETUP=1: use the auditpipe already on PATH (the test-suite does).
if [ -z "${AUDITPIPE_SKIP_SETUP:-}" ]; then
    bash "$here/.ci/setup"
    export PATH="$here/.venv/bin:$PATH"
fi

demo="${AUDITPIPE_DEMO_DIR:-$(mktemp -d -t auditpipe-demo.XXXXXX)}"
export AUDITPIPE_CONFIG_DIR="${AUDITPIPE_CONFIG_DIR:-$demo/.auditpipe-config}"
mkdir -p "$demo" && rm -rf "$demo/wine-quality"
cp -r "$here/examples/wine-quality" "$demo/wine-quality"
cd "$demo/wine-quality"
git init -q -b main
git config user.name "auditpipe demo"
git config user.email "demo@example.invalid"
git add -A && git commit -qm "wine-quality example"

step() { printf '\n$ %s\n' "$*"; "$@"; }
step auditpipe init
git add -A && git commit -qm "auditpipe init"
step auditpipe dag
step auditpipe run -j 2
step auditpipe run
step auditpipe status
step auditpipe metrics
step auditpipe log
step auditpipe verify --ledger
step auditpipe verify models/model.pkl
step auditpipe gate --policy policies/default.yaml
step auditpipe report models/model.pkl --policy policies/default.yaml -o audit-report.pdf
step sha256sum audit-report.pdf
step git log --oneline auditpipe/ledger
printf '\ndemo repository: %s/wine-quality\naudit report: %s/wine-quality/audit-report.pdf\n' "$demo" "$demo"
