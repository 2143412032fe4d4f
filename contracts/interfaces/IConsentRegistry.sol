// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IRecordRegistry} from "./IRecordRegistry.sol";

/// @title ConsentRegistry: patient-controlled access to medical records.
/// @notice A patient grants a grantee access to one record (or, with record id 0, to all of
/// the patient's records) for a set of data classes (scopes) and purposes of use, within a
/// validity window. Grants are permit-only and additive; revoke removes exactly the grant it
/// names. Every patient action has a `...BySig` twin (EIP-712; ERC-1271 wallets and
/// EIP-7702-delegated EOAs accepted) so a patient never needs ETH, and signed grants relay in
/// batches; guardians act for the patient until their expiry; accounts holding the break-glass
/// role get time-boxed emergency access, always evented, that ends when they lose the role.
/// Whoever checks access takes the patient from the record (RecordRegistry or the site's own
/// map), never from the requester.
interface IConsentRegistry {
    /// @notice A grant as the views return it.
    /// @dev `version` counts changes of the grant's slot and is what signatures commit to;
    /// `breakGlassUntil` is only ever set in the wildcard slot (record id 0) of a break-glass account.
    struct Grant {
        uint8 scopes;
        uint8 purposes;
        uint40 validFrom;
        uint40 validUntil;
        uint32 version;
        uint40 breakGlassUntil;
    }

    /// @notice A guardian appointment as the views return it.
    /// @dev `version` counts the patient's changes of the appointment and is what `SetGuardian`
    /// signatures commit to.
    struct Guardian {
        uint40 validUntil;
        uint32 version;
    }

    /// @notice One signed grant of a batch: the arguments of {grantBySig}.
    struct SignedGrant {
        address patient;
        address grantee;
        bytes32 recordId;
        uint8 scopes;
        uint8 purposes;
        uint40 validFrom;
        uint40 validUntil;
        address signer;
        uint256 deadline;
        bytes signature;
    }

    /// @notice Why an access is allowed.
    enum AccessBasis {
        None,
        RecordGrant,
        WildcardGrant,
        BreakGlass
    }

    /// @notice Emitted when a grant is created or replaced. `actor` is the patient or the guardian who acted.
    event ConsentGranted(
        address indexed patient,
        address indexed grantee,
        bytes32 indexed recordId,
        uint8 scopes,
        uint8 purposes,
        uint40 validFrom,
        uint40 validUntil,
        address actor
    );
    /// @notice Emitted when a grant is revoked. `actor` is the patient or the guardian who acted.
    event ConsentRevoked(address indexed patient, address indexed grantee, bytes32 indexed recordId, address actor);
    /// @notice Emitted when a patient appoints, renews or (with `validUntil` 0) removes a guardian.
    event GuardianSet(address indexed patient, address indexed guardian, uint40 validUntil);
    /// @notice Emitted when `actor` invalidates its outstanding signatures about `patient`'s consents: the
    /// patient's own and its guardians' when `actor` is the patient, only the guardian's own otherwise.
    /// `epoch` is the actor's new signer epoch (see {signerEpoch}).
    event SignaturesInvalidated(address indexed patient, uint64 epoch, address actor);
    /// @notice Emitted when an emergency account invokes (or renews) break-glass access to a patient's records.
    event BreakGlassInvoked(address indexed patient, address indexed account, uint16 reasonCode, uint40 validUntil);
    /// @notice Emitted when `account` loses the break-glass role: every break-glass window it holds ends now.
    /// `generation` counts the account's losses of the role; a window belongs to the generation it was opened in.
    event BreakGlassWindowsEnded(address indexed account, uint32 generation);
    /// @notice Emitted for every recorded access (the accounting of disclosures).
    event AccessRecorded(
        bytes32 indexed recordId,
        address indexed patient,
        address indexed grantee,
        uint8 scopes,
        uint8 purpose,
        AccessBasis basis,
        address recorder
    );

    /// @notice The caller (or signer) is neither the patient nor one of the patient's current guardians.
    error NotPatientOrGuardian(address patient, address account);
    /// @notice Scopes must be a non-empty subset of the known scopes.
    error InvalidScopes(uint8 scopes);
    /// @notice Purposes must be a non-empty subset of the known purposes (one purpose when recording an access).
    error InvalidPurposes(uint8 purposes);
    /// @notice There is no active grant to revoke.
    error GrantNotFound(address patient, address grantee, bytes32 recordId);
    /// @notice A guardian cannot be the zero address or the patient.
    error InvalidGuardian(address patient, address guardian);
    /// @notice The break-glass window must lie between one minute and three days.
    error InvalidBreakGlassDuration(uint40 duration);
    /// @notice The account's run of break-glass windows on this patient reached its maximum (three windows
    /// from the first invocation); a new run may start at `availableAt`, one window after the last one ended.
    error BreakGlassLimitReached(address patient, address account, uint40 availableAt);
    /// @notice No record has this id in RecordRegistry.
    error UnknownRecord(bytes32 recordId);
    /// @notice Only the grantee, or the record's custodian on its behalf, may record an access.
    error NotGranteeOrCustodian(bytes32 recordId, address caller);
    /// @notice The grantee has no access to the record for this scope and purpose.
    error AccessDenied(address patient, address grantee, bytes32 recordId, uint8 scopes, uint8 purpose);

    /// @notice Grants (or replaces the grant of) `grantee` access to `recordId` (0: all the patient's records).
    /// The caller is the patient or a current guardian of the patient.
    function grant(
        address patient,
        address grantee,
        bytes32 recordId,
        uint8 scopes,
        uint8 purposes,
        uint40 validFrom,
        uint40 validUntil
    ) external;

    /// @notice {grant} with an EIP-712 `Grant` signature of the patient or a guardian (`signer`), relayed by anyone.
    /// The signature commits to the grant slot's version and to `signerEpoch(patient, signer)`.
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
    ) external;

    /// @notice Revokes exactly the grant named. The caller is the patient or a current guardian.
    function revoke(address patient, address grantee, bytes32 recordId) external;

    /// @notice Relays several signed grants in one transaction, in order, each exactly as {grantBySig} would.
    /// All or nothing: the first item that fails reverts the whole batch with
    /// `BatchItemFailed(index, reason)`, `reason` being the error {grantBySig} raises for it.
    function grantBySigBatch(SignedGrant[] calldata grants) external;

    /// @notice {revoke} with an EIP-712 `Revoke` signature of the patient or a guardian (`signer`), committing
    /// to the grant slot's version and to `signerEpoch(patient, signer)`.
    function revokeBySig(
        address patient,
        address grantee,
        bytes32 recordId,
        address signer,
        uint256 deadline,
        bytes calldata signature
    ) external;

    /// @notice The caller (a patient) appoints `guardian` until `validUntil`, or removes it with 0.
    function setGuardian(address guardian, uint40 validUntil) external;

    /// @notice {setGuardian} with an EIP-712 `SetGuardian` signature of the patient. It commits to the
    /// appointment's version and the patient's own epoch, neither of which a guardian can change, so a
    /// patient's signed removal of a guardian can always be relayed.
    function setGuardianBySig(
        address patient,
        address guardian,
        uint40 validUntil,
        uint256 deadline,
        bytes calldata signature
    ) external;

    /// @notice Invalidates the caller's outstanding signatures about `patient`'s consents. The patient's
    /// invalidation voids every signature about its consents (its own and its guardians'); a current
    /// guardian's voids only its own.
    function invalidateSignatures(address patient) external;

    /// @notice {invalidateSignatures} with an EIP-712 `InvalidateSignatures` signature of the patient or a guardian.
    function invalidateSignaturesBySig(address patient, address signer, uint256 deadline, bytes calldata signature)
        external;

    /// @notice Emergency access to all of `patient`'s records, all scopes, purpose ETREAT, for the
    /// contract's fixed window. Break-glass role only. Invoking again while the window is open, or
    /// less than one window after it ended, renews it within the same run; a run lasts at most three
    /// windows from its first invocation (`BreakGlassLimitReached` after that). A window ends early
    /// when the account loses the role, and stays ended if the role is granted again.
    function breakGlass(address patient, uint16 reasonCode) external;

    /// @notice Whether `grantee` may access `recordId` of `patient` for every scope in `scopes` and every
    /// purpose in `purposes`, now. Reads at most two storage slots (three only while a break-glass
    /// window outlives its account's role: the grants then decide).
    function hasAccess(address patient, address grantee, bytes32 recordId, uint8 scopes, uint8 purposes)
        external
        view
        returns (bool);

    /// @notice Why `grantee` may access the record now (the record's own grant first, then the wildcard
    /// grant, then break-glass), or `None`.
    function accessBasis(address patient, address grantee, bytes32 recordId, uint8 scopes, uint8 purposes)
        external
        view
        returns (AccessBasis);

    /// @notice Puts an access on the trail after checking it: takes the patient from RecordRegistry and
    /// reverts with `AccessDenied` without access. Callable by the grantee or the record's custodian.
    function recordAccess(address grantee, bytes32 recordId, uint8 scopes, uint8 purpose)
        external
        returns (AccessBasis basis);

    /// @notice The grant slot of (`patient`, `grantee`, `recordId`), active or not. `breakGlassUntil` is 0
    /// once the window was ended by the account's loss of the break-glass role.
    function getGrant(address patient, address grantee, bytes32 recordId) external view returns (Grant memory);

    /// @notice The guardian appointment of `guardian` for `patient`.
    function getGuardian(address patient, address guardian) external view returns (Guardian memory);

    /// @notice Whether `guardian` is a current guardian of `patient`.
    function isGuardian(address patient, address guardian) external view returns (bool);

    /// @notice The patient's own signature epoch, bumped by the patient's invalidation only.
    function signatureEpoch(address patient) external view returns (uint64);

    /// @notice The epoch a signature of `signer` about `patient` commits to: the patient's epoch for the
    /// patient; for a guardian, the patient's epoch in the low 32 bits and, above them, the guardian's
    /// appointment epoch, which every {setGuardian} of that guardian and the guardian's own invalidation
    /// bump. So a guardian's signatures die with its appointment (removal, re-appointment, renewal).
    function signerEpoch(address patient, address signer) external view returns (uint64);

    /// @notice The fixed length of a break-glass window, in seconds.
    function breakGlassDuration() external view returns (uint40);

    /// @notice The RecordRegistry that `recordAccess` reads.
    function recordRegistry() external view returns (IRecordRegistry);
}
