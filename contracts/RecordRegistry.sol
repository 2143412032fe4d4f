// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IRecordRegistry} from "./interfaces/IRecordRegistry.sol";
import {RecordKind, ZeroAddress} from "./Common.sol";

/// @title RecordRegistry
/// @notice Pointers to medical records held at imaging sites: who the patient is, which
/// custodian holds the record, and a content hash that shows tampering. No identifier of a
/// study, and no data, ever reaches the chain.
contract RecordRegistry is IRecordRegistry, AccessControl {
    /// @notice Role allowed to register custodians and change their status.
    bytes32 public constant CUSTODIAN_REGISTRAR_ROLE = keccak256("CUSTODIAN_REGISTRAR_ROLE");

    /// @dev A record in two slots.
    /// Slot 0, from the low bits: patient (bits 0-159) | custodianIndex (160-191)
    ///   | kind (192-199) | version (200-215) | registeredAt (216-255).
    /// Slot 1: contentHash.
    struct RecordSlot {
        address patient;
        uint32 custodianIndex;
        RecordKind kind;
        uint16 version;
        uint40 registeredAt;
        bytes32 contentHash;
    }

    /// @dev One slot: index (bits 0-31) | active (32-39). Index 0 means "not registered".
    struct CustodianSlot {
        uint32 index;
        bool active;
    }

    mapping(bytes32 recordId => RecordSlot) private _records;
    mapping(address custodian => CustodianSlot) private _custodians;
    mapping(address custodian => string) private _gatewayUrls;
    mapping(uint32 index => address) private _custodianAt;
    uint32 private _custodianCount;

    constructor(address admin) {
        if (admin == address(0)) revert ZeroAddress();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /// @inheritdoc IRecordRegistry
    function registerCustodian(address custodian, string calldata gatewayUrl)
        external
        onlyRole(CUSTODIAN_REGISTRAR_ROLE)
        returns (uint32 index)
    {
        if (custodian == address(0)) revert ZeroAddress();
        if (bytes(gatewayUrl).length == 0) revert EmptyGatewayUrl();
        if (_custodians[custodian].index != 0) revert CustodianAlreadyRegistered(custodian);
        index = ++_custodianCount;
        _custodians[custodian] = CustodianSlot({index: index, active: true});
        _custodianAt[index] = custodian;
        _gatewayUrls[custodian] = gatewayUrl;
        emit CustodianRegistered(custodian, index, gatewayUrl);
    }

    /// @inheritdoc IRecordRegistry
    function setGatewayUrl(address custodian, string calldata gatewayUrl) external {
        if (_custodians[custodian].index == 0) revert CustodianNotRegistered(custodian);
        if (msg.sender != custodian) _checkRole(CUSTODIAN_REGISTRAR_ROLE);
        if (bytes(gatewayUrl).length == 0) revert EmptyGatewayUrl();
        _gatewayUrls[custodian] = gatewayUrl;
        emit CustodianGatewayChanged(custodian, gatewayUrl);
    }

    /// @inheritdoc IRecordRegistry
    function setCustodianActive(address custodian, bool active) external onlyRole(CUSTODIAN_REGISTRAR_ROLE) {
        CustodianSlot storage slot = _custodians[custodian];
        if (slot.index == 0) revert CustodianNotRegistered(custodian);
        slot.active = active;
        emit CustodianStatusChanged(custodian, active);
    }

    /// @inheritdoc IRecordRegistry
    function register(bytes32 localId, address patient, RecordKind kind, bytes32 contentHash)
        external
        returns (bytes32 recordId)
    {
        uint32 custodianIndex = _activeCustodianIndex(msg.sender);
        if (localId == bytes32(0)) revert ZeroRecordId();
        if (patient == address(0)) revert ZeroAddress();
        if (kind == RecordKind.None) revert InvalidRecordKind(uint8(kind));
        if (contentHash == bytes32(0)) revert ZeroContentHash();
        // The id is bound to its custodian: another site registering the same local id gets another record.
        recordId = _recordIdOf(msg.sender, localId);
        RecordSlot storage record = _records[recordId];
        if (record.patient != address(0)) revert RecordAlreadyRegistered(recordId);
        record.patient = patient;
        record.custodianIndex = custodianIndex;
        record.kind = kind;
        record.version = 1;
        record.registeredAt = uint40(block.timestamp);
        record.contentHash = contentHash;
        emit RecordRegistered(recordId, patient, msg.sender, kind, contentHash);
    }

    /// @inheritdoc IRecordRegistry
    function amend(bytes32 recordId, bytes32 contentHash) external returns (uint16 version) {
        uint32 custodianIndex = _activeCustodianIndex(msg.sender);
        if (contentHash == bytes32(0)) revert ZeroContentHash();
        RecordSlot storage record = _records[recordId];
        if (record.patient == address(0)) revert RecordNotFound(recordId);
        if (record.custodianIndex != custodianIndex) revert NotRecordCustodian(recordId, msg.sender);
        version = record.version;
        if (version == type(uint16).max) revert VersionOverflow(recordId);
        // Cannot overflow: checked against the maximum just above.
        unchecked {
            ++version;
        }
        record.version = version;
        record.contentHash = contentHash;
        emit RecordAmended(recordId, msg.sender, version, contentHash);
    }

    /// @inheritdoc IRecordRegistry
    function getRecord(bytes32 recordId) external view returns (Record memory) {
        RecordSlot storage record = _records[recordId];
        if (record.patient == address(0)) revert RecordNotFound(recordId);
        return Record({
            patient: record.patient,
            custodian: _custodianAt[record.custodianIndex],
            kind: record.kind,
            version: record.version,
            registeredAt: record.registeredAt,
            contentHash: record.contentHash
        });
    }

    /// @inheritdoc IRecordRegistry
    function patientAndCustodianOf(bytes32 recordId) external view returns (address patient, address custodian) {
        RecordSlot storage record = _records[recordId];
        patient = record.patient;
        if (patient != address(0)) custodian = _custodianAt[record.custodianIndex];
    }

    /// @inheritdoc IRecordRegistry
    function recordIdOf(address custodian, bytes32 localId) external pure returns (bytes32) {
        return _recordIdOf(custodian, localId);
    }

    /// @inheritdoc IRecordRegistry
    function isActiveCustodian(address account) external view returns (bool) {
        return _custodians[account].active;
    }

    /// @inheritdoc IRecordRegistry
    function getCustodian(address custodian) external view returns (Custodian memory) {
        CustodianSlot memory slot = _custodians[custodian];
        if (slot.index == 0) revert CustodianNotRegistered(custodian);
        return Custodian({index: slot.index, active: slot.active, gatewayUrl: _gatewayUrls[custodian]});
    }

    /// @inheritdoc IRecordRegistry
    function custodianAt(uint32 index) external view returns (address) {
        return _custodianAt[index];
    }

    /// @inheritdoc IRecordRegistry
    function custodianCount() external view returns (uint32) {
        return _custodianCount;
    }

    function _recordIdOf(address custodian, bytes32 localId) private pure returns (bytes32) {
        return keccak256(abi.encode(custodian, localId));
    }

    function _activeCustodianIndex(address account) private view returns (uint32) {
        CustodianSlot memory slot = _custodians[account];
        if (slot.index == 0) revert CustodianNotRegistered(account);
        if (!slot.active) revert CustodianInactive(account);
        return slot.index;
    }
}
