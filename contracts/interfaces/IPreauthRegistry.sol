// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ICredentialRegistry} from "./ICredentialRegistry.sol";
import {IRecordRegistry} from "./IRecordRegistry.sol";

/// @title PreauthRegistry: imaging prior authorization and claims on a shared ledger.
/// @notice Payers publish a policy per procedure code (CPT/HCPCS, 5 characters); sites (the active
/// custodians of RecordRegistry) request authorization with salted commitments only (member, and
/// diagnoses with evidence: no diagnosis reaches the chain, not even hashed without salt); the
/// ordering physician signs (EIP-712) that the order meets the payer's criteria, and no request
/// names a physician without that signature. A request is approved at once when the policy allows
/// auto-approval, the physician holds every required credential and the payer's gold card and the
/// units are within the maximum; otherwise it is pended with the decision deadline of CMS-0057-F
/// (72 hours expedited, 7 days standard), which the payer may extend once, by up to 14 days, for a
/// standard request. Decisions, extensions, appeals, cancellations, missed deadlines and claims are
/// all evented for auditors. Claim ids are namespaced by authorization: a claim is (requestId, claimId).
interface IPreauthRegistry {
    /// @notice Where a request stands. X12 278 HCR01: Pended and Appealed = A4, Approved = A1,
    /// Modified = A6, Denied = A3, Cancelled = C.
    enum Status {
        None,
        Pended,
        Approved,
        Modified,
        Denied,
        Cancelled,
        Appealed
    }

    /// @notice A claim's adjudication.
    enum ClaimStatus {
        None,
        Submitted,
        Paid,
        PartiallyPaid,
        Denied
    }

    /// @notice A payer's rules for one procedure code.
    /// @param requiredSchemas Credential schemas the ordering physician must hold (0 = unused slot).
    /// @param goldCardSchema The payer's gold-card schema, required for auto-approval (0: none).
    struct Policy {
        bool active;
        bool autoApproval;
        uint16 maxUnits;
        uint16 approvalValidityDays;
        uint32 standardDecisionSeconds;
        uint32 expeditedDecisionSeconds;
        uint32 appealWindowSeconds;
        uint32 appealDecisionSeconds;
        uint32 goldCardSchema;
        uint32[3] requiredSchemas;
    }

    /// @notice A request as the views return it.
    struct Request {
        address requester;
        address payer;
        Status status;
        bool expedited;
        bool informationRequested;
        bool appealed;
        bool deadlineMissed;
        bool extended;
        uint16 units;
        uint16 approvedUnits;
        uint16 usedUnits;
        uint40 requestedAt;
        uint40 dueAt;
        uint40 decidedAt;
        uint40 expiresAt;
        uint40 appealBy;
    }

    /// @notice A claim as the views return it.
    struct Claim {
        bytes32 requestId;
        ClaimStatus status;
        uint16 units;
        uint96 amount;
        uint96 paidAmount;
        uint40 submittedAt;
    }

    /// @notice Emitted when governance registers a payer.
    event PayerRegistered(address indexed payer, uint32 indexed index);
    /// @notice Emitted when a payer sets (or changes) its policy for a procedure.
    event PolicySet(address indexed payer, bytes5 indexed procedure, uint32 indexed policyId, Policy policy);
    /// @notice Emitted when a site requests authorization.
    event PreauthRequested(
        bytes32 indexed requestId,
        address indexed payer,
        address indexed requester,
        address physician,
        bytes5 procedure,
        uint16 units,
        bool expedited,
        bytes32 memberCommitment,
        bytes32 clinicalCommitment,
        uint40 dueAt
    );
    /// @notice Emitted for every decision: automatic, by the payer, or on appeal.
    event PreauthDecided(
        bytes32 indexed requestId,
        address indexed payer,
        Status status,
        uint16 approvedUnits,
        uint16 reasonCode,
        uint40 expiresAt,
        uint40 appealBy,
        bool automatic,
        bool onAppeal
    );
    /// @notice Emitted when the payer asks for more information (the deadline keeps running).
    event InformationRequested(bytes32 indexed requestId, address indexed payer, uint16 reasonCode);
    /// @notice Emitted when the payer extends the decision timeframe of a pended standard request
    /// (once, by up to 14 days): `reasonCode` 1 the patient asked for it, 2 the payer needs more information.
    event DecisionTimeframeExtended(
        bytes32 indexed requestId, address indexed payer, uint40 previousDueAt, uint40 newDueAt, uint16 reasonCode
    );
    /// @notice Emitted when the site answers with a new clinical commitment.
    event InformationProvided(bytes32 indexed requestId, address indexed requester, bytes32 clinicalCommitment);
    /// @notice Emitted when the requester cancels a pended request.
    event PreauthCancelled(bytes32 indexed requestId, address indexed requester);
    /// @notice Emitted when the requester appeals a denial or modification.
    event PreauthAppealed(
        bytes32 indexed requestId, address indexed requester, bytes32 clinicalCommitment, uint40 dueAt
    );
    /// @notice Emitted when anyone flags a decision deadline that passed without a decision.
    event DeadlineMissed(bytes32 indexed requestId, address indexed payer, uint40 dueAt, bool onAppeal, address flaggedBy);
    /// @notice Emitted when the requesting site submits a claim against an authorization.
    event ClaimSubmitted(
        bytes32 indexed claimId, bytes32 indexed requestId, address indexed requester, uint16 units, uint96 amount
    );
    /// @notice Emitted when the payer adjudicates a claim.
    event ClaimAdjudicated(
        bytes32 indexed claimId, bytes32 indexed requestId, ClaimStatus status, uint96 paidAmount, uint16 reasonCode
    );

    /// @notice Only an active custodian of RecordRegistry (a registered imaging site) may request authorization.
    error NotRegisteredSite(address account);
    /// @notice An extension's reason code is 1 (the patient asked) or 2 (the payer needs more information).
    error InvalidExtensionReason(uint16 reasonCode);
    /// @notice The request cannot be extended: expedited, already extended, or its deadline has passed.
    error ExtensionNotAllowed(bytes32 requestId);
    /// @notice The new deadline must be after the current one and at most 14 days after it.
    error InvalidExtension(bytes32 requestId, uint40 newDueAt, uint40 dueAt, uint40 latest);
    /// @notice The account is already a payer.
    error PayerAlreadyRegistered(address payer);
    /// @notice The account is not a registered payer.
    error PayerNotRegistered(address account);
    /// @notice A procedure code is five non-zero characters.
    error InvalidProcedure(bytes5 procedure);
    /// @notice A policy's limits are out of range (field names the offending one).
    error InvalidPolicy(string field);
    /// @notice A decision deadline exceeds the regulatory maximum (72 h expedited, 7 days standard).
    error DeadlineBeyondRegulatoryLimit(uint32 seconds_, uint32 limit);
    /// @notice The payer has no active policy for the procedure.
    error PolicyInactive(address payer, bytes5 procedure);
    /// @notice Units must be at least one.
    error InvalidUnits(uint16 units);
    /// @notice A commitment must not be zero.
    error ZeroCommitment();
    /// @notice The ordering physician lacks a credential the policy requires.
    error PhysicianNotCredentialed(address physician, uint32 schema);
    /// @notice A request with this id exists already (the same signed order submitted twice).
    error RequestExists(bytes32 requestId);
    /// @notice No request has this id.
    error RequestNotFound(bytes32 requestId);
    /// @notice The caller is not the payer of the request.
    error NotPayer(bytes32 requestId, address caller);
    /// @notice The caller is not the requester of the request.
    error NotRequester(bytes32 requestId, address caller);
    /// @notice The request is not in a status that allows this action.
    error InvalidStatus(bytes32 requestId, Status status);
    /// @notice A modification approves fewer units than requested, and at least one.
    error InvalidApprovedUnits(bytes32 requestId, uint16 approvedUnits, uint16 units);
    /// @notice A denial (of a request or a claim) needs a reason code.
    error MissingReasonCode();
    /// @notice No information was requested, so none can be provided.
    error NoInformationRequested(bytes32 requestId);
    /// @notice The appeal window has closed, the request was already appealed, or claims use its units.
    error AppealNotAllowed(bytes32 requestId, uint40 appealBy);
    /// @notice The decision deadline has not passed, or it was already flagged.
    error DeadlineNotMissed(bytes32 requestId, uint40 dueAt);
    /// @notice The authorization expired.
    error AuthorizationExpired(bytes32 requestId, uint40 expiresAt);
    /// @notice A claim would use more units than remain approved.
    error InsufficientUnits(bytes32 requestId, uint16 requested, uint16 remaining);
    /// @notice A claim with this id exists already under this authorization.
    error ClaimExists(bytes32 requestId, bytes32 claimId);
    /// @notice No claim has this id under this authorization.
    error ClaimNotFound(bytes32 requestId, bytes32 claimId);
    /// @notice The claim was already adjudicated.
    error ClaimAlreadyAdjudicated(bytes32 claimId, ClaimStatus status);
    /// @notice The adjudication is inconsistent (paid amount against status and amount).
    error InvalidAdjudication(bytes32 claimId, ClaimStatus status, uint96 paidAmount, uint96 amount);

    /// @notice Registers `payer`. Governance only.
    function registerPayer(address payer) external returns (uint32 index);

    /// @notice The calling payer sets its policy for `procedure`.
    function setPolicy(bytes5 procedure, Policy calldata policy) external returns (uint32 policyId);

    /// @notice A registered site (an active custodian of RecordRegistry) requests authorization;
    /// returns the request id (the EIP-712 digest of the physician's order attestation, so the same
    /// signed order cannot be submitted twice). The physician's signature (EOA or ERC-1271) and its
    /// deadline are required whether the request is then approved at once (every auto-approval
    /// condition holds) or pended.
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
    ) external returns (bytes32 requestId);

    /// @notice The payer approves a pended (or appealed) request in full.
    function approve(bytes32 requestId) external;

    /// @notice The payer approves fewer units than requested.
    function modify(bytes32 requestId, uint16 approvedUnits) external;

    /// @notice The payer denies, with a reason code (a denial without a reason is refused).
    function deny(bytes32 requestId, uint16 reasonCode) external;

    /// @notice The payer asks for more information; the deadline still runs from the request.
    function requestInformation(bytes32 requestId, uint16 reasonCode) external;

    /// @notice The payer extends the decision deadline of a pended standard request to `newDueAt`, once,
    /// before the deadline passes and by at most 14 days (CMS-0057-F), with reason 1 (the patient
    /// asked) or 2 (the payer justifies a need for more information). Expedited requests are not
    /// extended: the payer decides them within 72 hours. `flagMissedDeadline` honours the new deadline.
    function extend(bytes32 requestId, uint40 newDueAt, uint16 reasonCode) external;

    /// @notice The requester answers an information request with a new clinical commitment.
    function provideInformation(bytes32 requestId, bytes32 clinicalCommitment) external;

    /// @notice The requester cancels a pended request.
    function cancel(bytes32 requestId) external;

    /// @notice The requester appeals a denial or modification within the appeal window (once), before
    /// any claim uses the modified units.
    function appeal(bytes32 requestId, bytes32 clinicalCommitment) external;

    /// @notice Anyone flags a pended or appealed request whose decision deadline has passed.
    function flagMissedDeadline(bytes32 requestId) external;

    /// @notice The requester submits a claim against an approved, unexpired authorization. The claim id
    /// is unique within the authorization only: no other site can take it.
    function submitClaim(bytes32 requestId, bytes32 claimId, uint16 units, uint96 amount) external;

    /// @notice The payer adjudicates a claim: Paid (in full), PartiallyPaid or Denied (with a reason).
    /// A denied claim gives its units back to the authorization.
    function adjudicateClaim(
        bytes32 requestId,
        bytes32 claimId,
        ClaimStatus status,
        uint96 paidAmount,
        uint16 reasonCode
    ) external;

    /// @notice The EIP-712 digest a physician signs for an order (and the id of its request).
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
    ) external view returns (bytes32);

    /// @notice The request `requestId`. Reverts with `RequestNotFound`.
    function getRequest(bytes32 requestId) external view returns (Request memory);

    /// @notice The claim `claimId` of authorization `requestId`. Reverts with `ClaimNotFound`.
    function getClaim(bytes32 requestId, bytes32 claimId) external view returns (Claim memory);

    /// @notice The payer's policy for `procedure` (all zero when none).
    function getPolicy(address payer, bytes5 procedure) external view returns (Policy memory);

    /// @notice The payer's index (0 when not registered).
    function payerIndex(address payer) external view returns (uint32);

    /// @notice The CredentialRegistry that credentials are checked against.
    function credentialRegistry() external view returns (ICredentialRegistry);

    /// @notice The RecordRegistry whose active custodians are the sites that may request.
    function recordRegistry() external view returns (IRecordRegistry);
}
