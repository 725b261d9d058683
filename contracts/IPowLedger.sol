// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/**
 * @title IPowLedger
 * @notice The interface of {PowLedger}, the proof-of-work chain of the notes' four-node example:
 * its types, custom errors, events and external functions. The contract's NatSpec explains the
 * blocks, the proof of work and the retarget rule; the functions' NatSpec here is their
 * specification.
 *
 * Words. A data owner (an "owner" in the notes, never the contract's owner: this contract has
 * none) broadcasts gradient hashes; an aggregator mines blocks. Unix times are uint40, as in
 * {IFLLedger}.
 */
interface IPowLedger {
    // ------------------------------------------------------------------------------------------
    // Types
    // ------------------------------------------------------------------------------------------

    /// @notice What a registered account does. `None`: not registered.
    enum Role {
        None,
        DataOwner,
        Aggregator
    }

    /// @notice Which hash argument was zero, reported by {ZeroHash}.
    enum HashField {
        GenesisModel,
        Config,
        Gradient,
        NewModel
    }

    /// @notice Block t of the chain, as returned by {getBlock}.
    /// @param winner the aggregator that mined it (zero for the genesis)
    /// @param nonce its proof-of-work nonce (0 for the genesis)
    /// @param timestamp block.timestamp of the transaction that mined it (of the deployment for
    /// the genesis)
    /// @param modelHash hash of the model blob w^t it holds
    /// @param target the proof-of-work target it met (the initial target for the genesis)
    struct BlockView {
        address winner;
        uint64 nonce;
        uint40 timestamp;
        bytes32 modelHash;
        uint256 target;
    }

    // ------------------------------------------------------------------------------------------
    // Errors
    // ------------------------------------------------------------------------------------------

    /// @notice `account` is not a registered data owner.
    error NotDataOwner(address account);
    /// @notice `account` is not a registered aggregator.
    error NotAggregator(address account);
    /// @notice The constructor got no data owners.
    error NoOwners();
    /// @notice The constructor got no aggregators.
    error NoAggregators();
    /// @notice `count` data owners or aggregators were given, more than `max` ({MAX_MEMBERS}).
    error TooManyMembers(uint256 count, uint256 max);
    /// @notice The member at `index` of the data owners followed by the aggregators is the zero
    /// address.
    error ZeroAddress(uint256 index);
    /// @notice `account` appears twice among the data owners and aggregators.
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
    /// @notice Data owner `owner` already broadcast its gradient hash for round `round`.
    error AlreadySubmitted(uint256 round, address owner);
    /// @notice Block `round` was already mined by `winner` (round 0, the genesis, by nobody).
    error RoundAlreadyMined(uint256 round, address winner);
    /// @notice The block names `given` as the previous model, but block `round - 1` holds
    /// `expected`.
    error PreviousHashMismatch(uint256 round, bytes32 expected, bytes32 given);
    /// @notice Only `submitted` of the `required` data owners' gradients are in for round `round`.
    error GradientsIncomplete(uint256 round, uint256 submitted, uint256 required);
    /// @notice The block's proof-of-work digest `digest` for round `round` is not below `target`:
    /// wrong nonce.
    error InsufficientWork(uint256 round, bytes32 digest, uint256 target);

    // ------------------------------------------------------------------------------------------
    // Events
    // ------------------------------------------------------------------------------------------

    /// @notice The chain was created with genesis model hash `genesisModelHash`.
    /// @param genesisModelHash keccak256 of the initial model blob w^0
    /// @param configHash keccak256 of the job configuration blob
    /// @param initialTarget the proof-of-work target of the first blocks
    /// @param targetBlockTime T, the block time in seconds the retarget rule aims at
    /// @param retargetInterval k, retarget after every k-th block (0: fixed target)
    /// @param ownerCount number of data owners
    /// @param aggregatorCount number of aggregators
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
    /// @notice Data owner `owner` broadcast the hash `gradientHash` of its local gradient for round
    /// `round`; `submitted` gradients are in.
    event GradientSubmitted(
        uint256 indexed round,
        address indexed owner,
        bytes32 gradientHash,
        uint256 submitted
    );
    /// @notice `aggregator` mined block `round` (previous model -> new model) with `nonce`, whose
    /// digest `digest` is below `target`.
    event BlockMined(
        uint256 indexed round,
        address indexed aggregator,
        bytes32 previousModelHash,
        bytes32 newModelHash,
        uint64 nonce,
        bytes32 digest,
        uint256 target
    );
    /// @notice After block `round` the target moved from `oldTarget` to `newTarget`: the last
    /// blocks took `observedSeconds` where `expectedSeconds` were expected.
    event TargetRetargeted(
        uint256 indexed round,
        uint256 oldTarget,
        uint256 newTarget,
        uint256 observedSeconds,
        uint256 expectedSeconds
    );

    // ------------------------------------------------------------------------------------------
    // Transactions
    // ------------------------------------------------------------------------------------------

    /**
     * @notice Broadcast the hash of the caller's local gradient g_i^{t-1} for the open round t,
     * computed at the model of block t - 1. Registered data owners only, once per round.
     * @dev Reverts with {NotDataOwner}, {ZeroHash}, {StaleRound} for a closed round, {FutureRound}
     * for one not yet open, or {AlreadySubmitted}. Emits {GradientSubmitted}.
     * @param round the open round t
     * @param gradientHash keccak256 of the gradient blob (nonzero)
     */
    function submitGradient(uint256 round, bytes32 gradientHash) external;

    /**
     * @notice Propose block B_t: the new model hash with a proof of work. Registered aggregators
     * only. The first valid block of a round wins it and opens round t + 1.
     * @dev Reverts with {NotAggregator}, {RoundAlreadyMined} for a round already won (a late
     * block), {FutureRound}, {PreviousHashMismatch}, {ZeroHash}, {GradientsIncomplete} while some
     * data owner's gradient is missing, and {InsufficientWork} when the digest is not below the
     * target. Emits {BlockMined}, and {TargetRetargeted} after every k-th block.
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
    ) external;

    // ------------------------------------------------------------------------------------------
    // Views
    // ------------------------------------------------------------------------------------------

    /// @notice Largest number of data owners and of aggregators.
    function MAX_MEMBERS() external view returns (uint256);

    /// @notice keccak256 of the job configuration blob (data, alpha, gamma, members, seeds).
    function configHash() external view returns (bytes32);

    /// @notice Target block time T in seconds the retarget rule aims at.
    function targetBlockTime() external view returns (uint32);

    /// @notice Retarget every k blocks; 0 keeps the target fixed.
    function retargetInterval() external view returns (uint32);

    /// @notice The data owners, in the order their gradients are summed.
    function owners() external view returns (address[] memory);

    /// @notice The aggregators.
    function aggregators() external view returns (address[] memory);

    /// @notice Role and index of `account` (role `None` and index 0 if not registered).
    /// @return role what the account does
    /// @return index its place in the list of its role
    function memberOf(address account) external view returns (Role role, uint256 index);

    /// @notice The open round t; blocks 0 .. t - 1 exist.
    function currentRound() external view returns (uint256);

    /// @notice How many data owners' gradients are in for the open round.
    function gradientCount() external view returns (uint256);

    /// @notice The proof-of-work target the next block must beat.
    function currentTarget() external view returns (uint256);

    /// @notice block.timestamp at which the current retarget window started.
    function windowStart() external view returns (uint40);

    /// @notice Hash of the model of the latest block (the head of the chain).
    function headModelHash() external view returns (bytes32);

    /// @notice Block `round` (see {BlockView}); reverts with {FutureRound} for a block not mined
    /// yet.
    function getBlock(uint256 round) external view returns (BlockView memory);

    /// @notice The gradient hash data owner `owner` broadcast for round `round` (zero if none).
    function getGradient(uint256 round, address owner) external view returns (bytes32);

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
    ) external view returns (bytes32);
}
