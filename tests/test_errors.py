"""Reverts become typed errors: from eth-tester's TransactionFailed and from a node's revert data,
custom errors with their arguments, Error(string), Panic(uint256), and unknown selectors."""

from __future__ import annotations

import pytest
from eth_abi import encode as abi_encode
from eth_tester.exceptions import TransactionFailed
from eth_utils import function_signature_to_4byte_selector, keccak
from web3 import Web3
from web3.exceptions import ContractCustomError, ContractLogicError, ContractPanicError

from radledger.chain import errors
from radledger.chain.transactions import decoded_reverts
from radledger.registries.consent.client import WILDCARD, ConsentRegistryClient
from tests.conftest import Actors

PATIENT = "0x" + "11" * 20
GRANTEE = "0x" + "22" * 20
RID = keccak(text="a synthetic record id")


def revert_data(signature: str, types: list[str], values: list[object]) -> bytes:
    return function_signature_to_4byte_selector(signature) + abi_encode(types, values)


ACCESS_DENIED = revert_data(
    "AccessDenied(address,address,bytes32,uint8,uint8)",
    ["address", "address", "bytes32", "uint8", "uint8"],
    [PATIENT, GRANTEE, RID, 1, 16],
)
ERROR_STRING = revert_data("Error(string)", ["string"], ["not allowed"])
PANIC_OVERFLOW = revert_data("Panic(uint256)", ["uint256"], [0x11])
UNKNOWN = bytes.fromhex("deadbeef") + bytes(32)


def test_every_contract_error_is_a_typed_class_under_one_root() -> None:
    cls = errors.AccessDenied
    assert issubclass(cls, errors.ContractError)
    assert issubclass(cls, errors.TransactionReverted)
    assert issubclass(cls, errors.RadledgerError)
    assert errors.contract_error_class("AccessDenied") is cls
    assert cls.arg_names == ("patient", "grantee", "recordId", "scopes", "purpose")
    for name in (
        "InvalidSignature",
        "SignatureExpired",
        "NotPatientOrGuardian",
        "AccessControlUnauthorizedAccount",
        "RecordNotFound",
        "CustodianNotRegistered",
        "NotRecordCustodian",
        "NotGranteeOrCustodian",
    ):
        assert issubclass(errors.contract_error_class(name), errors.ContractError)
    with pytest.raises(AttributeError):
        errors.contract_error_class("NoSuchError")
    with pytest.raises(AttributeError):
        errors.NoSuchError  # noqa: B018


def test_custom_error_data_decodes_into_its_class_with_arguments() -> None:
    exc = errors.decode_revert(ACCESS_DENIED, tx_hash="0xabc")
    assert type(exc) is errors.AccessDenied
    assert exc.args == (Web3.to_checksum_address(PATIENT), Web3.to_checksum_address(GRANTEE), RID, 1, 16)
    assert exc.patient == Web3.to_checksum_address(PATIENT)  # type: ignore[attr-defined]
    assert exc.recordId == RID  # type: ignore[attr-defined]
    assert (exc.data, exc.tx_hash) == (ACCESS_DENIED, "0xabc")
    assert exc == errors.AccessDenied(*exc.args)
    assert exc != errors.UnknownRecord(RID)


def test_error_string_and_panic_decode_with_their_arguments() -> None:
    error = errors.decode_revert(ERROR_STRING)
    assert type(error) is errors.Error
    assert error.args == ("not allowed",)
    assert error.message == "not allowed"  # type: ignore[attr-defined]
    panic = errors.decode_revert(PANIC_OVERFLOW)
    assert type(panic) is errors.Panic
    assert panic.args == (0x11,)
    assert panic.code == 0x11  # type: ignore[attr-defined]


def test_an_unknown_selector_is_a_plain_transaction_reverted() -> None:
    exc = errors.decode_revert(UNKNOWN)
    assert type(exc) is errors.TransactionReverted
    assert exc.data == UNKNOWN


@pytest.mark.parametrize("data", [b"", b"\x01\x02"])
def test_a_revert_without_a_selector_is_a_plain_transaction_reverted(data: bytes) -> None:
    exc = errors.decode_revert(data)
    assert type(exc) is errors.TransactionReverted
    assert exc.data == data


def test_a_known_selector_with_malformed_arguments_is_not_decoded() -> None:
    exc = errors.decode_revert(ACCESS_DENIED[:40])
    assert type(exc) is errors.TransactionReverted
    assert exc.data == ACCESS_DENIED[:40]


# ------------------------------------------------------------------- node-style errors


@pytest.mark.parametrize(
    "raised",
    [
        ContractCustomError(data="0x" + ACCESS_DENIED.hex()),
        ContractCustomError("0x" + ACCESS_DENIED.hex(), data="0x" + ACCESS_DENIED.hex()),
        ContractLogicError("execution reverted", data={"data": "0x" + ACCESS_DENIED.hex()}),
    ],
    ids=["custom error", "custom error with message", "logic error with data dict"],
)
def test_node_revert_data_is_found_and_decoded(raised: Exception) -> None:
    assert errors.revert_data_of(raised) == ACCESS_DENIED
    assert errors.is_revert(raised)
    with pytest.raises(errors.AccessDenied) as exc, decoded_reverts():
        raise raised
    assert exc.value.args[2:] == (RID, 1, 16)
    assert exc.value.__cause__ is raised


def test_node_panic_and_error_string_are_decoded() -> None:
    with pytest.raises(errors.Panic) as panic, decoded_reverts():
        raise ContractPanicError("Panic error 0x11", data="0x" + PANIC_OVERFLOW.hex())
    assert panic.value.args == (0x11,)
    with pytest.raises(errors.Error) as error, decoded_reverts():
        raise ContractLogicError("execution reverted: not allowed", data="0x" + ERROR_STRING.hex())
    assert error.value.args == ("not allowed",)


def test_a_node_revert_with_an_unknown_selector_stays_untyped() -> None:
    with pytest.raises(errors.TransactionReverted) as exc, decoded_reverts(tx_hash="0x01"):
        raise ContractCustomError(data="0x" + UNKNOWN.hex())
    assert type(exc.value) is errors.TransactionReverted
    assert (exc.value.data, exc.value.tx_hash) == (UNKNOWN, "0x01")


def test_errors_that_are_not_reverts_pass_through() -> None:
    failure = ConnectionError("node unreachable")
    assert not errors.is_revert(failure)
    assert errors.revert_data_of(failure) is None
    with pytest.raises(ConnectionError), decoded_reverts():
        raise failure


# ---------------------------------------------------------------- eth-tester errors


@pytest.mark.parametrize(
    "raised",
    [
        TransactionFailed(ACCESS_DENIED),
        TransactionFailed(f"execution reverted: {ACCESS_DENIED!r}"),
        TransactionFailed(f"execution reverted: 0x{ACCESS_DENIED.hex()}"),
    ],
    ids=["raw bytes", "repr of bytes (web3's provider)", "hex"],
)
def test_eth_tester_revert_forms_are_decoded(raised: Exception) -> None:
    assert errors.revert_data_of(raised) == ACCESS_DENIED
    with pytest.raises(errors.AccessDenied), decoded_reverts():
        raise raised


def test_eth_tester_revert_found_on_the_exception_chain() -> None:
    try:
        try:
            raise TransactionFailed(f"execution reverted: {PANIC_OVERFLOW!r}")
        except TransactionFailed as inner:
            raise RuntimeError("wrapped") from inner
    except RuntimeError as outer:
        assert errors.revert_data_of(outer) == PANIC_OVERFLOW
        assert errors.is_revert(outer)


def test_a_real_revert_on_the_chain_is_decoded_with_its_cause(consent: ConsentRegistryClient, actors: Actors) -> None:
    patient = actors.site.address
    with pytest.raises(errors.GrantNotFound) as exc:
        consent.revoke(patient, actors.grantee.address, WILDCARD)
    assert exc.value.args == (patient, actors.grantee.address, WILDCARD)
    assert type(exc.value.__cause__).__name__ == "TransactionFailed"
    assert errors.revert_data_of(exc.value.__cause__) == exc.value.data  # type: ignore[arg-type]
    assert exc.value.data[:4] == function_signature_to_4byte_selector("GrantNotFound(address,address,bytes32)")


def _reverting_init_code(data: bytes) -> str:
    """Init code that reverts with `data`: CODECOPY it (after this 12-byte prefix) to memory, REVERT."""
    n = len(data)
    assert n < 256
    prefix = bytes([0x60, n, 0x60, 12, 0x60, 0, 0x39, 0x60, n, 0x60, 0, 0xFD])
    return "0x" + (prefix + data).hex()


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (ERROR_STRING, errors.Error("not allowed")),
        (PANIC_OVERFLOW, errors.Panic(0x11)),
        (ACCESS_DENIED, errors.decode_revert(ACCESS_DENIED)),
        (UNKNOWN, None),
        (b"", None),
    ],
    ids=["Error(string)", "Panic(uint256)", "custom error", "unknown selector", "no data"],
)
def test_eth_tester_reverts_of_every_form_are_decoded(
    w3: Web3, actors: Actors, data: bytes, expected: errors.ContractError | None
) -> None:
    """Real reverts on the in-process chain (a constructor that reverts with `data`), nothing mined."""
    before = w3.eth.block_number
    with pytest.raises(errors.TransactionReverted) as exc:
        actors.admin.deploy([], _reverting_init_code(data))
    assert type(exc.value.__cause__).__name__ == "TransactionFailed"
    if expected is None:
        assert type(exc.value) is errors.TransactionReverted
    else:
        assert type(exc.value) is type(expected)
        assert exc.value.args == expected.args
    assert exc.value.data == data
    assert w3.eth.block_number == before
