"""Local ECDSA P-256 keys: the user's private keys and the project's trusted keys.

Private keys live outside the repository, in the user's config directory
(``$AUDITPIPE_CONFIG_DIR`` or platformdirs' user config dir), mode 0600, as
PKCS#8 PEM encrypted when a passphrase is given. Keys the project trusts are
public PEM files committed under ``policies/keys/<keyid>.pem``. A keyid is the
hex sha256 of the public key's DER SubjectPublicKeyInfo.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from auditpipe.errors import ConfigError, SigningKeyError
from auditpipe.faults import os_fault

KEY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
DEFAULT_KEY_NAME = "default"
PASSPHRASE_ENV = "AUDITPIPE_PASSPHRASE"
KEY_ENV = "AUDITPIPE_KEY"
TRUSTED_KEYS_DIR = Path("policies") / "keys"


def keyid_of(public_key: ec.EllipticCurvePublicKey) -> str:
    """sha256 of the public key's DER encoding, hex."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


def securesystemslib_keyid(public_key: ec.EllipticCurvePublicKey) -> str:
    """The keyid securesystemslib gives this key (``SSlibKey.from_crypto``).

    sha256 of the OLPC canonical JSON of ``{keytype, keyval: {public: PEM},
    scheme}``; OLPC canonical JSON escapes only ``\\`` and ``"`` (the PEM's
    newlines stay raw). A DSSE signature carries this keyid so that
    securesystemslib's ``Envelope.verify`` matches it to the key without help.
    """
    pem = public_pem(public_key).decode("ascii")
    text = '{"keytype":"ecdsa","keyval":{"public":"' + pem + '"},"scheme":"ecdsa-sha2-nistp256"}'
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def public_pem(public_key: ec.EllipticCurvePublicKey) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def default_config_dir() -> Path:
    override = os.environ.get("AUDITPIPE_CONFIG_DIR")
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_config_dir("auditpipe"))


def load_public_pem(data: bytes, source: Path | str) -> ec.EllipticCurvePublicKey:
    """Parse a public key PEM; only ECDSA P-256 keys are accepted."""
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise ConfigError(
            "not a PEM public key",
            path=source,
            hint="export a public key with `auditpipe keys export` and trust that file",
        ) from exc
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise ConfigError("only ECDSA P-256 public keys are supported", path=source)
    return key


@dataclass(frozen=True)
class KeyInfo:
    name: str
    keyid: str
    private_path: Path
    public_path: Path
    encrypted: bool


class KeyStore:
    """The user's signing keys, one ``<name>.key`` / ``<name>.pub`` pair each."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory if directory is not None else default_config_dir() / "keys"

    def _paths(self, name: str) -> tuple[Path, Path]:
        if not KEY_NAME.match(name):
            raise SigningKeyError(
                f"invalid key name {name!r}",
                hint="use letters, digits, '.', '_' or '-' (at most 64 characters)",
            )
        return self.directory / f"{name}.key", self.directory / f"{name}.pub"

    def exists(self, name: str = DEFAULT_KEY_NAME) -> bool:
        return self._paths(name)[0].exists()

    def generate(self, name: str = DEFAULT_KEY_NAME, passphrase: bytes | None = None) -> KeyInfo:
        """Create a new P-256 key pair; refuses to overwrite an existing key."""
        private_path, public_path = self._paths(name)
        if private_path.exists():
            raise SigningKeyError(
                f"a key named {name!r} already exists",
                path=private_path,
                hint="choose another --name, or remove the file if you really mean to replace it",
            )
        key = ec.generate_private_key(ec.SECP256R1())
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(passphrase)
            if passphrase
            else serialization.NoEncryption()
        )
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )
        self.directory.mkdir(parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)
        fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        public_path.write_bytes(public_pem(key.public_key()))
        return KeyInfo(
            name, keyid_of(key.public_key()), private_path, public_path, bool(passphrase)
        )

    def list(self) -> list[KeyInfo]:
        if not self.directory.is_dir():
            return []
        found = []
        for private_path in sorted(self.directory.glob("*.key")):
            name = private_path.stem
            public_path = private_path.with_suffix(".pub")
            try:
                key = load_public_pem(public_path.read_bytes(), public_path)
            except (OSError, ConfigError):
                continue
            encrypted = b"ENCRYPTED" in private_path.read_bytes()[:64]
            found.append(KeyInfo(name, keyid_of(key), private_path, public_path, encrypted))
        return found

    def public_key(self, name: str = DEFAULT_KEY_NAME) -> ec.EllipticCurvePublicKey:
        _, public_path = self._paths(name)
        if not public_path.exists():
            raise self._missing(name)
        try:
            return load_public_pem(public_path.read_bytes(), public_path)
        except ConfigError as exc:
            raise SigningKeyError(exc.message, path=public_path, hint=exc.hint) from exc

    def private_key(
        self, name: str = DEFAULT_KEY_NAME, passphrase: bytes | None = None
    ) -> ec.EllipticCurvePrivateKey:
        """Load a private key; clear errors for missing, corrupt or locked keys."""
        private_path, _ = self._paths(name)
        try:
            data = private_path.read_bytes()
        except FileNotFoundError:
            raise self._missing(name) from None
        except OSError as exc:
            raise SigningKeyError(
                f"cannot read signing key: {exc.strerror}", path=private_path
            ) from exc
        encrypted = b"ENCRYPTED" in data[:64]
        if encrypted and not passphrase:
            raise SigningKeyError(
                f"signing key {name!r} is encrypted and no passphrase was given",
                path=private_path,
                hint=f"set {PASSPHRASE_ENV} (or the variable named by --passphrase-env)",
            )
        try:
            key = serialization.load_pem_private_key(data, passphrase if encrypted else None)
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            if encrypted:
                raise SigningKeyError(
                    f"wrong passphrase for signing key {name!r}",
                    path=private_path,
                    hint=f"check the passphrase in {PASSPHRASE_ENV} or --passphrase-env",
                ) from exc
            raise SigningKeyError(
                "signing key file is corrupt or not a PEM private key",
                path=private_path,
                hint="restore it from backup or create a new one with `auditpipe keys generate`",
            ) from exc
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
            raise SigningKeyError("only ECDSA P-256 signing keys are supported", path=private_path)
        return key

    def _missing(self, name: str) -> SigningKeyError:
        return SigningKeyError(
            f"no signing key named {name!r}",
            path=self.directory,
            hint="create one with `auditpipe keys generate` (or `auditpipe init`)",
        )


class TrustedKeys:
    """Public keys the project trusts: ``policies/keys/<keyid>.pem`` in the repo."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def trust(self, pem_path: Path) -> str:
        """Copy a public key into the trusted set; return its keyid."""
        try:
            data = pem_path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read public key: {exc.strerror}", path=pem_path) from exc
        key = load_public_pem(data, pem_path)
        keyid = keyid_of(key)
        self.directory.mkdir(parents=True, exist_ok=True)
        target = self.directory / f"{keyid}.pem"
        target.write_bytes(public_pem(key))
        return keyid

    def load(self) -> dict[str, ec.EllipticCurvePublicKey]:
        """keyid -> key for every trusted key; a bad file is an error naming it."""
        keys: dict[str, ec.EllipticCurvePublicKey] = {}
        if not self.directory.is_dir():
            return keys
        for path in sorted(self.directory.glob("*.pem")):
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise os_fault(exc, path) from exc
            key = load_public_pem(data, path)
            keyid = keyid_of(key)
            if path.stem != keyid:
                raise ConfigError(
                    f"trusted key file name does not match its keyid {keyid}",
                    path=path,
                    hint="re-add it with `auditpipe keys trust` so the name is its keyid",
                )
            keys[keyid] = key
        return keys


def load_signing_key(
    key_name: str | None = None, passphrase_env: str | None = None, store: KeyStore | None = None
) -> tuple[str, ec.EllipticCurvePrivateKey]:
    """The user's local key: ``--key`` / ``$AUDITPIPE_KEY`` / ``default``, unlocked
    with the passphrase in ``passphrase_env`` (default ``$AUDITPIPE_PASSPHRASE``)."""
    name = key_name or os.environ.get(KEY_ENV) or DEFAULT_KEY_NAME
    env_name = passphrase_env or PASSPHRASE_ENV
    if passphrase_env and passphrase_env not in os.environ:
        raise SigningKeyError(
            f"environment variable {passphrase_env} (from --passphrase-env) is not set",
            hint=f"export {passphrase_env} with the key's passphrase",
        )
    passphrase = os.environ.get(env_name)
    keys = store or KeyStore()
    return name, keys.private_key(name, passphrase.encode() if passphrase else None)
