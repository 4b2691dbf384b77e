// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @notice Reads many of the adjudicator's values and many balances in one call: the invariant
/// fuzzer compares the whole contract state with its model after every step. Calls are made
/// from scratch memory, so reading hundreds of values costs no memory growth.
contract AdjudicatorLens {
    /// @param holdingIds, holdingAssets Pairs (channel id, asset) whose holdings to read.
    /// @param owedAccounts, owedAssets Pairs (account, asset) whose withdrawable balance to read.
    /// @param balanceAccounts, balanceAssets Pairs (account, asset) whose balance to read (the zero
    /// asset is ETH; a token whose `balanceOf` fails reads as 2^256 - 1).
    /// @param disputeIds Channels whose registered state to read.
    /// @return held Holdings, with bit 255 set when the channel is closed.
    /// @return owed Withdrawable balances.
    /// @return balances Balances.
    /// @return disputes Three words per channel: version, finalizesAt, stateHash.
    function read(
        address adjudicator,
        bytes32[] calldata holdingIds,
        address[] calldata holdingAssets,
        address[] calldata owedAccounts,
        address[] calldata owedAssets,
        address[] calldata balanceAccounts,
        address[] calldata balanceAssets,
        bytes32[] calldata disputeIds
    ) external view returns (uint256[] memory held, uint256[] memory owed, uint256[] memory balances, uint256[] memory disputes) {
        held = new uint256[](holdingIds.length);
        owed = new uint256[](owedAccounts.length);
        balances = new uint256[](balanceAccounts.length);
        disputes = new uint256[](3 * disputeIds.length);
        for (uint256 i = 0; i < holdingIds.length; ++i) {
            (uint256 amount, uint256 closed) = _call2(adjudicator, 0x2f3acc1c, uint256(holdingIds[i]), uint160(holdingAssets[i]));
            held[i] = closed != 0 ? amount | (1 << 255) : amount;
        }
        for (uint256 i = 0; i < owedAccounts.length; ++i) {
            (owed[i], ) = _call2(adjudicator, 0xc0314d27, uint160(owedAccounts[i]), uint160(owedAssets[i]));
        }
        for (uint256 i = 0; i < balanceAccounts.length; ++i) {
            address asset = balanceAssets[i];
            balances[i] = asset == address(0) ? balanceAccounts[i].balance : _balanceOf(asset, balanceAccounts[i]);
        }
        for (uint256 i = 0; i < disputeIds.length; ++i) {
            (uint256 version, uint256 finalizesAt, uint256 stateHash) = _dispute(adjudicator, disputeIds[i]);
            disputes[3 * i] = version;
            disputes[3 * i + 1] = finalizesAt;
            disputes[3 * i + 2] = stateHash;
        }
    }

    function _call2(address target, uint32 selector, uint256 a, uint256 b) private view returns (uint256 x, uint256 y) {
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, shl(224, selector))
            mstore(add(ptr, 4), a)
            mstore(add(ptr, 0x24), b)
            if iszero(staticcall(gas(), target, ptr, 0x44, ptr, 0x40)) {
                revert(0, 0)
            }
            x := mload(ptr)
            y := mload(add(ptr, 0x20))
        }
    }

    function _dispute(address target, bytes32 id) private view returns (uint256 v, uint256 f, uint256 h) {
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, shl(224, 0xadd98c70))
            mstore(add(ptr, 4), id)
            if iszero(staticcall(gas(), target, ptr, 0x24, ptr, 0x60)) {
                revert(0, 0)
            }
            v := mload(ptr)
            f := mload(add(ptr, 0x20))
            h := mload(add(ptr, 0x40))
        }
    }

    function _balanceOf(address token, address who) private view returns (uint256 b) {
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, shl(224, 0x70a08231))
            mstore(add(ptr, 4), who)
            b := not(0)
            // Two statements: Yul evaluates arguments right to left, so returndatasize() inside
            // the same expression would be read before the call.
            let ok := staticcall(gas(), token, ptr, 0x24, ptr, 0x20)
            if and(ok, gt(returndatasize(), 0x1f)) {
                b := mload(ptr)
            }
        }
    }
}
