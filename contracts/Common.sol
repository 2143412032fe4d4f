// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Shared constants, types and errors of radledger.
/// @notice No protected health information ever reaches these contracts: accounts are
/// pseudonymous addresses, record ids are salted hashes computed off chain, and content
/// is committed to by hash only.

/// @dev Data classes a consent can cover (a bitmask).
uint8 constant SCOPE_IMAGES = 1 << 0;
uint8 constant SCOPE_REPORTS = 1 << 1;
uint8 constant SCOPE_SAFETY_PROFILE = 1 << 2;
uint8 constant SCOPE_ALL = SCOPE_IMAGES | SCOPE_REPORTS | SCOPE_SAFETY_PROFILE;

/// @dev Purposes of use, after HL7 PurposeOfUse (a bitmask).
uint8 constant PURPOSE_TREAT = 1 << 0; // TREAT: treatment
uint8 constant PURPOSE_HPAYMT = 1 << 1; // HPAYMT: healthcare payment
uint8 constant PURPOSE_HOPERAT = 1 << 2; // HOPERAT: healthcare operations
uint8 constant PURPOSE_HRESCH = 1 << 3; // HRESCH: healthcare research
uint8 constant PURPOSE_ETREAT = 1 << 4; // ETREAT: emergency treatment
uint8 constant PURPOSE_ALL = PURPOSE_TREAT | PURPOSE_HPAYMT | PURPOSE_HOPERAT | PURPOSE_HRESCH | PURPOSE_ETREAT;

/// @dev What a record pointer points at.
enum RecordKind {
    None,
    ImagingStudy,
    Report,
    SafetyProfile,
    CredentialFile
}

/// @notice An address argument was the zero address.
error ZeroAddress();

/// @notice A signature's deadline has passed.
/// @param deadline The deadline the signature carried.
/// @param timestamp The block timestamp at which it was presented.
error SignatureExpired(uint256 deadline, uint256 timestamp);

/// @notice A signature does not verify for the claimed signer (EOA or ERC-1271 wallet).
/// @param signer The account the signature was claimed to be from.
error InvalidSignature(address signer);

/// @notice A validity window is empty: `validFrom` is not before `validUntil`.
error InvalidValidity(uint40 validFrom, uint40 validUntil);

/// @notice An expiry is not in the future.
/// @param validUntil The expiry given.
/// @param timestamp The block timestamp it was checked against.
error ExpiryInPast(uint40 validUntil, uint256 timestamp);

/// @notice A reason code (break-glass, revocation) must be non-zero.
error InvalidReasonCode(uint16 reasonCode);

/// @notice No credential schema has this id (in CredentialRegistry, or as a policy names it).
error UnknownSchema(uint32 schema);

/// @notice A batch must hold at least one item.
error EmptyBatch();

/// @notice An item of a batch failed, so the whole batch reverted.
/// @param index The failing item's position in the batch, from 0.
/// @param reason The error that item raised, ABI-encoded (selector and arguments).
error BatchItemFailed(uint256 index, bytes reason);
