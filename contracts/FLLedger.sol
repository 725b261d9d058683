// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

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
 * Rounds. Round g moves Open -> Aggregated -> Finalised | Disputed. A new round can be opened only
 * once the previous one is Finalised or Disputed. A round may carry a submission deadline. The
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
 * Storage. Job parameters are immutables; each participant takes two slots (address + |D_i|, and
 * its index by address); each round four and each submission one or two. Block numbers and the
 * deadline (unix time) are stored as uint40.
 */
contract FLLedger {
    /// @notice Largest number of participants; the per-round bitmaps are 64 bits wide.
    uint256 public constant MAX_PARTICIPANTS = 64;

    /// @notice Life cycle of a round. `None` is the status of a round that does not exist.
    enum RoundStatus {
        None,
        Open,
        Aggregated,
        Finalised,
        Disputed
    }

    /// @notice Which hash argument was zero, reported by {ZeroHash}.
    enum HashField {
        PublicKey,
        Config,
        GlobalModel,
        Model,
        Aggregate,
        Recomputed
    }

    /// @notice One registered participant: its account and its data-set size |D_i|.
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
    }

    /// @notice Everything known about a round, as returned by {getRound}.
    struct RoundView {
        uint64 iteration;
        uint32 tau;
        RoundStatus status;
        bytes32 globalModelHash;
        bytes32 aggregateHash;
        uint8 submissionCount;
        uint64 included;
        uint8 attestCount;
        uint8 disputeCount;
        uint64 attested;
        uint64 disputed;
        uint40 openedBlock;
        uint40 aggregatedBlock;
        uint40 closedBlock;
        uint40 deadline;
    }

    /// @dev Storage of one submission; `extraHash` is left unwritten when zero.
    struct Submission {
        bytes32 modelHash;
        bytes32 extraHash;
    }

    // ------------------------------------------------------------------------------------------
    // Errors
    // ------------------------------------------------------------------------------------------

    /// @notice `caller` is not the computing party.
    error NotParty(address caller);
    /// @notice `account` is not a registered participant.
    error NotParticipant(address account);
    /// @notice The constructor got no participants.
    error NoParticipants();
    /// @notice The constructor got more than {MAX_PARTICIPANTS} participants.
    error TooManyParticipants(uint256 count, uint256 max);
    /// @notice The participant and data-size arrays differ in length.
    error LengthMismatch(uint256 participants, uint256 dataSizes);
    /// @notice The participant at `index` is the zero address.
    error ZeroAddress(uint256 index);
    /// @notice `participant` appears twice in the participant list.
    error DuplicateParticipant(address participant);
    /// @notice The computing party cannot also be a participant.
    error PartyIsParticipant(address party);
    /// @notice `participant` was given a data-set size of zero.
    error ZeroDataSize(address participant);
    /// @notice The hash argument `field` was zero.
    error ZeroHash(HashField field);
    /// @notice τ must be at least one local step.
    error ZeroTau();
    /// @notice A new round's iteration is below the previous round's.
    error IterationRegressed(uint64 previous, uint64 given);
    /// @notice The previous round `round` is still Open or Aggregated.
    error PreviousRoundPending(uint256 round, RoundStatus status);
    /// @notice Round `round` has not been opened.
    error RoundNotFound(uint256 round);
    /// @notice Round `round` is not Open (its status is `status`).
    error RoundNotOpen(uint256 round, RoundStatus status);
    /// @notice Round `round` is not Aggregated (its status is `status`).
    error RoundNotAggregated(uint256 round, RoundStatus status);
    /// @notice `participant` already submitted in round `round`.
    error AlreadySubmitted(uint256 round, address participant);
    /// @notice Nobody submitted in round `round`, so there is nothing to aggregate.
    error NoSubmissions(uint256 round);
    /// @notice The party's aggregate claims to cover `claimed`, which is not allowed given that
    /// `submitted` submitted in `round` (see {commitAggregate}).
    error IncludedMismatch(uint256 round, uint64 submitted, uint64 claimed);
    /// @notice A deadline must lie in the future; `deadline` is not after `now`.
    error DeadlineInPast(uint40 deadline, uint256 now);
    /// @notice Round `round` stopped taking submissions at `deadline`.
    error SubmissionClosed(uint256 round, uint40 deadline);
    /// @notice Round `round` still takes submissions until `deadline` and not everyone submitted.
    error SubmissionsStillOpen(uint256 round, uint40 deadline);
    /// @notice `participant` already attested or disputed in round `round`.
    error AlreadyVoted(uint256 round, address participant);
    /// @notice An attestation named `attested`, but the party committed `committed`.
    error AggregateMismatch(uint256 round, bytes32 committed, bytes32 attested);
    /// @notice A dispute named the committed hash itself; attest instead.
    error DisputeMatchesCommitment(uint256 round, bytes32 aggregateHash);

    // ------------------------------------------------------------------------------------------
    // Events
    // ------------------------------------------------------------------------------------------

    /// @notice The job was created by `party`.
    event LedgerCreated(
        address indexed party,
        bytes32 publicKeyHash,
        bytes32 configHash,
        uint256 participantCount,
        uint256 totalDataSize
    );
    /// @notice `participant` was registered as number `index` with |D_i| = `dataSize`.
    event ParticipantRegistered(address indexed participant, uint256 index, uint256 dataSize);
    /// @notice Round `round` opened at global iteration `iteration` with τ = `tau`.
    event RoundOpened(
        uint256 indexed round,
        uint64 iteration,
        uint32 tau,
        bytes32 globalModelHash,
        uint40 deadline
    );
    /// @notice `participant` submitted the hashes of its blobs for round `round`.
    event Submitted(
        uint256 indexed round,
        address indexed participant,
        bytes32 modelHash,
        bytes32 extraHash
    );
    /// @notice The party committed `aggregateHash` over the participants in `included`; those in
    /// `excluded` submitted but were left out (their blobs unusable, as replicas check).
    event AggregateCommitted(
        uint256 indexed round,
        bytes32 aggregateHash,
        uint64 included,
        uint64 excluded,
        uint256 submissionCount
    );
    /// @notice `participant` attested the commitment; `votes` counts the party's vote too.
    event Attested(uint256 indexed round, address indexed participant, uint256 votes);
    /// @notice `participant` disputed the commitment, having recomputed `recomputedHash`.
    event DisputeRaised(
        uint256 indexed round,
        address indexed participant,
        bytes32 recomputedHash,
        uint256 disputes
    );
    /// @notice Round `round` reached the quorum with `votes` votes.
    event RoundFinalised(uint256 indexed round, bytes32 aggregateHash, uint256 votes);
    /// @notice Round `round` can no longer reach the quorum: `disputes` disputes.
    event RoundDisputed(uint256 indexed round, uint256 disputes);

    // ------------------------------------------------------------------------------------------
    // State
    // ------------------------------------------------------------------------------------------

    /// @notice The computing party (the deployer).
    address public immutable party;
    /// @notice keccak256 of the serialised Paillier public key.
    bytes32 public immutable publicKeyHash;
    /// @notice keccak256 of the serialised job configuration.
    bytes32 public immutable configHash;
    /// @notice |D| = Σ |D_i|, the denominator of the Eq. 10 weights.
    uint256 public immutable totalDataSize;

    uint256 private immutable _participantCount;
    uint256 private immutable _faultTolerance;
    uint256 private immutable _quorum;

    Participant[] private _participants;
    /// @dev participant account => index + 1 (0: not registered)
    mapping(address account => uint256) private _position;

    uint256 private _roundCount;
    mapping(uint256 round => Round) private _rounds;
    mapping(uint256 round => mapping(address participant => Submission)) private _submissions;

    // ------------------------------------------------------------------------------------------
    // Access rules
    // ------------------------------------------------------------------------------------------

    /// @dev Only the computing party.
    modifier onlyParty() {
        if (msg.sender != party) revert NotParty(msg.sender);
        _;
    }

    /// @dev Only a registered participant.
    modifier onlyParticipant() {
        if (_position[msg.sender] == 0) revert NotParticipant(msg.sender);
        _;
    }

    /**
     * @notice Create the job. The deployer becomes the computing party.
     * @param participantAccounts the N participants, in the order that fixes their bit index
     * @param dataSizes |D_i| of each participant (nonzero), same order
     * @param publicKeyHash_ keccak256 of the Paillier public key (nonzero)
     * @param configHash_ keccak256 of the job configuration (nonzero)
     */
    constructor(
        address[] memory participantAccounts,
        uint64[] memory dataSizes,
        bytes32 publicKeyHash_,
        bytes32 configHash_
    ) {
        uint256 count = participantAccounts.length;
        if (count == 0) revert NoParticipants();
        if (count > MAX_PARTICIPANTS) revert TooManyParticipants(count, MAX_PARTICIPANTS);
        if (dataSizes.length != count) revert LengthMismatch(count, dataSizes.length);
        if (publicKeyHash_ == bytes32(0)) revert ZeroHash(HashField.PublicKey);
        if (configHash_ == bytes32(0)) revert ZeroHash(HashField.Config);

        uint256 total;
        for (uint256 i = 0; i < count; ++i) {
            address account = participantAccounts[i];
            uint64 size = dataSizes[i];
            if (account == address(0)) revert ZeroAddress(i);
            if (account == msg.sender) revert PartyIsParticipant(account);
            if (_position[account] != 0) revert DuplicateParticipant(account);
            if (size == 0) revert ZeroDataSize(account);
            _position[account] = i + 1;
            _participants.push(Participant(account, size));
            total += size;
            emit ParticipantRegistered(account, i, size);
        }

        uint256 nodes = count + 1;
        uint256 faults = (nodes - 1) / 3;
        party = msg.sender;
        publicKeyHash = publicKeyHash_;
        configHash = configHash_;
        totalDataSize = total;
        _participantCount = count;
        _faultTolerance = faults;
        _quorum = (nodes + faults + 2) / 2; // ceil((n + F + 1) / 2)
        emit LedgerCreated(msg.sender, publicKeyHash_, configHash_, count, total);
    }

    // ------------------------------------------------------------------------------------------
    // Transactions
    // ------------------------------------------------------------------------------------------

    /**
     * @notice Open the next round g = {roundCount}. Party only.
     * @dev Reverts with {PreviousRoundPending} while round g - 1 is Open or Aggregated, with
     * {IterationRegressed} if `iteration` is below round g - 1's, with {ZeroTau}, {ZeroHash} or
     * {DeadlineInPast}. A round after a Disputed one may restart from the same iteration and model.
     * @param iteration global iteration t at which the round starts
     * @param tau number of local steps τ in this round
     * @param globalModelHash hash of the encrypted global model [[w(t)]] the round starts from
     * @param deadline unix time after which submissions are refused, or 0 for none (then the
     * round takes submissions until the party commits)
     * @return round the new round's number g
     */
    function openRound(
        uint64 iteration,
        uint32 tau,
        bytes32 globalModelHash,
        uint40 deadline
    ) external onlyParty returns (uint256 round) {
        if (tau == 0) revert ZeroTau();
        if (globalModelHash == bytes32(0)) revert ZeroHash(HashField.GlobalModel);
        if (deadline != 0 && deadline <= block.timestamp) {
            revert DeadlineInPast(deadline, block.timestamp);
        }
        round = _roundCount;
        if (round != 0) {
            Round storage previous = _rounds[round - 1];
            RoundStatus status = previous.status;
            if (status == RoundStatus.Open || status == RoundStatus.Aggregated) {
                revert PreviousRoundPending(round - 1, status);
            }
            if (iteration < previous.iteration) {
                revert IterationRegressed(previous.iteration, iteration);
            }
        }
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

    /**
     * @notice Record the caller's submission for an Open round. Registered participants only,
     * once per round.
     * @param round the round number g
     * @param modelHash hash of the encrypted local model [[w_i(t)]] (ELW_Pi), nonzero
     * @param extraHash hash of the other blob sent to the party this round (for example the
     * encrypted local gradients for the φ̂/ω̂ estimates, Eqs. 22-23), or zero for none
     */
    function submit(uint256 round, bytes32 modelHash, bytes32 extraHash) external onlyParticipant {
        if (modelHash == bytes32(0)) revert ZeroHash(HashField.Model);
        Round storage r = _rounds[round];
        RoundStatus status = r.status;
        if (status != RoundStatus.Open) {
            if (status == RoundStatus.None) revert RoundNotFound(round);
            revert RoundNotOpen(round, status);
        }
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

    /**
     * @notice Commit the hash of the aggregated encrypted model (Eq. 10) of an Open round and close
     * it. Party only. `included` (bit i for participant i) names whom the aggregate covers:
     * - a round without deadline: exactly those that submitted, so a submission that lands while
     *   the party computes cannot silently change what the replicas recompute;
     * - a round with a deadline: once everyone submitted or the deadline passed (submissions are
     *   then closed, so the set is final), any nonempty subset of the submitters. Those left out
     *   are recorded as `excluded`; the replicas check that each of their blobs is unusable
     *   (malformed or missing) and dispute otherwise.
     * The commit is the party's vote.
     * @param round the round number g
     * @param aggregateHash hash of the aggregated encrypted model, nonzero
     * @param included bitmap of the participants the aggregate covers
     */
    function commitAggregate(
        uint256 round,
        bytes32 aggregateHash,
        uint64 included
    ) external onlyParty {
        if (aggregateHash == bytes32(0)) revert ZeroHash(HashField.Aggregate);
        Round storage r = _rounds[round];
        RoundStatus status = r.status;
        if (status != RoundStatus.Open) {
            if (status == RoundStatus.None) revert RoundNotFound(round);
            revert RoundNotOpen(round, status);
        }
        uint8 submissions = r.submissionCount;
        if (submissions == 0) revert NoSubmissions(round);
        uint64 submitted = r.included;
        uint40 deadline = r.deadline;
        if (deadline == 0) {
            if (included != submitted) revert IncludedMismatch(round, submitted, included);
        } else {
            if (submissions < _participantCount && block.timestamp <= deadline) {
                revert SubmissionsStillOpen(round, deadline);
            }
            if (included == 0 || included & ~submitted != 0) {
                revert IncludedMismatch(round, submitted, included);
            }
            if (included != submitted) r.included = included;
        }
        r.status = RoundStatus.Aggregated;
        r.aggregatedBlock = uint40(block.number);
        r.aggregateHash = aggregateHash;
        emit AggregateCommitted(round, aggregateHash, included, submitted & ~included, submissions);
    }

    /**
     * @notice Attest that the caller recomputed the committed aggregate of an Aggregated round and
     * got `aggregateHash`. Registered participants only, one vote (attest or dispute) per round.
     * Finalises the round when the votes, the party's included, reach {quorum}.
     * @param round the round number g
     * @param aggregateHash the hash the caller recomputed; must equal the commitment
     */
    function attest(uint256 round, bytes32 aggregateHash) external onlyParticipant {
        Round storage r = _rounds[round];
        uint64 bit = _voteBit(r, round);
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

    /**
     * @notice Dispute the committed aggregate of an Aggregated round: the caller recomputed
     * `recomputedHash` instead. Registered participants only, one vote (attest or dispute) per
     * round. Always recorded; the round becomes Disputed once disputes exceed n - {quorum}.
     * @param round the round number g
     * @param recomputedHash the hash the caller recomputed; nonzero and unlike the commitment
     */
    function dispute(uint256 round, bytes32 recomputedHash) external onlyParticipant {
        if (recomputedHash == bytes32(0)) revert ZeroHash(HashField.Recomputed);
        Round storage r = _rounds[round];
        uint64 bit = _voteBit(r, round);
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

    /// @notice Number of registered participants N.
    function participantCount() external view returns (uint256) {
        return _participantCount;
    }

    /// @notice Number of consensus nodes n = N + 1 (the participants and the party).
    function consensusNodes() external view returns (uint256) {
        return _participantCount + 1;
    }

    /// @notice Faults tolerated, F = floor((n - 1) / 3).
    function faultTolerance() external view returns (uint256) {
        return _faultTolerance;
    }

    /// @notice Votes needed to finalise a round, q = ceil((n + F + 1) / 2), party's commit included.
    function quorum() external view returns (uint256) {
        return _quorum;
    }

    /// @notice All participants with their data-set sizes, in bit-index order.
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

    /// @notice Bit index of `account` in the round bitmaps; reverts with {NotParticipant}.
    function participantIndex(address account) external view returns (uint256) {
        uint256 position = _position[account];
        if (position == 0) revert NotParticipant(account);
        return position - 1;
    }

    /// @notice Number of rounds opened so far; rounds are numbered 0 .. roundCount() - 1.
    function roundCount() external view returns (uint256) {
        return _roundCount;
    }

    /// @notice Every field of round `round`; reverts with {RoundNotFound}.
    function getRound(uint256 round) external view returns (RoundView memory) {
        Round storage r = _rounds[round];
        if (r.status == RoundStatus.None) revert RoundNotFound(round);
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
                deadline: r.deadline
            });
    }

    /**
     * @notice The hashes `participant` submitted in round `round`; both zero if it did not submit.
     * Reverts with {RoundNotFound} or {NotParticipant}.
     */
    function getSubmission(
        uint256 round,
        address participant
    ) external view returns (bytes32 modelHash, bytes32 extraHash) {
        if (_rounds[round].status == RoundStatus.None) revert RoundNotFound(round);
        if (_position[participant] == 0) revert NotParticipant(participant);
        Submission storage s = _submissions[round][participant];
        return (s.modelHash, s.extraHash);
    }

    // ------------------------------------------------------------------------------------------
    // Internals
    // ------------------------------------------------------------------------------------------

    /// @dev Bitmap bit of a registered participant (positions are 1..64, so the cast is exact).
    function _bitOf(address account) private view returns (uint64) {
        return uint64(1 << (_position[account] - 1));
    }

    /// @dev Check that `round` takes votes and the caller has not voted; return the caller's bit.
    function _voteBit(Round storage r, uint256 round) private view returns (uint64 bit) {
        RoundStatus status = r.status;
        if (status != RoundStatus.Aggregated) {
            if (status == RoundStatus.None) revert RoundNotFound(round);
            revert RoundNotAggregated(round, status);
        }
        bit = _bitOf(msg.sender);
        if ((r.attested | r.disputed) & bit != 0) revert AlreadyVoted(round, msg.sender);
    }
}
