"""Every error auditpipe raises, and the exit code each one maps to.

The hierarchy (exit code in brackets)::

    Error                         [2] base; bad input or environment
    ├── ConfigError               [2] unreadable / invalid config or spec file
    ├── RepositoryError           [2] not a git repository, bare repository, ...
    ├── SigningKeyError           [2] missing, unreadable or locked signing key
    ├── SigningError              [2] keyless signing: no credential, expired token, service down
    ├── ManifestError             [2] a statement or bundle that cannot be built or parsed
    ├── FingerprintError          [2] a path that cannot be fingerprinted
    ├── SecretError               [2] a value that looks like a secret would enter the record
    ├── FileSystemError           [2] permission denied, disk full or read-only, a vanished file
    ├── CacheError                [2] the output cache cannot store or restore an output
    │   └── RemoteCacheError      [2] the remote cache is unreachable, missing or refuses access
    ├── LedgerError               [2] the ledger cannot be read or written
    │   └── EntryNotFound         [2] unknown or ambiguous entry id
    ├── GateError                 [2] a validation gate cannot run
    │   ├── SuiteError            [2] suite missing, malformed, unknown expectation type
    │   └── GateDataError         [2] the data a gate checks is missing, unreadable or corrupt
    └── CheckFailed               [1] a check said no
        ├── ObjectMismatch        [1] a remote cache object is not the bytes a signed run made
        └── VerificationFailed    [1] the ledger or a signature did not verify
            └── UntrustedSigner   [1] a signer the trust set does not know (evidence
                                      that never counts, not a broken ledger)

A gate that runs and finds failed expectations is not an error: it is a
recorded result (``Validation.success`` false, exit 1 from the CLI).

Third-party exceptions (dulwich, cryptography, pyarrow, pydantic,
great_expectations, sigstore, requests) are caught at the module that talks to
the library and re-raised as one of these, so callers and the CLI only ever see
``auditpipe.errors.Error``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


class Error(Exception):
    """Base of every auditpipe error.

    ``message`` says what went wrong, ``hint`` what to do about it; ``path`` and
    ``line`` locate the problem when it comes from a file.
    """

    exit_code: int = 2

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        path: str | Path | None = None,
        line: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.path = str(path) if path is not None else None
        self.line = line

    def location(self) -> str | None:
        """``file:line`` (or just ``file``) when the error comes from a file."""
        if self.path is None:
            return None
        return f"{self.path}:{self.line}" if self.line is not None else self.path

    def diagnostics(self) -> str:
        """A human-readable, one-paragraph explanation for the terminal."""
        where = self.location()
        text = f"{where}: {self.message}" if where else self.message
        if self.hint:
            text += f"\n{self.hint}"
        return text


class ConfigError(Error):
    """A configuration, spec or policy file is missing or invalid."""


class RepositoryError(Error):
    """The git repository is missing, bare, or unusable."""


class SigningKeyError(Error):
    """A signing key is missing, unreadable, corrupt or locked."""


class SigningError(Error):
    """Keyless (sigstore) signing cannot proceed: no OIDC credential, an expired
    or unusable identity token, or a Fulcio / Rekor / TUF service that cannot be
    reached or refuses the request."""


class ManifestError(Error):
    """A statement, envelope or bundle cannot be built or parsed."""


class FingerprintError(Error):
    """A path cannot be fingerprinted (missing, unreadable, unsafe)."""


class SecretError(Error):
    """A command, param or variable looks like a credential and would be signed
    into the permanent record; nothing runs and nothing is recorded."""


class FileSystemError(Error):
    """The machine refused: permission denied, a full or read-only disk, too many
    open files, a file that vanished mid-read (see ``auditpipe.faults``)."""

    errno: int | None = None


class CacheError(Error):
    """The output cache cannot store or restore an output (bad path, damaged object)."""


class RemoteCacheError(CacheError):
    """The remote output cache cannot be used: unreachable, no such bucket, access denied."""


class LedgerError(Error):
    """The ledger branch cannot be read or written."""


class EntryNotFound(LedgerError):
    """No entry (or more than one) matches the id or prefix given."""

    def __init__(self, message: str, *, candidates: Sequence[str] = (), hint: str | None = None):
        super().__init__(message, hint=hint)
        self.candidates = list(candidates)

    def diagnostics(self) -> str:
        text = super().diagnostics()
        if self.candidates:
            text += "\ncandidates:\n" + "\n".join(f"  {c}" for c in self.candidates)
        return text


class GateError(Error):
    """A validation gate cannot run (as opposed to running and failing)."""


class SuiteError(GateError):
    """A Great Expectations suite file is missing, malformed or names an unknown expectation."""


class GateDataError(GateError):
    """The data file a gate checks is missing, unreadable, corrupt or of an unknown format."""


class CheckFailed(Error):
    """A check ran and said no (exit code 1)."""

    exit_code = 1


class ObjectMismatch(CheckFailed):
    """An object read from the remote cache does not hash to the digest a trusted
    signed run recorded (tampered or damaged storage); its bytes were not used."""

    def __init__(
        self,
        where: str,
        expected: str,
        found: str,
        *,
        entry: str | None = None,
        product: str | None = None,
    ) -> None:
        run = f" by run {entry[:12]}" if entry else ""
        what = f" for {product}" if product else ""
        super().__init__(
            f"refused {where}{what}: "
            + (f"its bytes hash to sha256 {found[:12]}" if len(found) == 64 else found)
            + f", not the {expected[:12]} signed{run}",
            hint="the remote cache was altered or damaged; delete the object there "
            "and push it again from a clone that has it",
        )
        self.where, self.expected, self.found = where, expected, found
        self.entry, self.product = entry, product


class VerificationFailed(CheckFailed):
    """Signatures, digests or ledger history failed verification."""

    def __init__(self, message: str, *, problems: Sequence[str] = (), hint: str | None = None):
        super().__init__(message, hint=hint)
        self.problems = list(problems)

    def diagnostics(self) -> str:
        text = self.message
        if self.problems:
            text += "\n" + "\n".join(f"  - {p}" for p in self.problems)
        if self.hint:
            text += f"\n{self.hint}"
        return text


class UntrustedSigner(VerificationFailed):
    """The bundle names a signer the trust set does not know.

    Not an integrity failure: the ledger may hold entries by anyone with write
    access; they are listed as untrusted and never count as evidence.
    ``signer`` says who the bundle claims (``key <keyid>`` or an identity).
    """

    def __init__(self, message: str, *, signer: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.signer = signer
