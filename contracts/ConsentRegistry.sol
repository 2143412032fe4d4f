// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IConsentRegistry} from "./interfaces/IConsentRegistry.sol";
import {IRecordRegistry} from "./interfaces/IRecordRegistry.sol";
import {SignatureVerifier} from "./utils/SignatureVerifier.sol";
import {
    BatchItemFailed,
    EmptyBatch,
    ExpiryInPast,
    InvalidReasonCode,
    InvalidSignature,
    InvalidValidity,
    PURPOSE_ALL,
    PURPOSE_ETREAT,
    SCOPE_ALL,
    SignatureExpired,
    ZeroAddress
} from "./Common.sol";

/// @title ConsentRegistry
/// @notice Patient-controlled, purpose-bound access grants to medical records, with
/// signatures for gasless patients, guardians, break-glass and an on-chain access trail.
contract ConsentRegistry is IConsentRegistry, AccessControl, SignatureVerifier {
    /// @notice Role allowed to invoke break-glass access (emergency departments).
    bytes32 public constant BREAK_GLASS_ROLE = keccak256("BREAK_GLASS_ROLE");

    bytes32 public constant GRANT_TYPEHASH = keccak256(
        "Grant(address patient,address grantee,bytes32 recordId,uint8 scopes,uint8 purposes,uint40 validFrom,uint40 validUntil,address signer,uint32 version,uint64 epoch,uint256 deadline)"
    );
    bytes32 public constant REVOKE_TYPEHASH = keccak256(
        "Revoke(address patient,address grantee,bytes32 recordId,address signer,uint32 version,uint64 epoch,uint256 deadline)"
    );
    bytes32 public constant SET_GUARDIAN_TYPEHASH = keccak256(
        "SetGuardian(address patient,address guardian,uint40 validUntil,uint32 version,uint64 epoch,uint256 deadline)"
    );
    bytes32 public constant INVALIDATE_SIGNATURES_TYPEHASH =
        keccak256("InvalidateSignatures(address patient,address signer,uint64 epoch,uint256 deadline)");

    uint40 private constant _MIN_BREAK_GLASS = 1 minutes;
    uint40 private constant _MAX_BREAK_GLASS = 3 days;
    /// @dev A run of break-glass windows (renewals back to back) lasts at most this many windows.
    uint40 private constant _BREAK_GLASS_RUN_WINDOWS = 3;

    /// @dev One slot per (patient, grantee, recordId), from the low bits:
    /// scopes (bits 0-7) | purposes (8-15) | validFrom (16-55) | validUntil (56-95)
    /// | version (96-127) | breakGlassUntil (128-167) | breakGlassSince (168-207)
    /// | breakGlassGeneration (208-239) | unused (240-255).
    /// A grant is active while scopes != 0 and validFrom <= now < validUntil. Revoke clears the
    /// terms and keeps version and the break-glass fields, so the slot is never zeroed: the version
    /// is the replay protection of signatures, bumped on every grant or revoke.
    /// The break-glass fields are only ever set in the wildcard slot (record id 0) of a break-glass
    /// account: the window's end, the start of its run (the first invocation of back-to-back
    /// renewals) and the account's role generation when the run started. A window is open while
    /// now < breakGlassUntil and breakGlassGeneration is the account's current generation, so
    /// `hasAccess` needs no role lookup unless a window is open.
    struct GrantSlot {
        uint8 scopes;
        uint8 purposes;
        uint40 validFrom;
        uint40 validUntil;
        uint32 version;
        uint40 breakGlassUntil;
        uint40 breakGlassSince;
        uint32 breakGlassGeneration;
    }

    /// @dev One slot per (patient, guardian): validUntil (bits 0-39) | version (40-71) | epoch (72-103)
    /// | unused (104-255). `version` counts the patient's setGuardian calls for this guardian (what
    /// `SetGuardian` signatures commit to: only the patient moves it). `epoch` is the guardian's
    /// appointment epoch, bumped by every setGuardian of this guardian and by the guardian's own
    /// invalidation: the guardian's signatures commit to it, so they die with the appointment.
    struct GuardianSlot {
        uint40 validUntil;
        uint32 version;
        uint32 epoch;
    }

    IRecordRegistry private immutable _records;
    uint40 private immutable _breakGlassDuration;

    mapping(address patient => mapping(address grantee => mapping(bytes32 recordId => GrantSlot))) private _grants;
    mapping(address patient => mapping(address guardian => GuardianSlot)) private _guardians;
    /// @dev The patient's own signature epoch (32 bits: the low half of every signer epoch, see `signerEpoch`).
    mapping(address patient => uint32 epoch) private _epochs;
    /// @dev How many times the account lost the break-glass role; windows of an older generation are ended.
    mapping(address account => uint32 generation) private _breakGlassGenerations;

    constructor(address admin, IRecordRegistry records, uint40 breakGlassDuration_) SignatureVerifier("radledger ConsentRegistry", "1") {
        if (admin == address(0) || address(records) == address(0)) revert ZeroAddress();
        if (breakGlassDuration_ < _MIN_BREAK_GLASS || breakGlassDuration_ > _MAX_BREAK_GLASS) {
            revert InvalidBreakGlassDuration(breakGlassDuration_);
        }
        _records = records;
        _breakGlassDuration = breakGlassDuration_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    // ------------------------------------------------------------------ grants

    /// @inheritdoc IConsentRegistry
    function grant(
        address patient,
        address grantee,
        bytes32 recordId,
        uint8 scopes,
        uint8 purposes,
        uint40 validFrom,
        uint40 validUntil
    ) external {
        _checkActor(patient, msg.sender);
        GrantSlot storage slot = _grants[patient][grantee][recordId];
        _grant(slot, patient, grantee, recordId, scopes, purposes, validFrom, validUntil, msg.sender);
    }

    /// @inheritdoc IConsentRegistry
    function grantBySig(
        address patient,
        address grantee,
        bytes32 recordId,
        uint8 scopes,
        uint8 purposes,
        uint40 validFrom,
        uint40 validUntil,
        address signer,
        uint256 deadline,
        bytes calldata signature
    ) external {
        bytes memory failure = _tryGrantBySig(
            patient, grantee, recordId, scopes, purposes, validFrom, validUntil, signer, deadline, signature
        );
        if (failure.length != 0) _revertWith(failure);
    }

    /// @inheritdoc IConsentRegistry
    function grantBySigBatch(SignedGrant[] calldata grants) external {
        uint256 count = grants.length;
        if (count == 0) revert EmptyBatch();
        for (uint256 i; i < count;) {
            SignedGrant calldata g = grants[i];
            bytes memory failure = _tryGrantBySig(
                g.patient, g.grantee, g.recordId, g.scopes, g.purposes, g.validFrom, g.validUntil, g.signer, g.deadline,
                g.signature
            );
            if (failure.length != 0) revert BatchItemFailed(i, failure);
            // i < count <= calldata size: no overflow.
            unchecked {
                ++i;
            }
        }
    }

    /// @inheritdoc IConsentRegistry
    function revoke(address patient, address grantee, bytes32 recordId) external {
        _checkActor(patient, msg.sender);
        _revoke(_grants[patient][grantee][recordId], patient, grantee, recordId, msg.sender);
    }

    /// @inheritdoc IConsentRegistry
    function revokeBySig(
        address patient,
        address grantee,
        bytes32 recordId,
        address signer,
        uint256 deadline,
        bytes calldata signature
    ) external {
        _checkDeadline(deadline);
        uint64 epoch = _checkSigner(patient, signer);
        GrantSlot storage slot = _grants[patient][grantee][recordId];
        bytes32 structHash =
            keccak256(abi.encode(REVOKE_TYPEHASH, patient, grantee, recordId, signer, slot.version, epoch, deadline));
        _checkSignature(signer, structHash, signature);
        _revoke(slot, patient, grantee, recordId, signer);
    }

    // --------------------------------------------------------------- guardians

    /// @inheritdoc IConsentRegistry
    function setGuardian(address guardian, uint40 validUntil) external {
        _setGuardian(_guardians[msg.sender][guardian], msg.sender, guardian, validUntil);
    }

    /// @inheritdoc IConsentRegistry
    function setGuardianBySig(
        address patient,
        address guardian,
        uint40 validUntil,
        uint256 deadline,
        bytes calldata signature
    ) external {
        _checkDeadline(deadline);
        GuardianSlot storage slot = _guardians[patient][guardian];
        bytes32 structHash = keccak256(
            abi.encode(SET_GUARDIAN_TYPEHASH, patient, guardian, validUntil, slot.version, _epochs[patient], deadline)
        );
        _checkSignature(patient, structHash, signature);
        _setGuardian(slot, patient, guardian, validUntil);
    }

    // -------------------------------------------------------------- signatures

    /// @inheritdoc IConsentRegistry
    function invalidateSignatures(address patient) external {
        _checkSigner(patient, msg.sender);
        _invalidateSignatures(patient, msg.sender);
    }

    /// @inheritdoc IConsentRegistry
    function invalidateSignaturesBySig(address patient, address signer, uint256 deadline, bytes calldata signature)
        external
    {
        _checkDeadline(deadline);
        uint64 epoch = _checkSigner(patient, signer);
        bytes32 structHash = keccak256(abi.encode(INVALIDATE_SIGNATURES_TYPEHASH, patient, signer, epoch, deadline));
        _checkSignature(signer, structHash, signature);
        _invalidateSignatures(patient, signer);
    }

    // ------------------------------------------------------------- break-glass

    /// @inheritdoc IConsentRegistry
    function breakGlass(address patient, uint16 reasonCode) external onlyRole(BREAK_GLASS_ROLE) {
        if (patient == address(0)) revert ZeroAddress();
        if (reasonCode == 0) revert InvalidReasonCode(reasonCode);
        GrantSlot storage slot = _grants[patient][msg.sender][bytes32(0)];
        uint32 generation = _breakGlassGenerations[msg.sender];
        uint40 duration = _breakGlassDuration;
        uint40 now_ = uint40(block.timestamp);
        uint40 until = now_ + duration;
        uint40 previousUntil = slot.breakGlassUntil;
        // A run goes on while its window is open or ended less than one window ago, in the same
        // role generation; otherwise this invocation starts a new run.
        if (previousUntil != 0 && slot.breakGlassGeneration == generation && now_ < previousUntil + duration) {
            uint40 runEnd = slot.breakGlassSince + _BREAK_GLASS_RUN_WINDOWS * duration;
            if (now_ >= runEnd) revert BreakGlassLimitReached(patient, msg.sender, previousUntil + duration);
            if (until > runEnd) until = runEnd;
        } else {
            slot.breakGlassSince = now_;
            slot.breakGlassGeneration = generation;
        }
        slot.breakGlassUntil = until;
        emit BreakGlassInvoked(patient, msg.sender, reasonCode, until);
    }

    // ------------------------------------------------------------------ access

    /// @inheritdoc IConsentRegistry
    function hasAccess(address patient, address grantee, bytes32 recordId, uint8 scopes, uint8 purposes)
        external
        view
        returns (bool)
    {
        // The same answer as accessBasis != None, in the cheapest order: the wildcard slot first
        // (it also holds the break-glass window), then the record's own slot.
        if (scopes == 0 || purposes == 0) return false;
        mapping(bytes32 => GrantSlot) storage byRecord = _grants[patient][grantee];
        uint256 wildcard = _word(byRecord[bytes32(0)]);
        if (_covers(wildcard, scopes, purposes) || _breakGlassCovers(wildcard, grantee, scopes, purposes)) {
            return true;
        }
        return recordId != bytes32(0) && _covers(_word(byRecord[recordId]), scopes, purposes);
    }

    /// @inheritdoc IConsentRegistry
    function accessBasis(address patient, address grantee, bytes32 recordId, uint8 scopes, uint8 purposes)
        external
        view
        returns (AccessBasis)
    {
        return _accessBasis(patient, grantee, recordId, scopes, purposes);
    }

    /// @inheritdoc IConsentRegistry
    function recordAccess(address grantee, bytes32 recordId, uint8 scopes, uint8 purpose)
        external
        returns (AccessBasis basis)
    {
        if (scopes == 0 || scopes & ~SCOPE_ALL != 0) revert InvalidScopes(scopes);
        // Exactly one known purpose: a non-zero power of two within PURPOSE_ALL.
        if (purpose == 0 || purpose & (purpose - 1) != 0 || purpose & ~PURPOSE_ALL != 0) {
            revert InvalidPurposes(purpose);
        }
        (address patient, address custodian) = _records.patientAndCustodianOf(recordId);
        if (patient == address(0)) revert UnknownRecord(recordId);
        if (msg.sender != grantee && msg.sender != custodian) revert NotGranteeOrCustodian(recordId, msg.sender);
        basis = _accessBasis(patient, grantee, recordId, scopes, purpose);
        if (basis == AccessBasis.None) revert AccessDenied(patient, grantee, recordId, scopes, purpose);
        emit AccessRecorded(recordId, patient, grantee, scopes, purpose, basis, msg.sender);
    }

    // ------------------------------------------------------------------- views

    /// @inheritdoc IConsentRegistry
    function getGrant(address patient, address grantee, bytes32 recordId) external view returns (Grant memory) {
        GrantSlot memory slot = _grants[patient][grantee][recordId];
        bool ended = slot.breakGlassUntil != 0 && slot.breakGlassGeneration != _breakGlassGenerations[grantee];
        return Grant({
            scopes: slot.scopes,
            purposes: slot.purposes,
            validFrom: slot.validFrom,
            validUntil: slot.validUntil,
            version: slot.version,
            breakGlassUntil: ended ? 0 : slot.breakGlassUntil
        });
    }

    /// @inheritdoc IConsentRegistry
    function getGuardian(address patient, address guardian) external view returns (Guardian memory) {
        GuardianSlot memory slot = _guardians[patient][guardian];
        return Guardian({validUntil: slot.validUntil, version: slot.version});
    }

    /// @inheritdoc IConsentRegistry
    function isGuardian(address patient, address guardian) public view returns (bool) {
        return block.timestamp < _guardians[patient][guardian].validUntil;
    }

    /// @inheritdoc IConsentRegistry
    function signatureEpoch(address patient) external view returns (uint64) {
        return _epochs[patient];
    }

    /// @inheritdoc IConsentRegistry
    function signerEpoch(address patient, address signer) external view returns (uint64 epoch) {
        epoch = _epochs[patient];
        if (signer != patient) epoch |= uint64(_guardians[patient][signer].epoch) << 32;
    }

    /// @inheritdoc IConsentRegistry
    function breakGlassDuration() external view returns (uint40) {
        return _breakGlassDuration;
    }

    /// @inheritdoc IConsentRegistry
    function recordRegistry() external view returns (IRecordRegistry) {
        return _records;
    }

    // ----------------------------------------------------------------- roles

    /// @dev Losing the break-glass role (revoked or renounced) ends every window the account holds:
    /// they belong to the generation it had, and the generation moves on.
    function _revokeRole(bytes32 role, address account) internal override returns (bool revoked) {
        revoked = super._revokeRole(role, account);
        if (revoked && role == BREAK_GLASS_ROLE) {
            uint32 generation = ++_breakGlassGenerations[account];
            emit BreakGlassWindowsEnded(account, generation);
        }
    }

    // ---------------------------------------------------------------- internal

    /// @dev {grantBySig}'s checks and effect, returning the error it would raise (ABI-encoded) instead of
    /// reverting, so that a batch can name the failing item; empty on success. Same checks, same order.
    function _tryGrantBySig(
        address patient,
        address grantee,
        bytes32 recordId,
        uint8 scopes,
        uint8 purposes,
        uint40 validFrom,
        uint40 validUntil,
        address signer,
        uint256 deadline,
        bytes calldata signature
    ) private returns (bytes memory failure) {
        if (block.timestamp > deadline) {
            return abi.encodeWithSelector(SignatureExpired.selector, deadline, block.timestamp);
        }
        if (patient == address(0)) return abi.encodeWithSelector(ZeroAddress.selector);
        uint64 epoch = _epochs[patient];
        if (signer != patient) {
            GuardianSlot memory guardian = _guardians[patient][signer];
            if (block.timestamp >= guardian.validUntil) {
                return abi.encodeWithSelector(NotPatientOrGuardian.selector, patient, signer);
            }
            epoch |= uint64(guardian.epoch) << 32;
        }
        GrantSlot storage slot = _grants[patient][grantee][recordId];
        uint256 word = _word(slot);
        bytes32 structHash = _grantHash(
            patient, grantee, recordId, scopes, purposes, validFrom, validUntil, signer, uint32(word >> 96), epoch,
            deadline
        );
        if (!_isValidSignature(signer, _hashTypedDataV4(structHash), signature)) {
            return abi.encodeWithSelector(InvalidSignature.selector, signer);
        }
        failure = _grantFailure(grantee, scopes, purposes, validFrom, validUntil);
        if (failure.length == 0) {
            _writeGrant(slot, word, patient, grantee, recordId, scopes, purposes, validFrom, validUntil, signer);
        }
    }

    /// @dev The EIP-712 struct hash of a `Grant` message: keccak256(abi.encode(GRANT_TYPEHASH, ...)), encoded
    /// in the free memory without allocating it (a batch hashes many: allocations would add up).
    function _grantHash(
        address patient,
        address grantee,
        bytes32 recordId,
        uint8 scopes,
        uint8 purposes,
        uint40 validFrom,
        uint40 validUntil,
        address signer,
        uint32 version,
        uint64 epoch,
        uint256 deadline
    ) private pure returns (bytes32 structHash) {
        bytes32 typeHash = GRANT_TYPEHASH;
        // Each value is masked to its type's width (inline assembly sees no guarantee of clean high bits).
        assembly ("memory-safe") {
            let m := mload(0x40)
            let addressMask := 0xffffffffffffffffffffffffffffffffffffffff
            mstore(m, typeHash)
            mstore(add(m, 0x20), and(patient, addressMask))
            mstore(add(m, 0x40), and(grantee, addressMask))
            mstore(add(m, 0x60), recordId)
            mstore(add(m, 0x80), and(scopes, 0xff))
            mstore(add(m, 0xa0), and(purposes, 0xff))
            mstore(add(m, 0xc0), and(validFrom, 0xffffffffff))
            mstore(add(m, 0xe0), and(validUntil, 0xffffffffff))
            mstore(add(m, 0x100), and(signer, addressMask))
            mstore(add(m, 0x120), and(version, 0xffffffff))
            mstore(add(m, 0x140), and(epoch, 0xffffffffffffffff))
            mstore(add(m, 0x160), deadline)
            structHash := keccak256(m, 0x180)
        }
    }

    /// @dev The error a grant with these terms raises (ABI-encoded), or empty when they are valid: the
    /// checks of `_grant`, in the same order (tests/test_consent_batch.py keeps the two in step).
    function _grantFailure(address grantee, uint8 scopes, uint8 purposes, uint40 validFrom, uint40 validUntil)
        private
        view
        returns (bytes memory failure)
    {
        if (grantee == address(0)) return abi.encodeWithSelector(ZeroAddress.selector);
        if (scopes == 0 || scopes & ~SCOPE_ALL != 0) return abi.encodeWithSelector(InvalidScopes.selector, scopes);
        if (purposes == 0 || purposes & ~PURPOSE_ALL != 0) {
            return abi.encodeWithSelector(InvalidPurposes.selector, purposes);
        }
        if (validFrom >= validUntil) return abi.encodeWithSelector(InvalidValidity.selector, validFrom, validUntil);
        if (validUntil <= block.timestamp) {
            return abi.encodeWithSelector(ExpiryInPast.selector, validUntil, block.timestamp);
        }
        // Valid: `failure` stays the empty array (no allocation).
    }

    function _grant(
        GrantSlot storage slot,
        address patient,
        address grantee,
        bytes32 recordId,
        uint8 scopes,
        uint8 purposes,
        uint40 validFrom,
        uint40 validUntil,
        address actor
    ) private {
        // The checks of `_grantFailure`, as reverts (so that every error is in the ABI); a test keeps them in step.
        if (grantee == address(0)) revert ZeroAddress();
        if (scopes == 0 || scopes & ~SCOPE_ALL != 0) revert InvalidScopes(scopes);
        if (purposes == 0 || purposes & ~PURPOSE_ALL != 0) revert InvalidPurposes(purposes);
        if (validFrom >= validUntil) revert InvalidValidity(validFrom, validUntil);
        if (validUntil <= block.timestamp) revert ExpiryInPast(validUntil, block.timestamp);
        _writeGrant(slot, _word(slot), patient, grantee, recordId, scopes, purposes, validFrom, validUntil, actor);
    }

    /// @dev Writes the terms into the slot whose current word is `word`, bumps its version and keeps the
    /// break-glass fields: one SSTORE (bits 0-127 replaced, 128-255 kept; layout above `GrantSlot`).
    function _writeGrant(
        GrantSlot storage slot,
        uint256 word,
        address patient,
        address grantee,
        bytes32 recordId,
        uint8 scopes,
        uint8 purposes,
        uint40 validFrom,
        uint40 validUntil,
        address actor
    ) private {
        uint32 version = uint32(word >> 96) + 1;
        uint256 updated = (word >> 128) << 128 | uint256(version) << 96 | uint256(validUntil) << 56
            | uint256(validFrom) << 16 | uint256(purposes) << 8 | scopes;
        assembly ("memory-safe") {
            sstore(slot.slot, updated)
        }
        emit ConsentGranted(patient, grantee, recordId, scopes, purposes, validFrom, validUntil, actor);
    }

    function _revoke(GrantSlot storage slot, address patient, address grantee, bytes32 recordId, address actor)
        private
    {
        if (slot.scopes == 0) revert GrantNotFound(patient, grantee, recordId);
        slot.scopes = 0;
        slot.purposes = 0;
        slot.validFrom = 0;
        slot.validUntil = 0;
        ++slot.version;
        emit ConsentRevoked(patient, grantee, recordId, actor);
    }

    function _setGuardian(GuardianSlot storage slot, address patient, address guardian, uint40 validUntil) private {
        if (guardian == address(0) || guardian == patient) revert InvalidGuardian(patient, guardian);
        if (validUntil != 0 && validUntil <= block.timestamp) revert ExpiryInPast(validUntil, block.timestamp);
        slot.validUntil = validUntil;
        ++slot.version;
        ++slot.epoch;
        emit GuardianSet(patient, guardian, validUntil);
    }

    /// @dev The patient's invalidation bumps the patient's epoch (the low half of every signer epoch
    /// about the patient); a guardian's bumps only its own appointment epoch (the high half of its own).
    function _invalidateSignatures(address patient, address actor) private {
        uint64 epoch;
        if (actor == patient) {
            epoch = ++_epochs[patient];
        } else {
            epoch = uint64(++_guardians[patient][actor].epoch) << 32 | _epochs[patient];
        }
        emit SignaturesInvalidated(patient, epoch, actor);
    }

    function _accessBasis(address patient, address grantee, bytes32 recordId, uint8 scopes, uint8 purposes)
        private
        view
        returns (AccessBasis)
    {
        if (scopes == 0 || purposes == 0) return AccessBasis.None;
        mapping(bytes32 => GrantSlot) storage byRecord = _grants[patient][grantee];
        if (recordId != bytes32(0) && _covers(_word(byRecord[recordId]), scopes, purposes)) {
            return AccessBasis.RecordGrant;
        }
        uint256 wildcard = _word(byRecord[bytes32(0)]);
        if (_covers(wildcard, scopes, purposes)) return AccessBasis.WildcardGrant;
        if (_breakGlassCovers(wildcard, grantee, scopes, purposes)) return AccessBasis.BreakGlass;
        return AccessBasis.None;
    }

    /// @dev A grant slot as one word, decoded with the bit layout above `GrantSlot`: one SLOAD however
    /// many fields the access checks read (Solidity reads a packed struct's fields one SLOAD each).
    function _word(GrantSlot storage slot) private view returns (uint256 word) {
        assembly ("memory-safe") {
            word := sload(slot.slot)
        }
    }

    /// @dev Whether the grant in `word` is active now and covers every scope and purpose asked.
    function _covers(uint256 word, uint8 scopes, uint8 purposes) private view returns (bool) {
        return uint8(word) & scopes == scopes && uint8(word >> 8) & purposes == purposes
            && uint40(word >> 16) <= block.timestamp && block.timestamp < uint40(word >> 56);
    }

    /// @dev Break-glass answers an ETREAT-only question within the scopes while the account's window
    /// (breakGlassUntil, bits 128-167 of its wildcard slot) is open and of its current role generation
    /// (breakGlassGeneration, bits 208-239): the generation is read only when a window is open.
    function _breakGlassCovers(uint256 wildcard, address account, uint8 scopes, uint8 purposes)
        private
        view
        returns (bool)
    {
        return purposes == PURPOSE_ETREAT && scopes & ~SCOPE_ALL == 0 && block.timestamp < uint40(wildcard >> 128)
            && uint32(wildcard >> 208) == _breakGlassGenerations[account];
    }

    function _checkActor(address patient, address actor) private view {
        if (patient == address(0)) revert ZeroAddress();
        if (actor != patient && !isGuardian(patient, actor)) revert NotPatientOrGuardian(patient, actor);
    }

    /// @dev Checks that `signer` is the patient or a current guardian and returns its signer epoch
    /// (see `signerEpoch`), reading the guardian's slot once.
    function _checkSigner(address patient, address signer) private view returns (uint64 epoch) {
        if (patient == address(0)) revert ZeroAddress();
        epoch = _epochs[patient];
        if (signer != patient) {
            GuardianSlot memory guardian = _guardians[patient][signer];
            if (block.timestamp >= guardian.validUntil) revert NotPatientOrGuardian(patient, signer);
            epoch |= uint64(guardian.epoch) << 32;
        }
    }

    /// @dev Reverts with `data`, an ABI-encoded error.
    function _revertWith(bytes memory data) private pure {
        assembly ("memory-safe") {
            revert(add(data, 0x20), mload(data))
        }
    }
}
