// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IConsentRegistry} from "./interfaces/IConsentRegistry.sol";
import {IRecordRegistry} from "./interfaces/IRecordRegistry.sol";
import {SignatureVerifier} from "./utils/SignatureVerifier.sol";
import {
    ExpiryInPast,
    InvalidReasonCode,
    InvalidValidity,
    PURPOSE_ALL,
    PURPOSE_ETREAT,
    SCOPE_ALL,
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

    /// @dev One slot per (patient, grantee, recordId), from the low bits:
    /// scopes (bits 0-7) | purposes (8-15) | validFrom (16-55) | validUntil (56-95)
    /// | version (96-127) | breakGlassUntil (128-167) | unused (168-255).
    /// A grant is active while scopes != 0 and validFrom <= now < validUntil. Revoke clears the
    /// terms and keeps version and breakGlassUntil, so the slot is never zeroed: the version is
    /// the replay protection of signatures, bumped on every grant or revoke.
    struct GrantSlot {
        uint8 scopes;
        uint8 purposes;
        uint40 validFrom;
        uint40 validUntil;
        uint32 version;
        uint40 breakGlassUntil;
    }

    /// @dev One slot per (patient, guardian): validUntil (bits 0-39) | version (40-71).
    struct GuardianSlot {
        uint40 validUntil;
        uint32 version;
    }

    IRecordRegistry private immutable _records;
    uint40 private immutable _breakGlassDuration;

    mapping(address patient => mapping(address grantee => mapping(bytes32 recordId => GrantSlot))) private _grants;
    mapping(address patient => mapping(address guardian => GuardianSlot)) private _guardians;
    mapping(address patient => uint64) private _epochs;

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
        _checkDeadline(deadline);
        _checkActor(patient, signer);
        GrantSlot storage slot = _grants[patient][grantee][recordId];
        bytes32 structHash = keccak256(
            bytes.concat(
                abi.encode(GRANT_TYPEHASH, patient, grantee, recordId, scopes, purposes, validFrom),
                abi.encode(validUntil, signer, slot.version, _epochs[patient], deadline)
            )
        );
        _checkSignature(signer, structHash, signature);
        _grant(slot, patient, grantee, recordId, scopes, purposes, validFrom, validUntil, signer);
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
        _checkActor(patient, signer);
        GrantSlot storage slot = _grants[patient][grantee][recordId];
        bytes32 structHash = keccak256(
            abi.encode(REVOKE_TYPEHASH, patient, grantee, recordId, signer, slot.version, _epochs[patient], deadline)
        );
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
        _checkActor(patient, msg.sender);
        _invalidateSignatures(patient, msg.sender);
    }

    /// @inheritdoc IConsentRegistry
    function invalidateSignaturesBySig(address patient, address signer, uint256 deadline, bytes calldata signature)
        external
    {
        _checkDeadline(deadline);
        _checkActor(patient, signer);
        bytes32 structHash =
            keccak256(abi.encode(INVALIDATE_SIGNATURES_TYPEHASH, patient, signer, _epochs[patient], deadline));
        _checkSignature(signer, structHash, signature);
        _invalidateSignatures(patient, signer);
    }

    // ------------------------------------------------------------- break-glass

    /// @inheritdoc IConsentRegistry
    function breakGlass(address patient, uint16 reasonCode) external onlyRole(BREAK_GLASS_ROLE) {
        if (patient == address(0)) revert ZeroAddress();
        if (reasonCode == 0) revert InvalidReasonCode(reasonCode);
        uint40 until = uint40(block.timestamp) + _breakGlassDuration;
        _grants[patient][msg.sender][bytes32(0)].breakGlassUntil = until;
        emit BreakGlassInvoked(patient, msg.sender, reasonCode, until);
    }

    // ------------------------------------------------------------------ access

    /// @inheritdoc IConsentRegistry
    function hasAccess(address patient, address grantee, bytes32 recordId, uint8 scopes, uint8 purposes)
        external
        view
        returns (bool)
    {
        return _accessBasis(patient, grantee, recordId, scopes, purposes) != AccessBasis.None;
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
        return Grant({
            scopes: slot.scopes,
            purposes: slot.purposes,
            validFrom: slot.validFrom,
            validUntil: slot.validUntil,
            version: slot.version,
            breakGlassUntil: slot.breakGlassUntil
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
    function breakGlassDuration() external view returns (uint40) {
        return _breakGlassDuration;
    }

    /// @inheritdoc IConsentRegistry
    function recordRegistry() external view returns (IRecordRegistry) {
        return _records;
    }

    // ---------------------------------------------------------------- internal

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
        if (grantee == address(0)) revert ZeroAddress();
        if (scopes == 0 || scopes & ~SCOPE_ALL != 0) revert InvalidScopes(scopes);
        if (purposes == 0 || purposes & ~PURPOSE_ALL != 0) revert InvalidPurposes(purposes);
        if (validFrom >= validUntil) revert InvalidValidity(validFrom, validUntil);
        if (validUntil <= block.timestamp) revert ExpiryInPast(validUntil, block.timestamp);
        slot.scopes = scopes;
        slot.purposes = purposes;
        slot.validFrom = validFrom;
        slot.validUntil = validUntil;
        ++slot.version;
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
        emit GuardianSet(patient, guardian, validUntil);
    }

    function _invalidateSignatures(address patient, address actor) private {
        uint64 epoch = ++_epochs[patient];
        emit SignaturesInvalidated(patient, epoch, actor);
    }

    function _accessBasis(address patient, address grantee, bytes32 recordId, uint8 scopes, uint8 purposes)
        private
        view
        returns (AccessBasis)
    {
        if (scopes == 0 || purposes == 0) return AccessBasis.None;
        mapping(bytes32 => GrantSlot) storage byRecord = _grants[patient][grantee];
        if (recordId != bytes32(0) && _covers(byRecord[recordId], scopes, purposes)) return AccessBasis.RecordGrant;
        GrantSlot storage wildcard = byRecord[bytes32(0)];
        if (_covers(wildcard, scopes, purposes)) return AccessBasis.WildcardGrant;
        if (purposes == PURPOSE_ETREAT && scopes & ~SCOPE_ALL == 0 && block.timestamp < wildcard.breakGlassUntil) {
            return AccessBasis.BreakGlass;
        }
        return AccessBasis.None;
    }

    function _covers(GrantSlot storage slot, uint8 scopes, uint8 purposes) private view returns (bool) {
        return slot.scopes & scopes == scopes && slot.purposes & purposes == purposes
            && slot.validFrom <= block.timestamp && block.timestamp < slot.validUntil;
    }

    function _checkActor(address patient, address actor) private view {
        if (patient == address(0)) revert ZeroAddress();
        if (actor != patient && !isGuardian(patient, actor)) revert NotPatientOrGuardian(patient, actor);
    }
}
