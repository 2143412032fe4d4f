// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {ICredentialRegistry} from "./interfaces/ICredentialRegistry.sol";
import {IPreauthRegistry} from "./interfaces/IPreauthRegistry.sol";
import {IRecordRegistry} from "./interfaces/IRecordRegistry.sol";
import {InvalidSignature, SignatureExpired, UnknownSchema, ZeroAddress} from "./Common.sol";

/// @title PreauthRegistry
/// @notice Imaging prior authorization and claims between sites and payers, with gold-card
/// auto-approval checked against CredentialRegistry and every decision timed against its deadline.
contract PreauthRegistry is IPreauthRegistry, AccessControl, EIP712 {
    /// @notice Role allowed to register payers.
    bytes32 public constant PAYER_REGISTRAR_ROLE = keccak256("PAYER_REGISTRAR_ROLE");

    /// @notice What the ordering physician signs: that this order meets the payer's criteria.
    bytes32 public constant ORDER_TYPEHASH = keccak256(
        "OrderAttestation(address requester,address payer,bytes32 memberCommitment,bytes5 procedure,uint16 units,address physician,bool expedited,bytes32 clinicalCommitment,uint256 deadline)"
    );

    /// @notice CMS-0057-F decision deadlines: 72 hours expedited, 7 calendar days standard.
    uint32 public constant MAX_EXPEDITED_DECISION = 72 hours;
    uint32 public constant MAX_STANDARD_DECISION = 7 days;
    /// @notice CMS-0057-F: a standard decision may be extended once, by up to 14 calendar days.
    uint32 public constant MAX_EXTENSION = 14 days;
    /// @notice Extension reason: the patient (enrollee) asked for it.
    uint16 public constant EXTENSION_PATIENT_REQUEST = 1;
    /// @notice Extension reason: the payer justifies a need for additional information.
    uint16 public constant EXTENSION_ADDITIONAL_INFORMATION = 2;
    uint32 private constant _MAX_APPEAL_PERIOD = 365 days;

    uint8 private constant _EXPEDITED = 1 << 0;
    uint8 private constant _INFO_REQUESTED = 1 << 1;
    uint8 private constant _APPEALED = 1 << 2;
    uint8 private constant _DEADLINE_MISSED = 1 << 3;
    uint8 private constant _EXTENDED = 1 << 4;

    /// @dev A policy in two slots.
    /// Slot 0, from the low bits: active (0-7) | autoApproval (8-15) | maxUnits (16-31)
    ///   | approvalValidityDays (32-47) | standardDecisionSeconds (48-79) | expeditedDecisionSeconds (80-111)
    ///   | appealWindowSeconds (112-143) | appealDecisionSeconds (144-175) | goldCardSchema (176-207).
    /// Slot 1: payer (0-159) | required0 (160-191) | required1 (192-223) | required2 (224-255).
    struct PolicySlot {
        bool active;
        bool autoApproval;
        uint16 maxUnits;
        uint16 approvalValidityDays;
        uint32 standardDecisionSeconds;
        uint32 expeditedDecisionSeconds;
        uint32 appealWindowSeconds;
        uint32 appealDecisionSeconds;
        uint32 goldCardSchema;
        address payer;
        uint32 required0;
        uint32 required1;
        uint32 required2;
    }

    /// @dev A request in two slots.
    /// Slot 0: requester (0-159) | status (160-167) | flags (168-175: expedited, information requested,
    ///   appealed, deadline missed in the current phase, extended) | units (176-191) | approvedUnits (192-207)
    ///   | usedUnits (208-223) | policyId (224-255).
    /// Slot 1: requestedAt (0-39) | dueAt (40-79) | decidedAt (80-119) | expiresAt (120-159) | appealBy (160-199).
    /// Commitments, procedure and physician live in the events only.
    struct RequestSlot {
        address requester;
        Status status;
        uint8 flags;
        uint16 units;
        uint16 approvedUnits;
        uint16 usedUnits;
        uint32 policyId;
        uint40 requestedAt;
        uint40 dueAt;
        uint40 decidedAt;
        uint40 expiresAt;
        uint40 appealBy;
    }

    /// @dev A claim in one slot, under its request (claim ids are namespaced by authorization):
    /// status (bits 0-7) | units (8-23) | amount (24-119) | paidAmount (120-215) | submittedAt (216-255).
    struct ClaimSlot {
        ClaimStatus status;
        uint16 units;
        uint96 amount;
        uint96 paidAmount;
        uint40 submittedAt;
    }

    ICredentialRegistry private immutable _credentials;
    IRecordRegistry private immutable _records;

    mapping(address payer => uint32) private _payerIndex;
    uint32 private _payerCount;
    mapping(address payer => mapping(bytes5 procedure => uint32 policyId)) private _policyIds;
    mapping(uint32 policyId => PolicySlot) private _policies;
    uint32 private _policyCount;
    mapping(bytes32 requestId => RequestSlot) private _requests;
    mapping(bytes32 requestId => mapping(bytes32 claimId => ClaimSlot)) private _claims;

    constructor(address admin, ICredentialRegistry credentials, IRecordRegistry records)
        EIP712("radledger PreauthRegistry", "1")
    {
        if (admin == address(0) || address(credentials) == address(0) || address(records) == address(0)) {
            revert ZeroAddress();
        }
        _credentials = credentials;
        _records = records;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    // ------------------------------------------------------------- governance

    /// @inheritdoc IPreauthRegistry
    function registerPayer(address payer) external onlyRole(PAYER_REGISTRAR_ROLE) returns (uint32 index) {
        if (payer == address(0)) revert ZeroAddress();
        if (_payerIndex[payer] != 0) revert PayerAlreadyRegistered(payer);
        index = ++_payerCount;
        _payerIndex[payer] = index;
        emit PayerRegistered(payer, index);
    }

    /// @inheritdoc IPreauthRegistry
    function setPolicy(bytes5 procedure, Policy calldata policy) external returns (uint32 policyId) {
        if (_payerIndex[msg.sender] == 0) revert PayerNotRegistered(msg.sender);
        _checkProcedure(procedure);
        _checkPolicy(policy);
        policyId = _policyIds[msg.sender][procedure];
        if (policyId == 0) {
            policyId = ++_policyCount;
            _policyIds[msg.sender][procedure] = policyId;
        }
        _policies[policyId] = PolicySlot({
            active: policy.active,
            autoApproval: policy.autoApproval,
            maxUnits: policy.maxUnits,
            approvalValidityDays: policy.approvalValidityDays,
            standardDecisionSeconds: policy.standardDecisionSeconds,
            expeditedDecisionSeconds: policy.expeditedDecisionSeconds,
            appealWindowSeconds: policy.appealWindowSeconds,
            appealDecisionSeconds: policy.appealDecisionSeconds,
            goldCardSchema: policy.goldCardSchema,
            payer: msg.sender,
            required0: policy.requiredSchemas[0],
            required1: policy.requiredSchemas[1],
            required2: policy.requiredSchemas[2]
        });
        emit PolicySet(msg.sender, procedure, policyId, policy);
    }

    // ---------------------------------------------------------------- requests

    /// @inheritdoc IPreauthRegistry
    function request(
        address payer,
        bytes32 memberCommitment,
        bytes5 procedure,
        uint16 units,
        address physician,
        bool expedited,
        bytes32 clinicalCommitment,
        uint256 signatureDeadline,
        bytes calldata physicianSignature
    ) external returns (bytes32 requestId) {
        // Sites are RecordRegistry's active custodians: governance registers an imaging site once.
        if (!_records.isActiveCustodian(msg.sender)) revert NotRegisteredSite(msg.sender);
        if (units == 0) revert InvalidUnits(units);
        if (memberCommitment == bytes32(0) || clinicalCommitment == bytes32(0)) revert ZeroCommitment();
        if (physician == address(0)) revert ZeroAddress();
        uint32 policyId = _policyIds[payer][procedure];
        PolicySlot storage policy = _policies[policyId];
        if (policyId == 0 || !policy.active) revert PolicyInactive(payer, procedure);
        bytes32 subject = bytes32(uint256(uint160(physician)));
        _checkRequiredCredentials(policy, physician, subject);

        requestId = _orderDigest(
            msg.sender,
            payer,
            memberCommitment,
            procedure,
            units,
            physician,
            expedited,
            clinicalCommitment,
            signatureDeadline
        );
        RequestSlot storage stored = _requests[requestId];
        if (stored.status != Status.None) revert RequestExists(requestId);
        // A request names a physician only with that physician's signed order, pended or not.
        if (block.timestamp > signatureDeadline) revert SignatureExpired(signatureDeadline, block.timestamp);
        if (!SignatureChecker.isValidSignatureNowCalldata(physician, requestId, physicianSignature)) {
            revert InvalidSignature(physician);
        }

        uint40 now_ = uint40(block.timestamp);
        uint40 dueAt = now_ + (expedited ? policy.expeditedDecisionSeconds : policy.standardDecisionSeconds);
        bool automatic = _autoApproves(policy, units, subject);
        uint40 expiresAt = automatic ? now_ + uint40(policy.approvalValidityDays) * 1 days : 0;

        stored.requester = msg.sender;
        stored.status = automatic ? Status.Approved : Status.Pended;
        stored.flags = expedited ? _EXPEDITED : 0;
        stored.units = units;
        stored.approvedUnits = automatic ? units : 0;
        stored.policyId = policyId;
        stored.requestedAt = now_;
        stored.dueAt = dueAt;
        if (automatic) {
            stored.decidedAt = now_;
            stored.expiresAt = expiresAt;
        }
        emit PreauthRequested(
            requestId,
            payer,
            msg.sender,
            physician,
            procedure,
            units,
            expedited,
            memberCommitment,
            clinicalCommitment,
            dueAt
        );
        if (automatic) emit PreauthDecided(requestId, payer, Status.Approved, units, 0, expiresAt, 0, true, false);
    }

    // --------------------------------------------------------------- decisions

    /// @inheritdoc IPreauthRegistry
    function approve(bytes32 requestId) external {
        RequestSlot storage stored = _requests[requestId];
        _decide(requestId, stored, Status.Approved, stored.units, 0);
    }

    /// @inheritdoc IPreauthRegistry
    function modify(bytes32 requestId, uint16 approvedUnits) external {
        _decide(requestId, _requests[requestId], Status.Modified, approvedUnits, 0);
    }

    /// @inheritdoc IPreauthRegistry
    function deny(bytes32 requestId, uint16 reasonCode) external {
        if (reasonCode == 0) revert MissingReasonCode();
        _decide(requestId, _requests[requestId], Status.Denied, 0, reasonCode);
    }

    /// @inheritdoc IPreauthRegistry
    function requestInformation(bytes32 requestId, uint16 reasonCode) external {
        if (reasonCode == 0) revert MissingReasonCode();
        RequestSlot storage stored = _requests[requestId];
        address payer = _checkPayer(requestId, stored);
        _checkPending(requestId, stored);
        stored.flags |= _INFO_REQUESTED;
        emit InformationRequested(requestId, payer, reasonCode);
    }

    /// @inheritdoc IPreauthRegistry
    function extend(bytes32 requestId, uint40 newDueAt, uint16 reasonCode) external {
        if (reasonCode != EXTENSION_PATIENT_REQUEST && reasonCode != EXTENSION_ADDITIONAL_INFORMATION) {
            revert InvalidExtensionReason(reasonCode);
        }
        RequestSlot storage stored = _requests[requestId];
        address payer = _checkPayer(requestId, stored);
        Status status = stored.status;
        if (status != Status.Pended) revert InvalidStatus(requestId, status);
        uint8 flags = stored.flags;
        uint40 dueAt = stored.dueAt;
        // Standard requests only, once, and before the deadline passes (an extension is notified in time).
        if (flags & (_EXPEDITED | _EXTENDED) != 0 || block.timestamp > dueAt) revert ExtensionNotAllowed(requestId);
        uint40 latest = dueAt + MAX_EXTENSION;
        if (newDueAt <= dueAt || newDueAt > latest) revert InvalidExtension(requestId, newDueAt, dueAt, latest);
        stored.flags = flags | _EXTENDED;
        stored.dueAt = newDueAt;
        emit DecisionTimeframeExtended(requestId, payer, dueAt, newDueAt, reasonCode);
    }

    /// @inheritdoc IPreauthRegistry
    function provideInformation(bytes32 requestId, bytes32 clinicalCommitment) external {
        if (clinicalCommitment == bytes32(0)) revert ZeroCommitment();
        RequestSlot storage stored = _requests[requestId];
        _checkRequester(requestId, stored);
        _checkPending(requestId, stored);
        if (stored.flags & _INFO_REQUESTED == 0) revert NoInformationRequested(requestId);
        stored.flags &= ~_INFO_REQUESTED;
        emit InformationProvided(requestId, msg.sender, clinicalCommitment);
    }

    /// @inheritdoc IPreauthRegistry
    function cancel(bytes32 requestId) external {
        RequestSlot storage stored = _requests[requestId];
        _checkRequester(requestId, stored);
        _checkPending(requestId, stored);
        stored.status = Status.Cancelled;
        emit PreauthCancelled(requestId, msg.sender);
    }

    /// @inheritdoc IPreauthRegistry
    function appeal(bytes32 requestId, bytes32 clinicalCommitment) external {
        if (clinicalCommitment == bytes32(0)) revert ZeroCommitment();
        RequestSlot storage stored = _requests[requestId];
        _checkRequester(requestId, stored);
        Status status = stored.status;
        if (status != Status.Denied && status != Status.Modified) revert InvalidStatus(requestId, status);
        // A site that claimed against a modification accepted it: an appeal could then leave
        // fewer units approved than already used.
        if (stored.flags & _APPEALED != 0 || block.timestamp > stored.appealBy || stored.usedUnits != 0) {
            revert AppealNotAllowed(requestId, stored.appealBy);
        }
        uint40 dueAt = uint40(block.timestamp) + _policies[stored.policyId].appealDecisionSeconds;
        stored.status = Status.Appealed;
        stored.flags = (stored.flags | _APPEALED) & ~(_DEADLINE_MISSED | _INFO_REQUESTED);
        stored.dueAt = dueAt;
        emit PreauthAppealed(requestId, msg.sender, clinicalCommitment, dueAt);
    }

    /// @inheritdoc IPreauthRegistry
    function flagMissedDeadline(bytes32 requestId) external {
        RequestSlot storage stored = _requests[requestId];
        _checkPending(requestId, stored);
        uint40 dueAt = stored.dueAt;
        if (block.timestamp <= dueAt || stored.flags & _DEADLINE_MISSED != 0) revert DeadlineNotMissed(requestId, dueAt);
        stored.flags |= _DEADLINE_MISSED;
        emit DeadlineMissed(
            requestId, _policies[stored.policyId].payer, dueAt, stored.status == Status.Appealed, msg.sender
        );
    }

    // ------------------------------------------------------------------ claims

    /// @inheritdoc IPreauthRegistry
    function submitClaim(bytes32 requestId, bytes32 claimId, uint16 units, uint96 amount) external {
        RequestSlot storage stored = _requests[requestId];
        _checkRequester(requestId, stored);
        Status status = stored.status;
        if (status != Status.Approved && status != Status.Modified) revert InvalidStatus(requestId, status);
        if (block.timestamp >= stored.expiresAt) revert AuthorizationExpired(requestId, stored.expiresAt);
        if (units == 0) revert InvalidUnits(units);
        if (claimId == bytes32(0) || amount == 0) revert ZeroCommitment();
        // Cannot underflow: usedUnits never exceeds approvedUnits (checked below on every claim).
        uint16 remaining;
        unchecked {
            remaining = stored.approvedUnits - stored.usedUnits;
        }
        if (units > remaining) revert InsufficientUnits(requestId, units, remaining);
        ClaimSlot storage claim = _claims[requestId][claimId];
        if (claim.status != ClaimStatus.None) revert ClaimExists(requestId, claimId);
        stored.usedUnits += units;
        claim.status = ClaimStatus.Submitted;
        claim.units = units;
        claim.amount = amount;
        claim.submittedAt = uint40(block.timestamp);
        emit ClaimSubmitted(claimId, requestId, msg.sender, units, amount);
    }

    /// @inheritdoc IPreauthRegistry
    function adjudicateClaim(
        bytes32 requestId,
        bytes32 claimId,
        ClaimStatus status,
        uint96 paidAmount,
        uint16 reasonCode
    ) external {
        ClaimSlot storage claim = _claims[requestId][claimId];
        if (claim.status == ClaimStatus.None) revert ClaimNotFound(requestId, claimId);
        RequestSlot storage stored = _requests[requestId];
        _checkPayer(requestId, stored);
        if (claim.status != ClaimStatus.Submitted) revert ClaimAlreadyAdjudicated(claimId, claim.status);
        uint96 amount = claim.amount;
        bool consistent = (status == ClaimStatus.Paid && paidAmount == amount)
            || (status == ClaimStatus.PartiallyPaid && paidAmount > 0 && paidAmount < amount)
            || (status == ClaimStatus.Denied && paidAmount == 0);
        if (!consistent) revert InvalidAdjudication(claimId, status, paidAmount, amount);
        if (status == ClaimStatus.Denied) {
            if (reasonCode == 0) revert MissingReasonCode();
            stored.usedUnits -= claim.units;
        }
        claim.status = status;
        claim.paidAmount = paidAmount;
        emit ClaimAdjudicated(claimId, requestId, status, paidAmount, reasonCode);
    }

    // ------------------------------------------------------------------- views

    /// @inheritdoc IPreauthRegistry
    function orderDigest(
        address requester,
        address payer,
        bytes32 memberCommitment,
        bytes5 procedure,
        uint16 units,
        address physician,
        bool expedited,
        bytes32 clinicalCommitment,
        uint256 signatureDeadline
    ) external view returns (bytes32) {
        return _orderDigest(
            requester, payer, memberCommitment, procedure, units, physician, expedited, clinicalCommitment, signatureDeadline
        );
    }

    /// @inheritdoc IPreauthRegistry
    function getRequest(bytes32 requestId) external view returns (Request memory) {
        RequestSlot memory s = _requests[requestId];
        if (s.status == Status.None) revert RequestNotFound(requestId);
        return Request({
            requester: s.requester,
            payer: _policies[s.policyId].payer,
            status: s.status,
            expedited: s.flags & _EXPEDITED != 0,
            informationRequested: s.flags & _INFO_REQUESTED != 0,
            appealed: s.flags & _APPEALED != 0,
            deadlineMissed: s.flags & _DEADLINE_MISSED != 0,
            extended: s.flags & _EXTENDED != 0,
            units: s.units,
            approvedUnits: s.approvedUnits,
            usedUnits: s.usedUnits,
            requestedAt: s.requestedAt,
            dueAt: s.dueAt,
            decidedAt: s.decidedAt,
            expiresAt: s.expiresAt,
            appealBy: s.appealBy
        });
    }

    /// @inheritdoc IPreauthRegistry
    function getClaim(bytes32 requestId, bytes32 claimId) external view returns (Claim memory) {
        ClaimSlot memory c = _claims[requestId][claimId];
        if (c.status == ClaimStatus.None) revert ClaimNotFound(requestId, claimId);
        return Claim({
            requestId: requestId,
            status: c.status,
            units: c.units,
            amount: c.amount,
            paidAmount: c.paidAmount,
            submittedAt: c.submittedAt
        });
    }

    /// @inheritdoc IPreauthRegistry
    function getPolicy(address payer, bytes5 procedure) external view returns (Policy memory policy) {
        uint32 policyId = _policyIds[payer][procedure];
        if (policyId == 0) return policy;
        PolicySlot memory p = _policies[policyId];
        policy = Policy({
            active: p.active,
            autoApproval: p.autoApproval,
            maxUnits: p.maxUnits,
            approvalValidityDays: p.approvalValidityDays,
            standardDecisionSeconds: p.standardDecisionSeconds,
            expeditedDecisionSeconds: p.expeditedDecisionSeconds,
            appealWindowSeconds: p.appealWindowSeconds,
            appealDecisionSeconds: p.appealDecisionSeconds,
            goldCardSchema: p.goldCardSchema,
            requiredSchemas: [p.required0, p.required1, p.required2]
        });
    }

    /// @inheritdoc IPreauthRegistry
    function payerIndex(address payer) external view returns (uint32) {
        return _payerIndex[payer];
    }

    /// @inheritdoc IPreauthRegistry
    function credentialRegistry() external view returns (ICredentialRegistry) {
        return _credentials;
    }

    /// @inheritdoc IPreauthRegistry
    function recordRegistry() external view returns (IRecordRegistry) {
        return _records;
    }

    // ---------------------------------------------------------------- internal

    function _decide(
        bytes32 requestId,
        RequestSlot storage stored,
        Status status,
        uint16 approvedUnits,
        uint16 reasonCode
    ) private {
        address payer = _checkPayer(requestId, stored);
        _checkPending(requestId, stored);
        if (status == Status.Modified && (approvedUnits == 0 || approvedUnits >= stored.units)) {
            revert InvalidApprovedUnits(requestId, approvedUnits, stored.units);
        }
        bool onAppeal = stored.status == Status.Appealed;
        PolicySlot storage policy = _policies[stored.policyId];
        uint40 now_ = uint40(block.timestamp);
        uint40 expiresAt = status == Status.Denied ? 0 : now_ + uint40(policy.approvalValidityDays) * 1 days;
        uint40 appealBy = status == Status.Approved || onAppeal ? 0 : now_ + policy.appealWindowSeconds;
        stored.status = status;
        stored.approvedUnits = approvedUnits;
        stored.flags &= ~_INFO_REQUESTED;
        stored.decidedAt = now_;
        stored.expiresAt = expiresAt;
        stored.appealBy = appealBy;
        emit PreauthDecided(requestId, payer, status, approvedUnits, reasonCode, expiresAt, appealBy, false, onAppeal);
    }

    function _autoApproves(PolicySlot storage policy, uint16 units, bytes32 subject) private view returns (bool) {
        if (!policy.autoApproval || units > policy.maxUnits) return false;
        uint32 goldCard = policy.goldCardSchema;
        return goldCard != 0 && _credentials.hasValidCredential(subject, goldCard);
    }

    function _checkRequiredCredentials(PolicySlot storage policy, address physician, bytes32 subject) private view {
        uint32[3] memory required = [policy.required0, policy.required1, policy.required2];
        for (uint256 i; i < 3; ++i) {
            uint32 schema = required[i];
            if (schema != 0 && !_credentials.hasValidCredential(subject, schema)) {
                revert PhysicianNotCredentialed(physician, schema);
            }
        }
    }

    function _checkPolicy(Policy calldata policy) private view {
        if (policy.maxUnits == 0) revert InvalidPolicy("maxUnits");
        if (policy.approvalValidityDays == 0) revert InvalidPolicy("approvalValidityDays");
        if (policy.standardDecisionSeconds == 0) revert InvalidPolicy("standardDecisionSeconds");
        if (policy.expeditedDecisionSeconds == 0) revert InvalidPolicy("expeditedDecisionSeconds");
        if (policy.standardDecisionSeconds > MAX_STANDARD_DECISION) {
            revert DeadlineBeyondRegulatoryLimit(policy.standardDecisionSeconds, MAX_STANDARD_DECISION);
        }
        if (policy.expeditedDecisionSeconds > MAX_EXPEDITED_DECISION) {
            revert DeadlineBeyondRegulatoryLimit(policy.expeditedDecisionSeconds, MAX_EXPEDITED_DECISION);
        }
        if (policy.appealWindowSeconds == 0 || policy.appealWindowSeconds > _MAX_APPEAL_PERIOD) {
            revert InvalidPolicy("appealWindowSeconds");
        }
        if (policy.appealDecisionSeconds == 0 || policy.appealDecisionSeconds > _MAX_APPEAL_PERIOD) {
            revert InvalidPolicy("appealDecisionSeconds");
        }
        if (policy.autoApproval && policy.goldCardSchema == 0) revert InvalidPolicy("goldCardSchema");
        uint32 schemaCount = _credentials.schemaCount();
        if (policy.goldCardSchema > schemaCount) revert UnknownSchema(policy.goldCardSchema);
        for (uint256 i; i < 3; ++i) {
            if (policy.requiredSchemas[i] > schemaCount) revert UnknownSchema(policy.requiredSchemas[i]);
        }
    }

    function _checkProcedure(bytes5 procedure) private pure {
        for (uint256 i; i < 5; ++i) {
            bytes1 c = procedure[i];
            bool alphanumeric = (c >= "0" && c <= "9") || (c >= "A" && c <= "Z");
            if (!alphanumeric) revert InvalidProcedure(procedure);
        }
    }

    function _checkPayer(bytes32 requestId, RequestSlot storage stored) private view returns (address payer) {
        if (stored.status == Status.None) revert RequestNotFound(requestId);
        payer = _policies[stored.policyId].payer;
        if (msg.sender != payer) revert NotPayer(requestId, msg.sender);
    }

    function _checkRequester(bytes32 requestId, RequestSlot storage stored) private view {
        if (stored.status == Status.None) revert RequestNotFound(requestId);
        if (msg.sender != stored.requester) revert NotRequester(requestId, msg.sender);
    }

    function _checkPending(bytes32 requestId, RequestSlot storage stored) private view {
        Status status = stored.status;
        if (status == Status.None) revert RequestNotFound(requestId);
        if (status != Status.Pended && status != Status.Appealed) revert InvalidStatus(requestId, status);
    }

    function _orderDigest(
        address requester,
        address payer,
        bytes32 memberCommitment,
        bytes5 procedure,
        uint16 units,
        address physician,
        bool expedited,
        bytes32 clinicalCommitment,
        uint256 signatureDeadline
    ) private view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(
                abi.encode(
                    ORDER_TYPEHASH,
                    requester,
                    payer,
                    memberCommitment,
                    procedure,
                    units,
                    physician,
                    expedited,
                    clinicalCommitment,
                    signatureDeadline
                )
            )
        );
    }
}
