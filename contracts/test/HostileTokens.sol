// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {TestToken} from "./TestToken.sol";

/// @notice Burns 1% of every transfer: the recipient receives less than the amount sent.
contract FeeOnTransferToken is TestToken {
    constructor() TestToken("Fee", "FEE") {}

    function _move(address from, address to, uint256 amount) internal override {
        uint256 fee = amount / 100;
        super._move(from, to, amount - fee);
        if (fee > 0) {
            balanceOf[from] -= fee;
            totalSupply -= fee;
        }
    }
}

/// @notice Returns false instead of reverting when `failing` is set (some tokens do).
contract FalseReturningToken is TestToken {
    bool public failing;

    constructor() TestToken("False", "FALSE") {}

    function setFailing(bool value) external {
        failing = value;
    }

    function transfer(address to, uint256 amount) external override returns (bool) {
        if (failing) return false;
        _move(msg.sender, to, amount);
        return true;
    }

    function transferFrom(address from, address to, uint256 amount) external override returns (bool) {
        if (failing) return false;
        _spend(from, amount);
        _move(from, to, amount);
        return true;
    }
}

/// @notice Returns nothing from transfer and transferFrom (as USDT does).
contract NoReturnToken {
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;

    function mint(address to, uint256 amount) external {
        balanceOf[to] += amount;
    }

    function approve(address spender, uint256 amount) external {
        allowance[msg.sender][spender] = amount;
    }

    function transfer(address to, uint256 amount) external {
        require(balanceOf[msg.sender] >= amount, "balance");
        balanceOf[msg.sender] -= amount;
        balanceOf[to] += amount;
    }

    function transferFrom(address from, address to, uint256 amount) external {
        require(balanceOf[from] >= amount && allowance[from][msg.sender] >= amount, "balance");
        allowance[from][msg.sender] -= amount;
        balanceOf[from] -= amount;
        balanceOf[to] += amount;
    }
}

/// @notice On every transfer out of `target`, calls back into `target` with `payload` and
/// records whether the reentrant call succeeded.
contract ReentrantToken is TestToken {
    address public target;
    bytes public payload;
    bool public attempted;
    bool public reentered;
    bytes4 public revertSelector;

    constructor() TestToken("Reenter", "REE") {}

    function arm(address target_, bytes calldata payload_) external {
        target = target_;
        payload = payload_;
    }

    function transfer(address to, uint256 amount) external override returns (bool) {
        if (msg.sender == target && target != address(0) && !attempted) {
            attempted = true;
            (bool ok, bytes memory ret) = target.call(payload);
            reentered = ok;
            if (!ok && ret.length >= 4) revertSelector = bytes4(ret);
        }
        _move(msg.sender, to, amount);
        return true;
    }
}

/// @notice Code that refuses ETH: installed at a participant's address in tests to stand for a
/// delegated (EIP-7702) account whose code rejects plain transfers.
contract RejectingReceiver {
    receive() external payable {
        revert("no ETH");
    }
}

/// @notice Lies about its balance: each `transferFrom` adds `pendingLie` (set by anyone) to the
/// balance it reports for the recipient, so a deposit appears to bring in far more than it did.
contract LyingToken {
    mapping(address => uint256) public realBalance;
    mapping(address => uint256) public lie;
    uint256 public pendingLie;

    function mint(address to, uint256 amount) external {
        realBalance[to] += amount;
    }

    function approve(address, uint256) external pure returns (bool) {
        return true;
    }

    function allowance(address, address) external pure returns (uint256) {
        return type(uint256).max;
    }

    function setPendingLie(uint256 amount) external {
        pendingLie = amount;
    }

    function balanceOf(address who) external view returns (uint256) {
        return realBalance[who] + lie[who];
    }

    function transfer(address to, uint256 amount) external returns (bool) {
        _move(msg.sender, to, amount);
        return true;
    }

    function transferFrom(address from, address to, uint256 amount) external returns (bool) {
        _move(from, to, amount);
        lie[to] += pendingLie;
        pendingLie = 0;
        return true;
    }

    function _move(address from, address to, uint256 amount) private {
        uint256 real = realBalance[from];
        uint256 fake = lie[from];
        require(real + fake >= amount, "balance");
        // Spends the lie first: a holder can pay out what it only claims to have.
        if (fake >= amount) {
            lie[from] = fake - amount;
        } else {
            lie[from] = 0;
            realBalance[from] = real - (amount - fake);
        }
        realBalance[to] += amount;
    }
}

/// @notice Burns every unit of gas it is given on `transfer` while `burning` is set.
contract GasBurningToken is TestToken {
    bool public burning;

    constructor() TestToken("Burn", "BURN") {}

    function setBurning(bool value) external {
        burning = value;
    }

    function transfer(address to, uint256 amount) external override returns (bool) {
        if (burning) {
            while (true) {}
        }
        _move(msg.sender, to, amount);
        return true;
    }
}

/// @notice An ETH receiver that burns all the gas it is given.
contract GasBurningReceiver {
    receive() external payable {
        while (true) {}
    }
}
