"""An independent verifier accepts what auditpipe writes.

The verification code in this module imports nothing from auditpipe: only
``cryptography``, ``base64``, ``json``, ``hashlib`` and the DSSE PAE rule written
out here, and the README's "Verify without auditpipe" steps (securesystemslib,
in-toto-attestation, cryptography + PAE), run exactly as written. auditpipe is
used (through the CLI) to create the entry; the trusted public key is the file
``policies/keys/<keyid>.pem`` in the repository.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from securesystemslib.signer import SSlibKey

from tests.conftest import GIT_ENV, Project, Result

Cli = Callable[..., Result]

BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
IN_TOTO = "application/vnd.in-toto+json"


class Rejected(Exception):
    """The independent verifier said no."""


def dsse_pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding, straight from the DSSE spec."""
    type_bytes = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(type_bytes), type_bytes, len(payload), payload)


def keyid_of_pem(pem: bytes) -> str:
    key = serialization.load_pem_public_key(pem)
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


def independent_verify(bundle_bytes: bytes, trusted_pem: bytes) -> bytes:
    """Check a key-signed sigstore bundle v0.3 the way any third party could.

    Returns the DSSE payload; raises ``Rejected`` when anything does not hold.
    """
    bundle = json.loads(bundle_bytes)
    if bundle.get("mediaType") != BUNDLE_MEDIA_TYPE:
        raise Rejected(f"mediaType {bundle.get('mediaType')!r}")
    material = bundle["verificationMaterial"]
    if material.get("tlogEntries") != []:
        raise Rejected("tlogEntries is not empty")
    public_key = serialization.load_pem_public_key(trusted_pem)
    if not isinstance(public_key, ec.EllipticCurvePublicKey):
        raise Rejected("trusted key is not ECDSA")
    if public_key.curve.name != "secp256r1":
        raise Rejected(f"trusted key is on {public_key.curve.name}, not P-256")
    keyid = keyid_of_pem(trusted_pem)
    if material["publicKey"]["hint"] != keyid:
        raise Rejected("publicKey.hint is not the trusted key's keyid")
    envelope = bundle["dsseEnvelope"]
    if envelope["payloadType"] != IN_TOTO:
        raise Rejected(f"payloadType {envelope['payloadType']!r}")
    payload = base64.b64decode(envelope["payload"], validate=True)
    signatures = envelope["signatures"]
    if len(signatures) != 1:
        raise Rejected("expected exactly one signature")
    signature = base64.b64decode(signatures[0]["sig"], validate=True)
    try:
        public_key.verify(
            signature, dsse_pae(envelope["payloadType"], payload), ec.ECDSA(hashes.SHA256())
        )
    except InvalidSignature:
        raise Rejected("signature does not verify") from None
    return payload


# -- helpers that create entries (auditpipe via its CLI, git for reading) -----


def stored_bundle(root: Path, entry_id: str) -> bytes:
    proc = subprocess.run(
        ["git", "show", f"auditpipe/ledger:entries/{entry_id[:2]}/{entry_id}.sigstore.json"],
        cwd=root,
        capture_output=True,
        env={**os.environ, **GIT_ENV},
        check=True,
    )
    return proc.stdout


def trusted_key_file(root: Path, keyid: str) -> Path:
    path = root / "policies" / "keys" / f"{keyid}.pem"
    assert path.is_file(), sorted(p.name for p in path.parent.iterdir())
    return path


@pytest.fixture
def entry(project: Project, cli: Cli) -> tuple[Project, str, bytes]:
    result = cli("record", "--stage", "train", "--out", "src/train.py", "--metric", "acc=0.9")
    assert result.code == 0, result.err
    entry_id = result.out.strip()
    return project, entry_id, stored_bundle(project.root, entry_id)


def test_independent_verifier_accepts_a_stored_bundle(entry) -> None:
    project, entry_id, bundle_bytes = entry
    bundle = json.loads(bundle_bytes)
    keyid = bundle["verificationMaterial"]["publicKey"]["hint"]
    pem = trusted_key_file(project.root, keyid).read_bytes()

    assert keyid == keyid_of_pem(pem)  # keyid is sha256 of the public key's DER
    assert bundle["mediaType"] == BUNDLE_MEDIA_TYPE
    assert bundle["verificationMaterial"]["tlogEntries"] == []
    assert bundle["dsseEnvelope"]["payloadType"] == IN_TOTO
    # The signature names the key by the keyid securesystemslib computes for it.
    sslib_key = SSlibKey.from_crypto(serialization.load_pem_public_key(pem))
    assert bundle["dsseEnvelope"]["signatures"][0]["keyid"] == sslib_key.keyid

    payload = independent_verify(bundle_bytes, pem)
    assert hashlib.sha256(payload).hexdigest() == entry_id
    statement = json.loads(payload)
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["predicate"]["metrics"] == {"acc": 0.9}


def test_trusted_key_file_is_the_signers_exported_key(entry, cli: Cli) -> None:
    project, _entry_id, bundle_bytes = entry
    keyid = json.loads(bundle_bytes)["verificationMaterial"]["publicKey"]["hint"]
    exported = cli("keys", "export")
    assert exported.code == 0, exported.err
    assert keyid_of_pem(exported.out.encode()) == keyid
    assert (project.config_dir / "keys" / "default.pub").read_bytes() == exported.out.encode()


def _flip_base64_char(text: str) -> str:
    middle = len(text) // 2
    replacement = "A" if text[middle] != "A" else "B"
    return text[:middle] + replacement + text[middle + 1 :]


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(
            lambda b: b["dsseEnvelope"].update(
                payload=_flip_base64_char(b["dsseEnvelope"]["payload"])
            ),
            id="payload-byte",
        ),
        pytest.param(
            lambda b: b["dsseEnvelope"]["signatures"][0].update(
                sig=_flip_base64_char(b["dsseEnvelope"]["signatures"][0]["sig"])
            ),
            id="signature-byte",
        ),
        pytest.param(
            lambda b: b["dsseEnvelope"].update(payloadType="application/json"), id="payload-type"
        ),
        pytest.param(lambda b: b.update(mediaType="application/json"), id="media-type"),
    ],
)
def test_independent_verifier_rejects_tampered_bundles(entry, tamper) -> None:
    """Controls: the independent verifier is not a rubber stamp."""
    project, _entry_id, bundle_bytes = entry
    bundle = json.loads(bundle_bytes)
    pem = trusted_key_file(project.root, bundle["verificationMaterial"]["publicKey"]["hint"])
    tamper(bundle)
    with pytest.raises(Rejected):
        independent_verify(json.dumps(bundle).encode(), pem.read_bytes())


def test_independent_verifier_rejects_another_key(entry) -> None:
    _project, _entry_id, bundle_bytes = entry
    stranger = ec.generate_private_key(ec.SECP256R1()).public_key()
    pem = stranger.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(Rejected):
        independent_verify(bundle_bytes, pem)
    # even when the attacker also rewrites the hint to the stranger's keyid
    bundle = json.loads(bundle_bytes)
    bundle["verificationMaterial"]["publicKey"]["hint"] = keyid_of_pem(pem)
    bundle["dsseEnvelope"]["signatures"][0]["keyid"] = keyid_of_pem(pem)
    with pytest.raises(Rejected, match="signature does not verify"):
        independent_verify(json.dumps(bundle).encode(), pem)


# -- the README's "Verify without auditpipe" steps, run as written -----------------


README = Path(__file__).resolve().parents[2] / "README.md"


def readme_steps() -> list[tuple[str, str]]:
    """(language, code) of each fenced block in the README's section, in order."""
    text = README.read_text()
    section = text.split("\n## Verify without auditpipe\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"^```(\w+)\n(.*?)^```$", section, flags=re.S | re.M)
    assert [lang for lang, _ in blocks] == ["sh", "python", "python", "python"], blocks
    return blocks


def run_step(
    lang: str, code: str, cwd: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    assert "import auditpipe" not in code and "from auditpipe" not in code
    command = ["bash", "-euc", code] if lang == "sh" else [sys.executable, "-I", "-c", code]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)


@pytest.fixture
def readme_entry(project: Project, cli: Cli) -> tuple[Path, str, dict[str, str]]:
    result = cli("record", "--stage", "train", "--out", "src/train.py", "--metric", "acc=0.9")
    assert result.code == 0, result.err
    entry_id = result.out.strip()
    keyid = json.loads(stored_bundle(project.root, entry_id))["verificationMaterial"]["publicKey"][
        "hint"
    ]
    env = {**os.environ, **GIT_ENV, "ENTRY": entry_id, "KEYID": keyid}
    fetch = readme_steps()[0]
    fetched = run_step(*fetch, project.root, env)
    assert fetched.returncode == 0, fetched.stderr
    return project.root, entry_id, env


def test_readme_steps_verify_an_entry(readme_entry) -> None:
    root, entry_id, env = readme_entry
    _fetch, by_pae, by_sslib, by_in_toto = readme_steps()
    assert (root / "entry.json").read_bytes() == stored_bundle(root, entry_id)

    pae_run = run_step(*by_pae, root, env)
    assert pae_run.returncode == 0, pae_run.stderr
    assert pae_run.stdout.strip() == f"verified entry {entry_id}"

    sslib_run = run_step(*by_sslib, root, env)
    assert sslib_run.returncode == 0, sslib_run.stderr
    expected_keyid = SSlibKey.from_crypto(
        serialization.load_pem_public_key((root / "key.pem").read_bytes())
    ).keyid
    assert sslib_run.stdout.strip() == f"verified by {expected_keyid}"

    in_toto_run = run_step(*by_in_toto, root, env)
    assert in_toto_run.returncode == 0, in_toto_run.stderr
    assert in_toto_run.stdout.strip() == "https://auditpipe.dev/stage-run/v1 ['src/train.py']"


def test_readme_steps_reject_a_tampered_entry(readme_entry) -> None:
    """Controls: each verifying step fails on a flipped signature or another key."""
    root, _entry_id, env = readme_entry
    _fetch, by_pae, by_sslib, _by_in_toto = readme_steps()
    original = (root / "entry.json").read_bytes()
    bundle = json.loads(original)
    sig = bundle["dsseEnvelope"]["signatures"][0]["sig"]
    bundle["dsseEnvelope"]["signatures"][0]["sig"] = _flip_base64_char(sig)
    (root / "entry.json").write_text(json.dumps(bundle))
    for step in (by_pae, by_sslib):
        result = run_step(*step, root, env)
        assert result.returncode != 0, result.stdout
        assert "InvalidSignature" in result.stderr or "VerificationError" in result.stderr

    (root / "entry.json").write_bytes(original)
    stranger = ec.generate_private_key(ec.SECP256R1()).public_key()
    (root / "key.pem").write_bytes(
        stranger.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    for step in (by_pae, by_sslib):
        result = run_step(*step, root, env)
        assert result.returncode != 0, result.stdout
