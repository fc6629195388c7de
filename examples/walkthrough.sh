#!/usr/bin/env bash
# The first hour of a new user, scripted from the README alone: a fresh git
# repository, `auditpipe init`, the starter auditpipe.yaml's example stages
# uncommented, a Great Expectations suite drafted with `suite init`, a run, a
# params change (`status`, `diff HEAD~1 HEAD`), a model made by hand that the
# merge gate must ignore, a failed data gate whose output is quarantined, and
# the audit report. Every step checks what the README promises; CI runs it
# (tests/integration/test_walkthroughs.py). Your checkout is never touched.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
# AUDITPIPE_SKIP_SETUP=1: use the auditpipe already on PATH (the test-suite does).
if [ -z "${AUDITPIPE_SKIP_SETUP:-}" ]; then
    bash "$here/.ci/setup"
    export PATH="$here/.venv/bin:$PATH"
fi

work="${AUDITPIPE_DEMO_DIR:-$(mktemp -d -t auditpipe-walkthrough.XXXXXX)}"
export AUDITPIPE_CONFIG_DIR="${AUDITPIPE_CONFIG_DIR:-$work/.auditpipe-config}"
repo="$work/first-hour"
rm -rf "$repo" && mkdir -p "$repo" && cd "$repo"
git init -q -b main
git config user.name "auditpipe walkthrough"
git config user.email "walkthrough@example.invalid"

step() { printf '\n$ %s\n' "$*"; "$@"; }
fails() { printf '\n$ %s   # must exit %s\n' "${*:2}" "$1"; set +e; "${@:2}"; local rc=$?; set -e; [ "$rc" = "$1" ] || { echo "expected exit $1, got $rc" >&2; exit 1; }; }
says() { grep -qF -- "$1" "$2" || { echo "expected '$1' in $2:" >&2; cat "$2" >&2; exit 1; }; }

# -- a project of one's own: raw data and two scripts ---------------------------------
mkdir -p src data/raw
python - <<'PY'
import random
random.seed(7)
rows = ["x1,x2,label"]
for _ in range(200):
    x1, x2 = round(random.uniform(0, 10), 3), round(random.uniform(0, 1), 3)
    rows.append(f"{x1},{x2},{int(x1 + 3 * x2 > 6)}")
open("data/raw/data.csv", "w").write("\n".join(rows) + "\n")
PY
cat > src/prepare.py <<'PY'
import pathlib, random
import pyarrow as pa, pyarrow.csv as csv, pyarrow.parquet as pq, yaml

seed = yaml.safe_load(open("params.yaml"))["prepare"]["seed"]
table = csv.read_csv("data/raw/data.csv")
order = list(range(table.num_rows))
random.Random(seed).shuffle(order)
pathlib.Path("data/prepared").mkdir(parents=True, exist_ok=True)
pq.write_table(table.take(pa.array(order)), "data/prepared/train.parquet")
PY
cat > src/train.py <<'PY'
import json, pathlib, pickle
import pyarrow.parquet as pq

data = pq.read_table("data/prepared/train.parquet").to_pydict()
score = [a + 3 * b for a, b in zip(data["x1"], data["x2"])]
threshold = sorted(score)[len(score) // 2]
right = sum((s > threshold) == bool(y) for s, y in zip(score, data["label"]))
pathlib.Path("models").mkdir(exist_ok=True)
pathlib.Path("metrics").mkdir(exist_ok=True)
pickle.dump({"threshold": threshold}, open("models/model.pkl", "wb"))
json.dump({"accuracy": round(right / len(score), 4)}, open("metrics/train.json", "w"))
PY
printf 'data/prepared/\nmodels/\nmetrics/\n*.pdf\n' > .gitignore
git add -A && git commit -qm "a project of one's own"

# -- README: `auditpipe init`, then uncomment and adapt the starter pipeline ----------
logs="$work/logs" && mkdir -p "$logs"  # what the checks read, outside the repository
step auditpipe init | tee "$logs/init"
says "wrote policies/default.yaml" "$logs/init"
says "wrote auditpipe.yaml" "$logs/init"
step auditpipe status
sed -i -e 's/^# params:/params:/' -e 's/^  # /  /' auditpipe.yaml
printf 'prepare:\n  seed: 1\n' > params.yaml
step auditpipe dag

# README (gates): draft a suite from the data, then it gates every run.
step python src/prepare.py
step auditpipe suite init data/prepared/train.parquet -o expectations/train.json
step auditpipe validate data/prepared/train.parquet --suite expectations/train.json
git add -A && git commit -qm "pipeline, params and a drafted suite"

step auditpipe run
step auditpipe run 2>"$logs/run"
says "every stage is up to date" "$logs/run"
step auditpipe verify models/model.pkl
step auditpipe verify --ledger

# README (gate): with no paths, gate judges what the pipeline declares; a model
# made by hand next to it is not judged unless named.
echo "made in a notebook" > models/tree.pkl
step auditpipe gate --policy policies/default.yaml | tee "$logs/gate"
says "ALLOW models/model.pkl" "$logs/gate"
! grep -q tree.pkl "$logs/gate"
fails 1 auditpipe gate --policy policies/default.yaml models/tree.pkl
rm models/tree.pkl

# README (status, diff): a params change is named, and diff of two commits shows it.
printf 'prepare:\n  seed: 2\n' > params.yaml
step auditpipe status | tee "$logs/status"
says "param prepare.seed changed: 1 -> 2" "$logs/status"
step auditpipe run
git add -A && git commit -qm "another seed"
step auditpipe diff HEAD~1 HEAD | tee "$logs/diff"
says "param prepare.seed: 1 -> 2" "$logs/diff"

# README (gates): a failed gate is signed, stops the line, and its output leaves
# the working tree for a quarantine named in the message.
printf '999,5,7\n' >> data/raw/data.csv
fails 1 auditpipe run 2>"$logs/run"
cat "$logs/run"
says "gate failed" "$logs/run"
says "quarantined data/prepared/train.parquet in .git/auditpipe/quarantine/" "$logs/run"
test ! -e data/prepared/train.parquet
step ls .git/auditpipe/quarantine/*/data/prepared/train.parquet
# Fixed input, same data as before: prepare re-runs, train stays up to date, and
# the model is allowed again (its data passed its gate again).
git checkout -q data/raw/data.csv
step auditpipe run
git add auditpipe.lock  # README: commit auditpipe.lock with the runs it names
git diff --cached --quiet || git commit -qm "the runs this revision is made of"
step auditpipe log -n 3
step auditpipe gate --policy policies/default.yaml

# README (reports): the auditor's PDF, and a period's activity.
step auditpipe report models/model.pkl --policy policies/default.yaml -o audit-report.pdf | tee "$logs/report"
says "ALLOW models/model.pkl" "$logs/report"
step auditpipe report --ledger -o activity.pdf
step sha256sum audit-report.pdf activity.pdf
test -z "$(git status --porcelain)"  # nothing auditpipe wrote is left untracked
printf '\nwalk-through repository: %s\n' "$repo"
