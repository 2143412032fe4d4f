// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title CredentialRegistry: attestations about physicians and imaging equipment.
/// @notice Governance registers credential schemas (a state's medical license, a board
/// certification, CME credit, an equipment inspection, a payer's gold card...) and authorizes
/// issuers per schema. An authorized issuer attests `(subject, schema, dataHash, value,
/// validFrom, validUntil, refUid)` about a subject (a physician's address as bytes32, or a
/// device id hashed from manufacturer and serial number) and gets a uid; the document itself
/// stays off chain, committed to by `dataHash`. Every issuer action has a `...BySig` twin
/// (EIP-712, ERC-1271 wallets accepted) so an issuer never needs ETH.
///
/// Latest wins, per issuer: a new attestation by an issuer for the same subject and schema
/// supersedes that issuer's previous one, never another issuer's. `hasValidCredential(subject,
/// schema)` is true when the latest attestation of any issuer of that subject and schema is valid
/// (at most three issuers at a time: see `TooManyIssuers`), so no issuer can end, supersede or
/// make stale (its `attestBySig` signatures included) another issuer's attestation; only the
/// attestation's own issuer and the disciplinary role revoke it. A superseded attestation is not
/// invalidated by being superseded: `isValid(uid)` answers about that attestation alone
/// (existence, revocation, validity window), so counting schemas (CME credit hours) can add up
/// every valid attestation of a subject.
///
/// A uid is a slot key with its low 32 bits replaced by the attestation's sequence number for
/// that issuer, subject and schema, counting from 1: the uid itself locates the storage slot,
/// and the uid of the same issuer's previous attestation is `uid - 1`. The key is
/// `keccak256(abi.encode(subject, schema))` for the first issuer that attests a subject and
/// schema (the primary issuer: with a single issuer, the only key there is), and
/// `keccak256(abi.encode(subject, schema, issuerIndexOf(issuer)))` for any other issuer.
interface ICredentialRegistry {
    /// @notice A schema as the views return it. Its name is in the `SchemaRegistered` event.
    struct Schema {
        bool revocable;
        uint40 maxValidity;
    }

    /// @notice One attestation of a batch (all of a batch share the schema and the issuer).
    struct AttestationRequest {
        bytes32 subject;
        bytes32 dataHash;
        uint64 value;
        uint40 validFrom;
        uint40 validUntil;
        bytes32 refUid;
    }

    /// @notice What storage keeps about an attestation; the rest (subject, schema, dataHash,
    /// value, refUid) is in its `CredentialAttested` event.
    /// @dev `revokedAt` is 0 while not revoked; `latest` is whether no later attestation for the
    /// same subject and schema exists.
    struct Attestation {
        address issuer;
        uint40 validFrom;
        uint40 validUntil;
        uint40 revokedAt;
        uint32 sequence;
        bool revocable;
        bool latest;
    }

    /// @notice Emitted when governance registers a schema.
    event SchemaRegistered(uint32 indexed schema, string name, bool revocable, uint40 maxValidity);
    /// @notice Emitted when governance authorizes `issuer` to attest credentials of `schema`.
    event IssuerAuthorized(uint32 indexed schema, address indexed issuer);
    /// @notice Emitted when governance withdraws `issuer`'s authorization for `schema`. Its
    /// attestations stay as they are; revoke them to end them.
    event IssuerDeauthorized(uint32 indexed schema, address indexed issuer);
    /// @notice Emitted for every attestation, with all its fields. If `uid`'s sequence (its low
    /// 32 bits) is above 1, it supersedes the attestation `uid - 1`.
    event CredentialAttested(
        bytes32 indexed uid,
        bytes32 indexed subject,
        uint32 indexed schema,
        address issuer,
        bytes32 dataHash,
        uint64 value,
        uint40 validFrom,
        uint40 validUntil,
        bytes32 refUid
    );
    /// @notice Emitted when an attestation is revoked, by its issuer or by governance (`revoker`).
    event CredentialRevoked(bytes32 indexed uid, address indexed revoker, uint16 reasonCode);
    /// @notice Emitted when an issuer invalidates all its outstanding signatures.
    event SignaturesInvalidated(address indexed issuer, uint64 epoch);

    /// @notice A schema name must be between 1 and 200 bytes.
    error InvalidSchemaName(string name);
    /// @notice A schema with this name exists already.
    error SchemaNameTaken(string name, uint32 schema);
    /// @notice A schema's maximum validity must be non-zero (type(uint40).max: no maximum).
    error InvalidMaxValidity(uint40 maxValidity);
    /// @notice `issuer` is not authorized to attest credentials of `schema`.
    error IssuerNotAuthorized(uint32 schema, address issuer);
    /// @notice `issuer` is already authorized for `schema`.
    error IssuerAlreadyAuthorized(uint32 schema, address issuer);
    /// @notice A subject must not be zero.
    error ZeroSubject();
    /// @notice The validity window is longer than the schema allows.
    error ValidityExceedsMaximum(uint32 schema, uint40 validFrom, uint40 validUntil, uint40 maxValidity);
    /// @notice The attestation that `refUid` names does not exist.
    error ReferencedCredentialNotFound(bytes32 refUid);
    /// @notice No attestation has this uid.
    error CredentialNotFound(bytes32 uid);
    /// @notice The attestation's schema is not revocable.
    error IrrevocableCredential(bytes32 uid);
    /// @notice The attestation was revoked already, at `revokedAt`.
    error AlreadyRevoked(bytes32 uid, uint40 revokedAt);
    /// @notice Only the attestation's issuer, or an account with the disciplinary role, may revoke it.
    error NotIssuerOrDisciplinary(bytes32 uid, address account);
    /// @notice Three issuers already hold attestations of this subject and schema that are or may
    /// become valid (not revoked, not expired); a fourth issuer cannot attest until one ends.
    error TooManyIssuers(bytes32 subject, uint32 schema);

    /// @notice Registers a schema. Schema-registrar role only. Ids count from 1.
    /// @param maxValidity The longest `validUntil - validFrom` an attestation may have, in seconds.
    function registerSchema(string calldata name, bool revocable, uint40 maxValidity)
        external
        returns (uint32 schema);

    /// @notice Authorizes `issuer` to attest credentials of `schema`. Issuer-authorizer role only.
    function authorizeIssuer(uint32 schema, address issuer) external;

    /// @notice Withdraws `issuer`'s authorization for `schema`. Issuer-authorizer role only.
    function deauthorizeIssuer(uint32 schema, address issuer) external;

    /// @notice Attests a credential of `schema` about `subject`; the caller is an authorized issuer.
    /// Supersedes the caller's own previous attestation of that subject and schema (no other issuer's).
    /// @param refUid An existing attestation this one refers to (a prior inspection, say), or 0.
    function attest(
        bytes32 subject,
        uint32 schema,
        bytes32 dataHash,
        uint64 value,
        uint40 validFrom,
        uint40 validUntil,
        bytes32 refUid
    ) external returns (bytes32 uid);

    /// @notice {attest} with an EIP-712 `Attest` signature of `issuer`, relayed by anyone. The
    /// signature commits to the sequence number the attestation will take among `issuer`'s own
    /// attestations of the subject and schema, so it is used once, and no other issuer's
    /// attestation can make it stale.
    function attestBySig(
        bytes32 subject,
        uint32 schema,
        bytes32 dataHash,
        uint64 value,
        uint40 validFrom,
        uint40 validUntil,
        bytes32 refUid,
        address issuer,
        uint256 deadline,
        bytes calldata signature
    ) external returns (bytes32 uid);

    /// @notice Attests many credentials of one schema (a CME provider certifying a whole course) in
    /// one transaction; the caller is an authorized issuer. Returns the uids in request order.
    function attestBatch(uint32 schema, AttestationRequest[] calldata requests)
        external
        returns (bytes32[] memory uids);

    /// @notice Revokes attestation `uid`, by its issuer or by an account with the disciplinary role.
    function revoke(bytes32 uid, uint16 reasonCode) external;

    /// @notice {revoke} with an EIP-712 `Revoke` signature of `signer` (the issuer or a disciplinary account).
    function revokeBySig(bytes32 uid, uint16 reasonCode, address signer, uint256 deadline, bytes calldata signature)
        external;

    /// @notice Invalidates every outstanding signature of the caller (bumps its signature epoch).
    function invalidateSignatures() external;

    /// @notice {invalidateSignatures} with an EIP-712 `InvalidateSignatures` signature of `issuer`.
    function invalidateSignaturesBySig(address issuer, uint256 deadline, bytes calldata signature) external;

    /// @notice Whether attestation `uid` exists, is not revoked and is within its validity window now.
    /// Reads one storage slot for the latest attestation of its subject and schema, two otherwise.
    function isValid(bytes32 uid) external view returns (bool);

    /// @notice Whether attestation `uid`'s window covers `timestamp` and it had not been revoked by then, as
    /// known now (a revocation ends validity at its block time; a backdated `validFrom` counts as given).
    function isValidAt(bytes32 uid, uint40 timestamp) external view returns (bool);

    /// @notice Whether the latest attestation of some issuer of `schema` about `subject` is valid now.
    /// False for an unknown schema. Reads one storage slot when the primary issuer's attestation is
    /// valid, at most three otherwise.
    function hasValidCredential(bytes32 subject, uint32 schema) external view returns (bool);

    /// @notice Whether `issuer`'s latest attestation of `schema` about `subject` is valid now.
    function hasValidCredentialFrom(bytes32 subject, uint32 schema, address issuer) external view returns (bool);

    /// @notice The attestation `hasValidCredential` relies on: a latest attestation of `schema` about
    /// `subject` that is valid now (the primary issuer's first), or, when none is, the primary
    /// issuer's latest (uid 0 and an empty attestation if there is none). Reverts with
    /// `UnknownSchema` for an unknown schema.
    function latestCredential(bytes32 subject, uint32 schema)
        external
        view
        returns (bytes32 uid, Attestation memory attestation);

    /// @notice `issuer`'s latest attestation of `schema` about `subject` (uid 0 and an empty
    /// attestation if there is none). Reverts with `UnknownSchema` for an unknown schema.
    function latestCredentialOf(bytes32 subject, uint32 schema, address issuer)
        external
        view
        returns (bytes32 uid, Attestation memory attestation);

    /// @notice The stored part of attestation `uid`. Reverts with `CredentialNotFound`.
    function getAttestation(bytes32 uid) external view returns (Attestation memory);

    /// @notice The uid of the primary issuer's `sequence`-th attestation of `schema` about `subject`
    /// (it may not exist yet). With a single issuer, the uid of every attestation.
    function credentialUid(bytes32 subject, uint32 schema, uint32 sequence) external pure returns (bytes32);

    /// @notice The uid of `issuer`'s `sequence`-th attestation of `schema` about `subject` when
    /// `issuer` is not the primary issuer of that subject and schema (it may not exist yet).
    function coIssuerCredentialUid(bytes32 subject, uint32 schema, address issuer, uint32 sequence)
        external
        view
        returns (bytes32);

    /// @notice The index of `issuer` (1-based, assigned on its first authorization; 0 if never authorized).
    function issuerIndexOf(address issuer) external view returns (uint32);

    /// @notice Schema `schema`. Reverts with `UnknownSchema`.
    function getSchema(uint32 schema) external view returns (Schema memory);

    /// @notice The id of the schema named `name`, or 0.
    function schemaIdOf(string calldata name) external view returns (uint32);

    /// @notice The number of schemas registered (ids run from 1 to this).
    function schemaCount() external view returns (uint32);

    /// @notice Whether `issuer` may attest credentials of `schema` now.
    function isAuthorizedIssuer(uint32 schema, address issuer) external view returns (bool);

    /// @notice `issuer`'s signature epoch, which every signature of the issuer commits to.
    function signatureEpoch(address issuer) external view returns (uint64);
}
