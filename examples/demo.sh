#!/usr/bin/env bash
# The README's demo: set up, then record and verify signed runs in a throw-away
# git repository (your checkout is never touched).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
bash "$here/.ci/setup"
export PATH="$here/.venv/bin:$PATH"

demo="${AUDITPIPE_DEMO_DIR:-$(mktemp -d -t auditpipe-demo.XXXXXX)}"
export AUDITPIPE_CONFIG_DIR="${AUDITPIPE_CONFIG_DIR:-$demo/.auditpipe-config}"
mkdir -p "$demo/repo" && cd "$demo/repo"
git init -q -b main
git config user.name "auditpipe demo"
git config user.email "demo@example.invalid"

mkdir -p data src models
printf 'fixed_acidity,quality\n7.4,5\n7.8,5\n11.2,6\n' > data/raw.csv
printf 'print("prepare")\n' > src/prepare.py
printf 'print("train")\n' > src/train.py
git add -A && git commit -qm "demo sources"

step() { printf '\n$ %s\n' "$*"; "$@"; }
step auditpipe init
git add -A && git commit -qm "auditpipe init"

cp data/raw.csv data/prepared.csv
step auditpipe record --stage prepare --cmd "python src/prepare.py" \
    --dep src/prepare.py --dep data/raw.csv --out data/prepared.csv --param prepare.seed=42
printf 'model-bytes-%s\n' "$RANDOM" > models/model.pkl
step auditpipe record --stage train --cmd "python src/train.py" \
    --dep src/train.py --dep data/prepared.csv --out models/model.pkl \
    --param train.lr=0.1 --metric accuracy=0.91
step auditpipe log
step auditpipe verify --ledger
step git log --oneline auditpipe/ledger
step git fsck --strict
printf '\ndemo repository: %s/repo\n' "$demo"
