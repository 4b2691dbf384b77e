// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @notice A working ERC-20 (open minting) whose `symbol()` and `decimals()` return whatever raw
/// bytes it was built with, or revert when told to: a standard string, a bytes32 symbol (as
/// MKR's), a USDC-like 6 decimals, junk. For the CLI's token units, which must fall back safely
/// on anything odd. Never deploy it anywhere that matters.
contract MetadataToken {
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;
    uint256 public totalSupply;
    bytes private _symbolData;
    bytes private _decimalsData;
    bool private _symbolReverts;
    bool private _decimalsReverts;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    constructor(bytes memory symbolData, bool symbolReverts, bytes memory decimalsData, bool decimalsReverts) {
        _symbolData = symbolData;
        _symbolReverts = symbolReverts;
        _decimalsData = decimalsData;
        _decimalsReverts = decimalsReverts;
    }

    function mint(address to, uint256 amount) external {
        totalSupply += amount;
        balanceOf[to] += amount;
        emit Transfer(address(0), to, amount);
    }

    function approve(address spender, uint256 amount) external returns (bool) {
        allowance[msg.sender][spender] = amount;
        emit Approval(msg.sender, spender, amount);
        return true;
    }

    function transfer(address to, uint256 amount) external returns (bool) {
        _move(msg.sender, to, amount);
        return true;
    }

    function transferFrom(address from, address to, uint256 amount) external returns (bool) {
        uint256 allowed = allowance[from][msg.sender];
        require(allowed >= amount, "allowance");
        if (allowed != type(uint256).max) allowance[from][msg.sender] = allowed - amount;
        _move(from, to, amount);
        return true;
    }

    function _move(address from, address to, uint256 amount) private {
        require(balanceOf[from] >= amount, "balance");
        balanceOf[from] -= amount;
        balanceOf[to] += amount;
        emit Transfer(from, to, amount);
    }

    /// @dev `symbol()` (0x95d89b41) and `decimals()` (0x313ce567): the raw bytes given, not ABI-encoded.
    fallback(bytes calldata input) external returns (bytes memory) {
        if (input.length < 4) revert();
        bytes4 selector = bytes4(input[:4]);
        if (selector == 0x95d89b41 && !_symbolReverts) return _symbolData;
        if (selector == 0x313ce567 && !_decimalsReverts) return _decimalsData;
        revert();
    }
}
