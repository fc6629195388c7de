"""An offline stand-in for the public sigstore services, for tests.

The public Fulcio and Rekor cannot be reached from the test machines, so
``FakeSigstore`` plays both, with keys of its own, on ``127.0.0.1``:

- an OIDC issuer key that mints identity tokens (JWTs shaped like GitHub
  Actions' or an e-mail provider's),
- a root CA that answers Fulcio's ``POST /api/v2/signingCert`` with a
  short-lived code-signing certificate carrying the token's identity in its SAN,
  the OIDC issuer in extensions ``1.3.6.1.4.1.57264.1.1`` / ``.8`` (and the
  GitHub workflow extensions), and an embedded SCT from its own CT-log key,
- a Rekor v1 log that answers ``POST /api/v1/log/entries`` for ``dsse``
  entries with an inclusion promise (signed entry timestamp), an RFC 6962
  inclusion proof over all entries so far and a signed checkpoint.

It publishes those keys as a ``ClientTrustConfig`` (trusted root + signing
config pointing at itself). Nothing of sigstore-python is replaced: its real
``FulcioClient``/``RekorClient`` talk HTTP to this server, and its real
verifier (library or ``sigstore verify`` CLI) checks what comes back against
the published trusted root. Only the service side is fake.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import struct
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import rfc8785
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
AUDIENCE = "sigstore"
CERT_LIFETIME = dt.timedelta(minutes=10)
SCT_OID = x509.ObjectIdentifier("1.3.6.1.4.1.11129.2.4.2")
_EXT = "1.3.6.1.4.1.57264.1."  # Fulcio's extension arc
_EPOCH = "2020-01-01T00:00:00Z"


def _spki(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _der_len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _der_utf8(text: str) -> bytes:
    data = text.encode()
    return b"\x0c" + _der_len(len(data)) + data


def _der_octets(data: bytes) -> bytes:
    return b"\x04" + _der_len(len(data)) + data


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@dataclass
class _MerkleLog:
    """RFC 6962 Merkle tree over every entry body, with inclusion proofs."""

    leaves: list[bytes] = field(default_factory=list)

    @staticmethod
    def _node(left: bytes, right: bytes) -> bytes:
        return hashlib.sha256(b"\x01" + left + right).digest()

    def _root(self, leaves: list[bytes]) -> bytes:
        if len(leaves) == 1:
            return leaves[0]
        k = 1 << ((len(leaves) - 1).bit_length() - 1)
        return self._node(self._root(leaves[:k]), self._root(leaves[k:]))

    def _path(self, index: int, leaves: list[bytes]) -> list[bytes]:
        if len(leaves) == 1:
            return []
        k = 1 << ((len(leaves) - 1).bit_length() - 1)
        if index < k:
            return [*self._path(index, leaves[:k]), self._root(leaves[k:])]
        return [*self._path(index - k, leaves[k:]), self._root(leaves[:k])]

    def append(self, body: bytes) -> tuple[int, int, bytes, list[bytes]]:
        """Add a leaf; return (index, tree size, root hash, inclusion path)."""
        self.leaves.append(hashlib.sha256(b"\x00" + body).digest())
        index = len(self.leaves) - 1
        return index, len(self.leaves), self._root(self.leaves), self._path(index, self.leaves)


class FakeSigstore:
    """Fulcio + Rekor + an OIDC issuer, in-process, with a trusted root of their own."""

    def __init__(self, cert_lifetime: dt.timedelta = CERT_LIFETIME) -> None:
        self.cert_lifetime = cert_lifetime
        self.oidc_key = ec.generate_private_key(ec.SECP256R1())
        self.ca_key = ec.generate_private_key(ec.SECP384R1())
        self.ct_key = ec.generate_private_key(ec.SECP256R1())
        self.rekor_key = ec.generate_private_key(ec.SECP256R1())
        self.ct_log_id = hashlib.sha256(_spki(self.ct_key.public_key())).digest()
        self.rekor_log_id = hashlib.sha256(_spki(self.rekor_key.public_key())).digest()
        self.root_cert = self._make_root()
        self.log = _MerkleLog()
        self.certificates_issued = 0
        self.ambient_tokens_issued = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    # -- lifecycle ------------------------------------------------------------------

    def start(self) -> FakeSigstore:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                fake._handle(self)

            def do_GET(self) -> None:
                fake._handle(self)

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeSigstore:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what a project publishes -----------------------------------------------------

    def trusted_root(self) -> dict[str, Any]:
        def log(key: ec.EllipticCurvePrivateKey, log_id: bytes, url: str) -> dict[str, Any]:
            return {
                "baseUrl": url,
                "hashAlgorithm": "SHA2_256",
                "publicKey": {
                    "rawBytes": _b64(_spki(key.public_key())),
                    "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                    "validFor": {"start": _EPOCH},
                },
                "logId": {"keyId": _b64(log_id)},
            }

        return {
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [log(self.rekor_key, self.rekor_log_id, self.url)],
            "certificateAuthorities": [
                {
                    "subject": {"organization": "auditpipe-tests", "commonName": "fake-fulcio"},
                    "uri": self.url,
                    "certChain": {
                        "certificates": [
                            {
                                "rawBytes": _b64(
                                    self.root_cert.public_bytes(serialization.Encoding.DER)
                                )
                            }
                        ]
                    },
                    "validFor": {"start": _EPOCH},
                }
            ],
            "ctlogs": [log(self.ct_key, self.ct_log_id, self.url)],
            "timestampAuthorities": [],
        }

    def trust_config(self) -> dict[str, Any]:
        def service(url: str) -> dict[str, Any]:
            return {
                "url": url,
                "majorApiVersion": 1,
                "validFor": {"start": _EPOCH},
                "operator": "auditpipe-tests",
            }

        return {
            "mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json",
            "trustedRoot": self.trusted_root(),
            "signingConfig": {
                "mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json",
                "caUrls": [service(self.url)],
                "oidcUrls": [service(self.url)],
                "rekorTlogUrls": [service(self.url)],
                "tsaUrls": [],
                "rekorTlogConfig": {"selector": "ANY"},
                "tsaConfig": {"selector": "ANY"},
            },
        }

    def write_trust_config(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.trust_config(), indent=2) + "\n")
        return path

    # -- identity tokens --------------------------------------------------------------

    def github_token(
        self,
        repository: str = "acme/models",
        workflow: str = ".github/workflows/train.yml",
        ref: str = "refs/heads/main",
        lifetime: int = 300,
        issued_ago: int = 0,
    ) -> str:
        """A token shaped like GitHub Actions' (the SAN is the workflow's URL)."""
        return self.token(
            issuer=GITHUB_ISSUER,
            subject=f"repo:{repository}:ref:{ref}",
            lifetime=lifetime,
            issued_ago=issued_ago,
            repository=repository,
            ref=ref,
            sha="0" * 40,
            workflow="train",
            event_name="push",
            job_workflow_ref=f"{repository}/{workflow}@{ref}",
        )

    def email_token(self, email: str, issuer: str = "https://oidc.example.com") -> str:
        return self.token(issuer=issuer, subject=email, email=email, email_verified=True)

    def token(
        self,
        *,
        issuer: str,
        subject: str,
        lifetime: int = 300,
        issued_ago: int = 0,
        audience: str = AUDIENCE,
        **claims: Any,
    ) -> str:
        now = int(time.time()) - issued_ago
        body = {
            "iss": issuer,
            "sub": subject,
            "aud": audience,
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
            **claims,
        }
        return jwt.encode(body, self.oidc_key, algorithm="ES256")

    @staticmethod
    def san_for(claims: dict[str, Any]) -> str:
        """The identity Fulcio puts in the SAN for these token claims."""
        if claims["iss"] == GITHUB_ISSUER:
            return f"https://github.com/{claims['job_workflow_ref']}"
        return str(claims.get("email") or claims["sub"])

    # -- the CA ----------------------------------------------------------------------

    def _make_root(self) -> x509.Certificate:
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "auditpipe-tests"),
                x509.NameAttribute(NameOID.COMMON_NAME, "fake-fulcio"),
            ]
        )
        now = dt.datetime.now(dt.UTC)
        public = self.ca_key.public_key()
        return (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .sign(self.ca_key, hashes.SHA384())
        )

    def _issue(
        self, csr: x509.CertificateSigningRequest, claims: dict[str, Any]
    ) -> x509.Certificate:
        san = self.san_for(claims)
        general: x509.GeneralName = (
            x509.UniformResourceIdentifier(san) if "://" in san else x509.RFC822Name(san)
        )
        extensions: list[tuple[x509.ExtensionType, bool]] = [
            (
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                True,
            ),
            (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), False),
            (x509.SubjectKeyIdentifier.from_public_key(csr.public_key()), False),  # type: ignore[arg-type]
            (
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.ca_key.public_key()),
                False,
            ),
            (x509.SubjectAlternativeName([general]), True),
            # The issuer, in the deprecated raw form (what sigstore's Identity
            # policy checks) and the DER UTF8String form.
            (
                x509.UnrecognizedExtension(
                    x509.ObjectIdentifier(_EXT + "1"), claims["iss"].encode()
                ),
                False,
            ),
            (
                x509.UnrecognizedExtension(
                    x509.ObjectIdentifier(_EXT + "8"), _der_utf8(claims["iss"])
                ),
                False,
            ),
        ]
        if claims["iss"] == GITHUB_ISSUER:
            legacy = {"2": "event_name", "3": "sha", "4": "workflow", "5": "repository", "6": "ref"}
            for arc, claim in legacy.items():
                value = str(claims[claim]).encode()
                extensions.append(
                    (x509.UnrecognizedExtension(x509.ObjectIdentifier(_EXT + arc), value), False)
                )
            extensions.append(
                (
                    x509.UnrecognizedExtension(
                        x509.ObjectIdentifier(_EXT + "12"),
                        _der_utf8(f"https://github.com/{claims['repository']}"),
                    ),
                    False,
                )
            )
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        serial = x509.random_serial_number()

        def build(extra: list[tuple[x509.ExtensionType, bool]]) -> x509.Certificate:
            builder = (
                x509.CertificateBuilder()
                .subject_name(x509.Name([]))
                .issuer_name(self.root_cert.subject)
                .public_key(csr.public_key())  # type: ignore[arg-type]
                .serial_number(serial)
                .not_valid_before(now)
                .not_valid_after(now + self.cert_lifetime)
            )
            for ext, critical in [*extensions, *extra]:
                builder = builder.add_extension(ext, critical=critical)
            return builder.sign(self.ca_key, hashes.SHA384())

        # The SCT signs the precertificate: the final TBSCertificate without the
        # SCT list extension (what cryptography's tbs_precertificate_bytes gives).
        precert_tbs = build([]).tbs_certificate_bytes
        sct_list = self._sct(precert_tbs)
        cert = build([(x509.UnrecognizedExtension(SCT_OID, _der_octets(sct_list)), False)])
        assert cert.tbs_precertificate_bytes == precert_tbs
        return cert

    def _sct(self, precert_tbs: bytes) -> bytes:
        """An RFC 6962 SignedCertificateTimestampList with one SCT from our CT key."""
        timestamp = int(time.time() * 1000)
        issuer_key_hash = hashlib.sha256(_spki(self.ca_key.public_key())).digest()
        signed = (
            struct.pack("!BBQH", 0, 0, timestamp, 1)
            + issuer_key_hash
            + len(precert_tbs).to_bytes(3, "big")
            + precert_tbs
            + struct.pack("!H", 0)
        )
        signature = self.ct_key.sign(signed, ec.ECDSA(hashes.SHA256()))
        sct = (
            struct.pack("!B", 0)
            + self.ct_log_id
            + struct.pack("!QH", timestamp, 0)
            + struct.pack("!BBH", 4, 3, len(signature))  # sha256, ecdsa
            + signature
        )
        item = struct.pack("!H", len(sct)) + sct
        return struct.pack("!H", len(item)) + item

    # -- HTTP -------------------------------------------------------------------------

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        body = json.loads(request.rfile.read(length) or b"{}")
        try:
            with self._lock:
                if request.path.startswith("/github-oidc?"):
                    status, reply = self._github_oidc(request)
                elif request.path == "/api/v2/signingCert":
                    status, reply = self._signing_cert(request, body)
                elif request.path == "/api/v1/log/entries":
                    status, reply = self._log_entry(body)
                else:
                    status, reply = 404, {"code": 404, "message": f"no route {request.path}"}
        except _Refused as exc:
            status, reply = exc.status, {"code": exc.status, "message": str(exc)}
        data = json.dumps(reply).encode()
        request.send_response(status)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)

    def github_actions_env(self, request_token: str = "runner-secret") -> dict[str, str]:
        """The variables GitHub Actions sets for a job with ``id-token: write``,
        pointing its token endpoint at this fake (answered with ``github_token()``)."""
        return {
            "GITHUB_ACTIONS": "true",
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN": request_token,
            "ACTIONS_ID_TOKEN_REQUEST_URL": f"{self.url}/github-oidc?api-version=2.0",
        }

    def _github_oidc(self, request: BaseHTTPRequestHandler) -> tuple[int, dict[str, Any]]:
        if request.headers.get("Authorization", "").lower() != "bearer runner-secret":
            raise _Refused(401, "bad request token")
        self.ambient_tokens_issued += 1
        return 200, {"value": self.github_token()}

    def _signing_cert(
        self, request: BaseHTTPRequestHandler, body: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            raise _Refused(401, "missing bearer token")
        try:
            claims = jwt.decode(
                auth.removeprefix("Bearer "),
                self.oidc_key.public_key(),
                algorithms=["ES256"],
                audience=AUDIENCE,
            )
        except jwt.PyJWTError as exc:
            raise _Refused(401, f"invalid identity token: {exc}") from exc
        csr = x509.load_pem_x509_csr(base64.b64decode(body["certificateSigningRequest"]))
        if not csr.is_signature_valid:
            raise _Refused(400, "CSR signature does not prove possession of the key")
        cert = self._issue(csr, claims)
        self.certificates_issued += 1
        pems = [c.public_bytes(serialization.Encoding.PEM).decode() for c in (cert, self.root_cert)]
        return 201, {"signedCertificateEmbeddedSct": {"chain": {"certificates": pems}}}

    def _log_entry(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if body.get("kind") != "dsse" or body.get("apiVersion") != "0.0.1":
            raise _Refused(400, "this log accepts dsse/0.0.1 entries only")
        proposed = body["spec"]["proposedContent"]
        envelope_json: str = proposed["envelope"]
        verifier_b64: str = proposed["verifiers"][0]
        envelope = json.loads(envelope_json)
        payload = base64.b64decode(envelope["payload"])
        cert = x509.load_pem_x509_certificate(base64.b64decode(verifier_b64))
        signature = base64.b64decode(envelope["signatures"][0]["sig"])
        ptype = envelope["payloadType"].encode()
        pae = b"DSSEv1 %d %b %d %b" % (len(ptype), ptype, len(payload), payload)
        try:
            cert.public_key().verify(signature, pae, ec.ECDSA(hashes.SHA256()))  # type: ignore[call-arg, union-attr]
        except InvalidSignature as exc:
            raise _Refused(400, "envelope signature does not verify") from exc
        entry_body = rfc8785.dumps(
            {
                "apiVersion": "0.0.1",
                "kind": "dsse",
                "spec": {
                    "envelopeHash": {
                        "algorithm": "sha256",
                        "value": hashlib.sha256(envelope_json.encode()).hexdigest(),
                    },
                    "payloadHash": {
                        "algorithm": "sha256",
                        "value": hashlib.sha256(payload).hexdigest(),
                    },
                    "signatures": [
                        {"signature": envelope["signatures"][0]["sig"], "verifier": verifier_b64}
                    ],
                },
            }
        )
        index, size, root, path = self.log.append(entry_body)
        integrated = int(time.time())
        log_id_hex = self.rekor_log_id.hex()
        set_payload = rfc8785.dumps(
            {
                "body": _b64(entry_body),
                "integratedTime": integrated,
                "logID": log_id_hex,
                "logIndex": index,
            }
        )
        set_sig = self.rekor_key.sign(set_payload, ec.ECDSA(hashes.SHA256()))
        note = f"fake-rekor - 1\n{size}\n{_b64(root)}\n"
        note_sig = self.rekor_key.sign(note.encode(), ec.ECDSA(hashes.SHA256()))
        checkpoint = f"{note}\n— fake-rekor {_b64(self.rekor_log_id[:4] + note_sig)}\n"
        entry = {
            "body": _b64(entry_body),
            "integratedTime": integrated,
            "logID": log_id_hex,
            "logIndex": index,
            "verification": {
                "inclusionProof": {
                    "checkpoint": checkpoint,
                    "hashes": [h.hex() for h in path],
                    "logIndex": index,
                    "rootHash": root.hex(),
                    "treeSize": size,
                },
                "signedEntryTimestamp": _b64(set_sig),
            },
        }
        return 201, {uuid.uuid4().hex: entry}


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
