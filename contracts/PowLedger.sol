// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/**
 * @title PowLedger
 * @notice The chain of the notes' four-node example: data owners (Alice, Bob) broadcast the hashes
 * of their local gradients g_i^{t-1}, and aggregators (Agg1, Agg2) race to write block B_t holding
 * w^t = w^{t-1} - alpha * (sum_i g_i^{t-1} + 2 gamma w^{t-1}) by solving a proof-of-work puzzle that
 * this contract checks on chain.
 *
 * Blocks. Block 0 is the genesis: the hash of the initial model w^0, fixed at deployment. Round t
 * (t = 1, 2, ...) is open for the owners' gradients and then for the aggregators' block B_t. The
 * first valid block of a round is accepted and closes it: its aggregator is the round's winner,
 * the round counter moves on, and any later block for that round reverts with {RoundAlreadyMined}.
 *
 * Proof of work. A block for round t with previous model hash p, new model hash m and nonce n sent
 * by aggregator a is valid when
 *     uint256(keccak256(abi.encode(block.chainid, address(this), t, p, m, a, n))) < target.
 * Binding the chain, the contract, the round, both model hashes and the sender means a solution
 * cannot be replayed elsewhere nor stolen from the mempool by another aggregator. The expected
 * number of hashes per block, the difficulty, is 2^256 / target.
 *
 * Retargeting. With a retarget interval k > 0 and a target block time T seconds, after every k-th
 * block the observed time of the last k blocks, s = block.timestamp - (timestamp at the previous
 * retarget or the deployment), is clamped to [ceil(kT / 4), 4kT] and the target becomes
 *     target' = floor(target * s_clamped / (kT)), kept within [1, 2^256 - 1],
 * so the difficulty moves towards one block per T seconds by at most a factor 4 per adjustment
 * (Bitcoin's rule, with k = 2016 and T = 600 s there). k = 0 keeps the target fixed.
 *
 * What the chain cannot check. The EVM does no floating point, so whether m really is the model
 * that follows from the broadcast gradients is checked off chain: every node re-derives w^t from
 * the gradient blobs named here and the previous model (`hefl verify`).
 *
 * Storage. Membership: one slot per member (role and index) plus the member lists. Per round:
 * one slot per owner's gradient hash, three per block (winner, nonce and timestamp packed; model
 * hash; target). The round counter, the round's gradient count and the retarget window start share
 * one slot; the target another.
 */
contract PowLedger {
    /// @notice Largest number of owners and of aggregators.
    uint256 public constant MAX_MEMBERS = 64;

    /// @notice What a registered account does. `None`: not registered.
    enum Role {
        None,
        Owner,
        Aggregator
    }

    /// @notice Which hash argument was zero, reported by {ZeroHash}.
    enum HashField {
        GenesisModel,
        Config,
        Gradient,
        NewModel
    }

    /// @notice A registered account: its role and its index within that role's list.
    struct Member {
        Role role;
        uint8 index;
    }

    /// @dev Storage of one block: three slots.
    struct Block {
        // slot 0
        address winner;
        uint64 nonce;
        uint32 timestamp;
        // slot 1
        bytes32 modelHash;
        // slot 2
        uint256 target;
    }

    // ------------------------------------------------------------------------------------------
    // Errors
    // ------------------------------------------------------------------------------------------

    /// @notice `account` is not a registered data owner.
    error NotOwner(address account);
    /// @notice `account` is not a registered aggregator.
    error NotAggregator(address account);
    /// @notice The constructor got no owners.
    error NoOwners();
    /// @notice The constructor got no aggregators.
    error NoAggregators();
    /// @notice More than {MAX_MEMBERS} owners or aggregators were given.
    error TooManyMembers(uint256 count, uint256 max);
    /// @notice The member at `index` of the owners followed by the aggregators is the zero address.
    error ZeroAddress(uint256 index);
    /// @notice `account` appears twice among the owners and aggregators.
    error DuplicateMember(address account);
    /// @notice The hash argument `field` was zero.
    error ZeroHash(HashField field);
    /// @notice The initial target must be at least 1 (no block could ever be valid otherwise).
    error ZeroTarget();
    /// @notice Retargeting every `interval` blocks needs a target block time above zero.
    error ZeroBlockTime(uint32 interval);
    /// @notice A gradient for round `round`, already closed; the open round is `current`.
    error StaleRound(uint256 round, uint256 current);
    /// @notice A gradient or block for round `round`, not open yet; the open round is `current`.
    error FutureRound(uint256 round, uint256 current);
    /// @notice `owner` already broadcast its gradient hash for round `round`.
    error AlreadySubmitted(uint256 round, address owner);
    /// @notice Block `round` was already mined by `winner` (round 0, the genesis, by nobody).
    error RoundAlreadyMined(uint256 round, address winner);
    /// @notice The block names `given` as the previous model, but block `round - 1` holds `expected`.
    error PreviousHashMismatch(uint256 round, bytes32 expected, bytes32 given);
    /// @notice Only `submitted` of the `required` owners' gradients are in for round `round`.
    error GradientsIncomplete(uint256 round, uint256 submitted, uint256 required);
    /// @notice The block's proof-of-work digest is not below the target: wrong nonce.
    error InsufficientWork(uint256 round, bytes32 digest, uint256 target);

    // ------------------------------------------------------------------------------------------
    // Events
    // ------------------------------------------------------------------------------------------

    /// @notice The chain was created with genesis model hash `genesisModelHash`.
    event PowLedgerCreated(
        bytes32 genesisModelHash,
        bytes32 configHash,
        uint256 initialTarget,
        uint32 targetBlockTime,
        uint32 retargetInterval,
        uint256 ownerCount,
        uint256 aggregatorCount
    );
    /// @notice `account` was registered as `role` number `index`.
    event MemberRegistered(address indexed account, Role role, uint256 index);
    /// @notice `owner` broadcast the hash of its local gradient for round `round`.
    event GradientSubmitted(
        uint256 indexed round,
        address indexed owner,
        bytes32 gradientHash,
        uint256 submitted
    );
    /// @notice `aggregator` mined block `round` (previous model -> new model) with `nonce`.
    event BlockMined(
        uint256 indexed round,
        address indexed aggregator,
        bytes32 previousModelHash,
        bytes32 newModelHash,
        uint64 nonce,
        bytes32 digest,
        uint256 target
    );
    /// @notice After block `round` the target moved from `oldTarget` to `newTarget`.
    event TargetRetargeted(
        uint256 indexed round,
        uint256 oldTarget,
        uint256 newTarget,
        uint256 observedSeconds,
        uint256 expectedSeconds
    );

    // ------------------------------------------------------------------------------------------
    // State
    // ------------------------------------------------------------------------------------------

    /// @notice keccak256 of the job configuration blob (data, alpha, gamma, members, seeds).
    bytes32 public immutable configHash;
    /// @notice Target block time T in seconds the retarget rule aims at.
    uint32 public immutable targetBlockTime;
    /// @notice Retarget every k blocks; 0 keeps the target fixed.
    uint32 public immutable retargetInterval;

    address[] private _owners;
    address[] private _aggregators;
    mapping(address account => Member) private _members;

    /// @dev The open round t (1-based; the genesis is block 0).
    uint64 private _round;
    /// @dev Number of owners' gradients in for the open round.
    uint64 private _gradientCount;
    /// @dev block.timestamp at the start of the current retarget window.
    uint64 private _windowStart;
    uint256 private _target;

    mapping(uint256 round => Block) private _blocks;
    mapping(uint256 round => mapping(address owner => bytes32)) private _gradients;

    // ------------------------------------------------------------------------------------------
    // Access rules
    // ------------------------------------------------------------------------------------------

    /// @dev Only a registered data owner.
    modifier onlyOwner() {
        if (_members[msg.sender].role != Role.Owner) revert NotOwner(msg.sender);
        _;
    }

    /// @dev Only a registered aggregator.
    modifier onlyAggregator() {
        if (_members[msg.sender].role != Role.Aggregator) revert NotAggregator(msg.sender);
        _;
    }

    /**
     * @notice Create the chain with its genesis block B_0 = w^0 and its members.
     * @param owners_ the data owners, in the order aggregators sum their gradients
     * @param aggregators_ the aggregators racing for the blocks
     * @param genesisModelHash keccak256 of the initial model blob w^0 (nonzero)
     * @param configHash_ keccak256 of the job configuration blob (nonzero)
     * @param initialTarget the proof-of-work target of the first blocks (nonzero)
     * @param targetBlockTime_ T, the block time in seconds the retarget rule aims at
     * @param retargetInterval_ k, retarget after every k-th block (0: fixed target)
     */
    constructor(
        address[] memory owners_,
        address[] memory aggregators_,
        bytes32 genesisModelHash,
        bytes32 configHash_,
        uint256 initialTarget,
        uint32 targetBlockTime_,
        uint32 retargetInterval_
    ) {
        if (owners_.length == 0) revert NoOwners();
        if (aggregators_.length == 0) revert NoAggregators();
        if (owners_.length > MAX_MEMBERS) revert TooManyMembers(owners_.length, MAX_MEMBERS);
        if (aggregators_.length > MAX_MEMBERS) {
            revert TooManyMembers(aggregators_.length, MAX_MEMBERS);
        }
        if (genesisModelHash == bytes32(0)) revert ZeroHash(HashField.GenesisModel);
        if (configHash_ == bytes32(0)) revert ZeroHash(HashField.Config);
        if (initialTarget == 0) revert ZeroTarget();
        if (retargetInterval_ != 0 && targetBlockTime_ == 0) {
            revert ZeroBlockTime(retargetInterval_);
        }
        for (uint256 i = 0; i < owners_.length; ++i) {
            _register(owners_[i], Role.Owner, i, i);
            _owners.push(owners_[i]);
        }
        for (uint256 i = 0; i < aggregators_.length; ++i) {
            _register(aggregators_[i], Role.Aggregator, i, owners_.length + i);
            _aggregators.push(aggregators_[i]);
        }
        configHash = configHash_;
        targetBlockTime = targetBlockTime_;
        retargetInterval = retargetInterval_;
        _blocks[0].modelHash = genesisModelHash;
        _blocks[0].timestamp = uint32(block.timestamp);
        _blocks[0].target = initialTarget;
        _round = 1;
        _windowStart = uint64(block.timestamp);
        _target = initialTarget;
        emit PowLedgerCreated(
            genesisModelHash,
            configHash_,
            initialTarget,
            targetBlockTime_,
            retargetInterval_,
            owners_.length,
            aggregators_.length
        );
    }

    // ------------------------------------------------------------------------------------------
    // Transactions
    // ------------------------------------------------------------------------------------------

    /**
     * @notice Broadcast the hash of the caller's local gradient g_i^{t-1} for the open round t,
     * computed at the model of block t - 1. Registered owners only, once per round.
     * @dev Reverts with {StaleRound} for a closed round, {FutureRound} for one not yet open,
     * {AlreadySubmitted} or {ZeroHash}.
     * @param round the open round t
     * @param gradientHash keccak256 of the gradient blob (nonzero)
     */
    function submitGradient(uint256 round, bytes32 gradientHash) external onlyOwner {
        if (gradientHash == bytes32(0)) revert ZeroHash(HashField.Gradient);
        uint256 current = _round;
        if (round < current) revert StaleRound(round, current);
        if (round > current) revert FutureRound(round, current);
        if (_gradients[round][msg.sender] != bytes32(0)) {
            revert AlreadySubmitted(round, msg.sender);
        }
        _gradients[round][msg.sender] = gradientHash;
        uint64 submitted = _gradientCount + 1;
        _gradientCount = submitted;
        emit GradientSubmitted(round, msg.sender, gradientHash, submitted);
    }

    /**
     * @notice Propose block B_t: the new model hash with a proof of work. Registered aggregators
     * only. The first valid block of a round wins it and opens round t + 1.
     * @dev Reverts with {RoundAlreadyMined} for a round already won (a late block),
     * {FutureRound}, {PreviousHashMismatch}, {ZeroHash}, {GradientsIncomplete} while some owner's
     * gradient is missing, and {InsufficientWork} when the digest is not below the target.
     * @param round the open round t
     * @param previousModelHash hash of the model of block t - 1, which the block builds on
     * @param newModelHash hash of the blob of w^t (nonzero)
     * @param nonce the proof-of-work nonce
     */
    function submitBlock(
        uint256 round,
        bytes32 previousModelHash,
        bytes32 newModelHash,
        uint64 nonce
    ) external onlyAggregator {
        uint256 current = _round;
        if (round < current) revert RoundAlreadyMined(round, _blocks[round].winner);
        if (round > current) revert FutureRound(round, current);
        bytes32 expected = _blocks[round - 1].modelHash;
        if (previousModelHash != expected) {
            revert PreviousHashMismatch(round, expected, previousModelHash);
        }
        if (newModelHash == bytes32(0)) revert ZeroHash(HashField.NewModel);
        uint256 required = _owners.length;
        if (_gradientCount != required) {
            revert GradientsIncomplete(round, _gradientCount, required);
        }
        uint256 target = _target;
        bytes32 digest = _digest(round, previousModelHash, newModelHash, msg.sender, nonce);
        if (uint256(digest) >= target) revert InsufficientWork(round, digest, target);

        Block storage b = _blocks[round];
        b.winner = msg.sender;
        b.nonce = nonce;
        b.timestamp = uint32(block.timestamp);
        b.modelHash = newModelHash;
        b.target = target;
        _round = uint64(round + 1);
        _gradientCount = 0;
        emit BlockMined(
            round,
            msg.sender,
            previousModelHash,
            newModelHash,
            nonce,
            digest,
            target
        );
        uint256 interval = retargetInterval;
        if (interval != 0 && round % interval == 0) _retarget(round, target, interval);
    }

    // ------------------------------------------------------------------------------------------
    // Views
    // ------------------------------------------------------------------------------------------

    /// @notice The data owners, in the order their gradients are summed.
    function owners() external view returns (address[] memory) {
        return _owners;
    }

    /// @notice The aggregators.
    function aggregators() external view returns (address[] memory) {
        return _aggregators;
    }

    /// @notice Role and index of `account` (role `None` and index 0 if not registered).
    function memberOf(address account) external view returns (Role role, uint256 index) {
        Member storage m = _members[account];
        return (m.role, m.index);
    }

    /// @notice The open round t; blocks 0 .. t - 1 exist.
    function currentRound() external view returns (uint256) {
        return _round;
    }

    /// @notice How many owners' gradients are in for the open round.
    function gradientCount() external view returns (uint256) {
        return _gradientCount;
    }

    /// @notice The proof-of-work target the next block must beat.
    function currentTarget() external view returns (uint256) {
        return _target;
    }

    /// @notice block.timestamp at which the current retarget window started.
    function windowStart() external view returns (uint256) {
        return _windowStart;
    }

    /// @notice Hash of the model of the latest block (the head of the chain).
    function headModelHash() external view returns (bytes32) {
        return _blocks[_round - 1].modelHash;
    }

    /**
     * @notice Block `round`: its winner (zero for the genesis), nonce, timestamp, model hash and
     * the target it met (the initial target for the genesis). Reverts with {FutureRound} for a
     * block not mined yet.
     */
    function getBlock(
        uint256 round
    )
        external
        view
        returns (address winner, uint64 nonce, uint32 timestamp, bytes32 modelHash, uint256 target)
    {
        if (round >= _round) revert FutureRound(round, _round);
        Block storage b = _blocks[round];
        return (b.winner, b.nonce, b.timestamp, b.modelHash, b.target);
    }

    /// @notice The gradient hash `owner` broadcast for round `round` (zero if none).
    function getGradient(uint256 round, address owner) external view returns (bytes32) {
        return _gradients[round][owner];
    }

    /**
     * @notice The proof-of-work digest a block would have:
     * keccak256(abi.encode(chainid, this, round, previousModelHash, newModelHash, aggregator, nonce)).
     */
    function powDigest(
        uint256 round,
        bytes32 previousModelHash,
        bytes32 newModelHash,
        address aggregator,
        uint64 nonce
    ) external view returns (bytes32) {
        return _digest(round, previousModelHash, newModelHash, aggregator, nonce);
    }

    // ------------------------------------------------------------------------------------------
    // Internals
    // ------------------------------------------------------------------------------------------

    /// @dev Register `account` as `role` number `index`; `position` is its place in the
    /// constructor's owners-then-aggregators list, for {ZeroAddress}.
    function _register(address account, Role role, uint256 index, uint256 position) private {
        if (account == address(0)) revert ZeroAddress(position);
        if (_members[account].role != Role.None) revert DuplicateMember(account);
        _members[account] = Member(role, uint8(index));
        emit MemberRegistered(account, role, index);
    }

    /// @dev The proof-of-work digest; see the contract's NatSpec.
    function _digest(
        uint256 round,
        bytes32 previousModelHash,
        bytes32 newModelHash,
        address aggregator,
        uint64 nonce
    ) private view returns (bytes32) {
        return
            keccak256(
                abi.encode(
                    block.chainid,
                    address(this),
                    round,
                    previousModelHash,
                    newModelHash,
                    aggregator,
                    nonce
                )
            );
    }

    /// @dev The retarget rule of the contract's NatSpec, applied after block `round`.
    function _retarget(uint256 round, uint256 target, uint256 interval) private {
        uint256 expected = interval * targetBlockTime;
        uint256 observed = block.timestamp - _windowStart;
        uint256 clamped = observed;
        uint256 lowest = (expected + 3) / 4; // ceil(kT / 4): at most 4x harder, even for small kT
        if (clamped < lowest) clamped = lowest;
        if (clamped > expected * 4) clamped = expected * 4;
        // floor(target * clamped / expected) without overflow: target = q * expected + r.
        uint256 q = target / expected;
        uint256 r = target % expected;
        uint256 next;
        if (clamped != 0 && q > type(uint256).max / clamped) {
            next = type(uint256).max;
        } else {
            uint256 head = q * clamped;
            uint256 tail = (r * clamped) / expected;
            next = head > type(uint256).max - tail ? type(uint256).max : head + tail;
        }
        if (next == 0) next = 1;
        _target = next;
        _windowStart = uint64(block.timestamp);
        emit TargetRetargeted(round, target, next, observed, expected);
    }
}
