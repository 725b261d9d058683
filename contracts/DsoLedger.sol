// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IDsoLedger} from "./IDsoLedger.sol";

/**
 * @title DsoLedger
 * @notice Checkpoints of a decentralised Paillier DSGD run (hefl's decentralised mode): N agents
 * on a graph exchange Paillier ciphertexts with their neighbours only, and every K iterations each
 * registered agent commits the keccak256 of the transcript of the messages it sent since its last
 * checkpoint and the keccak256 of its current encrypted state.
 *
 * Checkpoints. A run of T iterations has C = ceil(T / K) checkpoints c = 1 .. C; checkpoint c
 * covers iterations ((c - 1) K, min(cK, T)]. Each agent commits them in order, once each; when the
 * last agent commits checkpoint c it is complete ({CheckpointCompleted}).
 *
 * Keys. Each agent's Paillier public-key fingerprint (keccak256 of n) is fixed at deployment, so
 * anyone replaying the transcripts knows which key every ciphertext must be under.
 *
 * What the chain cannot check. Ciphertexts are not on chain: `hefl verify` recomputes every
 * transcript hash and state hash from the stored messages and names the first mismatch.
 *
 * Types, errors and events are declared in {IDsoLedger}.
 *
 * Storage. Per agent one slot (index + 1 and last committed checkpoint) and its fingerprint; per
 * checkpoint and agent two slots (transcript hash, state hash); per checkpoint one counter.
 */
contract DsoLedger is IDsoLedger {
    /// @notice Largest number of agents.
    uint256 public constant MAX_AGENTS = 256;

    /// @dev One registered agent: index + 1 (0: not registered) and its last committed checkpoint.
    struct Member {
        uint32 indexPlusOne;
        uint64 committed;
    }

    /// @dev An agent's commitment at one checkpoint.
    struct Commitment {
        bytes32 transcriptHash;
        bytes32 stateHash;
    }

    // ------------------------------------------------------------------------------------------
    // State
    // ------------------------------------------------------------------------------------------

    /// @notice keccak256 of the run's configuration blob (graph, problem, schedules, seeds).
    bytes32 public immutable configHash;
    /// @notice T, the number of iterations of the run.
    uint64 public immutable iterations;
    /// @notice K, iterations between checkpoints.
    uint32 public immutable interval;

    /// @dev The agents' accounts, in agent-index order.
    address[] private _agents;
    /// @dev The agents' Paillier key fingerprints, in agent-index order.
    bytes32[] private _fingerprints;
    /// @dev Each registered account's index and last committed checkpoint.
    mapping(address account => Member) private _members;
    /// @dev Checkpoint -> agent index -> its commitment.
    mapping(uint256 checkpoint => mapping(uint256 index => Commitment)) private _commitments;
    /// @dev Checkpoint -> how many agents have committed it.
    mapping(uint256 checkpoint => uint256) private _commitCount;

    // ------------------------------------------------------------------------------------------
    // Access rules
    // ------------------------------------------------------------------------------------------

    /// @dev Only a registered agent.
    modifier onlyAgent() {
        _checkAgent(msg.sender);
        _;
    }

    /**
     * @notice Register the run and its agents.
     * @param agents_ the agents' accounts, in agent-index order
     * @param fingerprints_ keccak256 of each agent's Paillier modulus n (nonzero)
     * @param configHash_ keccak256 of the run's configuration blob (nonzero)
     * @param iterations_ T, the run's length (nonzero)
     * @param interval_ K, iterations between checkpoints (nonzero)
     */
    constructor(
        address[] memory agents_,
        bytes32[] memory fingerprints_,
        bytes32 configHash_,
        uint64 iterations_,
        uint32 interval_
    ) {
        uint256 count = agents_.length;
        if (count == 0) revert NoAgents();
        if (count > MAX_AGENTS) revert TooManyAgents(count, MAX_AGENTS);
        if (fingerprints_.length != count) revert LengthMismatch(count, fingerprints_.length);
        if (configHash_ == bytes32(0)) revert ZeroHash(HashField.Config);
        if (iterations_ == 0) revert ZeroIterations();
        if (interval_ == 0) revert ZeroInterval();
        configHash = configHash_;
        iterations = iterations_;
        interval = interval_;
        emit DsoLedgerCreated(configHash_, iterations_, interval_, count);
        for (uint256 i = 0; i < count; ++i) {
            _register(agents_[i], fingerprints_[i], i);
        }
    }

    // ------------------------------------------------------------------------------------------
    // Transactions
    // ------------------------------------------------------------------------------------------

    /**
     * @notice Commit the caller's checkpoint `checkpoint`: the hash of the transcript of what it
     * sent in iterations ((c - 1) K, min(cK, T)] and the hash of its encrypted state after them.
     * Registered agents only, checkpoints in order, once each.
     * @dev Reverts with {NotAgent}, {ZeroHash}, {CheckpointBeyondRun} or {CheckpointOutOfOrder}.
     * @param checkpoint the caller's next checkpoint c (1-based)
     * @param transcriptHash keccak256 transcript hash (nonzero)
     * @param stateHash keccak256 of the serialised encrypted state (nonzero)
     */
    function commitCheckpoint(
        uint256 checkpoint,
        bytes32 transcriptHash,
        bytes32 stateHash
    ) external onlyAgent {
        _checkHash(transcriptHash, HashField.Transcript);
        _checkHash(stateHash, HashField.State);
        Member storage m = _members[msg.sender];
        _checkNext(msg.sender, m.committed, checkpoint);
        uint256 index = m.indexPlusOne - 1;
        m.committed = uint64(checkpoint);
        _commitments[checkpoint][index] = Commitment(transcriptHash, stateHash);
        uint256 last = _lastIteration(checkpoint);
        emit CheckpointCommitted(checkpoint, msg.sender, index, last, transcriptHash, stateHash);
        uint256 done = _commitCount[checkpoint] + 1;
        _commitCount[checkpoint] = done;
        if (done == _agents.length) emit CheckpointCompleted(checkpoint, last);
    }

    // ------------------------------------------------------------------------------------------
    // Views
    // ------------------------------------------------------------------------------------------

    /// @notice The agents' accounts, in agent-index order.
    function agents() external view returns (address[] memory) {
        return _agents;
    }

    /// @notice The agents' Paillier key fingerprints, in agent-index order.
    function keyFingerprints() external view returns (bytes32[] memory) {
        return _fingerprints;
    }

    /// @notice Whether `account` is an agent, its index and its last committed checkpoint.
    function agentOf(
        address account
    ) external view returns (bool registered, uint256 index, uint256 committed) {
        Member storage m = _members[account];
        if (m.indexPlusOne == 0) return (false, 0, 0);
        return (true, m.indexPlusOne - 1, m.committed);
    }

    /// @notice C = ceil(T / K), the run's number of checkpoints.
    function checkpointCount() external view returns (uint256) {
        return _checkpointCount();
    }

    /// @notice The last iteration checkpoint `checkpoint` covers: min(cK, T).
    function lastIteration(uint256 checkpoint) external view returns (uint256) {
        return _lastIteration(checkpoint);
    }

    /// @notice How many agents have committed checkpoint `checkpoint`.
    function commitCount(uint256 checkpoint) external view returns (uint256) {
        return _commitCount[checkpoint];
    }

    /// @notice Agent `index`'s commitment at checkpoint `checkpoint` (zero hashes if none).
    function getCommitment(
        uint256 checkpoint,
        uint256 index
    ) external view returns (bytes32 transcriptHash, bytes32 stateHash) {
        Commitment storage c = _commitments[checkpoint][index];
        return (c.transcriptHash, c.stateHash);
    }

    // ------------------------------------------------------------------------------------------
    // Internals
    // ------------------------------------------------------------------------------------------

    /// @dev Reverts with {NotAgent} unless `account` is registered.
    function _checkAgent(address account) internal view {
        if (_members[account].indexPlusOne == 0) revert NotAgent(account);
    }

    /// @dev Reverts with {ZeroHash} naming `field` when `value` is zero.
    function _checkHash(bytes32 value, HashField field) internal pure {
        if (value == bytes32(0)) revert ZeroHash(field);
    }

    /// @dev Reverts unless `checkpoint` is `agent`'s next one (after `committed`) within the run.
    function _checkNext(address agent, uint256 committed, uint256 checkpoint) internal view {
        uint256 last = _checkpointCount();
        if (checkpoint > last) revert CheckpointBeyondRun(checkpoint, last);
        if (checkpoint != committed + 1) {
            revert CheckpointOutOfOrder(agent, checkpoint, committed + 1);
        }
    }

    /// @dev ceil(T / K).
    function _checkpointCount() internal view returns (uint256) {
        return (uint256(iterations) + interval - 1) / interval;
    }

    /// @dev min(cK, T).
    function _lastIteration(uint256 checkpoint) internal view returns (uint256) {
        uint256 end = checkpoint * interval;
        return end < iterations ? end : iterations;
    }

    /// @dev Register `account` as agent `index` with key fingerprint `fingerprint`.
    function _register(address account, bytes32 fingerprint, uint256 index) private {
        if (account == address(0)) revert ZeroAddress(index);
        if (_members[account].indexPlusOne != 0) revert DuplicateAgent(account);
        _checkHash(fingerprint, HashField.KeyFingerprint);
        _members[account] = Member(uint32(index + 1), 0);
        _agents.push(account);
        _fingerprints.push(fingerprint);
        emit AgentRegistered(account, index, fingerprint);
    }
}
