// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IPowLedger} from "./IPowLedger.sol";

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
 * one slot per data owner's gradient hash, three per block (the winner's aggregator index,
 * nonce and timestamp packed; model hash; target). The round counter, the round's gradient count
 * and the retarget window start share one slot; the target another. Timestamps are uint40, as in
 * FLLedger.
 *
 * Code. The types, errors, events and external functions with their specification are in
 * {IPowLedger}. Every check is a `_check…` function (the access rules behind thin modifiers).
 */
contract PowLedger is IPowLedger {
    /// @inheritdoc IPowLedger
    uint256 public constant MAX_MEMBERS = 64;

    /// @dev A registered account: its role and its index within that role's list.
    struct Member {
        Role role;
        uint8 index;
    }

    /// @dev Storage of one block: three slots.
    struct Block {
        // slot 0: the winner as its aggregator index + 1 (0: nobody, the genesis), so that it
        // packs with the nonce and the timestamp
        uint8 winner;
        uint64 nonce;
        uint40 timestamp;
        // slot 1
        bytes32 modelHash;
        // slot 2
        uint256 target;
    }

    // ------------------------------------------------------------------------------------------
    // State
    // ------------------------------------------------------------------------------------------

    /// @inheritdoc IPowLedger
    bytes32 public immutable configHash;
    /// @inheritdoc IPowLedger
    uint32 public immutable targetBlockTime;
    /// @inheritdoc IPowLedger
    uint32 public immutable retargetInterval;

    /// @dev The data owners, in the order their gradients are summed.
    address[] private _owners;
    /// @dev The aggregators.
    address[] private _aggregators;
    /// @dev Every member's role and index by account.
    mapping(address account => Member) private _members;

    /// @dev The open round t (1-based; the genesis is block 0).
    uint64 private _round;
    /// @dev Number of data owners' gradients in for the open round.
    uint64 private _gradientCount;
    /// @dev block.timestamp at the start of the current retarget window.
    uint40 private _windowStart;
    /// @dev The proof-of-work target of the open round.
    uint256 private _target;

    /// @dev The blocks by round; block 0 is the genesis.
    mapping(uint256 round => Block) private _blocks;
    /// @dev Each round's gradient hashes by data owner.
    mapping(uint256 round => mapping(address owner => bytes32)) private _gradients;

    // ------------------------------------------------------------------------------------------
    // Access rules
    // ------------------------------------------------------------------------------------------

    /// @dev Only a registered data owner; see {_checkDataOwner}.
    modifier onlyDataOwner() {
        _checkDataOwner();
        _;
    }

    /// @dev Only a registered aggregator; see {_checkAggregator}.
    modifier onlyAggregator() {
        _checkAggregator();
        _;
    }

    /**
     * @notice Create the chain with its genesis block B_0 = w^0 and its members.
     * @dev Reverts with {NoOwners}, {NoAggregators}, {TooManyMembers}, {ZeroHash}, {ZeroTarget},
     * {ZeroBlockTime}, and for a member with {ZeroAddress} or {DuplicateMember}. Emits
     * {MemberRegistered} for each member, then {PowLedgerCreated}.
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
        _checkMemberCounts(owners_.length, aggregators_.length);
        _checkHash(genesisModelHash, HashField.GenesisModel);
        _checkHash(configHash_, HashField.Config);
        _checkTargetRule(initialTarget, targetBlockTime_, retargetInterval_);
        for (uint256 i = 0; i < owners_.length; ++i) {
            _register(owners_[i], Role.DataOwner, i, i);
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
        _blocks[0].timestamp = uint40(block.timestamp);
        _blocks[0].target = initialTarget;
        _round = 1;
        _windowStart = uint40(block.timestamp);
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

    /// @inheritdoc IPowLedger
    function submitGradient(uint256 round, bytes32 gradientHash) external onlyDataOwner {
        _checkHash(gradientHash, HashField.Gradient);
        _checkGradientRound(round);
        if (_gradients[round][msg.sender] != bytes32(0)) {
            revert AlreadySubmitted(round, msg.sender);
        }
        _gradients[round][msg.sender] = gradientHash;
        uint64 submitted = _gradientCount + 1;
        _gradientCount = submitted;
        emit GradientSubmitted(round, msg.sender, gradientHash, submitted);
    }

    /// @inheritdoc IPowLedger
    function submitBlock(
        uint256 round,
        bytes32 previousModelHash,
        bytes32 newModelHash,
        uint64 nonce
    ) external onlyAggregator {
        _checkBlockRound(round);
        _checkPreviousModel(round, previousModelHash);
        _checkHash(newModelHash, HashField.NewModel);
        _checkGradientsComplete(round);
        uint256 target = _target;
        bytes32 digest = _checkWork(round, previousModelHash, newModelHash, nonce, target);

        Block storage b = _blocks[round];
        b.winner = _members[msg.sender].index + 1;
        b.nonce = nonce;
        b.timestamp = uint40(block.timestamp);
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

    /// @inheritdoc IPowLedger
    function owners() external view returns (address[] memory) {
        return _owners;
    }

    /// @inheritdoc IPowLedger
    function aggregators() external view returns (address[] memory) {
        return _aggregators;
    }

    /// @inheritdoc IPowLedger
    function memberOf(address account) external view returns (Role role, uint256 index) {
        Member storage m = _members[account];
        return (m.role, m.index);
    }

    /// @inheritdoc IPowLedger
    function currentRound() external view returns (uint256) {
        return _round;
    }

    /// @inheritdoc IPowLedger
    function gradientCount() external view returns (uint256) {
        return _gradientCount;
    }

    /// @inheritdoc IPowLedger
    function currentTarget() external view returns (uint256) {
        return _target;
    }

    /// @inheritdoc IPowLedger
    function windowStart() external view returns (uint40) {
        return _windowStart;
    }

    /// @inheritdoc IPowLedger
    function headModelHash() external view returns (bytes32) {
        return _blocks[_round - 1].modelHash;
    }

    /// @inheritdoc IPowLedger
    function getBlock(uint256 round) external view returns (BlockView memory) {
        if (round >= _round) revert FutureRound(round, _round);
        Block storage b = _blocks[round];
        return
            BlockView({
                winner: _winnerOf(round),
                nonce: b.nonce,
                timestamp: b.timestamp,
                modelHash: b.modelHash,
                target: b.target
            });
    }

    /// @inheritdoc IPowLedger
    function getGradient(uint256 round, address owner) external view returns (bytes32) {
        return _gradients[round][owner];
    }

    /// @inheritdoc IPowLedger
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
    // Checks
    // ------------------------------------------------------------------------------------------

    /// @dev Reverts with {NotDataOwner} unless the caller is a registered data owner.
    function _checkDataOwner() internal view {
        if (_members[msg.sender].role != Role.DataOwner) revert NotDataOwner(msg.sender);
    }

    /// @dev Reverts with {NotAggregator} unless the caller is a registered aggregator.
    function _checkAggregator() internal view {
        if (_members[msg.sender].role != Role.Aggregator) revert NotAggregator(msg.sender);
    }

    /// @dev Reverts with {ZeroHash}(`field`) if `hash` is zero.
    function _checkHash(bytes32 hash, HashField field) internal pure {
        if (hash == bytes32(0)) revert ZeroHash(field);
    }

    /// @dev The constructor's list lengths: {NoOwners}, {NoAggregators} or {TooManyMembers}.
    function _checkMemberCounts(uint256 ownerCount, uint256 aggregatorCount) internal pure {
        if (ownerCount == 0) revert NoOwners();
        if (aggregatorCount == 0) revert NoAggregators();
        if (ownerCount > MAX_MEMBERS) revert TooManyMembers(ownerCount, MAX_MEMBERS);
        if (aggregatorCount > MAX_MEMBERS) revert TooManyMembers(aggregatorCount, MAX_MEMBERS);
    }

    /// @dev The constructor's proof-of-work parameters: {ZeroTarget} for an initial target of 0,
    /// {ZeroBlockTime} for retargeting without a target block time.
    function _checkTargetRule(
        uint256 initialTarget,
        uint32 blockTime,
        uint32 interval
    ) internal pure {
        if (initialTarget == 0) revert ZeroTarget();
        if (interval != 0 && blockTime == 0) revert ZeroBlockTime(interval);
    }

    /// @dev Member number `position` of the constructor's data owners followed by its
    /// aggregators: reverts with {ZeroAddress} or {DuplicateMember}.
    function _checkNewMember(address account, uint256 position) internal view {
        if (account == address(0)) revert ZeroAddress(position);
        if (_members[account].role != Role.None) revert DuplicateMember(account);
    }

    /// @dev A gradient must be for the open round: {StaleRound} before it, {FutureRound} after.
    function _checkGradientRound(uint256 round) internal view {
        uint256 current = _round;
        if (round < current) revert StaleRound(round, current);
        if (round > current) revert FutureRound(round, current);
    }

    /// @dev A block must be for the open round: {RoundAlreadyMined} (naming the winner) before
    /// it, {FutureRound} after.
    function _checkBlockRound(uint256 round) internal view {
        uint256 current = _round;
        if (round < current) revert RoundAlreadyMined(round, _winnerOf(round));
        if (round > current) revert FutureRound(round, current);
    }

    /// @dev Block `round` must build on block `round - 1`: {PreviousHashMismatch} otherwise.
    function _checkPreviousModel(uint256 round, bytes32 previousModelHash) internal view {
        bytes32 expected = _blocks[round - 1].modelHash;
        if (previousModelHash != expected) {
            revert PreviousHashMismatch(round, expected, previousModelHash);
        }
    }

    /// @dev Every data owner's gradient must be in: {GradientsIncomplete} otherwise.
    function _checkGradientsComplete(uint256 round) internal view {
        uint256 required = _owners.length;
        if (_gradientCount != required) {
            revert GradientsIncomplete(round, _gradientCount, required);
        }
    }

    /// @dev The caller's block must beat `target`: returns its digest, reverts with
    /// {InsufficientWork} if the digest is not below the target.
    function _checkWork(
        uint256 round,
        bytes32 previousModelHash,
        bytes32 newModelHash,
        uint64 nonce,
        uint256 target
    ) internal view returns (bytes32 digest) {
        digest = _digest(round, previousModelHash, newModelHash, msg.sender, nonce);
        if (uint256(digest) >= target) revert InsufficientWork(round, digest, target);
    }

    // ------------------------------------------------------------------------------------------
    // Internals
    // ------------------------------------------------------------------------------------------

    /// @dev Register `account` as `role` number `index`; `position` is its place in the
    /// constructor's data-owners-then-aggregators list (checked by {_checkNewMember}).
    function _register(address account, Role role, uint256 index, uint256 position) private {
        _checkNewMember(account, position);
        _members[account] = Member(role, uint8(index));
        emit MemberRegistered(account, role, index);
    }

    /// @dev The aggregator that mined block `round` (zero for the genesis).
    function _winnerOf(uint256 round) private view returns (address) {
        uint8 winner = _blocks[round].winner;
        return winner == 0 ? address(0) : _aggregators[winner - 1];
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
        _windowStart = uint40(block.timestamp);
        emit TargetRetargeted(round, target, next, observed, expected);
    }
}
