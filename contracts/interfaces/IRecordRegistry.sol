// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {RecordKind} from "../Common.sol";

/// @title RecordRegistry: pointers to medical records held by imaging sites.
/// @notice A site computes a study's local id off chain, `keccak256(abi.encode(siteSalt,
/// studyInstanceUid))`, with a secret per-site salt: the chain never sees the StudyInstanceUID.
/// The record id is bound to the custodian that registers it: `recordId = keccak256(abi.encode(
/// custodian, localId))`, computed by `register` itself, so no other site can take (squat) a
/// site's record id by sending the same local id first. A custodian (an imaging site registered
/// by governance with the public URL of its gateway) registers records for patients and amends
/// them; it can never touch another custodian's records.
interface IRecordRegistry {
    /// @notice A record as the views return it.
    struct Record {
        address patient;
        address custodian;
        RecordKind kind;
        uint16 version;
        uint40 registeredAt;
        bytes32 contentHash;
    }

    /// @notice A custodian as the views return it.
    struct Custodian {
        uint32 index;
        bool active;
        string gatewayUrl;
    }

    /// @notice Emitted when governance registers a custodian.
    event CustodianRegistered(address indexed custodian, uint32 indexed index, string gatewayUrl);
    /// @notice Emitted when a custodian's gateway URL changes.
    event CustodianGatewayChanged(address indexed custodian, string gatewayUrl);
    /// @notice Emitted when governance activates or deactivates a custodian.
    event CustodianStatusChanged(address indexed custodian, bool active);
    /// @notice Emitted when a custodian registers a record (version 1).
    event RecordRegistered(
        bytes32 indexed recordId, address indexed patient, address indexed custodian, RecordKind kind, bytes32 contentHash
    );
    /// @notice Emitted when a custodian amends a record (a new series, an addendum).
    event RecordAmended(bytes32 indexed recordId, address indexed custodian, uint16 version, bytes32 contentHash);

    /// @notice The account is already a custodian.
    error CustodianAlreadyRegistered(address custodian);
    /// @notice The account is not a registered custodian.
    error CustodianNotRegistered(address account);
    /// @notice The account is a custodian but governance has deactivated it.
    error CustodianInactive(address custodian);
    /// @notice A gateway URL must not be empty.
    error EmptyGatewayUrl();
    /// @notice Local id 0 is refused (record id 0 means "all records" in ConsentRegistry).
    error ZeroRecordId();
    /// @notice A content hash must not be zero.
    error ZeroContentHash();
    /// @notice The record kind is not one of the known kinds.
    error InvalidRecordKind(uint8 kind);
    /// @notice A record with this id exists already.
    error RecordAlreadyRegistered(bytes32 recordId);
    /// @notice No record has this id.
    error RecordNotFound(bytes32 recordId);
    /// @notice The caller is not the custodian of the record.
    error NotRecordCustodian(bytes32 recordId, address caller);
    /// @notice The record's version counter is exhausted.
    error VersionOverflow(bytes32 recordId);

    /// @notice Registers `custodian` with the public URL of its gateway. Governance only.
    function registerCustodian(address custodian, string calldata gatewayUrl) external returns (uint32 index);

    /// @notice Changes a custodian's gateway URL. The custodian itself or governance.
    function setGatewayUrl(address custodian, string calldata gatewayUrl) external;

    /// @notice Activates or deactivates a custodian. Governance only. An inactive custodian
    /// registers and amends nothing; its records stay readable.
    function setCustodianActive(address custodian, bool active) external;

    /// @notice Registers a record of `patient` held by the calling custodian, under the record id
    /// `keccak256(abi.encode(msg.sender, localId))` (see {recordIdOf}), which it returns.
    /// @param localId The site's own id of the study: `keccak256(abi.encode(siteSalt, studyInstanceUid))`.
    function register(bytes32 localId, address patient, RecordKind kind, bytes32 contentHash)
        external
        returns (bytes32 recordId);

    /// @notice Amends a record of the calling custodian: bumps its version and sets the new content hash.
    function amend(bytes32 recordId, bytes32 contentHash) external returns (uint16 version);

    /// @notice The record `recordId`; reverts with `RecordNotFound` when there is none.
    function getRecord(bytes32 recordId) external view returns (Record memory);

    /// @notice The patient and custodian of `recordId` (zero addresses when there is none). One storage read.
    function patientAndCustodianOf(bytes32 recordId) external view returns (address patient, address custodian);

    /// @notice The record id that `custodian` gets by registering `localId`: `keccak256(abi.encode(custodian, localId))`.
    function recordIdOf(address custodian, bytes32 localId) external pure returns (bytes32);

    /// @notice Whether `account` is a registered custodian that governance has not deactivated. One storage read.
    function isActiveCustodian(address account) external view returns (bool);

    /// @notice The custodian record of `custodian`; reverts with `CustodianNotRegistered` when there is none.
    function getCustodian(address custodian) external view returns (Custodian memory);

    /// @notice The custodian with `index` (1-based), or the zero address.
    function custodianAt(uint32 index) external view returns (address);

    /// @notice How many custodians have been registered.
    function custodianCount() external view returns (uint32);
}
