// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {InvalidSignature, SignatureExpired} from "../Common.sol";

/// @title SignatureVerifier
/// @notice The EIP-712 checks every `...BySig` function of radledger shares: a deadline, and a
/// signature over the contract's domain by the claimed signer (an EOA or an ERC-1271 wallet).
/// Each contract keeps its own message types and replay protection; this holds only the checks.
abstract contract SignatureVerifier is EIP712 {
    constructor(string memory name, string memory version) EIP712(name, version) {}

    /// @dev Reverts with `SignatureExpired` once `deadline` has passed (a deadline holds through its last second).
    function _checkDeadline(uint256 deadline) internal view {
        if (block.timestamp > deadline) revert SignatureExpired(deadline, block.timestamp);
    }

    /// @dev Reverts with `InvalidSignature(signer)` unless `signature` is `signer`'s over the typed-data
    /// hash of `structHash` in this contract's domain.
    function _checkSignature(address signer, bytes32 structHash, bytes calldata signature) internal view {
        if (!SignatureChecker.isValidSignatureNowCalldata(signer, _hashTypedDataV4(structHash), signature)) {
            revert InvalidSignature(signer);
        }
    }
}
