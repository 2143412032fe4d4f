// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {InvalidSignature, SignatureExpired} from "../Common.sol";

/// @title SignatureVerifier
/// @notice The EIP-712 checks every `...BySig` function of radledger shares: a deadline, and a
/// signature over the contract's domain by the claimed signer. Each contract keeps its own
/// message types and replay protection; this holds only the checks.
/// @dev Signers: EOAs, ERC-1271 wallets (a Safe, a smart account) and EIP-7702-delegated EOAs.
/// OpenZeppelin's `SignatureChecker` sends every signer with code to ERC-1271 only, so an EOA
/// delegated with EIP-7702 (code `0xef0100 || delegate`) could no longer sign with its own key
/// unless its delegate implements ERC-1271. Here ECDSA comes first: a signature that recovers to
/// the signer is accepted whatever code the signer has (only the holder of the signer's key can
/// make one; no key exists for a contract's address); otherwise a signer with code is asked
/// through ERC-1271. ECDSA first also spares an EOA's signature the cold EXTCODESIZE (2,600 gas).
abstract contract SignatureVerifier is EIP712 {
    constructor(string memory name, string memory version) EIP712(name, version) {}

    /// @dev Reverts with `SignatureExpired` once `deadline` has passed (a deadline holds through its last second).
    function _checkDeadline(uint256 deadline) internal view {
        if (block.timestamp > deadline) revert SignatureExpired(deadline, block.timestamp);
    }

    /// @dev Reverts with `InvalidSignature(signer)` unless `signature` is `signer`'s over the typed-data
    /// hash of `structHash` in this contract's domain.
    function _checkSignature(address signer, bytes32 structHash, bytes calldata signature) internal view {
        if (!_isValidSignature(signer, _hashTypedDataV4(structHash), signature)) revert InvalidSignature(signer);
    }

    /// @dev ECDSA (65-byte signatures, low s, as OpenZeppelin's ECDSA), then ERC-1271 for a signer with code.
    function _isValidSignature(address signer, bytes32 digest, bytes calldata signature) internal view returns (bool) {
        (address recovered, ECDSA.RecoverError err,) = ECDSA.tryRecoverCalldata(digest, signature);
        if (err == ECDSA.RecoverError.NoError && recovered == signer) return true;
        return signer.code.length != 0 && SignatureChecker.isValidERC1271SignatureNowCalldata(signer, digest, signature);
    }
}
