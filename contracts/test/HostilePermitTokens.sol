// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {TestToken} from "./TestToken.sol";

/// @notice EIP-2612 as {PermitToken} has it (same domain: name, version "1", this chain, this
/// contract), as an internal function, for hostile tokens that wrap their permit.
abstract contract PermitBase is TestToken {
    bytes32 private constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 private constant PERMIT_TYPEHASH =
        keccak256("Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)");
    uint256 private constant HALF_N = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0;

    mapping(address => uint256) public nonces;

    error PermitExpired(uint256 deadline);
    error InvalidPermit();

    // solhint-disable-next-line func-name-mixedcase
    function DOMAIN_SEPARATOR() public view returns (bytes32) {
        return keccak256(abi.encode(DOMAIN_TYPEHASH, keccak256(bytes(name)), keccak256("1"), block.chainid, address(this)));
    }

    function _permit(address owner, address spender, uint256 value, uint256 deadline, uint8 v, bytes32 r, bytes32 s) internal {
        if (block.timestamp > deadline) revert PermitExpired(deadline);
        bytes32 structHash = keccak256(abi.encode(PERMIT_TYPEHASH, owner, spender, value, nonces[owner]++, deadline));
        bytes32 digest = keccak256(abi.encodePacked(hex"1901", DOMAIN_SEPARATOR(), structHash));
        if (uint256(s) > HALF_N || (v != 27 && v != 28)) revert InvalidPermit();
        address signer = ecrecover(digest, v, r, s);
        if (signer == address(0) || signer != owner) revert InvalidPermit();
        allowance[owner][spender] = value;
        emit Approval(owner, spender, value);
    }
}

/// @notice A real EIP-2612 permit that, when `target` (the adjudicator) calls it, first calls
/// back into `target` and logs whether that got through. Asked by `target`, a failing permit is
/// swallowed (`target` ignores the outcome anyway), so the log of the attempt always survives.
contract ReentrantPermitToken is PermitBase {
    address public immutable target;

    /// @notice Emitted by every reentry attempt: whether it succeeded, and the revert's selector.
    event Reentry(bool ok, bytes4 selector);

    error NotSelf();

    constructor(address target_) TestToken("Reenter Permit", "RPT") {
        target = target_;
    }

    function permit(address owner, address spender, uint256 value, uint256 deadline, uint8 v, bytes32 r, bytes32 s) external {
        if (msg.sender != target) return _permit(owner, spender, value, deadline, v, r, s);
        (bool ok, bytes memory ret) = target.call(abi.encodeWithSignature("withdraw(address,address)", address(this), owner));
        emit Reentry(ok, ret.length >= 4 ? bytes4(ret) : bytes4(0));
        try this.permitSelf(owner, spender, value, deadline, v, r, s) {} catch {}
    }

    /// @notice The permit itself, callable only by this contract (to catch its revert).
    function permitSelf(address owner, address spender, uint256 value, uint256 deadline, uint8 v, bytes32 r, bytes32 s) external {
        if (msg.sender != address(this)) revert NotSelf();
        _permit(owner, spender, value, deadline, v, r, s);
    }
}

/// @notice Looks like an EIP-2612 token (`nonces`, `DOMAIN_SEPARATOR`) but its `permit` burns
/// every unit of gas it is given and never permits anything.
contract GasBurningPermitToken is PermitBase {
    constructor() TestToken("Burn Permit", "BPT") {}

    function permit(address, address, uint256, uint256, uint8, bytes32, bytes32) external pure {
        while (true) {}
    }
}
