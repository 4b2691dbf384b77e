// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {TestToken} from "./TestToken.sol";

/// @notice A {TestToken} with EIP-2612 `permit` and EIP-5267 `eip712Domain`, for tests and the
/// local testnet: deposits of it take one transaction (LanesAdjudicator.depositWithPermit).
contract PermitToken is TestToken {
    bytes32 private constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 private constant PERMIT_TYPEHASH =
        keccak256("Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)");
    uint256 private constant HALF_N = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0;

    mapping(address => uint256) public nonces;

    error PermitExpired(uint256 deadline);
    error InvalidPermit();

    constructor(string memory name_, string memory symbol_) TestToken(name_, symbol_) {}

    /// @notice EIP-5267: name, version "1", this chain and this contract.
    function eip712Domain()
        external
        view
        returns (bytes1 fields, string memory, string memory, uint256, address, bytes32, uint256[] memory)
    {
        fields = hex"0f";
        return (fields, name, "1", block.chainid, address(this), bytes32(0), new uint256[](0));
    }

    // solhint-disable-next-line func-name-mixedcase
    function DOMAIN_SEPARATOR() public view returns (bytes32) {
        return keccak256(abi.encode(DOMAIN_TYPEHASH, keccak256(bytes(name)), keccak256("1"), block.chainid, address(this)));
    }

    /// @notice EIP-2612: sets `spender`'s allowance over `owner`'s tokens to `value` with
    /// `owner`'s signature over its current nonce.
    function permit(address owner, address spender, uint256 value, uint256 deadline, uint8 v, bytes32 r, bytes32 s) external {
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
