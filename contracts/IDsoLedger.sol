// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/**
 * @title IDsoLedger
 * @notice The external interface of {DsoLedger}: checkpoints of a decentralised Paillier DSGD run.
 * Every K iterations each registered agent commits the keccak256 of the transcript of what it sent
 * since its last checkpoint and the keccak256 of its encrypted state. `tests/dso` checks that
 * DsoLedger's ABI contains every function, event and error declared here.
 */
interface IDsoLedger {
    /// @notice Which hash argument was zero, reported by {ZeroHash}.
    enum HashField {
        Config,
        KeyFingerprint,
        Transcript,
        State
    }

    /// @notice `account` is not a registered agent.
    error NotAgent(address account);
    /// @notice The constructor got no agents.
    error NoAgents();
    /// @notice More than MAX_AGENTS agents were given.
    error TooManyAgents(uint256 count, uint256 max);
    /// @notice `agents` addresses but `fingerprints` key fingerprints were given.
    error LengthMismatch(uint256 agents, uint256 fingerprints);
    /// @notice The agent at `index` is the zero address.
    error ZeroAddress(uint256 index);
    /// @notice `account` appears twice among the agents.
    error DuplicateAgent(address account);
    /// @notice The hash argument `field` was zero.
    error ZeroHash(HashField field);
    /// @notice The checkpoint interval K must be at least 1.
    error ZeroInterval();
    /// @notice The run must have at least one iteration.
    error ZeroIterations();
    /// @notice `agent` committed checkpoint `checkpoint`, but its next one is `expected`.
    error CheckpointOutOfOrder(address agent, uint256 checkpoint, uint256 expected);
    /// @notice Checkpoint `checkpoint` is beyond the run's last checkpoint `last`.
    error CheckpointBeyondRun(uint256 checkpoint, uint256 last);

    /// @notice The run was registered: its configuration, length, interval and agent count.
    event DsoLedgerCreated(
        bytes32 configHash,
        uint64 iterations,
        uint32 interval,
        uint256 agentCount
    );
    /// @notice `account` is agent number `index` with Paillier key fingerprint `keyFingerprint`.
    event AgentRegistered(address indexed account, uint256 index, bytes32 keyFingerprint);
    /// @notice Agent `index` (`agent`) committed checkpoint `checkpoint`.
    event CheckpointCommitted(
        uint256 indexed checkpoint,
        address indexed agent,
        uint256 index,
        uint256 lastIteration,
        bytes32 transcriptHash,
        bytes32 stateHash
    );
    /// @notice Every agent has committed checkpoint `checkpoint`.
    event CheckpointCompleted(uint256 indexed checkpoint, uint256 lastIteration);

    /// @notice Commit the caller's next checkpoint (see {DsoLedger-commitCheckpoint}).
    function commitCheckpoint(uint256 checkpoint, bytes32 transcriptHash, bytes32 stateHash)
        external;

    /// @notice The agents' accounts, in agent-index order.
    function agents() external view returns (address[] memory);

    /// @notice The agents' Paillier key fingerprints, in agent-index order.
    function keyFingerprints() external view returns (bytes32[] memory);

    /// @notice Whether `account` is an agent, its index and its last committed checkpoint.
    function agentOf(address account)
        external
        view
        returns (bool registered, uint256 index, uint256 committed);

    /// @notice C = ceil(T / K), the run's number of checkpoints.
    function checkpointCount() external view returns (uint256);

    /// @notice The last iteration checkpoint `checkpoint` covers: min(cK, T).
    function lastIteration(uint256 checkpoint) external view returns (uint256);

    /// @notice How many agents have committed checkpoint `checkpoint`.
    function commitCount(uint256 checkpoint) external view returns (uint256);

    /// @notice Agent `index`'s commitment at checkpoint `checkpoint` (zero hashes if none).
    function getCommitment(uint256 checkpoint, uint256 index)
        external
        view
        returns (bytes32 transcriptHash, bytes32 stateHash);
}
