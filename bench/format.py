"""Cost of the one-byte-form checks in `verify --ledger`, against the same walk without them.

    python bench/format.py [--entries 2000] [--rounds 5]

Builds a throw-away ledger of signed stage-run entries (the statements of
``bench/ledger.py``), then verifies it alternately with every check and with
the format checks switched off (bundle and payload byte form, names, commit
messages): the baseline, measured in the same run on the same objects. Prints
the best round of each and their ratio; the absolute target is >= 2,000/s.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ledger import statement_bytes

from auditpipe.ledger import commits, verify
from auditpipe.ledger import format as entry_format
from auditpipe.ledger.gitstore import GitStore
from auditpipe.ledger.ledger import Ledger
from auditpipe.manifest import statement
from auditpipe.manifest.statement import SignedStatement
from auditpipe.signing.keys import KeyStore, TrustedKeys
from auditpipe.signing.local import LocalSigner, LocalVerifier
from auditpipe.workspace import Workspace


@contextlib.contextmanager
def without_format_checks() -> Iterator[None]:
    """The verify walk as it was before the format checks (the baseline): no byte
    form, name or message checks, the payload parsed without the canonical and
    duplicate-key checks, the entry read without its size check."""
    saved = (
        entry_format.check_entry,
        commits.message_defect,
        SignedStatement.parse,
        statement.load_json,
        GitStore.bounded_blob,
    )
    plain_parse = SignedStatement.parse.__func__  # type: ignore[attr-defined]
    entry_format.check_entry = lambda *_a: False  # type: ignore[assignment]
    commits.message_defect = lambda *_a: None  # type: ignore[assignment]
    SignedStatement.parse = classmethod(  # type: ignore[method-assign,assignment]
        lambda cls, raw, require_canonical=False: plain_parse(cls, raw, require_canonical=False)
    )
    statement.load_json = lambda raw: json.loads(raw, parse_int=statement._parse_int)
    GitStore.bounded_blob = lambda self, sha, _limit: self.blob(sha)  # type: ignore[method-assign]
    try:
        yield
    finally:
        entry_format.check_entry, commits.message_defect = saved[0], saved[1]
        SignedStatement.parse = saved[2]  # type: ignore[method-assign]
        statement.load_json, GitStore.bounded_blob = saved[3], saved[4]  # type: ignore[method-assign]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=2_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="auditpipe-bench-format-"))
    root = work / "repo"
    root.mkdir(parents=True)
    os.environ["AUDITPIPE_CONFIG_DIR"] = str(work / "config")
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, check=True)
    keys = KeyStore(work / "config" / "keys")
    keys.generate("default")
    TrustedKeys(root / "policies" / "keys").trust(keys.directory / "default.pub")
    signer = LocalSigner(keys.private_key("default"), "default")
    ledger = Ledger(Workspace.discover(root))
    for n in range(args.entries):
        ledger.append(signer.sign(statement_bytes(n)))
    verifier = LocalVerifier(TrustedKeys(root / "policies" / "keys").load())

    def rate() -> float:
        with Ledger(Workspace.discover(root)) as fresh:  # cold tree cache each round
            start = time.perf_counter()
            report = verify.verify_ledger(fresh.store, verifier, record=False)
            elapsed = time.perf_counter() - start
        assert report.ok, report.problems[:3]
        return report.entries / elapsed

    strict, baseline = [], []
    for _ in range(args.rounds):
        strict.append(rate())
        with without_format_checks():
            baseline.append(rate())
    best, base = max(strict), max(baseline)
    load = os.getloadavg()[0]
    print(f"{args.entries:,} entries, best of {args.rounds} alternating rounds, load {load:.1f}")
    print("| verify --ledger, in-process | entries/s | ratio |")
    print("|---|---|---|")
    print(f"| without format checks (baseline) | {base:,.0f} | 1.00x |")
    print(f"| with every check | {best:,.0f} | {best / base:.2f}x |")
    print(f"target >= 2,000/s: {'met' if best >= 2000 else 'NOT met'} in this run")


if __name__ == "__main__":
    main()
