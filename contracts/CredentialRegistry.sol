// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ICredentialRegistry} from "./interfaces/ICredentialRegistry.sol";
import {SignatureVerifier} from "./utils/SignatureVerifier.sol";
import {EmptyBatch, ExpiryInPast, InvalidReasonCode, InvalidValidity, UnknownSchema, ZeroAddress} from "./Common.sol";

/// @title CredentialRegistry
/// @notice Schemas, issuers authorized per schema, attestations with validity windows and
/// revocation, signatures for gasless issuers, and views that check all of it.
contract CredentialRegistry is ICredentialRegistry, AccessControl, SignatureVerifier {
    /// @notice Role allowed to register schemas.
    bytes32 public constant SCHEMA_REGISTRAR_ROLE = keccak256("SCHEMA_REGISTRAR_ROLE");
    /// @notice Role allowed to authorize and deauthorize issuers per schema.
    bytes32 public constant ISSUER_AUTHORIZER_ROLE = keccak256("ISSUER_AUTHORIZER_ROLE");
    /// @notice Role allowed to revoke any revocable attestation (disciplinary action).
    bytes32 public constant DISCIPLINARY_ROLE = keccak256("DISCIPLINARY_ROLE");

    bytes32 public constant ATTEST_TYPEHASH = keccak256(
        "Attest(address issuer,bytes32 subject,uint32 schema,bytes32 dataHash,uint64 value,uint40 validFrom,uint40 validUntil,bytes32 refUid,uint32 sequence,uint64 epoch,uint256 deadline)"
    );
    bytes32 public constant REVOKE_TYPEHASH =
        keccak256("Revoke(address signer,bytes32 uid,uint16 reasonCode,uint64 epoch,uint256 deadline)");
    bytes32 public constant INVALIDATE_SIGNATURES_TYPEHASH =
        keccak256("InvalidateSignatures(address issuer,uint64 epoch,uint256 deadline)");

    /// @dev The low 32 bits of a uid are its sequence number; the rest is the key of its issuer's slot.
    uint256 private constant _SEQUENCE_MASK = type(uint32).max;
    uint256 private constant _MAX_SCHEMA_NAME = 200;

    /// @dev One slot per (subject, schema, issuer) for that issuer's latest attestation, and one per
    /// uid in `_history` for each superseded one, from the low bits:
    /// issuer (bits 0-31, an index into `_issuers`) | validFrom (32-71) | validUntil (72-111)
    /// | revokedAt (112-151) | sequence (152-183) | revocable (184-191) | coIssuer0 (192-223)
    /// | coIssuer1 (224-255).
    /// A slot exists while sequence != 0. The issuer is a 32-bit index (assigned on its first
    /// authorization) rather than its address so that revocation time and a 32-bit sequence fit.
    /// `coIssuer0` and `coIssuer1` are used in a primary slot only (see the storage note below):
    /// the indices of up to two other issuers holding attestations of the same subject and schema.
    struct CredentialSlot {
        uint32 issuer;
        uint40 validFrom;
        uint40 validUntil;
        uint40 revokedAt;
        uint32 sequence;
        bool revocable;
        uint32 coIssuer0;
        uint32 coIssuer1;
    }

    /// @dev One slot per schema: maxValidity (bits 0-39) | revocable (40-47). Registered iff maxValidity != 0.
    struct SchemaSlot {
        uint40 maxValidity;
        bool revocable;
    }

    // Storage layout and gas. An attestation writes exactly one new slot: the latest slot of its
    // issuer for its subject and schema. The uid encodes that slot's key (its high 224 bits) and the
    // sequence (its low 32 bits), so every view finds the slot from the uid alone, without a
    // uid -> key lookup (which would be a second new slot per attestation: 21,000 + 10 x 44,200 >
    // 450,000 for a batch of 10). The superseded attestation moves to `_history[its uid]` only when
    // the same issuer's next one arrives, so a first attestation pays for one slot and a renewal for two.
    //
    // Latest wins per issuer. The first issuer to attest a (subject, schema) owns its primary slot,
    // keyed by (subject, schema) alone: for the usual single issuer (a state board, a payer's gold
    // card) every read is one slot, as before. Another issuer's attestations go to its own slot,
    // keyed by (subject, schema, issuer index), and the primary slot's spare 64 bits list up to two
    // such co-issuers, so `hasValidCredential` reads at most three slots. No issuer's attestation
    // touches another issuer's slot or sequence: it can neither supersede another issuer's
    // attestation nor make its signatures stale. A co-issuer entry whose attestation can never be
    // valid again (revoked, or expired) is reused by the next co-issuer; a fourth issuer with three
    // live attestations present is refused (`TooManyIssuers`).
    //
    // Replay protection without a new slot (the consent contract's pattern): an `Attest`
    // signature commits to the sequence number the attestation will take, so it works once, and
    // to the issuer's epoch, which `attestBySig` only reads (a cold read of a zero slot, 2,100
    // gas). OpenZeppelin `Nonces` would write a new slot on an issuer's first signature (+20,000)
    // and order all of an issuer's signatures, which a CME provider signing a course in parallel
    // does not want. `Revoke` needs no counter (a revocation happens once) and
    // `InvalidateSignatures` commits to the epoch it bumps.
    mapping(bytes32 key => CredentialSlot) private _latest;
    mapping(bytes32 uid => CredentialSlot) private _history;
    mapping(uint32 schema => SchemaSlot) private _schemas;
    mapping(bytes32 nameHash => uint32 schema) private _schemaIds;
    /// @dev The issuer's index (see `_issuerIndex`) while authorized for the schema, else 0.
    mapping(uint32 schema => mapping(address issuer => uint32 index)) private _authorizations;
    /// @dev 1-based index of every account ever authorized for some schema; `_issuers[index - 1]`.
    mapping(address issuer => uint32 index) private _issuerIndex;
    address[] private _issuers;
    mapping(address issuer => uint64 epoch) private _epochs;
    uint32 private _schemaCount;

    constructor(address admin) SignatureVerifier("radledger CredentialRegistry", "1") {
        if (admin == address(0)) revert ZeroAddress();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    // ----------------------------------------------------------------- governance

    /// @inheritdoc ICredentialRegistry
    function registerSchema(string calldata name, bool revocable, uint40 maxValidity)
        external
        onlyRole(SCHEMA_REGISTRAR_ROLE)
        returns (uint32 schema)
    {
        if (bytes(name).length == 0 || bytes(name).length > _MAX_SCHEMA_NAME) revert InvalidSchemaName(name);
        if (maxValidity == 0) revert InvalidMaxValidity(maxValidity);
        bytes32 nameHash = keccak256(bytes(name));
        uint32 existing = _schemaIds[nameHash];
        if (existing != 0) revert SchemaNameTaken(name, existing);
        schema = ++_schemaCount;
        _schemas[schema] = SchemaSlot({maxValidity: maxValidity, revocable: revocable});
        _schemaIds[nameHash] = schema;
        emit SchemaRegistered(schema, name, revocable, maxValidity);
    }

    /// @inheritdoc ICredentialRegistry
    function authorizeIssuer(uint32 schema, address issuer) external onlyRole(ISSUER_AUTHORIZER_ROLE) {
        _schema(schema);
        if (issuer == address(0)) revert ZeroAddress();
        if (_authorizations[schema][issuer] != 0) revert IssuerAlreadyAuthorized(schema, issuer);
        uint32 index = _issuerIndex[issuer];
        if (index == 0) {
            _issuers.push(issuer);
            index = uint32(_issuers.length);
            _issuerIndex[issuer] = index;
        }
        _authorizations[schema][issuer] = index;
        emit IssuerAuthorized(schema, issuer);
    }

    /// @inheritdoc ICredentialRegistry
    function deauthorizeIssuer(uint32 schema, address issuer) external onlyRole(ISSUER_AUTHORIZER_ROLE) {
        if (_authorizations[schema][issuer] == 0) revert IssuerNotAuthorized(schema, issuer);
        _authorizations[schema][issuer] = 0;
        emit IssuerDeauthorized(schema, issuer);
    }

    // ---------------------------------------------------------------- attestations

    /// @inheritdoc ICredentialRegistry
    function attest(
        bytes32 subject,
        uint32 schema,
        bytes32 dataHash,
        uint64 value,
        uint40 validFrom,
        uint40 validUntil,
        bytes32 refUid
    ) external returns (bytes32 uid) {
        (SchemaSlot memory s, uint32 issuerIndex) = _checkIssuer(schema, msg.sender);
        uid = _attest(
            schema,
            s,
            issuerIndex,
            msg.sender,
            AttestationRequest(subject, dataHash, value, validFrom, validUntil, refUid)
        );
    }

    /// @inheritdoc ICredentialRegistry
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
    ) external returns (bytes32 uid) {
        _checkDeadline(deadline);
        (SchemaSlot memory s, uint32 issuerIndex) = _checkIssuer(schema, issuer);
        (, CredentialSlot storage own) = _slotOf(subject, schema, issuerIndex);
        uint32 sequence = own.sequence + 1;
        bytes32 structHash = keccak256(
            bytes.concat(
                abi.encode(ATTEST_TYPEHASH, issuer, subject, schema, dataHash, value, validFrom, validUntil),
                abi.encode(refUid, sequence, _epochs[issuer], deadline)
            )
        );
        _checkSignature(issuer, structHash, signature);
        uid = _attest(
            schema, s, issuerIndex, issuer, AttestationRequest(subject, dataHash, value, validFrom, validUntil, refUid)
        );
    }

    /// @inheritdoc ICredentialRegistry
    function attestBatch(uint32 schema, AttestationRequest[] calldata requests)
        external
        returns (bytes32[] memory uids)
    {
        if (requests.length == 0) revert EmptyBatch();
        (SchemaSlot memory s, uint32 issuerIndex) = _checkIssuer(schema, msg.sender);
        uids = new bytes32[](requests.length);
        for (uint256 i; i < requests.length; ++i) {
            uids[i] = _attest(schema, s, issuerIndex, msg.sender, requests[i]);
        }
    }

    // ------------------------------------------------------------------ revocation

    /// @inheritdoc ICredentialRegistry
    function revoke(bytes32 uid, uint16 reasonCode) external {
        _revoke(uid, reasonCode, msg.sender);
    }

    /// @inheritdoc ICredentialRegistry
    function revokeBySig(bytes32 uid, uint16 reasonCode, address signer, uint256 deadline, bytes calldata signature)
        external
    {
        _checkDeadline(deadline);
        bytes32 structHash = keccak256(abi.encode(REVOKE_TYPEHASH, signer, uid, reasonCode, _epochs[signer], deadline));
        _checkSignature(signer, structHash, signature);
        _revoke(uid, reasonCode, signer);
    }

    // ------------------------------------------------------------------ signatures

    /// @inheritdoc ICredentialRegistry
    function invalidateSignatures() external {
        _invalidateSignatures(msg.sender);
    }

    /// @inheritdoc ICredentialRegistry
    function invalidateSignaturesBySig(address issuer, uint256 deadline, bytes calldata signature) external {
        _checkDeadline(deadline);
        bytes32 structHash = keccak256(abi.encode(INVALIDATE_SIGNATURES_TYPEHASH, issuer, _epochs[issuer], deadline));
        _checkSignature(issuer, structHash, signature);
        _invalidateSignatures(issuer);
    }

    // ----------------------------------------------------------------------- views

    /// @inheritdoc ICredentialRegistry
    function isValid(bytes32 uid) external view returns (bool) {
        (CredentialSlot storage c,) = _locate(uid);
        return _validNow(c);
    }

    /// @inheritdoc ICredentialRegistry
    function isValidAt(bytes32 uid, uint40 timestamp) external view returns (bool) {
        (CredentialSlot memory c,) = _read(uid);
        return c.sequence != 0 && c.validFrom <= timestamp && timestamp < c.validUntil
            && (c.revokedAt == 0 || timestamp < c.revokedAt);
    }

    /// @inheritdoc ICredentialRegistry
    function hasValidCredential(bytes32 subject, uint32 schema) external view returns (bool) {
        (bytes32 key,) = _validLatest(subject, schema);
        return key != bytes32(0);
    }

    /// @inheritdoc ICredentialRegistry
    function hasValidCredentialFrom(bytes32 subject, uint32 schema, address issuer) external view returns (bool) {
        uint32 index = _issuerIndex[issuer];
        if (index == 0) return false;
        (, CredentialSlot storage slot) = _slotOf(subject, schema, index);
        return slot.issuer == index && _validNow(slot);
    }

    /// @inheritdoc ICredentialRegistry
    function latestCredential(bytes32 subject, uint32 schema)
        external
        view
        returns (bytes32 uid, Attestation memory attestation)
    {
        _schema(schema);
        (bytes32 key, CredentialSlot memory c) = _validLatest(subject, schema);
        if (key == bytes32(0)) {
            key = _key(subject, schema);
            c = _latest[key];
        }
        if (c.sequence != 0) {
            uid = key | bytes32(uint256(c.sequence));
            attestation = _view(c, true);
        }
    }

    /// @inheritdoc ICredentialRegistry
    function latestCredentialOf(bytes32 subject, uint32 schema, address issuer)
        external
        view
        returns (bytes32 uid, Attestation memory attestation)
    {
        _schema(schema);
        uint32 index = _issuerIndex[issuer];
        if (index == 0) return (uid, attestation);
        (bytes32 key, CredentialSlot storage slot) = _slotOf(subject, schema, index);
        CredentialSlot memory c = slot;
        if (c.sequence != 0 && c.issuer == index) {
            uid = key | bytes32(uint256(c.sequence));
            attestation = _view(c, true);
        }
    }

    /// @inheritdoc ICredentialRegistry
    function getAttestation(bytes32 uid) external view returns (Attestation memory) {
        (CredentialSlot memory c, bool latest) = _read(uid);
        if (c.sequence == 0) revert CredentialNotFound(uid);
        return _view(c, latest);
    }

    /// @inheritdoc ICredentialRegistry
    function credentialUid(bytes32 subject, uint32 schema, uint32 sequence) external pure returns (bytes32) {
        return _key(subject, schema) | bytes32(uint256(sequence));
    }

    /// @inheritdoc ICredentialRegistry
    function coIssuerCredentialUid(bytes32 subject, uint32 schema, address issuer, uint32 sequence)
        external
        view
        returns (bytes32)
    {
        return _coKey(subject, schema, _issuerIndex[issuer]) | bytes32(uint256(sequence));
    }

    /// @inheritdoc ICredentialRegistry
    function issuerIndexOf(address issuer) external view returns (uint32) {
        return _issuerIndex[issuer];
    }

    /// @inheritdoc ICredentialRegistry
    function getSchema(uint32 schema) external view returns (Schema memory) {
        SchemaSlot memory s = _schema(schema);
        return Schema({revocable: s.revocable, maxValidity: s.maxValidity});
    }

    /// @inheritdoc ICredentialRegistry
    function schemaIdOf(string calldata name) external view returns (uint32) {
        return _schemaIds[keccak256(bytes(name))];
    }

    /// @inheritdoc ICredentialRegistry
    function schemaCount() external view returns (uint32) {
        return _schemaCount;
    }

    /// @inheritdoc ICredentialRegistry
    function isAuthorizedIssuer(uint32 schema, address issuer) external view returns (bool) {
        return _authorizations[schema][issuer] != 0;
    }

    /// @inheritdoc ICredentialRegistry
    function signatureEpoch(address issuer) external view returns (uint64) {
        return _epochs[issuer];
    }

    // -------------------------------------------------------------------- internal

    function _attest(
        uint32 schema,
        SchemaSlot memory s,
        uint32 issuerIndex,
        address issuer,
        AttestationRequest memory r
    ) private returns (bytes32 uid) {
        if (r.subject == bytes32(0)) revert ZeroSubject();
        if (r.validFrom >= r.validUntil) revert InvalidValidity(r.validFrom, r.validUntil);
        if (r.validUntil <= block.timestamp) revert ExpiryInPast(r.validUntil, block.timestamp);
        if (r.validUntil - r.validFrom > s.maxValidity) {
            revert ValidityExceedsMaximum(schema, r.validFrom, r.validUntil, s.maxValidity);
        }
        if (r.refUid != bytes32(0) && !_exists(r.refUid)) revert ReferencedCredentialNotFound(r.refUid);
        (bytes32 key, CredentialSlot storage slot) = _enlist(r.subject, schema, issuerIndex);
        CredentialSlot memory current = slot;
        uint32 previous = current.sequence;
        if (previous != 0) {
            // Latest wins, per issuer: the superseded attestation keeps answering under its own uid.
            _history[key | bytes32(uint256(previous))] = current;
        }
        uint32 sequence = previous + 1;
        // A primary slot keeps its co-issuer list (zero in a co-issuer's own slot).
        _latest[key] = CredentialSlot({
            issuer: issuerIndex,
            validFrom: r.validFrom,
            validUntil: r.validUntil,
            revokedAt: 0,
            sequence: sequence,
            revocable: s.revocable,
            coIssuer0: current.coIssuer0,
            coIssuer1: current.coIssuer1
        });
        uid = key | bytes32(uint256(sequence));
        emit CredentialAttested(
            uid, r.subject, schema, issuer, r.dataHash, r.value, r.validFrom, r.validUntil, r.refUid
        );
    }

    function _revoke(bytes32 uid, uint16 reasonCode, address revoker) private {
        if (reasonCode == 0) revert InvalidReasonCode(reasonCode);
        (CredentialSlot storage slot,) = _locate(uid);
        CredentialSlot memory c = slot;
        if (c.sequence == 0) revert CredentialNotFound(uid);
        if (_issuerIndex[revoker] != c.issuer && !hasRole(DISCIPLINARY_ROLE, revoker)) {
            revert NotIssuerOrDisciplinary(uid, revoker);
        }
        if (!c.revocable) revert IrrevocableCredential(uid);
        if (c.revokedAt != 0) revert AlreadyRevoked(uid, c.revokedAt);
        slot.revokedAt = uint40(block.timestamp);
        emit CredentialRevoked(uid, revoker, reasonCode);
    }

    /// @dev Exists, not revoked, and validFrom <= now < validUntil (the slot is read once).
    function _validNow(CredentialSlot storage slot) private view returns (bool) {
        return _validNowMemory(slot);
    }

    function _validNowMemory(CredentialSlot memory c) private view returns (bool) {
        return c.sequence != 0 && c.revokedAt == 0 && c.validFrom <= block.timestamp && block.timestamp < c.validUntil;
    }

    /// @dev Whether an attestation slot could be valid now or later: exists, not revoked, not expired.
    function _live(CredentialSlot storage slot) private view returns (bool) {
        CredentialSlot memory c = slot;
        return c.sequence != 0 && c.revokedAt == 0 && block.timestamp < c.validUntil;
    }

    /// @dev The key and content of a latest attestation of (subject, schema) that is valid now, from the
    /// primary issuer first, then the co-issuers; key 0 when none is. Reads one to three slots.
    function _validLatest(bytes32 subject, uint32 schema) private view returns (bytes32 key, CredentialSlot memory c) {
        bytes32 primaryKey = _key(subject, schema);
        CredentialSlot memory primary = _latest[primaryKey];
        if (_validNowMemory(primary)) return (primaryKey, primary);
        uint32[2] memory others = [primary.coIssuer0, primary.coIssuer1];
        for (uint256 i; i < 2; ++i) {
            if (others[i] == 0) continue;
            bytes32 coKey = _coKey(subject, schema, others[i]);
            c = _latest[coKey];
            if (_validNowMemory(c)) return (coKey, c);
        }
        return (bytes32(0), c);
    }

    /// @dev The latest slot of `issuerIndex` for (subject, schema): the primary slot when it is empty or
    /// the issuer's, else the issuer's own co-issuer slot. Reads the primary slot only.
    function _slotOf(bytes32 subject, uint32 schema, uint32 issuerIndex)
        private
        view
        returns (bytes32 key, CredentialSlot storage slot)
    {
        key = _key(subject, schema);
        slot = _latest[key];
        (uint32 sequence, uint32 owner) = (slot.sequence, slot.issuer);
        if (sequence != 0 && owner != issuerIndex) {
            key = _coKey(subject, schema, issuerIndex);
            slot = _latest[key];
        }
    }

    /// @dev {_slotOf} for an attestation about to be written: a co-issuer not yet listed in the primary
    /// slot takes a free entry, or one whose issuer's attestation can never be valid again.
    function _enlist(bytes32 subject, uint32 schema, uint32 issuerIndex)
        private
        returns (bytes32 key, CredentialSlot storage slot)
    {
        bytes32 primaryKey;
        (key, slot) = _slotOf(subject, schema, issuerIndex);
        primaryKey = _key(subject, schema);
        if (key == primaryKey) return (key, slot);
        CredentialSlot storage primary = _latest[primaryKey];
        (uint32 co0, uint32 co1) = (primary.coIssuer0, primary.coIssuer1);
        if (co0 == issuerIndex || co1 == issuerIndex) return (key, slot);
        // Reusing an entry changes no answer: its issuer's latest attestation is revoked or expired for good.
        if (co0 == 0 || !_live(_latest[_coKey(subject, schema, co0)])) {
            primary.coIssuer0 = issuerIndex;
        } else if (co1 == 0 || !_live(_latest[_coKey(subject, schema, co1)])) {
            primary.coIssuer1 = issuerIndex;
        } else {
            revert TooManyIssuers(subject, schema);
        }
    }

    function _invalidateSignatures(address issuer) private {
        uint64 epoch = ++_epochs[issuer];
        emit SignaturesInvalidated(issuer, epoch);
    }

    /// @dev The primary key of (subject, schema): keccak256(abi.encode(subject, schema)) with its low 32 bits cleared.
    function _key(bytes32 subject, uint32 schema) private pure returns (bytes32) {
        return keccak256(abi.encode(subject, schema)) & ~bytes32(_SEQUENCE_MASK);
    }

    /// @dev A co-issuer's key: keccak256(abi.encode(subject, schema, issuerIndex)), low 32 bits cleared.
    function _coKey(bytes32 subject, uint32 schema, uint32 issuerIndex) private pure returns (bytes32) {
        return keccak256(abi.encode(subject, schema, issuerIndex)) & ~bytes32(_SEQUENCE_MASK);
    }

    /// @dev The slot holding attestation `uid`: the latest slot of its key, or its history slot
    /// once superseded. For a uid that does not exist, a slot whose sequence is 0.
    function _locate(bytes32 uid) private view returns (CredentialSlot storage slot, bool latest) {
        uint32 sequence = uint32(uint256(uid));
        CredentialSlot storage head = _latest[uid & ~bytes32(_SEQUENCE_MASK)];
        uint32 headSequence = head.sequence;
        if (sequence == headSequence) return (head, sequence != 0);
        // A sequence above the head's does not exist yet: its history slot is empty.
        return (_history[uid], false);
    }

    /// @dev Whether attestation `uid` exists: one read, of its key's latest slot.
    function _exists(bytes32 uid) private view returns (bool) {
        uint32 sequence = uint32(uint256(uid));
        return sequence != 0 && sequence <= _latest[uid & ~bytes32(_SEQUENCE_MASK)].sequence;
    }

    /// @dev Attestation `uid` as stored (sequence 0 if it does not exist) and whether it is the latest.
    function _read(bytes32 uid) private view returns (CredentialSlot memory c, bool latest) {
        (CredentialSlot storage slot, bool isLatest) = _locate(uid);
        return (slot, isLatest);
    }

    function _view(CredentialSlot memory c, bool latest) private view returns (Attestation memory) {
        return Attestation({
            issuer: _issuers[c.issuer - 1],
            validFrom: c.validFrom,
            validUntil: c.validUntil,
            revokedAt: c.revokedAt,
            sequence: c.sequence,
            revocable: c.revocable,
            latest: latest
        });
    }

    function _schema(uint32 schema) private view returns (SchemaSlot memory s) {
        s = _schemas[schema];
        if (s.maxValidity == 0) revert UnknownSchema(schema);
    }

    function _checkIssuer(uint32 schema, address issuer) private view returns (SchemaSlot memory s, uint32 index) {
        s = _schema(schema);
        index = _authorizations[schema][issuer];
        if (index == 0) revert IssuerNotAuthorized(schema, issuer);
    }
}
