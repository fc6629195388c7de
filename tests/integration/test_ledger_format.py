"""One byte form per entry: every malleable or malformed entry is caught by ``verify --ledger``.

Each crafted entry is signed with the project's own trusted key and appended to
a real git ledger with git plumbing, with its correct index paths and commit
message, so the format defect under test is the only thing wrong with it. The
control (a well-formed crafted entry appended the same way) verifies.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sigstore_models.bundle.v1 import Bundle

from auditpipe.ledger import layout
from auditpipe.manifest import canonical_bytes, pae
from auditpipe.signing import KeyStore
from auditpipe.signing.bundle import BUNDLE_MEDIA_TYPE
from auditpipe.signing.der import P256_N, low_s
from auditpipe.signing.keys import keyid_of, securesystemslib_keyid
from tests.conftest import Result
from tests.integration.test_ledger_tamper import (  # noqa: F401 (ledger3 is a fixture)
    LEDGER_REF,
    Ledger3,
    commit_on_ledger,
    entry_path,
    ledger3,
    plumb,
    verify_fails,
)

Cli = Callable[..., Result]
IN_TOTO = "application/vnd.in-toto+json"


# -- crafting entries signed by the trusted key -------------------------------------


class Crafter:
    """Builds statements, signatures and bundles with the project's trusted key."""

    def __init__(self, ledger: Ledger3) -> None:
        self.ledger = ledger
        self.key = KeyStore(ledger.project.config_dir / "keys").private_key("default")
        self.keyid = keyid_of(self.key.public_key())
        self.sslib_keyid = securesystemslib_keyid(self.key.public_key())
        honest = json.loads(ledger.bundle(ledger.ids[-1]))
        self.template: dict[str, Any] = json.loads(
            base64.b64decode(honest["dsseEnvelope"]["payload"])
        )

    def statement(self, **predicate: Any) -> dict[str, Any]:
        statement = json.loads(json.dumps(self.template))
        statement["predicate"].update({"stage": "crafted", **predicate})
        return statement

    def sign(self, payload: bytes, *, high_s: bool = False) -> bytes:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.asymmetric.utils import (
            decode_dss_signature,
            encode_dss_signature,
        )

        signature = low_s(self.key.sign(pae(IN_TOTO, payload), ec.ECDSA(hashes.SHA256())))
        if high_s:
            r, s = decode_dss_signature(signature)
            signature = encode_dss_signature(r, P256_N - s)
        return signature

    def bundle(self, payload: bytes, signature: bytes, *, sig_keyid: str | None = None) -> dict:
        return {
            "mediaType": BUNDLE_MEDIA_TYPE,
            "verificationMaterial": {"publicKey": {"hint": self.keyid}, "tlogEntries": []},
            "dsseEnvelope": {
                "payload": base64.b64encode(payload).decode(),
                "payloadType": IN_TOTO,
                "signatures": [
                    {
                        "sig": base64.b64encode(signature).decode(),
                        "keyid": sig_keyid or self.sslib_keyid,
                    }
                ],
            },
        }

    def append(
        self, payload: bytes, bundle_bytes: bytes, *, message: str | None = None
    ) -> tuple[str, str]:
        """Append via plumbing with the right index paths and message: (entry id, commit)."""
        entry_id = hashlib.sha256(payload).hexdigest()
        changes = {entry_path(entry_id): bundle_bytes, **self.index_changes(entry_id, payload)}
        stage = json.loads(payload)["predicate"].get("stage")
        commit = commit_on_ledger(
            self.ledger.root,
            changes,
            message=message or layout.commit_message(entry_id, "stage-run", stage),
        )
        return entry_id, commit

    @staticmethod
    def index_changes(entry_id: str, payload: bytes) -> dict[str, bytes | None]:
        statement = json.loads(payload)  # lenient on purpose: the crafted bytes may be odd
        predicate = statement["predicate"]
        paths = layout.index_paths(
            entry_id,
            "stage-run",
            predicate.get("stage"),
            [s["digest"]["sha256"] for s in statement["subject"]],
            predicate.get("stageKey"),
            [m["digest"]["sha256"] for m in predicate.get("materials", [])],
        )
        return {"/".join(p.decode() for p in path): b"" for path in paths}


@pytest.fixture
def craft(ledger3: Ledger3) -> Crafter:  # noqa: F811
    return Crafter(ledger3)


def ledger_log(cli: Cli) -> list[dict[str, Any]]:
    result = cli("log", "--json")
    assert result.code == 0, result.err
    return json.loads(result.out)


# -- control ---------------------------------------------------------------------------


def test_well_formed_crafted_entry_verifies(craft: Crafter, cli: Cli) -> None:
    payload = canonical_bytes(craft.statement())
    bundle = canonical_bytes(craft.bundle(payload, craft.sign(payload)))
    entry_id, _commit = craft.append(payload, bundle)
    result = cli("verify", "--ledger")
    assert result.code == 0, result.err
    assert "ledger OK: 4 entries in 5 commits" in result.out
    assert entry_id in {e["id"] for e in ledger_log(cli)}


def test_auditpipe_writes_the_canonical_form(ledger3: Ledger3) -> None:  # noqa: F811
    for entry_id in ledger3.ids:
        raw = ledger3.bundle(entry_id)
        assert canonical_bytes(json.loads(raw)) == raw
        sig = json.loads(raw)["dsseEnvelope"]["signatures"][0]["sig"]
        assert low_s(base64.b64decode(sig)) == base64.b64decode(sig)


# -- statements: RFC 8785 form, duplicate keys, names -----------------------------------


def _duplicate_subject(craft: Crafter) -> bytes:
    statement = craft.statement()
    honest = canonical_bytes(statement)
    evil = json.dumps([{"name": "evil.pkl", "digest": statement["subject"][0]["digest"]}])
    # Python's json keeps the last "subject", other parsers the first.
    return honest[:-1] + b',"subject":' + evil.replace(" ", "").encode() + b"}"


@pytest.mark.parametrize(
    ("make_payload", "defect"),
    [
        pytest.param(
            lambda c: json.dumps(c.statement(), indent=2, sort_keys=True).encode(),
            "not RFC 8785 canonical",
            id="pretty-printed",
        ),
        pytest.param(
            lambda c: json.dumps(
                dict(reversed(c.statement().items())), separators=(",", ":")
            ).encode(),
            "not RFC 8785 canonical",
            id="unsorted-keys",
        ),
        pytest.param(_duplicate_subject, "duplicate JSON key 'subject'", id="duplicate-subject"),
    ],
)
def test_statement_not_in_its_one_form(
    craft: Crafter, cli: Cli, make_payload: Callable[[Crafter], bytes], defect: str
) -> None:
    payload = make_payload(craft)
    bundle = canonical_bytes(craft.bundle(payload, craft.sign(payload)))
    entry_id, _ = craft.append(payload, bundle)
    verify_fails(cli, entry_id, defect)


def _with_name(craft: Crafter, where: str, name: str) -> dict[str, Any]:
    statement = craft.statement()
    if where == "subject":
        statement["subject"][0]["name"] = name
    else:
        digest = statement["subject"][0]["digest"]
        statement["predicate"]["materials"] = [{"name": name, "digest": digest, "kind": "file"}]
    return statement


@pytest.mark.parametrize(
    ("where", "name", "defect"),
    [
        ("subject", "../../etc/evil.pkl", "contains '..'"),
        ("subject", "/etc/evil.pkl", "is absolute"),
        ("subject", "models/./model.pkl", "is not a normalized path"),
        ("subject", "models//model.pkl", "is not a normalized path"),
        ("subject", "models\\model.pkl", "backslash"),
        ("material", "data/../../secret.csv", "contains '..'"),
        ("subject", "s3://bucket/../escape", "'..'"),
        ("subject", "ftp://host/file", "URL scheme 'ftp'"),
    ],
)
def test_subject_and_material_names(
    craft: Crafter, cli: Cli, where: str, name: str, defect: str
) -> None:
    payload = canonical_bytes(_with_name(craft, where, name))
    entry_id, _ = craft.append(payload, canonical_bytes(craft.bundle(payload, craft.sign(payload))))
    err = verify_fails(cli, entry_id, defect)
    assert f"{where} name" in err


@pytest.mark.parametrize("name", ["s3://bucket/data/train.parquet", "gs://b/x", "https://h/a/b"])
def test_object_store_urls_stay_valid(craft: Crafter, cli: Cli, name: str) -> None:
    payload = canonical_bytes(_with_name(craft, "material", name))
    craft.append(payload, canonical_bytes(craft.bundle(payload, craft.sign(payload))))
    result = cli("verify", "--ledger")
    assert result.code == 0, result.err


# -- bundles: RFC 8785 form, one signature, base64, low S, known fields --------------------


def _urlsafe_signature(craft: Crafter, payload: bytes) -> bytes:
    for _ in range(64):  # a DER signature whose base64 has '+' or '/'
        signature = craft.sign(payload)
        text = base64.b64encode(signature).decode()
        if "+" in text or "/" in text:
            bundle = craft.bundle(payload, signature)
            bundle["dsseEnvelope"]["signatures"][0]["sig"] = base64.urlsafe_b64encode(
                signature
            ).decode()
            return canonical_bytes(bundle)
    raise AssertionError("no signature with '+' or '/' in 64 tries")


def _with(path: tuple[str, ...], value: Any) -> Callable[[dict], None]:
    def change(bundle: dict) -> None:
        node = bundle
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return change


BUNDLE_DEFECTS: list[Any] = [
    pytest.param(
        lambda c, p: json.dumps(c.bundle(p, c.sign(p)), indent=1).encode(),
        "not its canonical RFC 8785 form",
        id="reformatted-json",
    ),
    pytest.param(
        lambda c, p: json.dumps(c.bundle(p, c.sign(p)), separators=(",", ":")).encode(),
        "not its canonical RFC 8785 form",
        id="key-order",
    ),
    pytest.param(
        lambda c, p: canonical_bytes(c.bundle(p, c.sign(p, high_s=True))),
        "high S",
        id="high-s",
    ),
    pytest.param(_urlsafe_signature, "base64", id="urlsafe-base64"),
    pytest.param(
        lambda c, p: canonical_bytes(c.bundle(p, c.sign(p), sig_keyid=c.keyid)),
        "signature keyid is the hint",
        id="keyid-is-hint",
    ),
]


@pytest.mark.parametrize(("make_bundle", "defect"), BUNDLE_DEFECTS)
def test_bundle_not_in_its_one_form(
    craft: Crafter, cli: Cli, make_bundle: Callable[[Crafter, bytes], bytes], defect: str
) -> None:
    payload = canonical_bytes(craft.statement())
    entry_id, _ = craft.append(payload, make_bundle(craft, payload))
    verify_fails(cli, entry_id, defect)


@pytest.mark.parametrize(
    ("change", "defect"),
    [
        pytest.param(_with(("extra",), 1), "extra: Extra inputs are not permitted", id="bundle"),
        pytest.param(
            _with(("dsseEnvelope", "note"), "x"), "dsseEnvelope.note: Extra inputs", id="env"
        ),
        pytest.param(
            _with(("dsseEnvelope", "signatures", 0, "cert"), "x"),
            "cert: Extra inputs",
            id="signature",
        ),
        pytest.param(
            _with(("verificationMaterial", "publicKey", "rawBytes"), "AAAA"),
            "rawBytes: Extra inputs",
            id="public-key",
        ),
    ],
)
def test_unknown_fields(
    craft: Crafter, cli: Cli, change: Callable[[dict], None], defect: str
) -> None:
    payload = canonical_bytes(craft.statement())
    bundle = craft.bundle(payload, craft.sign(payload))
    change(bundle)
    entry_id, _ = craft.append(payload, canonical_bytes(bundle))
    verify_fails(cli, entry_id, defect)


def test_second_garbage_signature(craft: Crafter, cli: Cli) -> None:
    payload = canonical_bytes(craft.statement())
    bundle = craft.bundle(payload, craft.sign(payload))
    bundle["dsseEnvelope"]["signatures"].append({"sig": "AAAA", "keyid": "x"})
    entry_id, _ = craft.append(payload, canonical_bytes(bundle))
    verify_fails(cli, entry_id, "exactly one")


def test_duplicate_key_in_bundle(craft: Crafter, cli: Cli) -> None:
    payload = canonical_bytes(craft.statement())
    honest = canonical_bytes(craft.bundle(payload, craft.sign(payload)))
    assert honest.startswith(b'{"dsseEnvelope":')
    duplicated = b'{"mediaType":"application/json",' + honest[1:]
    entry_id, _ = craft.append(payload, duplicated)
    verify_fails(cli, entry_id, "duplicate JSON key 'mediaType'")


# -- layout: only the paths of the layout table --------------------------------------------


@pytest.mark.parametrize(
    "path", ["entries/README.txt", "README.txt", "entries/ab/notes.txt", "checkpoints/x"]
)
def test_stray_file_in_the_ledger_tree(ledger3: Ledger3, cli: Cli, path: str) -> None:  # noqa: F811
    commit_on_ledger(ledger3.root, {path: b"hello\n"})
    verify_fails(cli, "outside the ledger layout", path.split("/")[0] if path[-1] == "x" else path)


# -- commits: one entry each, messages that agree ---------------------------------------------


def test_empty_commit_reannouncing_an_entry(ledger3: Ledger3, cli: Cli) -> None:  # noqa: F811
    victim = ledger3.ids[0]
    message = layout.commit_message(victim, "stage-run", "prepare")
    commit = commit_on_ledger(ledger3.root, {}, message=message)
    verify_fails(cli, victim, commit[:12], "commit adds no entry")
    # log lists each entry once: what a commit adds comes from its tree
    assert [e["id"] for e in ledger_log(cli)].count(victim) == 1


def test_commit_adding_two_entries(craft: Crafter, cli: Cli) -> None:
    payloads = [canonical_bytes(craft.statement(command=f"step {n}")) for n in (1, 2)]
    changes: dict[str, bytes | None] = {}
    ids = []
    for payload in payloads:
        entry_id = hashlib.sha256(payload).hexdigest()
        ids.append(entry_id)
        changes[entry_path(entry_id)] = canonical_bytes(craft.bundle(payload, craft.sign(payload)))
        changes.update(craft.index_changes(entry_id, payload))
    commit_on_ledger(
        craft.ledger.root, changes, message=layout.commit_message(ids[0], "stage-run", "crafted")
    )
    verify_fails(cli, "commit adds 2 entries", *ids)


@pytest.mark.parametrize(
    ("message", "defect"),
    [
        pytest.param(
            lambda i: layout.commit_message(i, "stage-run", "deploy"),
            "disagrees with the entry",
            id="other-stage-title",
        ),
        pytest.param(
            lambda i: (
                f"auditpipe: stage-run crafted\n\nEntry: {i}\nKind: stage-run\nStage: deploy\n"
            ),
            "Stage: deploy, but the entry's is crafted",
            id="other-stage-trailer",
        ),
        pytest.param(
            lambda i: layout.commit_message("f" * 64, "stage-run", "crafted"),
            "Entry: " + "f" * 64,
            id="other-entry",
        ),
        pytest.param(lambda i: "tamper\n", "not an auditpipe append message", id="free-text"),
    ],
)
def test_commit_message_disagreeing_with_its_entry(
    craft: Crafter, cli: Cli, message: Callable[[str], str], defect: str
) -> None:
    payload = canonical_bytes(craft.statement())
    entry_id = hashlib.sha256(payload).hexdigest()
    bundle = canonical_bytes(craft.bundle(payload, craft.sign(payload)))
    craft.append(payload, bundle, message=message(entry_id))
    verify_fails(cli, entry_id, defect)
    # log and show believe the signed statement, never the message
    listed = {e["id"]: e for e in ledger_log(cli)}
    assert listed[entry_id]["stage"] == "crafted"
    assert listed[entry_id]["kind"] == "stage-run"
    assert listed[entry_id]["time"] == craft.template["predicate"]["finishedAt"]
    shown = cli("show", entry_id[:12])
    assert shown.code == 0, shown.err
    assert "deploy" not in shown.out


def test_stage_filter_of_log_follows_the_statement(craft: Crafter, cli: Cli) -> None:
    payload = canonical_bytes(craft.statement())
    entry_id, _ = craft.append(
        payload,
        canonical_bytes(craft.bundle(payload, craft.sign(payload))),
        message=layout.commit_message(hashlib.sha256(payload).hexdigest(), "stage-run", "deploy"),
    )
    result = cli("log", "--stage", "deploy", "--json")
    assert result.code == 0, result.err
    assert entry_id not in result.out
    assert entry_id in cli("log", "--stage", "crafted", "--json").out


# -- size limit --------------------------------------------------------------------------------


@pytest.mark.parametrize("packed", [False, True], ids=["loose", "packed"])
def test_entry_over_the_size_limit(craft: Crafter, cli: Cli, packed: bool) -> None:
    payload = canonical_bytes(craft.statement(params={"blob": "x" * (17 * 1024 * 1024)}))
    entry_id, _ = craft.append(payload, canonical_bytes(craft.bundle(payload, craft.sign(payload))))
    if packed:
        plumb(craft.ledger.root, "repack", "-adq")
        objects = craft.ledger.root / ".git" / "objects"
        assert not any(p.name != "pack" and p.name != "info" for p in objects.iterdir())
    verify_fails(cli, entry_id, "over the 16 MiB size limit")
    shown = cli("show", entry_id)
    assert shown.code == 2, shown.err
    assert "16 MiB" in shown.err


# -- legacy entries (written before format 1) ---------------------------------------------------


def _legacy(craft: Crafter, finished_at: str) -> tuple[bytes, bytes]:
    """An entry as auditpipe 0.1 wrote it: sigstore_models' key order, keyid = hint, high S."""
    payload = canonical_bytes(craft.statement(finishedAt=finished_at))
    body = craft.bundle(payload, craft.sign(payload, high_s=True), sig_keyid=craft.keyid)
    return payload, Bundle.from_dict(body).to_json().encode()


def test_legacy_entry_dated_before_format_1_verifies_as_legacy(craft: Crafter, cli: Cli) -> None:
    payload, bundle = _legacy(craft, "2026-11-20T10:00:00.000000Z")
    entry_id, _ = craft.append(payload, bundle)
    result = cli("verify", "--ledger")
    assert result.code == 0, result.err
    assert "1 legacy entries" in result.out and entry_id[:12] in result.out
    report = json.loads(cli("verify", "--ledger", "--json").out)
    assert report["legacy"] == [entry_id]


def test_legacy_form_of_a_new_entry_is_rejected(craft: Crafter, cli: Cli) -> None:
    """Re-dressing a format-1 entry in the legacy form fails: its signed date is after."""
    payload, bundle = _legacy(craft, "2026-12-24T10:00:00.000000Z")
    entry_id, _ = craft.append(payload, bundle)
    verify_fails(cli, entry_id, "legacy form is accepted only for entries dated before")


def test_canonical_form_with_high_s_is_rejected_even_when_old(craft: Crafter, cli: Cli) -> None:
    payload = canonical_bytes(craft.statement(finishedAt="2026-11-20T10:00:00.000000Z"))
    bundle = canonical_bytes(craft.bundle(payload, craft.sign(payload, high_s=True)))
    entry_id, _ = craft.append(payload, bundle)
    verify_fails(cli, entry_id, "high S")


def test_git_reads_what_auditpipe_writes(ledger3: Ledger3) -> None:  # noqa: F811
    out = subprocess.run(
        ["git", "fsck", "--strict"], cwd=ledger3.root, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert plumb(ledger3.root, "rev-parse", LEDGER_REF) == ledger3.tip


def test_activity_report_follows_the_statement(craft: Crafter, cli: Cli, tmp_path: Path) -> None:
    """The auditor's activity report names the signed stage, not the commit message's."""
    payload = canonical_bytes(craft.statement(stage="crafted-stage"))
    bundle = canonical_bytes(craft.bundle(payload, craft.sign(payload)))
    # The message names another (real) entry and stage: a reader believing it
    # would list that entry twice and miss this one.
    lying = layout.commit_message(craft.ledger.ids[0], "stage-run", "deploy")
    craft.append(payload, bundle, message=lying)
    html, pdf = tmp_path / "activity.html", tmp_path / "activity.pdf"
    result = cli("report", "--ledger", "--html", str(html), "-o", str(pdf))
    # The report is written for the auditor, and the command fails: the ledger
    # does not match what is pinned for it (the message's entry "appended twice").
    assert result.code == 1, result.err
    assert "does not match what is pinned" in result.err
    text = html.read_text()
    assert "crafted-stage" in text
    # "deploy" appears only where the report says the message disagrees
    problem = re.compile(r"<li>[^<]*(disagrees with the entry|but the entry)[^<]*</li>")
    assert problem.search(text)
    assert "deploy" not in problem.sub("", text)
