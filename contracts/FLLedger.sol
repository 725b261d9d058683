// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IFLLedger} from "./IFLLedger.sol";

/**
 * @title FLLedger
 * @notice The on-chain record of one hefl learning job: who takes part, what was sent each round
 * (as hashes of the off-chain ciphertext blobs), the computing party's commitment to the
 * aggregated encrypted model (Eq. 10 of the main paper) and the replicas' verdicts on it.
 *
 * Roles. The deployer is the computing party C: it owns the Paillier key pair, opens rounds and
 * commits aggregates. The N registered participants P_i submit the hashes of their encrypted local
 * models (ELW_Pi, Eq. 11) and, acting as PBFT replicas, attest to or dispute each aggregate.
 *
 * Rounds. Round g moves Open -> Aggregated -> Finalised | Disputed, or to Voided from Open or
 * Aggregated (see {voidRound}). A new round can be opened only once the previous one is
 * Finalised, Disputed or Voided. A round may carry a submission deadline. The
 * `included` bitmap (bit i for participant i) holds who submitted while the round is Open and whom
 * the aggregate covers once committed: all submitters without a deadline; with one, the submitters
 * whose blobs were usable (the party leaves malformed ones out, the replicas check that). Absentees
 * simply drop out and the Eq. 10 weights renormalise over the rest.
 *
 * Consensus. n = N + 1 consensus nodes tolerate F = floor((n - 1) / 3) faults; the Byzantine quorum
 * is q = ceil((n + F + 1) / 2), so any two quorums share an honest node (q = 2F + 1 when
 * n = 3F + 1). The party's commit counts as its vote. A round is Finalised as soon as
 * 1 + attestations >= q and Disputed as soon as disputes > n - q (the quorum is then unreachable).
 * Every dispute is recorded (event and counter) even while the quorum is still reachable.
 *
 * Hashes. Every hash is keccak256 of the blob's bytes, the same key the off-chain blob store uses.
 * Zero is never a valid hash, except `extraHash` in {submit}, where zero means "no second blob".
 *
 * Availability. A job deployed with `blobsOnChain` takes the participants' blobs and the
 * aggregate only as bytes in the transaction's calldata ({submitBlobs}, {commitAggregateBlob}):
 * the contract hashes them itself, so every recorded hash has its bytes on chain and "was this
 * blob available?" is a fact all nodes agree on; the off-chain blob store is a cache anyone can
 * rebuild from the chain. Without it (large models), only hashes go on chain and availability
 * is the store's (the off-chain rule for that case is in the README).
 *
 * Voiding. A round that can reach no verdict (nothing usable was submitted, or its voters fell
 * silent) is closed by {voidRound} under the written rule there, after {voidTimeout} seconds.
 *
 * Storage. Job parameters are immutables; each participant takes two slots (address + |D_i|, and
 * its index by address); each round four and each submission one or two. Block numbers and the
 * deadline (unix time) are stored as uint40.
 *
 * Code. The types, errors, events and external functions with their specification are in
 * {IFLLedger}. Every check is a `_check…` function (the access rules behind thin modifiers); one of
 * them, {_checkRoundStatus}, tells a missing round from one in the wrong status for every
 * transaction on a round.
 */
contract FLLedger is IFLLedger {
    /// @inheritdoc IFLLedger
    uint256 public constant MAX_PARTICIPANTS = 64;

    /// @dev One registered participant: its account and its data-set size |D_i|.
    struct Participant {
        address account;
        uint64 dataSize;
    }

    /// @dev Storage layout of a round: four slots.
    struct Round {
        // slot 0: written by openRound, updated by submit / commitAggregate / the deciding vote;
        // the deadline lives here so that submit reads one slot only
        uint64 iteration;
        uint32 tau;
        RoundStatus status;
        uint8 submissionCount;
        uint64 included;
        uint40 aggregatedBlock;
        uint40 deadline;
        // slot 1
        bytes32 globalModelHash;
        // slot 2
        bytes32 aggregateHash;
        // slot 3: initialised by openRound (openedBlock) so that votes only update it; the
        // deciding vote writes closedBlock here alongside its bit
        uint64 attested;
        uint64 disputed;
        uint8 attestCount;
        uint8 disputeCount;
        uint40 openedBlock;
        uint40 closedBlock;
        uint32 aggregatedAt;
    }

    /// @dev Storage of one submission; `extraHash` is left unwritten when zero.
    struct Submission {
        bytes32 modelHash;
        bytes32 extraHash;
    }

    // ------------------------------------------------------------------------------------------
    // State
    // ------------------------------------------------------------------------------------------

    /// @inheritdoc IFLLedger
    address public immutable party;
    /// @inheritdoc IFLLedger
    bytes32 public immutable publicKeyHash;
    /// @inheritdoc IFLLedger
    bytes32 public immutable configHash;
    /// @inheritdoc IFLLedger
    uint256 public immutable totalDataSize;
    /// @inheritdoc IFLLedger
    uint32 public immutable voidTimeout;
    /// @inheritdoc IFLLedger
    bool public immutable blobsOnChain;

    /// @dev N, the number of participants.
    uint256 private immutable _participantCount;
    /// @dev F = floor((n - 1) / 3), the faults tolerated.
    uint256 private immutable _faultTolerance;
    /// @dev q = ceil((n + F + 1) / 2), the Byzantine quorum.
    uint256 private immutable _quorum;

    /// @dev The participants in bit-index order.
    Participant[] private _participants;
    /// @dev participant account => index + 1 (0: not registered)
    mapping(address account => uint256) private _position;

    /// @dev Number of rounds opened so far.
    uint256 private _roundCount;
    /// @dev The rounds by number.
    mapping(uint256 round => Round) private _rounds;
    /// @dev Each round's submissions by participant.
    mapping(uint256 round => mapping(address participant => Submission)) private _submissions;

    // ------------------------------------------------------------------------------------------
    // Access rules
    // ------------------------------------------------------------------------------------------

    /// @dev Only the computing party; see {_checkParty}.
    modifier onlyParty() {
        _checkParty();
        _;
    }

    /// @dev Only a registered participant; see {_checkParticipant}.
    modifier onlyParticipant() {
        _checkParticipant(msg.sender);
        _;
    }

    /// @dev Only while blobs may travel as bare hashes; see {_checkHashesAllowed}.
    modifier hashesAllowed() {
        _checkHashesAllowed();
        _;
    }

    /**
     * @notice Create the job. The deployer becomes the computing party.
     * @dev Reverts with {NoParticipants}, {TooManyParticipants}, {LengthMismatch}, {ZeroHash}, and
     * for a participant with {ZeroAddress}, {PartyIsParticipant}, {DuplicateParticipant} or
     * {ZeroDataSize}. Emits {ParticipantRegistered} for each participant, then {LedgerCreated}.
     * @param participantAccounts the N participants, in the order that fixes their bit index
     * @param dataSizes |D_i| of each participant (nonzero), same order
     * @param publicKeyHash_ keccak256 of the Paillier public key (nonzero)
     * @param configHash_ keccak256 of the job configuration (nonzero)
     * @param voidTimeout_ seconds after which a round without verdict may be voided (see
     * {voidRound})
     * @param blobsOnChain_ whether blobs must travel in calldata ({submitBlobs},
     * {commitAggregateBlob}) rather than as bare hashes
     */
    constructor(
        address[] memory participantAccounts,
        uint64[] memory dataSizes,
        bytes32 publicKeyHash_,
        bytes32 configHash_,
        uint32 voidTimeout_,
        bool blobsOnChain_
    ) {
        uint256 count = participantAccounts.length;
        _checkParticipantCount(count, dataSizes.length);
        _checkHash(publicKeyHash_, HashField.PublicKey);
        _checkHash(configHash_, HashField.Config);

        uint256 total;
        for (uint256 i = 0; i < count; ++i) {
            _register(participantAccounts[i], dataSizes[i], i);
            total += dataSizes[i];
        }

        uint256 nodes = count + 1;
        uint256 faults = (nodes - 1) / 3;
        party = msg.sender;
        publicKeyHash = publicKeyHash_;
        configHash = configHash_;
        totalDataSize = total;
        voidTimeout = voidTimeout_;
        blobsOnChain = blobsOnChain_;
        _participantCount = count;
        _faultTolerance = faults;
        _quorum = (nodes + faults + 2) / 2; // ceil((n + F + 1) / 2)
        emit LedgerCreated(msg.sender, publicKeyHash_, configHash_, count, total);
        emit JobRules(voidTimeout_, blobsOnChain_);
    }

    // ------------------------------------------------------------------------------------------
    // Transactions
    // ------------------------------------------------------------------------------------------

    /// @inheritdoc IFLLedger
    function openRound(
        uint64 iteration,
        uint32 tau,
        bytes32 globalModelHash,
        uint40 deadline
    ) external onlyParty returns (uint256 round) {
        if (tau == 0) revert ZeroTau();
        _checkHash(globalModelHash, HashField.GlobalModel);
        _checkDeadline(deadline);
        round = _roundCount;
        if (round != 0) _checkPreviousRound(round - 1, iteration);
        Round storage r = _rounds[round];
        r.iteration = iteration;
        r.tau = tau;
        r.status = RoundStatus.Open;
        r.globalModelHash = globalModelHash;
        r.openedBlock = uint40(block.number);
        r.deadline = deadline;
        _roundCount = round + 1;
        emit RoundOpened(round, iteration, tau, globalModelHash, deadline);
    }

    /// @inheritdoc IFLLedger
    function submit(
        uint256 round,
        bytes32 modelHash,
        bytes32 extraHash
    ) external onlyParticipant hashesAllowed {
        _submit(round, modelHash, extraHash);
    }

    /// @inheritdoc IFLLedger
    function submitBlobs(
        uint256 round,
        bytes calldata model,
        bytes calldata extra
    ) external onlyParticipant {
        _checkBlob(model, HashField.Model);
        _submit(round, keccak256(model), extra.length == 0 ? bytes32(0) : keccak256(extra));
    }

    /// @inheritdoc IFLLedger
    function commitAggregate(
        uint256 round,
        bytes32 aggregateHash,
        uint64 included
    ) external onlyParty hashesAllowed {
        _commitAggregate(round, aggregateHash, included);
    }

    /// @inheritdoc IFLLedger
    function commitAggregateBlob(
        uint256 round,
        bytes calldata aggregate,
        uint64 included
    ) external onlyParty {
        _checkBlob(aggregate, HashField.Aggregate);
        _commitAggregate(round, keccak256(aggregate), included);
    }

    /// @inheritdoc IFLLedger
    function voidRound(uint256 round) external {
        Round storage r = _rounds[round];
        RoundStatus status = r.status;
        _checkVoid(r, round, status);
        r.status = RoundStatus.Voided;
        r.closedBlock = uint40(block.number);
        emit RoundVoided(round, msg.sender, status);
    }

    /// @dev {submit}'s effect for hashes already checked or computed by the caller.
    function _submit(uint256 round, bytes32 modelHash, bytes32 extraHash) private {
        _checkHash(modelHash, HashField.Model);
        Round storage r = _rounds[round];
        _checkRoundStatus(round, r.status, RoundStatus.Open);
        uint40 deadline = r.deadline;
        if (deadline != 0 && block.timestamp > deadline) revert SubmissionClosed(round, deadline);
        uint64 bit = _bitOf(msg.sender);
        uint64 included = r.included;
        if (included & bit != 0) revert AlreadySubmitted(round, msg.sender);
        r.included = included | bit;
        r.submissionCount += 1;
        Submission storage s = _submissions[round][msg.sender];
        s.modelHash = modelHash;
        if (extraHash != bytes32(0)) s.extraHash = extraHash;
        emit Submitted(round, msg.sender, modelHash, extraHash);
    }

    /// @dev {commitAggregate}'s effect for a hash checked or computed by the caller.
    function _commitAggregate(uint256 round, bytes32 aggregateHash, uint64 included) private {
        _checkHash(aggregateHash, HashField.Aggregate);
        Round storage r = _rounds[round];
        _checkRoundStatus(round, r.status, RoundStatus.Open);
        uint8 submissions = r.submissionCount;
        if (submissions == 0) revert NoSubmissions(round);
        uint64 submitted = r.included;
        _checkIncluded(round, r.deadline, submissions, submitted, included);
        if (included != submitted) r.included = included;
        r.status = RoundStatus.Aggregated;
        r.aggregatedBlock = uint40(block.number);
        r.aggregatedAt = uint32(block.timestamp);
        r.aggregateHash = aggregateHash;
        emit AggregateCommitted(round, aggregateHash, included, submitted & ~included, submissions);
    }

    /// @inheritdoc IFLLedger
    function attest(uint256 round, bytes32 aggregateHash) external onlyParticipant {
        Round storage r = _rounds[round];
        uint64 bit = _checkVote(r, round);
        bytes32 committed = r.aggregateHash;
        if (aggregateHash != committed) revert AggregateMismatch(round, committed, aggregateHash);
        r.attested |= bit;
        uint256 votes = uint256(++r.attestCount) + 1;
        emit Attested(round, msg.sender, votes);
        if (votes >= _quorum) {
            r.status = RoundStatus.Finalised;
            r.closedBlock = uint40(block.number);
            emit RoundFinalised(round, committed, votes);
        }
    }

    /// @inheritdoc IFLLedger
    function dispute(uint256 round, bytes32 recomputedHash) external onlyParticipant {
        _checkHash(recomputedHash, HashField.Recomputed);
        Round storage r = _rounds[round];
        uint64 bit = _checkVote(r, round);
        if (recomputedHash == r.aggregateHash) revert DisputeMatchesCommitment(round, recomputedHash);
        r.disputed |= bit;
        uint256 disputes = ++r.disputeCount;
        emit DisputeRaised(round, msg.sender, recomputedHash, disputes);
        if (disputes > _participantCount + 1 - _quorum) {
            r.status = RoundStatus.Disputed;
            r.closedBlock = uint40(block.number);
            emit RoundDisputed(round, disputes);
        }
    }

    // ------------------------------------------------------------------------------------------
    // Views
    // ------------------------------------------------------------------------------------------

    /// @inheritdoc IFLLedger
    function participantCount() external view returns (uint256) {
        return _participantCount;
    }

    /// @inheritdoc IFLLedger
    function consensusNodes() external view returns (uint256) {
        return _participantCount + 1;
    }

    /// @inheritdoc IFLLedger
    function faultTolerance() external view returns (uint256) {
        return _faultTolerance;
    }

    /// @inheritdoc IFLLedger
    function quorum() external view returns (uint256) {
        return _quorum;
    }

    /// @inheritdoc IFLLedger
    function participants()
        external
        view
        returns (address[] memory accounts, uint64[] memory dataSizes)
    {
        uint256 count = _participantCount;
        accounts = new address[](count);
        dataSizes = new uint64[](count);
        for (uint256 i = 0; i < count; ++i) {
            Participant storage p = _participants[i];
            accounts[i] = p.account;
            dataSizes[i] = p.dataSize;
        }
    }

    /// @inheritdoc IFLLedger
    function participantIndex(address account) external view returns (uint256) {
        _checkParticipant(account);
        return _position[account] - 1;
    }

    /// @inheritdoc IFLLedger
    function roundCount() external view returns (uint256) {
        return _roundCount;
    }

    /// @inheritdoc IFLLedger
    function getRound(uint256 round) external view returns (RoundView memory) {
        return _roundView(round);
    }

    /// @inheritdoc IFLLedger
    function getSubmission(
        uint256 round,
        address participant
    ) external view returns (bytes32 modelHash, bytes32 extraHash) {
        _checkRoundExists(round, _rounds[round].status);
        _checkParticipant(participant);
        Submission storage s = _submissions[round][participant];
        return (s.modelHash, s.extraHash);
    }

    /// @inheritdoc IFLLedger
    function getSubmissions(
        uint256 round
    )
        external
        view
        returns (
            RoundView memory header,
            bytes32[] memory modelHashes,
            bytes32[] memory extraHashes
        )
    {
        header = _roundView(round);
        uint256 count = _participantCount;
        modelHashes = new bytes32[](count);
        extraHashes = new bytes32[](count);
        mapping(address participant => Submission) storage submitted = _submissions[round];
        for (uint256 i = 0; i < count; ++i) {
            Submission storage s = submitted[_participants[i].account];
            modelHashes[i] = s.modelHash;
            extraHashes[i] = s.extraHash;
        }
    }

    /// @dev Every field of round `round` (reverts with {RoundNotFound}).
    function _roundView(uint256 round) private view returns (RoundView memory) {
        Round storage r = _rounds[round];
        _checkRoundExists(round, r.status);
        return
            RoundView({
                iteration: r.iteration,
                tau: r.tau,
                status: r.status,
                globalModelHash: r.globalModelHash,
                aggregateHash: r.aggregateHash,
                submissionCount: r.submissionCount,
                included: r.included,
                attestCount: r.attestCount,
                disputeCount: r.disputeCount,
                attested: r.attested,
                disputed: r.disputed,
                openedBlock: r.openedBlock,
                aggregatedBlock: r.aggregatedBlock,
                closedBlock: r.closedBlock,
                deadline: r.deadline,
                aggregatedAt: r.aggregatedAt
            });
    }

    // ------------------------------------------------------------------------------------------
    // Checks
    // ------------------------------------------------------------------------------------------

    /// @dev Reverts with {NotParty} unless the caller is the computing party.
    function _checkParty() internal view {
        if (msg.sender != party) revert NotParty(msg.sender);
    }

    /// @dev Reverts with {NotParticipant} unless `account` is a registered participant.
    function _checkParticipant(address account) internal view {
        if (_position[account] == 0) revert NotParticipant(account);
    }

    /// @dev Reverts with {ZeroHash}(`field`) if `hash` is zero.
    function _checkHash(bytes32 hash, HashField field) internal pure {
        if (hash == bytes32(0)) revert ZeroHash(field);
    }

    /// @dev The constructor's list lengths: {NoParticipants}, {TooManyParticipants} or
    /// {LengthMismatch}.
    function _checkParticipantCount(uint256 count, uint256 sizes) internal pure {
        if (count == 0) revert NoParticipants();
        if (count > MAX_PARTICIPANTS) revert TooManyParticipants(count, MAX_PARTICIPANTS);
        if (sizes != count) revert LengthMismatch(count, sizes);
    }

    /// @dev Participant number `index` of the constructor, `account` with |D_i| = `size`: reverts
    /// with {ZeroAddress}, {PartyIsParticipant}, {DuplicateParticipant} or {ZeroDataSize}.
    function _checkNewParticipant(address account, uint64 size, uint256 index) internal view {
        if (account == address(0)) revert ZeroAddress(index);
        if (account == msg.sender) revert PartyIsParticipant(account);
        if (_position[account] != 0) revert DuplicateParticipant(account);
        if (size == 0) revert ZeroDataSize(account);
    }

    /// @dev Reverts with {DeadlineInPast} unless `deadline` is 0 (none) or after this block.
    function _checkDeadline(uint40 deadline) internal view {
        if (deadline != 0 && deadline <= block.timestamp) {
            revert DeadlineInPast(deadline, uint40(block.timestamp));
        }
    }

    /// @dev The round `previous` before a new one at `iteration`: reverts with
    /// {PreviousRoundPending} while it is Open or Aggregated, {IterationRegressed} if `iteration`
    /// is below its iteration.
    function _checkPreviousRound(uint256 previous, uint64 iteration) internal view {
        Round storage r = _rounds[previous];
        RoundStatus status = r.status;
        if (_pending(status)) {
            revert PreviousRoundPending(previous, status);
        }
        if (iteration < r.iteration) revert IterationRegressed(r.iteration, iteration);
    }

    /// @dev Reverts with {BlobBytesRequired} in a job whose blobs must travel in calldata.
    function _checkHashesAllowed() internal view {
        if (blobsOnChain) revert BlobBytesRequired();
    }

    /// @dev Reverts with {EmptyBlob}(`field`) if `blob` has no bytes.
    function _checkBlob(bytes calldata blob, HashField field) internal pure {
        if (blob.length == 0) revert EmptyBlob(field);
    }

    /**
     * @dev Whether the caller may void round `round` (stored at `r`, of status `status`) now; see
     * {voidRound} for the rule. Reverts with {RoundNotFound}, {RoundNotVoidable} or {VoidTooEarly}.
     */
    function _checkVoid(Round storage r, uint256 round, RoundStatus status) internal view {
        _checkRoundExists(round, status);
        if (!_pending(status)) revert RoundNotVoidable(round, status);
        uint256 from;
        if (status == RoundStatus.Aggregated) {
            from = uint256(r.aggregatedAt) + voidTimeout;
        } else if (msg.sender == party) {
            from = r.deadline; // 0 (no deadline): at once
        } else {
            uint40 deadline = r.deadline;
            from = deadline == 0 ? type(uint256).max : uint256(deadline) + voidTimeout;
        }
        if (block.timestamp <= from && from != 0) revert VoidTooEarly(round, msg.sender, from);
    }

    /// @dev Reverts with {RoundNotFound} if round `round` (of status `status`) was never opened.
    function _checkRoundExists(uint256 round, RoundStatus status) internal pure {
        if (status == RoundStatus.None) revert RoundNotFound(round);
    }

    /**
     * @dev Round `round`, whose status is `status`, must be `expected` (Open or Aggregated):
     * reverts with {RoundNotFound} if it was never opened, otherwise with {RoundNotOpen} or
     * {RoundNotAggregated}, named for the status expected.
     */
    function _checkRoundStatus(
        uint256 round,
        RoundStatus status,
        RoundStatus expected
    ) internal pure {
        if (status == expected) return;
        _checkRoundExists(round, status);
        if (expected == RoundStatus.Open) revert RoundNotOpen(round, status);
        revert RoundNotAggregated(round, status);
    }

    /**
     * @dev The party's `included` bitmap for round `round` of deadline `deadline`, in which
     * `submissions` participants (the bitmap `submitted`) submitted; see {commitAggregate}.
     * Reverts with {IncludedMismatch} or, with a deadline still ahead and someone missing,
     * {SubmissionsStillOpen}.
     */
    function _checkIncluded(
        uint256 round,
        uint40 deadline,
        uint8 submissions,
        uint64 submitted,
        uint64 included
    ) internal view {
        if (deadline == 0) {
            if (included != submitted) revert IncludedMismatch(round, submitted, included);
            return;
        }
        if (submissions < _participantCount && block.timestamp <= deadline) {
            revert SubmissionsStillOpen(round, deadline);
        }
        if (included == 0 || included & ~submitted != 0) {
            revert IncludedMismatch(round, submitted, included);
        }
    }

    /**
     * @dev Round `round` (stored at `r`) must take votes and the caller must not have voted:
     * reverts with {RoundNotFound}, {RoundNotAggregated} or {AlreadyVoted}. Returns the caller's
     * bit.
     */
    function _checkVote(Round storage r, uint256 round) internal view returns (uint64 bit) {
        _checkRoundStatus(round, r.status, RoundStatus.Aggregated);
        bit = _bitOf(msg.sender);
        if ((r.attested | r.disputed) & bit != 0) revert AlreadyVoted(round, msg.sender);
    }

    // ------------------------------------------------------------------------------------------
    // Internals
    // ------------------------------------------------------------------------------------------

    /// @dev Register `account` with |D_i| = `size` as participant `index` (checked by
    /// {_checkNewParticipant}); emits {ParticipantRegistered}.
    function _register(address account, uint64 size, uint256 index) private {
        _checkNewParticipant(account, size, index);
        _position[account] = index + 1;
        _participants.push(Participant(account, size));
        emit ParticipantRegistered(account, index, size);
    }

    /// @dev Whether a round of status `status` still awaits its outcome (Open or Aggregated).
    function _pending(RoundStatus status) private pure returns (bool) {
        return status == RoundStatus.Open || status == RoundStatus.Aggregated;
    }

    /// @dev Bitmap bit of a registered participant (positions are 1..64, so the cast is exact).
    function _bitOf(address account) private view returns (uint64) {
        return uint64(1 << (_position[account] - 1));
    }
}
