"""Why the relay refuses a signed request, as typed errors with their arguments.

Every refusal happens before anything is sent (no gas is spent) and maps to one HTTP status and
a stable `reason` code the page shows in plain language: 400 for a request that is not a
well-formed signed consent, 403 for a signer or patient the relay does not act for, 409 for a
signature that no longer matches the chain (expired, an outdated version or epoch, refused by the
contract when simulated), 429 when a patient or an address asks too often.
"""

from __future__ import annotations

from typing import Any

from radledger.chain.errors import ContractError, RadledgerError


class RelayRefused(RadledgerError):
    """The relay did not send the request. `status` is the HTTP status, `reason` a stable code."""

    status = 400
    reason = "refused"

    def __init__(self, detail: str, **arguments: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.arguments = arguments
        for key, value in arguments.items():
            setattr(self, key, value)

    def as_json(self) -> dict[str, Any]:
        return {"error": _ERROR_NAMES.get(self.status, "error"), "reason": self.reason, "detail": self.detail}


class MalformedRequest(RelayRefused):
    """The body is not a signed radledger consent message of the action named."""

    reason = "malformed"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)


class WrongDomain(RelayRefused):
    """The signature is for another chain or contract than this site's ConsentRegistry."""

    reason = "wrong-domain"

    def __init__(self, chain_id: int, contract: str, expected_chain_id: int, expected_contract: str) -> None:
        super().__init__(
            f"the signature is for contract {contract} on chain {chain_id}; this site relays to "
            f"{expected_contract} on chain {expected_chain_id}",
            chain_id=chain_id,
            contract=contract,
            expected_chain_id=expected_chain_id,
            expected_contract=expected_contract,
        )


class DeadlinePassed(RelayRefused):
    """The signature's deadline has passed, or passes before the transaction could be mined."""

    status = 409
    reason = "expired"

    def __init__(self, deadline: int, now: int) -> None:
        super().__init__(
            f"the signature expired (deadline {deadline}, chain time {now}); sign again", deadline=deadline, now=now
        )


class StaleVersion(RelayRefused):
    """The grant or guardian slot changed since the message was prepared (its version moved on)."""

    status = 409
    reason = "stale-version"

    def __init__(self, signed: int, current: int) -> None:
        super().__init__(
            f"this consent changed since you signed (version {signed}, now {current}); reload and sign again",
            signed=signed,
            current=current,
        )


class StaleEpoch(RelayRefused):
    """Outstanding signatures were invalidated after the message was signed."""

    status = 409
    reason = "stale-epoch"

    def __init__(self, signed: int, current: int) -> None:
        super().__init__(
            f"signatures made before were invalidated (epoch {signed}, now {current}); sign again",
            signed=signed,
            current=current,
        )


class BadSignature(RelayRefused):
    """The signature is not the signer's (neither an ECDSA signature nor accepted by its ERC-1271 wallet)."""

    reason = "bad-signature"

    def __init__(self, signer: str) -> None:
        super().__init__(f"the signature is not {signer}'s over this message", signer=signer)


class NotPatientHere(RelayRefused):
    """The patient has no record at this site, and the relay is not configured to act for anyone."""

    status = 403
    reason = "not-a-patient-here"

    def __init__(self, patient: str) -> None:
        super().__init__(f"{patient} is not the patient of a record at this site", patient=patient)


class NotPatientOrGuardian(RelayRefused):
    """The signer is neither the patient nor one of the patient's current guardians."""

    status = 403
    reason = "not-patient-or-guardian"

    def __init__(self, patient: str, signer: str) -> None:
        super().__init__(
            f"{signer} is neither {patient} nor a current guardian of theirs", patient=patient, signer=signer
        )


class RejectedByContract(RelayRefused):
    """The contract would revert (found by simulating the call); `error` is the decoded contract error."""

    status = 409
    reason = "rejected-by-contract"

    def __init__(self, error: ContractError | RadledgerError) -> None:
        name = getattr(error, "error_name", "") or type(error).__name__
        super().__init__(f"the consent contract would refuse this: {error}", error=error, error_name=name)


class RateLimited(RelayRefused):
    """Too many requests from one address (IP) or about one patient; retry after `retry_after` seconds."""

    status = 429
    reason = "rate-limited"
    retry_after: int

    def __init__(self, kind: str, key: str, retry_after: int) -> None:
        super().__init__(
            f"too many requests for this {kind}; try again in {retry_after} s",
            kind=kind,
            key=key,
            retry_after=retry_after,
        )


class UnknownTransaction(RadledgerError):
    """The relay holds no submission with this transaction hash."""

    def __init__(self, tx_hash: str) -> None:
        super().__init__(f"no transaction {tx_hash} was relayed here")
        self.tx_hash = tx_hash


class ReceiptMismatch(RadledgerError):
    """A consent receipt does not agree with the chain: `field` was `expected` by the receipt, the chain has `found`."""

    def __init__(self, field: str, expected: Any, found: Any) -> None:
        super().__init__(f"receipt {field}: the receipt says {expected!r}, the chain says {found!r}")
        self.field = field
        self.expected = expected
        self.found = found


_ERROR_NAMES = {400: "bad-request", 403: "forbidden", 409: "conflict", 429: "too-many-requests"}
