// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title LanesAdjudicator
/// @notice Holds the funds of Lanes state channels and settles them, many channels per call.
/// @dev Channel states are EIP-712 typed data (docs/adr/0001). The channel id binds the chain and
/// this contract: keccak256(abi.encode(block.chainid, address(this), participantA, participantB,
/// assets, challengeDuration, nonce)). Every batch call treats its items independently: an item
/// that fails a check is skipped with an {ItemFailed} event naming the channel and a {Reason},
/// and the other items still settle. Payouts are netted per (recipient, asset) across the batch
/// in transient storage and pushed once at the end of the call, after every state change; a
/// push that fails is credited to {withdrawable} instead, so no recipient can block a batch.
contract LanesAdjudicator {
    // ------------------------------------------------------------------------------------------
    // Types

    /// @notice What fixes a channel. Chain id and adjudicator are implied (block.chainid, this).
    struct Params {
        address[2] participants;
        address[] assets; // address(0) is the native asset
        uint64 challengeDuration; // seconds
        uint256 nonce;
    }

    /// @notice A hash-locked transfer inside a state (EIP-712 type `Lock`).
    struct Lock {
        uint64 id;
        uint8 asset; // index into Params.assets
        uint256 amount;
        uint8 sender; // participant index
        uint8 receiver; // the other participant
        bytes32 hashlock; // keccak256(secret)
        uint64 expiry; // unix seconds
    }

    /// @notice A secp256k1 signature; v is 27 or 28 and s is in the lower half of the order.
    struct Signature {
        bytes32 r;
        bytes32 s;
        uint8 v;
    }

    /// @notice A final state to pay out: locks are empty and isFinal is true by definition.
    struct CloseItem {
        Params params;
        uint64 version;
        uint256[] balances; // [asset0.p0, asset0.p1, asset1.p0, ...]
        Signature[2] sigs; // in participant order
    }

    /// @notice A co-signed state to register (challenge), or to replace a registered one (respond).
    struct ChallengeItem {
        Params params;
        uint64 version;
        uint256[] balances;
        Lock[] locks;
        bool isFinal;
        Signature[2] sigs;
    }

    /// @notice The contents of the registered state, to pay it out once its challenge period is over.
    struct ConcludeItem {
        Params params;
        uint256[] balances;
        Lock[] locks;
        bool isFinal;
    }

    /// @notice Which batch operation an {ItemFailed} event comes from.
    enum Operation {
        Close,
        Challenge,
        Conclude
    }

    /// @notice Why a batch item was skipped. Stable codes: the coordinator reports them to nodes.
    enum Reason {
        None,
        Malformed, // shape: no or too many assets, balances not 2 per asset, bad lock fields
        InvalidSignature, // v not 27/28, high s, zero r, or no signer recovered
        WrongSigner, // a valid signature by someone other than the participant
        UnknownChannel, // nothing was ever deposited for this channel
        ChannelClosed, // already closed or concluded
        ExceedsHoldings, // the state pays out more than the channel holds
        StaleVersion, // not above the registered version
        ChallengeExpired, // the challenge period is over: conclude instead
        NotChallenged, // conclude without a registered state
        ChallengePending, // conclude before the challenge period is over
        StateMismatch // conclude data does not match the registered state
    }

    // ------------------------------------------------------------------------------------------
    // Constants

    uint256 public constant MAX_ASSETS = 8;
    uint256 public constant MAX_LOCKS = 64;
    /// @dev Gas forwarded to a token's transfer: bounds what a hostile token can burn in a batch.
    uint256 private constant TOKEN_CALL_GAS = 100_000;
    /// @dev Bit 255 of a holdings slot marks the channel closed; the low bits keep any leftover.
    uint256 private constant CLOSED = 1 << 255;
    uint256 private constant HALF_N = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0;

    bytes32 private constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 private constant LOCK_TYPEHASH =
        keccak256("Lock(uint64 id,uint8 asset,uint256 amount,uint8 sender,uint8 receiver,bytes32 hashlock,uint64 expiry)");
    bytes32 private constant STATE_TYPEHASH =
        keccak256(
            "State(bytes32 channelId,uint64 version,uint256[] balances,Lock[] locks,bool isFinal)"
            "Lock(uint64 id,uint8 asset,uint256 amount,uint8 sender,uint8 receiver,bytes32 hashlock,uint64 expiry)"
        );
    /// @dev EIP-712 hash of an empty array: a state without locks costs no lock hashing at all.
    bytes32 private constant EMPTY_ARRAY_HASH = keccak256("");

    uint256 private immutable _cachedChainId;
    bytes32 private immutable _cachedDomainSeparator;

    // ------------------------------------------------------------------------------------------
    // Storage

    /// @dev channelId => asset => amount held (bit 255: closed).
    mapping(bytes32 channelId => mapping(address asset => uint256)) private _holdings;

    struct Dispute {
        uint64 version;
        uint64 finalizesAt; // 0: no registered state
        bytes32 stateHash; // EIP-712 hashStruct of the registered state
    }

    mapping(bytes32 channelId => Dispute) private _disputes;

    /// @notice When a hashlock's secret was revealed on-chain (unix seconds), 0 if never.
    mapping(bytes32 hashlock => uint256) public revealedAt;

    /// @notice Payouts that could not be pushed (a contract refusing ETH, a failing token), to pull.
    mapping(address account => mapping(address asset => uint256)) public withdrawable;

    uint256 private transient _entered;

    // ------------------------------------------------------------------------------------------
    // Events

    /// @notice Funds arrived for a channel; `amount` is what this contract actually received.
    event Deposited(bytes32 indexed channelId, address indexed asset, address participant, uint256 amount, uint256 holdingsAfter);
    /// @notice A channel was closed cooperatively with its final state and paid out.
    event Closed(bytes32 indexed channelId, uint64 version);
    /// @notice A state was registered for a channel (a challenge, or a response with a newer one).
    event Challenged(bytes32 indexed channelId, uint64 version, uint64 finalizesAt);
    /// @notice A challenged channel was paid out after its challenge period.
    event Concluded(bytes32 indexed channelId, uint64 version);
    /// @notice A batch item was skipped; the rest of the batch went ahead.
    event ItemFailed(bytes32 indexed channelId, Operation operation, Reason reason);
    /// @notice A hash-lock secret was registered.
    event SecretRevealed(bytes32 indexed hashlock, bytes32 secret);
    /// @notice A push payout failed and was credited to {withdrawable}.
    event PayoutDeferred(address indexed account, address indexed asset, uint256 amount);
    /// @notice Deferred payouts were withdrawn.
    event Withdrawn(address indexed account, address indexed asset, uint256 amount);

    // ------------------------------------------------------------------------------------------
    // Errors (whole-call failures; batch items fail with {ItemFailed} instead)

    error Reentrancy();
    error InvalidAsset(uint256 index);
    error InvalidParticipant(uint256 index);
    error ZeroAmount();
    error WrongValue(uint256 sent, uint256 expected);
    error ChannelIsClosed(bytes32 channelId);
    error HoldingsOverflow(bytes32 channelId);
    error TransferFailed(address asset);
    error NothingToWithdraw(address asset);

    modifier nonReentrant() {
        if (_entered != 0) revert Reentrancy();
        _entered = 1;
        _;
        _entered = 0;
    }

    constructor() {
        _cachedChainId = block.chainid;
        _cachedDomainSeparator = _buildDomainSeparator();
    }

    // ------------------------------------------------------------------------------------------
    // Funding

    /// @notice Deposits `amount` of `params.assets[assetIndex]` for participant `participant`.
    /// @dev Anyone may fund a participant; top-ups are allowed until the channel is closed. For a
    /// token, the amount credited is the balance increase actually observed (fee-on-transfer safe).
    /// @param params The channel's parameters (hashed into its id).
    /// @param assetIndex Index of the asset in `params.assets`.
    /// @param participant 0 or 1: whose deposit this is (named in the {Deposited} event).
    /// @param amount Amount to deposit; for the native asset it must equal msg.value.
    function deposit(Params calldata params, uint256 assetIndex, uint256 participant, uint256 amount) external payable nonReentrant {
        if (params.assets.length > MAX_ASSETS || assetIndex >= params.assets.length) revert InvalidAsset(assetIndex);
        if (participant > 1) revert InvalidParticipant(participant);
        if (amount == 0) revert ZeroAmount();
        bytes32 id = channelId(params);
        address asset = params.assets[assetIndex];
        uint256 held = _holdings[id][asset];
        if (held & CLOSED != 0) revert ChannelIsClosed(id);
        uint256 received;
        if (asset == address(0)) {
            if (msg.value != amount) revert WrongValue(msg.value, amount);
            received = amount;
        } else {
            if (msg.value != 0) revert WrongValue(msg.value, 0);
            uint256 before = _balanceOf(asset);
            _transferFrom(asset, msg.sender, amount);
            received = _balanceOf(asset) - before;
            if (received == 0) revert ZeroAmount();
        }
        uint256 afterDeposit = held + received;
        if (afterDeposit >= CLOSED) revert HoldingsOverflow(id);
        _holdings[id][asset] = afterDeposit;
        emit Deposited(id, asset, params.participants[participant], received, afterDeposit);
    }

    // ------------------------------------------------------------------------------------------
    // Cooperative close

    /// @notice Pays out many channels' final states, each signed by both participants.
    /// @dev Items fail independently ({ItemFailed}); payouts are netted across the batch.
    /// @return settled The number of channels closed.
    function closeBatch(CloseItem[] calldata items) external nonReentrant returns (uint256 settled) {
        Payouts memory acc = _newPayouts(_closeBound(items));
        bytes32 domain = _domainSeparator();
        for (uint256 i = 0; i < items.length; ++i) {
            (bytes32 id, Reason reason) = _close(items[i], domain, acc);
            if (reason == Reason.None) ++settled;
            else emit ItemFailed(id, Operation.Close, reason);
        }
        _flush(acc);
    }

    function _close(CloseItem calldata it, bytes32 domain, Payouts memory acc) private returns (bytes32 id, Reason) {
        Params calldata p = it.params;
        uint256 n = p.assets.length;
        if (n == 0 || n > MAX_ASSETS || it.balances.length != 2 * n) return (bytes32(0), Reason.Malformed);
        id = channelId(p);
        bytes32 structHash = keccak256(abi.encode(STATE_TYPEHASH, id, it.version, _hashWords(it.balances), EMPTY_ARRAY_HASH, true));
        Reason r = _checkSignatures(_digest(domain, structHash), p.participants, it.sigs);
        if (r != Reason.None) return (id, r);
        uint256[] memory totals = new uint256[](n);
        for (uint256 a = 0; a < n; ++a) {
            (bool ok, uint256 t) = _add(it.balances[2 * a], it.balances[2 * a + 1]);
            if (!ok) return (id, Reason.Malformed);
            totals[a] = t;
        }
        r = _settle(id, p, totals);
        if (r != Reason.None) return (id, r);
        for (uint256 a = 0; a < n; ++a) {
            _credit(acc, p.participants[0], p.assets[a], it.balances[2 * a]);
            _credit(acc, p.participants[1], p.assets[a], it.balances[2 * a + 1]);
        }
        emit Closed(id, it.version);
        return (id, Reason.None);
    }

    // ------------------------------------------------------------------------------------------
    // Disputes

    /// @notice Registers many channels' co-signed states, starting each one's challenge period;
    /// for a channel already challenged, a higher version replaces the registered state (the
    /// answer to a stale state) without extending the period.
    /// @return registered The number of states registered.
    function challengeBatch(ChallengeItem[] calldata items) external nonReentrant returns (uint256 registered) {
        bytes32 domain = _domainSeparator();
        for (uint256 i = 0; i < items.length; ++i) {
            (bytes32 id, Reason reason) = _challenge(items[i], domain);
            if (reason == Reason.None) ++registered;
            else emit ItemFailed(id, Operation.Challenge, reason);
        }
    }

    function _challenge(ChallengeItem calldata it, bytes32 domain) private returns (bytes32 id, Reason) {
        Params calldata p = it.params;
        if (!_wellFormed(p, it.balances, it.locks, it.isFinal)) return (bytes32(0), Reason.Malformed);
        id = channelId(p);
        bytes32 structHash = _stateHash(id, it.version, it.balances, it.locks, it.isFinal);
        Reason r = _checkSignatures(_digest(domain, structHash), p.participants, it.sigs);
        if (r != Reason.None) return (id, r);
        r = _checkOpen(id, p);
        if (r != Reason.None) return (id, r);
        Dispute storage d = _disputes[id];
        uint64 finalizesAt = d.finalizesAt;
        if (finalizesAt != 0) {
            if (block.timestamp >= finalizesAt) return (id, Reason.ChallengeExpired);
            if (it.version <= d.version) return (id, Reason.StaleVersion);
        } else {
            finalizesAt = uint64(block.timestamp) + p.challengeDuration;
            d.finalizesAt = finalizesAt;
        }
        d.version = it.version;
        d.stateHash = structHash;
        emit Challenged(id, it.version, finalizesAt);
        return (id, Reason.None);
    }

    /// @notice Pays out many challenged channels whose challenge period is over, each according to
    /// its registered state. A lock pays its receiver if its secret was revealed before its
    /// expiry, otherwise its sender.
    /// @return concluded The number of channels paid out.
    function concludeBatch(ConcludeItem[] calldata items) external nonReentrant returns (uint256 concluded) {
        Payouts memory acc = _newPayouts(_concludeBound(items));
        for (uint256 i = 0; i < items.length; ++i) {
            (bytes32 id, Reason reason) = _conclude(items[i], acc);
            if (reason == Reason.None) ++concluded;
            else emit ItemFailed(id, Operation.Conclude, reason);
        }
        _flush(acc);
    }

    function _conclude(ConcludeItem calldata it, Payouts memory acc) private returns (bytes32 id, Reason) {
        Params calldata p = it.params;
        if (!_wellFormed(p, it.balances, it.locks, it.isFinal)) return (bytes32(0), Reason.Malformed);
        id = channelId(p);
        Dispute storage d = _disputes[id];
        uint64 finalizesAt = d.finalizesAt;
        if (finalizesAt == 0) return (id, Reason.NotChallenged);
        if (block.timestamp < finalizesAt) return (id, Reason.ChallengePending);
        uint64 version = d.version;
        if (_stateHash(id, version, it.balances, it.locks, it.isFinal) != d.stateHash) return (id, Reason.StateMismatch);
        uint256 n = p.assets.length;
        // Resolve locks into the per-participant payouts, then check them against the holdings.
        uint256[] memory pay = new uint256[](2 * n);
        uint256[] memory totals = new uint256[](n);
        bool ok = true;
        for (uint256 a = 0; a < 2 * n; ++a) pay[a] = it.balances[a];
        for (uint256 k = 0; k < it.locks.length; ++k) {
            Lock calldata l = it.locks[k];
            uint256 when = revealedAt[l.hashlock];
            uint256 to = (when != 0 && when < l.expiry) ? l.receiver : l.sender;
            (ok, pay[2 * l.asset + to]) = _add(pay[2 * l.asset + to], l.amount);
            if (!ok) return (id, Reason.Malformed);
        }
        for (uint256 a = 0; a < n; ++a) {
            (ok, totals[a]) = _add(pay[2 * a], pay[2 * a + 1]);
            if (!ok) return (id, Reason.Malformed);
        }
        Reason r = _settle(id, p, totals);
        if (r != Reason.None) return (id, r);
        delete _disputes[id];
        for (uint256 a = 0; a < n; ++a) {
            _credit(acc, p.participants[0], p.assets[a], pay[2 * a]);
            _credit(acc, p.participants[1], p.assets[a], pay[2 * a + 1]);
        }
        emit Concluded(id, version);
        return (id, Reason.None);
    }

    // ------------------------------------------------------------------------------------------
    // Secrets and withdrawals

    /// @notice Registers hash-lock secrets; each is timestamped the first time it is revealed.
    function revealSecrets(bytes32[] calldata secrets) external {
        for (uint256 i = 0; i < secrets.length; ++i) {
            bytes32 secret = secrets[i];
            bytes32 hashlock = keccak256(abi.encode(secret));
            if (revealedAt[hashlock] == 0) {
                revealedAt[hashlock] = block.timestamp;
                emit SecretRevealed(hashlock, secret);
            }
        }
    }

    /// @notice Withdraws the caller's deferred payouts of `asset`, sending them to `to` (an
    /// account that refused a push, such as a delegated EOA whose code rejects ETH, names another).
    function withdraw(address asset, address payable to) external nonReentrant {
        uint256 amount = withdrawable[msg.sender][asset];
        if (amount == 0) revert NothingToWithdraw(asset);
        withdrawable[msg.sender][asset] = 0;
        bool ok;
        if (asset == address(0)) {
            (ok, ) = to.call{value: amount}("");
        } else {
            ok = _tryTransfer(asset, to, amount, gasleft());
        }
        if (!ok) revert TransferFailed(asset);
        emit Withdrawn(msg.sender, asset, amount);
    }

    // ------------------------------------------------------------------------------------------
    // Views

    /// @notice The id of the channel with `params` on this chain and this contract.
    function channelId(Params calldata params) public view returns (bytes32) {
        return
            keccak256(
                abi.encode(
                    block.chainid,
                    address(this),
                    params.participants[0],
                    params.participants[1],
                    params.assets,
                    params.challengeDuration,
                    params.nonce
                )
            );
    }

    /// @notice Amount of `asset` held for a channel, and whether the channel is closed.
    function holdings(bytes32 id, address asset) external view returns (uint256 amount, bool closed) {
        uint256 h = _holdings[id][asset];
        return (h & ~CLOSED, h & CLOSED != 0);
    }

    /// @notice The state registered for a channel (finalizesAt is 0 when none is).
    function dispute(bytes32 id) external view returns (uint64 version, uint64 finalizesAt, bytes32 stateHash) {
        Dispute storage d = _disputes[id];
        return (d.version, d.finalizesAt, d.stateHash);
    }

    /// @notice The EIP-712 domain separator (name "Lanes", version "1", this chain, this contract).
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparator();
    }

    /// @notice The EIP-712 digest both participants sign for a state.
    function stateDigest(
        bytes32 id,
        uint64 version,
        uint256[] calldata balances,
        Lock[] calldata locks,
        bool isFinal
    ) external view returns (bytes32) {
        return _digest(_domainSeparator(), _stateHash(id, version, balances, locks, isFinal));
    }

    // ------------------------------------------------------------------------------------------
    // Internals: hashing and signatures

    function _buildDomainSeparator() private view returns (bytes32) {
        return keccak256(abi.encode(DOMAIN_TYPEHASH, keccak256("Lanes"), keccak256("1"), block.chainid, address(this)));
    }

    /// @dev Recomputed if the chain id changes (a fork), as OpenZeppelin's EIP712 does.
    function _domainSeparator() private view returns (bytes32) {
        return block.chainid == _cachedChainId ? _cachedDomainSeparator : _buildDomainSeparator();
    }

    function _digest(bytes32 domain, bytes32 structHash) private pure returns (bytes32 d) {
        // keccak256("\x19\x01" ‖ domainSeparator ‖ structHash), as EIP-712 defines it.
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, hex"1901")
            mstore(add(ptr, 0x02), domain)
            mstore(add(ptr, 0x22), structHash)
            d := keccak256(ptr, 0x42)
        }
    }

    /// @dev EIP-712 encoding of a `uint256[]`: keccak256 of its 32-byte words, concatenated.
    function _hashWords(uint256[] calldata words) private pure returns (bytes32 h) {
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            let len := shl(5, words.length)
            calldatacopy(ptr, words.offset, len)
            h := keccak256(ptr, len)
        }
    }

    function _stateHash(
        bytes32 id,
        uint64 version,
        uint256[] calldata balances,
        Lock[] calldata locks,
        bool isFinal
    ) private pure returns (bytes32) {
        bytes32 locksHash = EMPTY_ARRAY_HASH;
        if (locks.length != 0) {
            bytes32[] memory hashes = new bytes32[](locks.length);
            for (uint256 k = 0; k < locks.length; ++k) {
                Lock calldata l = locks[k];
                hashes[k] = keccak256(abi.encode(LOCK_TYPEHASH, l.id, l.asset, l.amount, l.sender, l.receiver, l.hashlock, l.expiry));
            }
            // EIP-712 encoding of a struct array: keccak256 of the concatenated struct hashes.
            assembly ("memory-safe") {
                locksHash := keccak256(add(hashes, 0x20), shl(5, mload(hashes)))
            }
        }
        return keccak256(abi.encode(STATE_TYPEHASH, id, version, _hashWords(balances), locksHash, isFinal));
    }

    function _checkSignatures(bytes32 digest, address[2] calldata signers, Signature[2] calldata sigs) private pure returns (Reason) {
        for (uint256 i = 0; i < 2; ++i) {
            Signature calldata s = sigs[i];
            if ((s.v != 27 && s.v != 28) || uint256(s.s) > HALF_N || s.r == 0 || s.s == 0) return Reason.InvalidSignature;
            address signer = ecrecover(digest, s.v, s.r, s.s);
            if (signer == address(0)) return Reason.InvalidSignature;
            if (signer != signers[i]) return Reason.WrongSigner;
        }
        return Reason.None;
    }

    // ------------------------------------------------------------------------------------------
    // Internals: holdings

    function _wellFormed(Params calldata p, uint256[] calldata balances, Lock[] calldata locks, bool isFinal) private pure returns (bool) {
        uint256 n = p.assets.length;
        if (n == 0 || n > MAX_ASSETS || balances.length != 2 * n || locks.length > MAX_LOCKS) return false;
        if (isFinal && locks.length != 0) return false;
        for (uint256 k = 0; k < locks.length; ++k) {
            Lock calldata l = locks[k];
            if (l.asset >= n || l.sender > 1 || l.receiver != 1 - l.sender) return false;
        }
        return true;
    }

    /// @dev The channel must hold something and not be closed.
    function _checkOpen(bytes32 id, Params calldata p) private view returns (Reason) {
        bool funded;
        for (uint256 a = 0; a < p.assets.length; ++a) {
            uint256 held = _holdings[id][p.assets[a]];
            if (held & CLOSED != 0) return Reason.ChannelClosed;
            if (held != 0) funded = true;
        }
        return funded ? Reason.None : Reason.UnknownChannel;
    }

    /// @dev Checks the payout `totals` against the holdings, then marks the channel closed. Any
    /// holdings above the state's totals (a deposit no state credited) stay recorded in the slot.
    function _settle(bytes32 id, Params calldata p, uint256[] memory totals) private returns (Reason) {
        uint256 n = p.assets.length;
        uint256[] memory held = new uint256[](n);
        bool funded;
        for (uint256 a = 0; a < n; ++a) {
            uint256 h = _holdings[id][p.assets[a]];
            if (h & CLOSED != 0) return Reason.ChannelClosed;
            if (h != 0) funded = true;
            held[a] = h;
        }
        if (!funded) return Reason.UnknownChannel;
        for (uint256 a = 0; a < n; ++a) if (totals[a] > held[a]) return Reason.ExceedsHoldings;
        for (uint256 a = 0; a < n; ++a) _holdings[id][p.assets[a]] = CLOSED | (held[a] - totals[a]);
        return Reason.None;
    }

    function _add(uint256 x, uint256 y) private pure returns (bool, uint256) {
        unchecked {
            uint256 z = x + y;
            return (z >= x, z);
        }
    }

    // ------------------------------------------------------------------------------------------
    // Internals: netted payouts

    /// @dev Distinct (recipient, asset) pairs of this call, in first-credit order; the amounts
    /// live in transient storage under keccak256(recipient, asset).
    struct Payouts {
        address[] to;
        address[] asset;
        uint256 n;
    }

    /// @dev Upper bound of distinct payouts: two participants per asset per item.
    function _closeBound(CloseItem[] calldata items) private pure returns (uint256 bound) {
        for (uint256 i = 0; i < items.length; ++i) bound += _assetsBound(items[i].params);
    }

    function _concludeBound(ConcludeItem[] calldata items) private pure returns (uint256 bound) {
        for (uint256 i = 0; i < items.length; ++i) bound += _assetsBound(items[i].params);
    }

    function _assetsBound(Params calldata p) private pure returns (uint256) {
        uint256 n = p.assets.length;
        return n > MAX_ASSETS ? 0 : 2 * n;
    }

    function _newPayouts(uint256 bound) private pure returns (Payouts memory acc) {
        acc.to = new address[](bound);
        acc.asset = new address[](bound);
    }

    function _credit(Payouts memory acc, address to, address asset, uint256 amount) private {
        if (amount == 0) return;
        uint256 current;
        bytes32 key;
        assembly ("memory-safe") {
            mstore(0x00, to)
            mstore(0x20, asset)
            key := keccak256(0x00, 0x40)
            current := tload(key)
        }
        if (current == 0) {
            acc.to[acc.n] = to;
            acc.asset[acc.n] = asset;
            ++acc.n;
        }
        // Cannot overflow: every credit is backed by holdings, which are below 2^255 each and
        // together no more than this contract's balance.
        assembly ("memory-safe") {
            tstore(key, add(current, amount))
        }
    }

    /// @dev Pushes every netted payout once. Runs after all state changes of the call.
    function _flush(Payouts memory acc) private {
        for (uint256 i = 0; i < acc.n; ++i) {
            address to = acc.to[i];
            address asset = acc.asset[i];
            uint256 amount;
            assembly ("memory-safe") {
                mstore(0x00, to)
                mstore(0x20, asset)
                let key := keccak256(0x00, 0x40)
                amount := tload(key)
                tstore(key, 0)
            }
            bool ok;
            if (asset == address(0)) {
                // Gas 0 with value: the recipient gets only the 2300 stipend. An account that
                // needs more (a contract wallet) is credited to withdrawable and pulls later.
                assembly ("memory-safe") {
                    ok := call(0, to, amount, 0, 0, 0, 0)
                }
            } else {
                ok = _tryTransfer(asset, to, amount, TOKEN_CALL_GAS);
            }
            if (!ok) {
                withdrawable[to][asset] += amount;
                emit PayoutDeferred(to, asset, amount);
            }
        }
    }

    // ------------------------------------------------------------------------------------------
    // Internals: tokens

    /// @dev ERC-20 transfer that tolerates tokens returning nothing, treats `false` as failure,
    /// copies at most 32 bytes of return data, and never reverts.
    function _tryTransfer(address token, address to, uint256 amount, uint256 gasLimit) private returns (bool ok) {
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, 0xa9059cbb00000000000000000000000000000000000000000000000000000000)
            mstore(add(ptr, 0x04), to)
            mstore(add(ptr, 0x24), amount)
            mstore(0x00, 0)
            ok := call(gasLimit, token, 0, ptr, 0x44, 0x00, 0x20)
            let rds := returndatasize()
            ok := and(ok, or(and(iszero(rds), gt(extcodesize(token), 0)), and(gt(rds, 0x1f), eq(mload(0x00), 1))))
        }
    }

    function _transferFrom(address token, address from, uint256 amount) private {
        bool ok;
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, 0x23b872dd00000000000000000000000000000000000000000000000000000000)
            mstore(add(ptr, 0x04), from)
            mstore(add(ptr, 0x24), address())
            mstore(add(ptr, 0x44), amount)
            mstore(0x00, 0)
            ok := call(gas(), token, 0, ptr, 0x64, 0x00, 0x20)
            let rds := returndatasize()
            ok := and(ok, or(and(iszero(rds), gt(extcodesize(token), 0)), and(gt(rds, 0x1f), eq(mload(0x00), 1))))
        }
        if (!ok) revert TransferFailed(token);
    }

    function _balanceOf(address token) private view returns (uint256 b) {
        bool ok;
        assembly ("memory-safe") {
            mstore(0x00, 0x70a0823100000000000000000000000000000000000000000000000000000000)
            mstore(0x04, address())
            ok := staticcall(gas(), token, 0x00, 0x24, 0x00, 0x20)
            ok := and(ok, gt(returndatasize(), 0x1f))
            b := mload(0x00)
        }
        if (!ok) revert TransferFailed(token);
    }
}
