// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title StaticMulticallMock
/// @notice A test helper: many read-only calls to one contract in a single `eth_call`. The
/// stateful tests compare a grid of views with their models after every step; on the in-process
/// chain one call of many reads costs a fraction of many calls.
contract StaticMulticallMock {
    /// @notice The call at `index` reverted with `data`.
    error CallFailed(uint256 index, bytes data);

    /// @notice The return data of `target.staticcall(calls[i])` for every i, in order.
    function aggregate(address target, bytes[] calldata calls) external view returns (bytes[] memory results) {
        results = new bytes[](calls.length);
        for (uint256 i = 0; i < calls.length; ++i) {
            (bool ok, bytes memory data) = target.staticcall(calls[i]);
            if (!ok) revert CallFailed(i, data);
            results[i] = data;
        }
    }
}
