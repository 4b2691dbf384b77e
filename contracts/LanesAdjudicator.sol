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

    /// @notice A hash-locked transfer. A state commits to its locks by the root of a Merkle tree
    /// of their EIP-712 `hashStruct(Lock)`s (docs/adr/0010); each is paid out by {unlockBatch}.
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
        bytes32 locksRoot; // 0 when the state has no locks
        bool isFinal;
        Signature[2] sigs;
    }

    /// @notice One deposit of a {depositBatch}.
    struct DepositItem {
        Params params;
        uint256 assetIndex;
        uint256 participant;
        uint256 amount;
    }

    /// @notice The contents of the registered state, to pay it out once its challenge period is over.
    struct ConcludeItem {
        Params params;
        uint256[] balances;
        bytes32 locksRoot;
        bool isFinal;
    }

    /// @notice A lock of a concluded channel's state, at slot `index` of its lock tree, with the
    /// sibling hashes from the leaf up to the root.
    struct UnlockItem {
        Params params;
        Lock lock;
        uint256 index;
        bytes32[10] proof; // LOCK_TREE_DEPTH sibling hashes, leaf upwards
    }

    /// @notice How a batch pays its participants. `Transfer` pushes each netted payout to the
    /// recipient (falling back to {withdrawable} if the push fails); `Credit` adds it to the
    /// recipient's {withdrawable} balance, to withdraw later or to fund new channels with
    /// {depositFromWithdrawable} (no external call at all: cheapest when the balance is in use).
    enum Payout {
        Transfer,
        Credit
    }

    /// @notice Which batch operation an {ItemFailed} event comes from.
    enum Operation {
        Close,
        Challenge,
        Conclude,
        Unlock
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
        StateMismatch, // conclude data does not match the registered state
        LocksPending, // unlock while the lock is neither revealed nor expired: its outcome is not yet fixed
        UnknownLock, // unlock of a lock that is not in the concluded state's tree (or no state concluded with locks)
        AlreadyUnlocked // unlock of a lock paid out before
    }

    // ------------------------------------------------------------------------------------------
    // Constants

    uint256 public constant MAX_ASSETS = 8;
    /// @notice Depth of the lock tree: a state holds at most 2^10 = 1,024 locks.
    uint256 public constant LOCK_TREE_DEPTH = 10;
    uint256 public constant MAX_LOCKS = 1 << LOCK_TREE_DEPTH;
    /// @notice The longest challenge period (30 days): a deadline `block.timestamp + duration`
    /// never overflows, and no dispute can hold funds longer than this.
    uint64 public constant MAX_CHALLENGE_DURATION = 30 days;
    /// @notice The most one channel may hold of one asset. Every sum the contract keeps (a batch's
    /// netted payouts, an account's withdrawable balance) is a sum of holdings, so with holdings
    /// below 2^128 none can overflow, whatever a token claims to have transferred.
    uint256 public constant MAX_HOLDINGS = type(uint128).max;
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
        keccak256("State(bytes32 channelId,uint64 version,uint256[] balances,bytes32 locksRoot,bool isFinal)");

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

    /// @dev The lock tree root of a concluded channel's state (0: none, or no locks).
    mapping(bytes32 channelId => bytes32) private _lockRoots;

    /// @dev Which slots of a concluded channel's lock tree were unlocked: a bitmap, 256 per word.
    mapping(bytes32 channelId => mapping(uint256 word => uint256)) private _unlocked;

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
    /// @notice A lock of a concluded channel was paid out, to its receiver or back to its sender.
    event Unlocked(bytes32 indexed channelId, uint256 index, address to, uint256 amount);
    /// @notice A hash-lock secret was registered.
    event SecretRevealed(bytes32 indexed hashlock, bytes32 secret);
    /// @notice A push payout failed and was credited to {withdrawable}.
    event PayoutDeferred(address indexed account, address indexed asset, uint256 amount);
    /// @notice Deferred payouts were withdrawn.
    event Withdrawn(address indexed account, address indexed asset, uint256 amount);

    // ------------------------------------------------------------------------------------------
    // Errors (whole-call failures; batch items fail with {ItemFailed} instead)

    error Reentrancy();
    /// @notice Params no channel may have: no assets or more than {MAX_ASSETS}, an asset listed
    /// twice, or a challenge duration above {MAX_CHALLENGE_DURATION}.
    error InvalidParams();
    error InvalidAsset(uint256 index);
    error InvalidParticipant(uint256 index);
    error ZeroAmount();
    error WrongValue(uint256 sent, uint256 expected);
    error ChannelIsClosed(bytes32 channelId);
    error HoldingsOverflow(bytes32 channelId);
    error TransferFailed(address asset);
    error NothingToWithdraw(address asset);
    error InsufficientWithdrawable(address asset, uint256 available);

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
        _checkDepositArgs(params, assetIndex, participant, amount);
        _deposit(params, assetIndex, participant, amount);
    }

    /// @notice Deposits `amount` of the token `params.assets[assetIndex]` for participant
    /// `participant` in one transaction: the caller's EIP-2612 permit for this contract, then
    /// the deposit, instead of an `approve` transaction first.
    /// @dev The permit is always the caller's own: the token is asked for
    /// `permit(msg.sender, address(this), amount, deadline, v, r, s)` and the tokens come from
    /// msg.sender, so a permit signed by anyone else (one seen in the mempool, one for another
    /// spender) moves nobody's tokens. Its result is ignored: when it fails (it was front-run by
    /// someone who submitted the same permit to the token first, it was used already, its
    /// deadline passed, the token has no permit), the deposit goes ahead on the allowance the
    /// caller already gave, and reverts as {deposit} does when that is not enough. The permit
    /// gets at most TOKEN_CALL_GAS and none of its return data is copied, so a hostile token's
    /// permit can burn only that much; a reentrant one meets the reentrancy guard.
    /// @param params The channel's parameters (hashed into its id).
    /// @param assetIndex Index of the token in `params.assets` (not the native asset).
    /// @param participant 0 or 1: whose deposit this is.
    /// @param amount Amount to deposit, and the value of the permit.
    /// @param deadline The permit's deadline (unix seconds).
    /// @param v The permit signature's recovery byte (27 or 28).
    /// @param r The permit signature's r.
    /// @param s The permit signature's s.
    function depositWithPermit(
        Params calldata params,
        uint256 assetIndex,
        uint256 participant,
        uint256 amount,
        uint256 deadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external nonReentrant {
        _checkDepositArgs(params, assetIndex, participant, amount);
        address token = params.assets[assetIndex];
        if (token == address(0)) revert InvalidAsset(assetIndex);
        _tryPermit(token, amount, deadline, v, r, s);
        _deposit(params, assetIndex, participant, amount);
    }

    /// @dev The body of {deposit} and {depositWithPermit}, after their argument checks.
    function _deposit(Params calldata params, uint256 assetIndex, uint256 participant, uint256 amount) private {
        bytes32 id = _channelId(params);
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
        if (afterDeposit > MAX_HOLDINGS) revert HoldingsOverflow(id);
        _holdings[id][asset] = afterDeposit;
        emit Deposited(id, asset, params.participants[participant], received, afterDeposit);
    }

    /// @notice Deposits into many channels in one call, all or nothing: ETH items together must
    /// equal msg.value; each token is pulled once for the sum of its items.
    /// @dev Tokens that deliver less than the amount sent (fee-on-transfer) are refused here, since
    /// the shortfall could not be attributed to one channel: use {deposit} for them.
    function depositBatch(DepositItem[] calldata items) external payable nonReentrant {
        uint256 ethTotal;
        for (uint256 i = 0; i < items.length; ++i) {
            DepositItem calldata it = items[i];
            if (it.params.assets[_checkDepositArgs(it.params, it.assetIndex, it.participant, it.amount)] == address(0)) ethTotal += it.amount;
        }
        if (msg.value != ethTotal) revert WrongValue(msg.value, ethTotal);
        // Pull each token once, for the sum of its items (tokens in first-seen order).
        for (uint256 i = 0; i < items.length; ++i) {
            address token = items[i].params.assets[items[i].assetIndex];
            if (token == address(0)) continue;
            bool seen;
            uint256 sum;
            for (uint256 j = 0; j < items.length; ++j) {
                if (items[j].params.assets[items[j].assetIndex] != token) continue;
                if (j < i) {
                    seen = true;
                    break;
                }
                sum += items[j].amount;
            }
            if (seen) continue;
            uint256 before = _balanceOf(token);
            _transferFrom(token, msg.sender, sum);
            if (_balanceOf(token) - before != sum) revert TransferFailed(token);
        }
        for (uint256 i = 0; i < items.length; ++i) {
            DepositItem calldata it = items[i];
            bytes32 id = _channelId(it.params);
            address asset = it.params.assets[it.assetIndex];
            uint256 held = _holdings[id][asset];
            if (held & CLOSED != 0) revert ChannelIsClosed(id);
            uint256 afterDeposit = held + it.amount;
            if (afterDeposit > MAX_HOLDINGS) revert HoldingsOverflow(id);
            _holdings[id][asset] = afterDeposit;
            emit Deposited(id, asset, it.params.participants[it.participant], it.amount, afterDeposit);
        }
    }

    function _checkDepositArgs(Params calldata params, uint256 assetIndex, uint256 participant, uint256 amount) private pure returns (uint256) {
        if (!_validParams(params)) revert InvalidParams();
        if (assetIndex >= params.assets.length) revert InvalidAsset(assetIndex);
        if (participant > 1) revert InvalidParticipant(participant);
        if (amount == 0) revert ZeroAmount();
        return assetIndex;
    }

    /// @notice Funds a channel from the caller's {withdrawable} balance: no token transfer, no ETH
    /// sent. Payouts credited by a batch can fund the next channels this way.
    /// @param params The channel's parameters.
    /// @param assetIndex Index of the asset in `params.assets`.
    /// @param participant 0 or 1: whose deposit this is.
    /// @param amount Amount moved from the caller's withdrawable balance of that asset.
    function depositFromWithdrawable(Params calldata params, uint256 assetIndex, uint256 participant, uint256 amount) external nonReentrant {
        _checkDepositArgs(params, assetIndex, participant, amount);
        bytes32 id = _channelId(params);
        address asset = params.assets[assetIndex];
        uint256 available = withdrawable[msg.sender][asset];
        if (available < amount) revert InsufficientWithdrawable(asset, available);
        uint256 held = _holdings[id][asset];
        if (held & CLOSED != 0) revert ChannelIsClosed(id);
        uint256 afterDeposit = held + amount;
        if (afterDeposit > MAX_HOLDINGS) revert HoldingsOverflow(id);
        withdrawable[msg.sender][asset] = available - amount;
        _holdings[id][asset] = afterDeposit;
        emit Deposited(id, asset, params.participants[participant], amount, afterDeposit);
    }

    // ------------------------------------------------------------------------------------------
    // Cooperative close

    /// @notice Pays out many channels' final states, each signed by both participants.
    /// @dev Items fail independently ({ItemFailed}); payouts are netted across the batch.
    /// This is the settlement hot path, so items are read straight from calldata at the offsets
    /// of the ABI encoding (see {_close}) instead of through the decoder's accessors.
    /// @param items The channels' final states with both signatures.
    /// @param payout Push the payouts now, or credit them to {withdrawable}.
    /// @return settled The number of channels closed.
    function closeBatch(CloseItem[] calldata items, Payout payout) external nonReentrant returns (uint256 settled) {
        uint256 count = items.length;
        uint256 base;
        assembly ("memory-safe") {
            base := items.offset
        }
        uint256 acc = _newPayouts(_closeBound(base, count));
        bytes32 domain = _domainSeparator();
        uint256 fmp = _freeMemory();
        for (uint256 i = 0; i < count; ++i) {
            (bytes32 id, Reason reason) = _close(_element(base, i), domain, acc);
            if (reason == Reason.None) ++settled;
            else emit ItemFailed(id, Operation.Close, reason);
            _resetMemory(fmp); // nothing an item allocates outlives it
        }
        _flush(acc, payout);
    }

    /// @dev Calldata offset of element `i` of an array of dynamic tuples whose data starts at `base`
    /// (each head is an offset relative to `base`). An out-of-range offset points past calldata,
    /// where every read is zero, so the item fails as malformed.
    function _element(uint256 base, uint256 i) private pure returns (uint256 ptr) {
        assembly ("memory-safe") {
            let rel := calldataload(add(base, shl(5, i)))
            ptr := add(base, rel)
            if gt(rel, calldatasize()) {
                ptr := calldatasize()
            }
        }
    }

    /// @dev Where the parts of a CloseItem are, from its calldata offset `it`:
    ///   it:      [paramsOffset][version][balancesOffset][r0][s0][v0][r1][s1][v1]
    ///   params:  [participant0][participant1][assetsOffset][challengeDuration][nonce]
    ///   assets:  [n][asset0]...[asset(n-1)]        balances: [2n][a0p0][a0p1][a1p0]...
    /// Offsets are relative to the start of their tuple. Anything out of range or not cleanly
    /// encoded (dirty address or uint64 bits) makes the item Malformed, never the call revert.
    function _close(uint256 it, bytes32 domain, uint256 acc) private returns (bytes32 id, Reason) {
        uint256 pp;
        uint256 ap;
        uint256 bp;
        uint256 n;
        uint256 version;
        bool wellFormed;
        assembly ("memory-safe") {
            let size := calldatasize()
            pp := add(it, calldataload(it))
            ap := add(pp, calldataload(add(pp, 0x40)))
            bp := add(it, calldataload(add(it, 0x40)))
            n := calldataload(ap)
            version := calldataload(add(it, 0x20))
            let countOk := and(gt(n, 0), iszero(gt(n, MAX_ASSETS)))
            let dirty := or(
                or(shr(160, or(calldataload(pp), calldataload(add(pp, 0x20)))), shr(64, version)),
                gt(calldataload(add(pp, 0x60)), MAX_CHALLENGE_DURATION)
            )
            // The count is bounded before anything loops over it: at most MAX_ASSETS words are read.
            for {
                let a := 0
            } and(countOk, lt(a, n)) {
                a := add(a, 1)
            } {
                let asset := calldataload(add(ap, shl(5, add(a, 1))))
                dirty := or(dirty, shr(160, asset))
                // Each asset at most once: a duplicate would check two payouts against one slot.
                for {
                    let b := 0
                } lt(b, a) {
                    b := add(b, 1)
                } {
                    dirty := or(dirty, eq(asset, calldataload(add(ap, shl(5, add(b, 1))))))
                }
            }
            wellFormed := and(countOk, and(eq(calldataload(bp), shl(1, n)), iszero(dirty)))
            // Every part must lie inside calldata (offsets could otherwise wrap around).
            wellFormed := and(wellFormed, and(lt(it, size), and(lt(pp, size), lt(ap, size))))
            wellFormed := and(wellFormed, iszero(gt(add(bp, shl(5, add(shl(1, n), 1))), size)))
            wellFormed := and(wellFormed, iszero(gt(add(ap, shl(5, add(n, 1))), size)))
            wellFormed := and(wellFormed, iszero(gt(add(it, 0x120), size)))
        }
        if (!wellFormed) return (bytes32(0), Reason.Malformed);
        id = _channelIdAt(pp, ap, n);
        bytes32 balancesHash;
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            let len := shl(6, n)
            calldatacopy(ptr, add(bp, 0x20), len)
            balancesHash := keccak256(ptr, len)
        }
        bytes32 digest = _digest(domain, _structHash(id, uint64(version), balancesHash, bytes32(0), true));
        Reason r = _checkSignaturesAt(digest, pp, it + 0x60);
        if (r != Reason.None) return (id, r);
        r = _settleAt(id, ap, bp, n);
        if (r != Reason.None) return (id, r);
        address p0;
        address p1;
        assembly ("memory-safe") {
            p0 := calldataload(pp)
            p1 := calldataload(add(pp, 0x20))
        }
        for (uint256 a = 0; a < n; ++a) {
            (address asset, uint256 b0, uint256 b1) = _rowAt(ap, bp, a);
            _credit(acc, p0, asset, b0);
            _credit(acc, p1, asset, b1);
        }
        emit Closed(id, uint64(version));
        return (id, Reason.None);
    }

    /// @dev Asset `a` and its two balances, from calldata.
    function _rowAt(uint256 ap, uint256 bp, uint256 a) private pure returns (address asset, uint256 b0, uint256 b1) {
        assembly ("memory-safe") {
            asset := calldataload(add(ap, shl(5, add(a, 1))))
            let row := add(bp, shl(6, a))
            b0 := calldataload(add(row, 0x20))
            b1 := calldataload(add(row, 0x40))
        }
    }

    /// @dev {_settle} with the payouts read from calldata: checks every asset first (closed,
    /// funded, within holdings), then marks each slot closed, keeping any leftover.
    function _settleAt(bytes32 id, uint256 ap, uint256 bp, uint256 n) private returns (Reason) {
        bool funded;
        bool exceeds;
        for (uint256 a = 0; a < n; ++a) {
            (address asset, uint256 b0, uint256 b1) = _rowAt(ap, bp, a);
            uint256 h = _holdings[id][asset];
            if (h & CLOSED != 0) return Reason.ChannelClosed;
            if (h != 0) funded = true;
            (bool ok, uint256 total) = _add(b0, b1);
            if (!ok) return Reason.Malformed;
            if (total > h) exceeds = true;
        }
        if (!funded) return Reason.UnknownChannel;
        if (exceeds) return Reason.ExceedsHoldings;
        mapping(address => uint256) storage slots = _holdings[id];
        for (uint256 a = 0; a < n; ++a) {
            (address asset, uint256 b0, uint256 b1) = _rowAt(ap, bp, a);
            unchecked {
                slots[asset] = CLOSED | (slots[asset] - b0 - b1); // checked in the first pass
            }
        }
        return Reason.None;
    }

    // ------------------------------------------------------------------------------------------
    // Disputes

    /// @notice Registers many channels' co-signed states, starting each one's challenge period;
    /// for a channel already challenged, a higher version replaces the registered state (the
    /// answer to a stale state) without extending the period.
    /// @return registered The number of states registered.
    function challengeBatch(ChallengeItem[] calldata items) external nonReentrant returns (uint256 registered) {
        bytes32 domain = _domainSeparator();
        uint256 fmp = _freeMemory();
        for (uint256 i = 0; i < items.length; ++i) {
            (bytes32 id, Reason reason) = _challenge(items[i], domain);
            if (reason == Reason.None) ++registered;
            else emit ItemFailed(id, Operation.Challenge, reason);
            _resetMemory(fmp);
        }
    }

    function _challenge(ChallengeItem calldata it, bytes32 domain) private returns (bytes32 id, Reason) {
        Params calldata p = it.params;
        if (!_wellFormed(p, it.balances, it.locksRoot, it.isFinal)) return (bytes32(0), Reason.Malformed);
        id = _channelId(p);
        bytes32 structHash = _structHash(id, it.version, _hashWords(it.balances), it.locksRoot, it.isFinal);
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
    /// its registered state's balances. What its locks hold stays in the channel, and each lock is
    /// paid out by {unlockBatch} once its outcome is fixed (docs/adr/0010).
    /// @param items The registered states' contents.
    /// @param payout Push the payouts now, or credit them to {withdrawable}.
    /// @return concluded The number of channels paid out.
    function concludeBatch(ConcludeItem[] calldata items, Payout payout) external nonReentrant returns (uint256 concluded) {
        uint256 acc = _newPayouts(_concludeBound(items));
        uint256 fmp = _freeMemory();
        for (uint256 i = 0; i < items.length; ++i) {
            (bytes32 id, Reason reason) = _conclude(items[i], acc);
            if (reason == Reason.None) ++concluded;
            else emit ItemFailed(id, Operation.Conclude, reason);
            _resetMemory(fmp);
        }
        _flush(acc, payout);
    }

    function _conclude(ConcludeItem calldata it, uint256 acc) private returns (bytes32 id, Reason) {
        Params calldata p = it.params;
        if (!_wellFormed(p, it.balances, it.locksRoot, it.isFinal)) return (bytes32(0), Reason.Malformed);
        id = _channelId(p);
        Dispute storage d = _disputes[id];
        uint64 finalizesAt = d.finalizesAt;
        if (finalizesAt == 0) return (id, Reason.NotChallenged);
        if (block.timestamp < finalizesAt) return (id, Reason.ChallengePending);
        uint64 version = d.version;
        if (_structHash(id, version, _hashWords(it.balances), it.locksRoot, it.isFinal) != d.stateHash) return (id, Reason.StateMismatch);
        address[] calldata assets = p.assets;
        uint256 n = assets.length;
        uint256[] memory pay = new uint256[](2 * n);
        for (uint256 a = 0; a < 2 * n; ++a) pay[a] = it.balances[a];
        Reason r = _settle(id, assets, pay);
        if (r != Reason.None) return (id, r);
        delete _disputes[id];
        // The locks' funds stay in the holdings; {unlockBatch} pays each against this root.
        if (it.locksRoot != 0) _lockRoots[id] = it.locksRoot;
        address p0 = p.participants[0];
        address p1 = p.participants[1];
        for (uint256 a = 0; a < n; ++a) {
            _credit(acc, p0, assets[a], pay[2 * a]);
            _credit(acc, p1, assets[a], pay[2 * a + 1]);
        }
        emit Concluded(id, version);
        return (id, Reason.None);
    }

    /// @notice Pays out locks of concluded channels, each proven against the lock tree root of the
    /// state the channel concluded with. A lock pays its receiver if its secret was revealed
    /// before its expiry; its sender once the expiry has passed without that; until then its
    /// outcome is not fixed (`LocksPending`). Anyone may submit an unlock: the payout goes to the
    /// participant it is due to. Items fail independently; payouts are netted across the batch.
    /// @param items Locks with their slot and proof.
    /// @param payout Push the payouts now, or credit them to {withdrawable}.
    /// @return unlocked The number of locks paid out.
    function unlockBatch(UnlockItem[] calldata items, Payout payout) external nonReentrant returns (uint256 unlocked) {
        uint256 acc = _newPayouts(items.length);
        uint256 fmp = _freeMemory();
        for (uint256 i = 0; i < items.length; ++i) {
            (bytes32 id, Reason reason) = _unlock(items[i], acc);
            if (reason == Reason.None) ++unlocked;
            else emit ItemFailed(id, Operation.Unlock, reason);
            _resetMemory(fmp);
        }
        _flush(acc, payout);
    }

    function _unlock(UnlockItem calldata it, uint256 acc) private returns (bytes32 id, Reason) {
        Params calldata p = it.params;
        if (!_validParams(p)) return (bytes32(0), Reason.Malformed);
        Lock calldata l = it.lock;
        if (l.asset >= p.assets.length || l.sender > 1 || l.receiver != 1 - l.sender || it.index >= MAX_LOCKS) {
            return (bytes32(0), Reason.Malformed);
        }
        id = _channelId(p);
        bytes32 root = _lockRoots[id];
        if (root == 0 || _lockLeafRoot(l, it.index, it.proof) != root) return (id, Reason.UnknownLock);
        uint256 word = it.index >> 8;
        uint256 bit = 1 << (it.index & 255);
        uint256 bits = _unlocked[id][word];
        if (bits & bit != 0) return (id, Reason.AlreadyUnlocked);
        uint256 when = revealedAt[l.hashlock];
        uint256 to;
        if (when != 0 && when < l.expiry) to = l.receiver;
        else if (block.timestamp >= l.expiry) to = l.sender;
        else return (id, Reason.LocksPending);
        address asset = p.assets[l.asset];
        uint256 h = _holdings[id][asset];
        // What the balances left after the conclusion: the locks' funds (less any shortfall of
        // an underfunded channel, which the locks then share first come, first served).
        if (l.amount > (h & ~CLOSED)) return (id, Reason.ExceedsHoldings);
        unchecked {
            _holdings[id][asset] = h - l.amount; // checked above; the closed bit stays
        }
        _unlocked[id][word] = bits | bit;
        address recipient = p.participants[to];
        _credit(acc, recipient, asset, l.amount);
        emit Unlocked(id, it.index, recipient, l.amount);
        return (id, Reason.None);
    }

    /// @dev The root of the lock tree that has `l` at slot `index`, given the sibling hashes.
    function _lockLeafRoot(Lock calldata l, uint256 index, bytes32[10] calldata proof) private pure returns (bytes32 h) {
        h = keccak256(abi.encode(LOCK_TYPEHASH, l.id, l.asset, l.amount, l.sender, l.receiver, l.hashlock, l.expiry));
        for (uint256 k = 0; k < LOCK_TREE_DEPTH; ++k) {
            bytes32 sibling = proof[k];
            assembly ("memory-safe") {
                switch and(shr(k, index), 1)
                case 0 {
                    mstore(0x00, h)
                    mstore(0x20, sibling)
                }
                default {
                    mstore(0x00, sibling)
                    mstore(0x20, h)
                }
                h := keccak256(0x00, 0x40)
            }
        }
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
    function channelId(Params calldata params) external view returns (bytes32) {
        return _channelId(params);
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
        bytes32 locksRoot,
        bool isFinal
    ) external view returns (bytes32) {
        return _digest(_domainSeparator(), _structHash(id, version, _hashWords(balances), locksRoot, isFinal));
    }

    /// @notice The lock tree root of a concluded channel (0: none), and whether slot `index` of it was unlocked.
    function lockStatus(bytes32 id, uint256 index) external view returns (bytes32 root, bool unlocked) {
        return (_lockRoots[id], index < MAX_LOCKS && _unlocked[id][index >> 8] & (1 << (index & 255)) != 0);
    }

    /// @notice The lock tree root of `locks` in slot order (docs/adr/0010), as nodes compute it.
    function lockTreeRoot(Lock[] calldata locks) external pure returns (bytes32) {
        uint256 n = locks.length;
        if (n == 0) return bytes32(0);
        require(n <= MAX_LOCKS);
        bytes32[] memory level = new bytes32[](n);
        for (uint256 k = 0; k < n; ++k) {
            Lock calldata l = locks[k];
            level[k] = keccak256(abi.encode(LOCK_TYPEHASH, l.id, l.asset, l.amount, l.sender, l.receiver, l.hashlock, l.expiry));
        }
        bytes32 zero;
        for (uint256 d = 0; d < LOCK_TREE_DEPTH; ++d) {
            uint256 m = (n + 1) / 2;
            for (uint256 i = 0; i < m; ++i) {
                bytes32 left = level[2 * i];
                bytes32 right = 2 * i + 1 < n ? level[2 * i + 1] : zero;
                level[i] = keccak256(abi.encode(left, right));
            }
            n = m;
            zero = keccak256(abi.encode(zero, zero));
        }
        return level[0];
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

    /// @dev keccak256(abi.encode(block.chainid, address(this), participants[0], participants[1],
    /// assets, challengeDuration, nonce)), built straight from calldata. `Params` is laid out in
    /// calldata as [participant0, participant1, assetsOffset, challengeDuration, nonce].
    function _channelId(Params calldata p) private view returns (bytes32 id) {
        uint256 n = p.assets.length; // bounds-checked by the ABI decoder
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, chainid())
            mstore(add(ptr, 0x20), address())
            calldatacopy(add(ptr, 0x40), p, 0x40)
            mstore(add(ptr, 0x80), 0xe0)
            mstore(add(ptr, 0xa0), calldataload(add(p, 0x60)))
            mstore(add(ptr, 0xc0), calldataload(add(p, 0x80)))
            mstore(add(ptr, 0xe0), n)
            calldatacopy(add(ptr, 0x100), add(add(p, calldataload(add(p, 0x40))), 0x20), shl(5, n))
            id := keccak256(ptr, add(0x100, shl(5, n)))
        }
    }

    /// @dev {_channelId} for Params at calldata offset `pp` with assets at `ap` (n of them).
    function _channelIdAt(uint256 pp, uint256 ap, uint256 n) private view returns (bytes32 id) {
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, chainid())
            mstore(add(ptr, 0x20), address())
            calldatacopy(add(ptr, 0x40), pp, 0x40)
            mstore(add(ptr, 0x80), 0xe0)
            mstore(add(ptr, 0xa0), calldataload(add(pp, 0x60)))
            mstore(add(ptr, 0xc0), calldataload(add(pp, 0x80)))
            calldatacopy(add(ptr, 0xe0), ap, shl(5, add(n, 1)))
            id := keccak256(ptr, add(0x100, shl(5, n)))
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

    /// @dev hashStruct(State) from its parts.
    function _structHash(bytes32 id, uint64 version, bytes32 balancesHash, bytes32 locksHash, bool isFinal) private pure returns (bytes32 h) {
        bytes32 typeHash = STATE_TYPEHASH;
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, typeHash)
            mstore(add(ptr, 0x20), id)
            mstore(add(ptr, 0x40), version)
            mstore(add(ptr, 0x60), balancesHash)
            mstore(add(ptr, 0x80), locksHash)
            mstore(add(ptr, 0xa0), isFinal)
            h := keccak256(ptr, 0xc0)
        }
    }

    /// @dev {_checkSignatures} for signers at calldata offset `signers` (two words) and signatures
    /// at `sigs` (two (r, s, v) triples).
    function _checkSignaturesAt(bytes32 digest, uint256 signers, uint256 sigs) private view returns (Reason) {
        for (uint256 i = 0; i < 2; ++i) {
            uint256 r;
            uint256 sv;
            uint256 v;
            uint256 expected;
            assembly ("memory-safe") {
                let sig := add(sigs, mul(i, 0x60))
                r := calldataload(sig)
                sv := calldataload(add(sig, 0x20))
                v := calldataload(add(sig, 0x40))
                expected := calldataload(add(signers, shl(5, i)))
            }
            Reason reason = _recoverIs(digest, v, bytes32(r), bytes32(sv), address(uint160(expected)));
            if (reason != Reason.None) return reason;
        }
        return Reason.None;
    }

    /// @dev None when (v, r, s) is a canonical signature of `digest` by `expected`.
    function _recoverIs(bytes32 digest, uint256 v, bytes32 r, bytes32 sv, address expected) private view returns (Reason) {
        // Canonical only: v is 27 or 28, 0 < r, 0 < s <= n/2 (no malleable twin).
        if ((v != 27 && v != 28) || uint256(sv) > HALF_N || r == 0 || sv == 0) return Reason.InvalidSignature;
        address signer;
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, digest)
            mstore(add(ptr, 0x20), v)
            mstore(add(ptr, 0x40), r)
            mstore(add(ptr, 0x60), sv)
            mstore(0x00, 0)
            // ecrecover precompile: returns nothing for an invalid signature.
            if staticcall(gas(), 0x01, ptr, 0x80, 0x00, 0x20) {
                signer := mload(0x00)
            }
        }
        if (signer == address(0)) return Reason.InvalidSignature;
        if (signer != expected) return Reason.WrongSigner;
        return Reason.None;
    }

    function _checkSignatures(bytes32 digest, address[2] calldata signers, Signature[2] calldata sigs) private view returns (Reason) {
        for (uint256 i = 0; i < 2; ++i) {
            Reason reason = _recoverIs(digest, sigs[i].v, sigs[i].r, sigs[i].s, signers[i]);
            if (reason != Reason.None) return reason;
        }
        return Reason.None;
    }

    // ------------------------------------------------------------------------------------------
    // Internals: holdings

    /// @dev The rules every channel's params obey: 1 to {MAX_ASSETS} distinct assets and a
    /// challenge duration of at most {MAX_CHALLENGE_DURATION}. Checked wherever params are read.
    function _validParams(Params calldata p) private pure returns (bool) {
        address[] calldata assets = p.assets;
        uint256 n = assets.length;
        if (n == 0 || n > MAX_ASSETS || p.challengeDuration > MAX_CHALLENGE_DURATION) return false;
        for (uint256 a = 1; a < n; ++a) {
            for (uint256 b = 0; b < a; ++b) if (assets[a] == assets[b]) return false;
        }
        return true;
    }

    function _wellFormed(Params calldata p, uint256[] calldata balances, bytes32 locksRoot, bool isFinal) private pure returns (bool) {
        if (!_validParams(p)) return false;
        if (balances.length != 2 * p.assets.length) return false;
        return !isFinal || locksRoot == 0; // a final state has no locks
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

    /// @dev The payouts of a concluded state `pay` ([asset0.p0, asset0.p1, ...]), limited to the
    /// holdings, then marks the channel closed. An asset holding less than its state allocates
    /// (a side that never funded) pays in funding order: participant 0 first, then participant 1
    /// gets what is left. Nodes fund in that order (participant 1 deposits only once participant
    /// 0's deposit is on-chain), so each side gets back at least what it put in (docs/adr/0008).
    /// Holdings above the payouts (a deposit no state credited) stay recorded. Reads each slot
    /// in a first pass and writes in a second, so a failing item writes nothing.
    function _settle(bytes32 id, address[] calldata assets, uint256[] memory pay) private returns (Reason) {
        uint256 n = assets.length;
        bool funded;
        for (uint256 a = 0; a < n; ++a) {
            uint256 h = _holdings[id][assets[a]];
            if (h & CLOSED != 0) return Reason.ChannelClosed;
            if (h != 0) funded = true;
            (bool ok, uint256 total) = _add(pay[2 * a], pay[2 * a + 1]);
            if (!ok) return Reason.Malformed;
            if (total > h) {
                if (pay[2 * a] > h) pay[2 * a] = h;
                pay[2 * a + 1] = h - pay[2 * a];
            }
        }
        if (!funded) return Reason.UnknownChannel;
        for (uint256 a = 0; a < n; ++a) {
            mapping(address => uint256) storage slot = _holdings[id];
            address asset = assets[a];
            unchecked {
                slot[asset] = CLOSED | (slot[asset] - pay[2 * a] - pay[2 * a + 1]); // at most the holdings (first pass)
            }
        }
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

    /// @dev Payouts of one call are netted per (recipient, asset): the amounts live in transient
    /// storage under keccak256(recipient, asset); the distinct pairs, in first-credit order, in a
    /// memory list at `acc`: [count][to_0][asset_0][to_1][asset_1]... with room for `bound` pairs.
    function _newPayouts(uint256 bound) private pure returns (uint256 acc) {
        assembly ("memory-safe") {
            acc := mload(0x40)
            mstore(acc, 0)
            mstore(0x40, add(acc, add(0x20, shl(6, bound))))
        }
    }

    /// @dev Room for two payouts per asset per item (items with too many assets never pay).
    function _closeBound(uint256 base, uint256 count) private pure returns (uint256 bound) {
        for (uint256 i = 0; i < count; ++i) {
            uint256 it = _element(base, i);
            uint256 n;
            assembly ("memory-safe") {
                let pp := add(it, calldataload(it))
                n := calldataload(add(pp, calldataload(add(pp, 0x40))))
            }
            if (n <= MAX_ASSETS) bound += 2 * n;
        }
    }

    function _concludeBound(ConcludeItem[] calldata items) private pure returns (uint256 bound) {
        for (uint256 i = 0; i < items.length; ++i) {
            uint256 n = items[i].params.assets.length;
            if (n <= MAX_ASSETS) bound += 2 * n;
        }
    }

    function _freeMemory() private pure returns (uint256 fmp) {
        assembly ("memory-safe") {
            fmp := mload(0x40)
        }
    }

    /// @dev Frees everything allocated since `fmp` was read. Solidity never frees memory, and
    /// memory costs grow quadratically, so a long batch would otherwise pay for every item's
    /// temporaries again and again.
    function _resetMemory(uint256 fmp) private pure {
        assembly ("memory-safe") {
            mstore(0x40, fmp)
        }
    }

    function _credit(uint256 acc, address to, address asset, uint256 amount) private {
        // Cannot overflow: every credit is paid out of one channel's holdings, each at most
        // MAX_HOLDINGS (< 2^128), and a call settles far fewer than 2^127 channels.
        assembly ("memory-safe") {
            if amount {
                mstore(0x00, to)
                mstore(0x20, asset)
                let key := keccak256(0x00, 0x40)
                let current := tload(key)
                if iszero(current) {
                    let count := mload(acc)
                    let entry := add(add(acc, 0x20), shl(6, count))
                    mstore(entry, to)
                    mstore(add(entry, 0x20), asset)
                    mstore(acc, add(count, 1))
                }
                tstore(key, add(current, amount))
            }
        }
    }

    /// @dev Pays every netted payout once, clearing its transient slot. Runs after all state
    /// changes of the call (checks-effects-interactions across the whole batch).
    function _flush(uint256 acc, Payout payout) private {
        uint256 count;
        assembly ("memory-safe") {
            count := mload(acc)
        }
        for (uint256 i = 0; i < count; ++i) {
            address to;
            address asset;
            uint256 amount;
            assembly ("memory-safe") {
                let entry := add(add(acc, 0x20), shl(6, i))
                to := mload(entry)
                asset := mload(add(entry, 0x20))
                mstore(0x00, to)
                mstore(0x20, asset)
                let key := keccak256(0x00, 0x40)
                amount := tload(key)
                tstore(key, 0)
            }
            // withdrawable only grows by payouts (< 2^128 per channel, each paid once): reaching
            // 2^256 would take more than 2^127 settled channels, so this addition never reverts.
            if (payout == Payout.Credit) {
                withdrawable[to][asset] += amount;
                continue;
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

    /// @dev `token.permit(msg.sender, this, value, deadline, v, r, s)` with at most TOKEN_CALL_GAS,
    /// no return data copied, and its outcome ignored (see {depositWithPermit}).
    function _tryPermit(address token, uint256 value, uint256 deadline, uint8 v, bytes32 r, bytes32 s) private {
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, 0xd505accf00000000000000000000000000000000000000000000000000000000)
            mstore(add(ptr, 0x04), caller())
            mstore(add(ptr, 0x24), address())
            mstore(add(ptr, 0x44), value)
            mstore(add(ptr, 0x64), deadline)
            mstore(add(ptr, 0x84), and(v, 0xff))
            mstore(add(ptr, 0xa4), r)
            mstore(add(ptr, 0xc4), s)
            pop(call(TOKEN_CALL_GAS, token, 0, ptr, 0xe4, 0, 0))
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
