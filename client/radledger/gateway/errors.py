"""The gateway's errors: refused tokens (HTTP 401), refused studies, ingestion problems, the upstream.

Each is a :class:`radledger.errors.RadledgerError` with its arguments as attributes; token errors
carry the short `reason` code the gateway returns in its 401 answer.
"""

from __future__ import annotations

from radledger.chain.errors import RadledgerError


class GatewayError(RadledgerError):
    """Root of the gateway's errors."""


# --------------------------------------------------------------------------- tokens (401)


class InvalidToken(GatewayError):
    """A bearer token the gateway refuses (answered with 401 and `reason`)."""

    reason = "invalid-token"


class TokenMissing(InvalidToken):
    reason = "missing-token"

    def __init__(self) -> None:
        super().__init__("no `Authorization: Bearer <token>` header")


class TokenMalformed(InvalidToken):
    reason = "malformed-token"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class TokenWrongDomain(InvalidToken):
    """Signed for another chain or ConsentRegistry (another deployment)."""

    reason = "wrong-domain"

    def __init__(self, chain_id: int, verifying_contract: str) -> None:
        super().__init__(f"token is for chain {chain_id}, contract {verifying_contract}")
        self.chain_id = chain_id
        self.verifying_contract = verifying_contract


class TokenAudienceMismatch(InvalidToken):
    reason = "foreign-audience"

    def __init__(self, audience: str, expected: str) -> None:
        super().__init__(f"token is for {audience!r}, this gateway is {expected!r}")
        self.audience = audience
        self.expected = expected


class TokenExpired(InvalidToken):
    reason = "expired"

    def __init__(self, expiry: int, now: int) -> None:
        super().__init__(f"token expired at {expiry} (now {now})")
        self.expiry = expiry
        self.now = now


class TokenLifetimeTooLong(InvalidToken):
    reason = "expiry-too-far"

    def __init__(self, expiry: int, latest: int) -> None:
        super().__init__(f"token expiry {expiry} is after {latest}: at most 5 minutes ahead")
        self.expiry = expiry
        self.latest = latest


class TokenBadSignature(InvalidToken):
    reason = "bad-signature"

    def __init__(self, grantee: str, recovered: str | None) -> None:
        super().__init__(f"signature is not by {grantee} (recovered {recovered})")
        self.grantee = grantee
        self.recovered = recovered


class TokenReplayed(InvalidToken):
    reason = "replayed-nonce"

    def __init__(self, grantee: str, nonce: bytes) -> None:
        super().__init__(f"nonce 0x{nonce.hex()} of {grantee} was already used")
        self.grantee = grantee
        self.nonce = nonce


class LoginMalformed(InvalidToken):
    """A sign-in (EIP-712 GatewayLogin or EIP-4361 message) that cannot be read or misses a field."""

    reason = "malformed-login"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class LoginNotYetValid(InvalidToken):
    """A sign-in issued later than the gateway's clock (beyond the allowed skew)."""

    reason = "issued-in-future"

    def __init__(self, issued_at: int, now: int) -> None:
        super().__init__(f"sign-in issued at {issued_at}, after the gateway's clock {now}")
        self.issued_at = issued_at
        self.now = now


class SessionUnknown(InvalidToken):
    """A session token the gateway never issued, or one that was signed out."""

    reason = "unknown-session"

    def __init__(self) -> None:
        super().__init__("no such session at this gateway (sign in again)")


class SessionExpired(InvalidToken):
    reason = "session-expired"

    def __init__(self, expires_at: int, now: int) -> None:
        super().__init__(f"session expired at {expires_at} (now {now}): sign in again")
        self.expires_at = expires_at
        self.now = now


class RateLimited(GatewayError):
    """Too many requests from one key or one network address (answered with 429)."""

    def __init__(self, what: str, who: str, retry_after: float) -> None:
        super().__init__(f"too many requests from {what} {who}: retry in {retry_after:.1f} s")
        self.what = what
        self.who = who
        self.retry_after = retry_after


# ------------------------------------------------------------------------- studies


class StudyNotFound(GatewayError):
    """The upstream has no such study (or no instance of it)."""

    def __init__(self, study_uid: str) -> None:
        super().__init__(f"the upstream has no study {study_uid}")
        self.study_uid = study_uid


class StudyNotRegistered(GatewayError):
    """The gateway's local map has no such study."""

    def __init__(self, study_uid: str) -> None:
        super().__init__(f"study {study_uid} is not registered at this gateway")
        self.study_uid = study_uid


class DuplicateStudy(GatewayError):
    """The PACS holds more than one study with this StudyInstanceUID (or one of another patient):
    the gateway serves none of them (409 `duplicate-study`)."""

    def __init__(self, study_uid: str, found: int) -> None:
        super().__init__(
            f"the PACS holds {found} studies matching StudyInstanceUID {study_uid}, not one of the patient"
        )
        self.study_uid = study_uid
        self.found = found


class StudyChanged(GatewayError):
    """The upstream study no longer matches what was registered.

    `changed` and `missing` instances mean tampering; `added` alone means a new series that was
    not registered yet (an amendment is due: `radledger gateway register-study`).
    """

    def __init__(self, study_uid: str, changed: tuple[str, ...], missing: tuple[str, ...], added: tuple[str, ...]):
        parts = [f"{len(v)} {k}" for k, v in (("changed", changed), ("missing", missing), ("added", added)) if v]
        super().__init__(f"study {study_uid} differs from its registration: {', '.join(parts) or 'content hash'}")
        self.study_uid = study_uid
        self.changed = changed
        self.missing = missing
        self.added = added

    @property
    def tampered(self) -> bool:
        """Instances changed or vanished (as opposed to instances added, which an amendment covers)."""
        return bool(self.changed or self.missing) or not self.added


class RecordMismatch(GatewayError):
    """The chain's record of a study disagrees with the site (another patient, custodian or hash)."""

    def __init__(self, study_uid: str, field: str, on_chain: str, expected: str) -> None:
        super().__init__(f"study {study_uid}: the chain's record has {field} {on_chain}, expected {expected}")
        self.study_uid = study_uid
        self.field = field
        self.on_chain = on_chain
        self.expected = expected


class SaltMismatch(GatewayError):
    """The gateway's store was built with another site salt."""

    def __init__(self, stored: str, given: str) -> None:
        super().__init__(f"the gateway store's record ids were made with salt {stored}, not {given}")
        self.stored = stored
        self.given = given


class UnmappedPatient(GatewayError):
    """A study whose DICOM PatientID has no Ethereum address in the site's patient map."""

    def __init__(self, study_uid: str) -> None:
        super().__init__(f"study {study_uid}: its PatientID has no address in the patient map")
        self.study_uid = study_uid


# ------------------------------------------------------------------ upstream / requester


class UpstreamError(GatewayError):
    """The upstream DICOMweb server failed or answered unexpectedly."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"upstream answered {status}: {detail}")
        self.status = status
        self.detail = detail


class AccessRefused(GatewayError):
    """The gateway refused a requester (401, 403, 404, 409) with a reason code."""

    def __init__(self, status: int, reason: str, detail: str) -> None:
        super().__init__(f"gateway refused ({status} {reason}): {detail}")
        self.status = status
        self.reason = reason
        self.detail = detail


class IncompleteRetrieval(GatewayError):
    """A retrieve returned fewer instances than the study's listing, or an unreadable one."""

    def __init__(self, study_uid: str, missing: tuple[str, ...], detail: str = "") -> None:
        super().__init__(f"study {study_uid}: {len(missing)} instance(s) not retrieved {detail}".rstrip())
        self.study_uid = study_uid
        self.missing = missing
