"""``auditpipe init`` and ``auditpipe keys ...``: set a repository and its keys up."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

from cyclopts import App, Parameter

from auditpipe.cli.app import app, err, out, print_json
from auditpipe.errors import ConfigError, SigningKeyError

if TYPE_CHECKING:
    from auditpipe.signing.keys import KeyStore
    from auditpipe.workspace import Workspace

DEFAULT_KEY_NAME = "default"  # auditpipe.signing.keys.DEFAULT_KEY_NAME, without the import
TRUSTED_KEYS_DIR = Path("policies") / "keys"

keys_app = App(name="keys", help="Create, list, trust and export signing keys.")
app.command(keys_app)

STARTER_PIPELINE = """\
# auditpipe pipeline: each stage's runs are signed into the ledger branch.
# See the README ("The pipeline: auditpipe.yaml") for every field.
# Remove the leading "# " of the example below, adapt it, then `auditpipe run`.
#
# params: params.yaml             # the values stages read (YAML, JSON or TOML)
stages:
  # prepare:
  #   cmd: python src/prepare.py
  #   deps: [src/prepare.py, data/raw/data.csv]
  #   params: [prepare.seed]      # dotted keys, or a whole section: [prepare]
  #   outs: [data/prepared/train.parquet]
  #   validate:                   # data file -> Great Expectations suite, run after cmd;
  #                               # a failing suite stops the line. Draft a suite with
  #                               # `auditpipe suite init DATA -o expectations/train.json`
  #     data/prepared/train.parquet: expectations/train.json
  # train:
  #   cmd: python src/train.py
  #   deps: [src/train.py, data/prepared/train.parquet]
  #   outs: [models/model.pkl]
  #   metrics: [metrics/train.json]
"""


def _passphrase(passphrase_env: str | None) -> bytes | None:
    if passphrase_env is None:
        return None
    value = os.environ.get(passphrase_env)
    if not value:
        raise SigningKeyError(
            f"environment variable {passphrase_env} (from --passphrase-env) is empty or unset",
            hint=f"export {passphrase_env} with the passphrase to protect the key",
        )
    return value.encode()


@keys_app.command
def generate(
    *, name: str = DEFAULT_KEY_NAME, passphrase_env: str | None = None, json: bool = False
) -> int:
    """Generate an ECDSA P-256 signing key in your config directory.

    Parameters
    ----------
    name
        Name of the key (default: "default").
    passphrase_env
        Name of an environment variable holding a passphrase to encrypt the key.
    json
        Print machine-readable output.
    """
    from auditpipe.signing.keys import KeyStore

    info = KeyStore().generate(name, _passphrase(passphrase_env))
    if json:
        print_json({"name": info.name, "keyid": info.keyid, "path": str(info.private_path)})
    else:
        out.print(f"created key {info.name} ({info.keyid})")
        out.print(f"private key: {info.private_path}")
        out.print("trust it in a repository with `auditpipe keys trust` or `auditpipe init`")
    return 0


@keys_app.command(name="list")
def list_keys(*, json: bool = False) -> int:
    """List your signing keys.

    Parameters
    ----------
    json
        Print machine-readable output.
    """
    from auditpipe.signing.keys import KeyStore

    keys = KeyStore().list()
    if json:
        print_json([{"name": k.name, "keyid": k.keyid, "encrypted": k.encrypted} for k in keys])
        return 0
    if not keys:
        out.print("no keys yet: create one with `auditpipe keys generate`")
    for k in keys:
        sys.stdout.write(f"{k.name}\t{k.keyid}\t{'encrypted' if k.encrypted else 'unencrypted'}\n")
    return 0


@keys_app.command
def trust(pubkey: Path, /) -> int:
    """Trust a public key in this repository (writes policies/keys/<keyid>.pem).

    Parameters
    ----------
    pubkey
        A PEM public key file, e.g. from `auditpipe keys export`.
    """
    from auditpipe.signing.keys import TrustedKeys
    from auditpipe.workspace import Workspace

    workspace = Workspace.discover()
    keyid = TrustedKeys(workspace.root / TRUSTED_KEYS_DIR).trust(pubkey)
    out.print(f"trusted {keyid} -> {TRUSTED_KEYS_DIR / (keyid + '.pem')}")
    return 0


@keys_app.command
def export(
    *,
    name: str = DEFAULT_KEY_NAME,
    output: Annotated[Path | None, Parameter(name=["-o", "--output"])] = None,
) -> int:
    """Print (or write) a key's public half as PEM.

    Parameters
    ----------
    name
        Name of the key.
    output
        Write to this file instead of standard output.
    """
    from auditpipe.signing.keys import KeyStore, public_pem

    pem = public_pem(KeyStore().public_key(name))
    if output is not None:
        output.write_bytes(pem)
    else:
        out.file.write(pem.decode())
    return 0


@app.command
def init(*, passphrase_env: str | None = None) -> int:
    """Prepare this git repository: ledger branch, signing key, trust, starter files.

    Running it again changes nothing that already exists.

    Parameters
    ----------
    passphrase_env
        Encrypt a newly created key with the passphrase in this environment variable.
    """
    from auditpipe.ledger.ledger import Ledger
    from auditpipe.signing.keys import KeyStore
    from auditpipe.workspace import Workspace

    workspace = Workspace.discover()
    done: list[str] = []
    from auditpipe.errors import LedgerError
    from auditpipe.ledger.sync import fetch_existing_ledger

    try:
        if fetch_existing_ledger(workspace):
            done.append("fetched ledger branch auditpipe/ledger from origin (verified)")
    except LedgerError as exc:  # offline or unreachable: start empty; a later pull merges
        err.print(
            f"warning: could not fetch origin's ledger: {exc.message}; "
            "run `auditpipe ledger pull` later"
        )
    with Ledger(workspace) as ledger:
        if ledger.ensure_branch():
            done.append("created ledger branch auditpipe/ledger")
    store = KeyStore()
    if not store.exists(DEFAULT_KEY_NAME):
        info = store.generate(DEFAULT_KEY_NAME, _passphrase(passphrase_env))
        done.append(f"created signing key {info.keyid} in {info.private_path.parent}")
    keyid_file = _trust_own_key(workspace, store)
    if keyid_file:
        done.append(f"trusted your key: {keyid_file}")
    policy = workspace.root / "policies" / "default.yaml"
    if not policy.exists() and not policy.is_symlink():
        from importlib import resources

        starter = resources.files("auditpipe.policy").joinpath("starters", "default.yaml")
        policy.parent.mkdir(parents=True, exist_ok=True)
        policy.write_text(starter.read_text(encoding="utf-8"), encoding="utf-8")
        done.append("wrote policies/default.yaml")
    pipeline = workspace.root / "auditpipe.yaml"
    from auditpipe.pipeline.dvc.project import find_dvc_files

    dvc_files = [] if pipeline.exists() else find_dvc_files(workspace.root)
    if dvc_files:
        # A DVC project keeps its one pipeline definition; auditpipe reads it as is.
        done.append(
            f"found {', '.join(dvc_files)}: the existing DVC pipeline will be used "
            "(no auditpipe.yaml written)"
        )
    elif not pipeline.exists():
        pipeline.write_text(STARTER_PIPELINE)
        done.append("wrote auditpipe.yaml")
    for line in done or ["already initialized; nothing to do"]:
        out.print(line)
    return 0


def _trust_own_key(workspace: Workspace, store: KeyStore) -> str | None:
    from auditpipe.signing.keys import TrustedKeys, keyid_of

    trusted = TrustedKeys(workspace.root / TRUSTED_KEYS_DIR)
    keyid = keyid_of(store.public_key(DEFAULT_KEY_NAME))
    target = trusted.directory / f"{keyid}.pem"
    if target.exists():
        return None
    try:
        trusted.trust(store.directory / f"{DEFAULT_KEY_NAME}.pub")
    except ConfigError as exc:
        raise SigningKeyError(exc.message, path=exc.path, hint=exc.hint) from exc
    return str(target.relative_to(workspace.root))
