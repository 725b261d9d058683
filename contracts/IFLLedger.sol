// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/**
 * @title IFLLedger
 * @notice The interface of {FLLedger}, the on-chain record of one hefl learning job: its types,
 * custom errors, events and external functions. The contract's NatSpec explains the roles, the
 * round life cycle and the Byzantine quorum; the functions' NatSpec here is their specification.
 *
 * Widths. Block numbers and unix times (deadlines) are uint40 throughout, participant bitmaps
 * uint64 (bit i for participant i).
 */
interface IFLLedger {
    // ------------------------------------------------------------------------------------------
    // Types
    // ------------------------------------------------------------------------------------------

    /// @notice Life cycle of a round. `None` is the status of a round that does not exist.
    enum RoundStatus {
        None,
        Open,
        Aggregated,
        Finalised,
        Disputed,
        Voided
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

    /// @notice Everything known about a round, as returned by {getRound}.
    /// @param iteration global iteration t at which the round started
    /// @param tau number of local steps τ of the round
    /// @param status where the round is in its life cycle
    /// @param globalModelHash hash of the encrypted global model [[w(t)]] the round started from
    /// @param aggregateHash hash of the committed aggregate (Eq. 10), zero until committed
    /// @param submissionCount number of participants that submitted
    /// @param included bitmap of the submitters while Open, of those the aggregate covers after
    /// @param attestCount number of attestations
    /// @param disputeCount number of disputes
    /// @param attested bitmap of the participants that attested
    /// @param disputed bitmap of the participants that disputed
    /// @param openedBlock block number of {openRound}
    /// @param aggregatedBlock block number of {commitAggregate} (0 before)
    /// @param closedBlock block number of the deciding vote (0 before)
    /// @param deadline unix time after which submissions are refused (0: none)
    /// @param aggregatedAt unix time of {commitAggregate} (0 before), from which {voidTimeout} runs
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
        uint32 aggregatedAt;
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
    /// @notice The constructor got `count` participants, more than `max` ({MAX_PARTICIPANTS}).
    error TooManyParticipants(uint256 count, uint256 max);
    /// @notice The participant and data-size arrays differ in length.
    error LengthMismatch(uint256 participants, uint256 dataSizes);
    /// @notice The participant at `index` is the zero address.
    error ZeroAddress(uint256 index);
    /// @notice `participant` appears twice in the participant list.
    error DuplicateParticipant(address participant);
    /// @notice The computing party `party` cannot also be a participant.
    error PartyIsParticipant(address party);
    /// @notice `participant` was given a data-set size of zero.
    error ZeroDataSize(address participant);
    /// @notice The hash argument `field` was zero.
    error ZeroHash(HashField field);
    /// @notice τ must be at least one local step.
    error ZeroTau();
    /// @notice A new round's iteration `given` is below the previous round's, `previous`.
    error IterationRegressed(uint64 previous, uint64 given);
    /// @notice The previous round `round` is still Open or Aggregated (its status is `status`).
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
    error DeadlineInPast(uint40 deadline, uint40 now);
    /// @notice Round `round` stopped taking submissions at `deadline`.
    error SubmissionClosed(uint256 round, uint40 deadline);
    /// @notice Round `round` still takes submissions until `deadline` and not everyone submitted.
    error SubmissionsStillOpen(uint256 round, uint40 deadline);
    /// @notice `participant` already attested or disputed in round `round`.
    error AlreadyVoted(uint256 round, address participant);
    /// @notice An attestation of round `round` named `attested`, but the party committed
    /// `committed`.
    error AggregateMismatch(uint256 round, bytes32 committed, bytes32 attested);
    /// @notice A dispute of round `round` named the committed hash `aggregateHash` itself; attest
    /// instead.
    error DisputeMatchesCommitment(uint256 round, bytes32 aggregateHash);
    /// @notice This job takes blobs only as calldata bytes ({submitBlobs},
    /// {commitAggregateBlob}), never as bare hashes.
    error BlobBytesRequired();
    /// @notice The blob for the hash field `field` has no bytes.
    error EmptyBlob(HashField field);
    /// @notice Round `round` is `status` (Finalised, Disputed or Voided): it cannot be voided.
    error RoundNotVoidable(uint256 round, RoundStatus status);
    /// @notice `caller` may void round `round` only after unix time `notBefore` (2^256 - 1: never).
    error VoidTooEarly(uint256 round, address caller, uint256 notBefore);

    // ------------------------------------------------------------------------------------------
    // Events
    // ------------------------------------------------------------------------------------------

    /// @notice The job was created by `party`.
    /// @param party the computing party (the deployer)
    /// @param publicKeyHash keccak256 of the Paillier public key
    /// @param configHash keccak256 of the job configuration
    /// @param participantCount N
    /// @param totalDataSize |D| = Σ |D_i|
    event LedgerCreated(
        address indexed party,
        bytes32 publicKeyHash,
        bytes32 configHash,
        uint256 participantCount,
        uint256 totalDataSize
    );
    /// @notice The job's rules: a round without verdict may be voided `voidTimeout` seconds after
    /// its deadline or commit; `blobsOnChain`: blobs travel as calldata bytes, not bare hashes.
    event JobRules(uint32 voidTimeout, bool blobsOnChain);
    /// @notice `participant` was registered as number `index` with |D_i| = `dataSize`.
    event ParticipantRegistered(address indexed participant, uint256 index, uint256 dataSize);
    /// @notice Round `round` opened at global iteration `iteration` with τ = `tau`, starting from
    /// the model `globalModelHash`, taking submissions until `deadline` (0: until the commit).
    event RoundOpened(
        uint256 indexed round,
        uint64 iteration,
        uint32 tau,
        bytes32 globalModelHash,
        uint40 deadline
    );
    /// @notice `participant` submitted the hashes of its blobs for round `round` (`extraHash`
    /// zero: no second blob).
    event Submitted(
        uint256 indexed round,
        address indexed participant,
        bytes32 modelHash,
        bytes32 extraHash
    );
    /// @notice The party committed `aggregateHash` over the participants in `included`; those in
    /// `excluded` submitted but were left out (their blobs unusable, as replicas check);
    /// `submissionCount` participants submitted.
    event AggregateCommitted(
        uint256 indexed round,
        bytes32 aggregateHash,
        uint64 included,
        uint64 excluded,
        uint256 submissionCount
    );
    /// @notice `participant` attested the commitment of round `round`; `votes` counts the party's
    /// vote too.
    event Attested(uint256 indexed round, address indexed participant, uint256 votes);
    /// @notice `participant` disputed the commitment of round `round`, having recomputed
    /// `recomputedHash`; `disputes` disputes so far.
    event DisputeRaised(
        uint256 indexed round,
        address indexed participant,
        bytes32 recomputedHash,
        uint256 disputes
    );
    /// @notice Round `round` reached the quorum on `aggregateHash` with `votes` votes.
    event RoundFinalised(uint256 indexed round, bytes32 aggregateHash, uint256 votes);
    /// @notice Round `round` can no longer reach the quorum: `disputes` disputes.
    event RoundDisputed(uint256 indexed round, uint256 disputes);
    /// @notice `by` voided round `round`, which was `previous` (Open or Aggregated).
    event RoundVoided(uint256 indexed round, address indexed by, RoundStatus previous);

    // ------------------------------------------------------------------------------------------
    // Transactions
    // ------------------------------------------------------------------------------------------

    /**
     * @notice Open the next round g = {roundCount}. Party only.
     * @dev Reverts with {NotParty}, {PreviousRoundPending} while round g - 1 is Open or
     * Aggregated, {IterationRegressed} if `iteration` is below round g - 1's, {ZeroTau},
     * {ZeroHash} or {DeadlineInPast}. A round after a Disputed or Voided one may restart from the same
     * iteration and model. Emits {RoundOpened}.
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
    ) external returns (uint256 round);

    /**
     * @notice Record the caller's submission for an Open round. Registered participants only,
     * once per round.
     * @dev Reverts with {NotParticipant}, {BlobBytesRequired} in a job with {blobsOnChain},
     * {ZeroHash}, {RoundNotFound}, {RoundNotOpen}, {SubmissionClosed} after the round's deadline
     * or {AlreadySubmitted}. Emits {Submitted}.
     * @param round the round number g
     * @param modelHash hash of the encrypted local model [[w_i(t)]] (ELW_Pi, Eq. 11), nonzero
     * @param extraHash hash of the other blob sent to the party this round (for example the
     * encrypted local gradients for the φ̂/ω̂ estimates, Eqs. 22-23), or zero for none
     */
    function submit(uint256 round, bytes32 modelHash, bytes32 extraHash) external;

    /**
     * @notice {submit} with the blobs' bytes in calldata: the contract computes the hashes
     * (keccak256 of each blob; an empty `extra` means no second blob), so the bytes are on chain
     * for every node to read back from this transaction. Allowed in every job; the only way in a
     * job with {blobsOnChain}.
     * @dev Reverts with {NotParticipant}, {EmptyBlob} for an empty `model`, and as {submit}.
     * Emits {Submitted} with the computed hashes.
     * @param round the round number g
     * @param model the encrypted local model blob (nonempty)
     * @param extra the second blob, or empty for none
     */
    function submitBlobs(uint256 round, bytes calldata model, bytes calldata extra) external;

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
     * @dev Reverts with {NotParty}, {BlobBytesRequired} in a job with {blobsOnChain}, {ZeroHash},
     * {RoundNotFound}, {RoundNotOpen}, {NoSubmissions}, {SubmissionsStillOpen} or
     * {IncludedMismatch}. Emits {AggregateCommitted}.
     * @param round the round number g
     * @param aggregateHash hash of the aggregated encrypted model, nonzero
     * @param included bitmap of the participants the aggregate covers
     */
    function commitAggregate(uint256 round, bytes32 aggregateHash, uint64 included) external;

    /**
     * @notice {commitAggregate} with the aggregate's bytes in calldata; the contract hashes them.
     * Allowed in every job; the only way in a job with {blobsOnChain}.
     * @dev Reverts with {NotParty}, {EmptyBlob} for an empty `aggregate`, and as
     * {commitAggregate}. Emits {AggregateCommitted}.
     * @param round the round number g
     * @param aggregate the aggregated encrypted model blob (nonempty)
     * @param included bitmap of the participants the aggregate covers
     */
    function commitAggregateBlob(
        uint256 round,
        bytes calldata aggregate,
        uint64 included
    ) external;

    /**
     * @notice Close a round that can reach no verdict, so the job moves on (the next round may
     * restart from the same iteration and model, as after a dispute). The rule:
     * - an Open round, by the party once its deadline has passed (at once if it has none): the
     *   party found nothing usable to aggregate, or nobody submitted;
     * - an Open round with a deadline, by anyone once {voidTimeout} seconds after the deadline
     *   have passed (the party fell silent);
     * - an Aggregated round, by anyone (the party included) once {voidTimeout} seconds after the
     *   commit have passed without the quorum being reached or lost (voters fell silent).
     * Votes and disputes already cast stay on record.
     * @dev Reverts with {RoundNotFound}, {RoundNotVoidable} unless Open or Aggregated, or
     * {VoidTooEarly}. Emits {RoundVoided}.
     * @param round the round number g
     */
    function voidRound(uint256 round) external;

    /**
     * @notice Attest that the caller recomputed the committed aggregate of an Aggregated round and
     * got `aggregateHash`. Registered participants only, one vote (attest or dispute) per round.
     * Finalises the round when the votes, the party's included, reach {quorum}.
     * @dev Reverts with {NotParticipant}, {RoundNotFound}, {RoundNotAggregated}, {AlreadyVoted}
     * or {AggregateMismatch}. Emits {Attested}, and {RoundFinalised} when the quorum is reached.
     * @param round the round number g
     * @param aggregateHash the hash the caller recomputed; must equal the commitment
     */
    function attest(uint256 round, bytes32 aggregateHash) external;

    /**
     * @notice Dispute the committed aggregate of an Aggregated round: the caller recomputed
     * `recomputedHash` instead. Registered participants only, one vote (attest or dispute) per
     * round. Always recorded; the round becomes Disputed once disputes exceed n - {quorum}.
     * @dev Reverts with {NotParticipant}, {ZeroHash}, {RoundNotFound}, {RoundNotAggregated},
     * {AlreadyVoted} or {DisputeMatchesCommitment}. Emits {DisputeRaised}, and {RoundDisputed}
     * when the quorum becomes unreachable.
     * @param round the round number g
     * @param recomputedHash the hash the caller recomputed; nonzero and unlike the commitment
     */
    function dispute(uint256 round, bytes32 recomputedHash) external;

    // ------------------------------------------------------------------------------------------
    // Views
    // ------------------------------------------------------------------------------------------

    /// @notice Largest number of participants; the per-round bitmaps are 64 bits wide.
    function MAX_PARTICIPANTS() external view returns (uint256);

    /// @notice The computing party (the deployer).
    function party() external view returns (address);

    /// @notice keccak256 of the serialised Paillier public key.
    function publicKeyHash() external view returns (bytes32);

    /// @notice keccak256 of the serialised job configuration.
    function configHash() external view returns (bytes32);

    /// @notice |D| = Σ |D_i|, the denominator of the Eq. 10 weights.
    function totalDataSize() external view returns (uint256);

    /// @notice Seconds after a round's deadline (Open) or commit (Aggregated) from which anyone
    /// may void it; see {voidRound}.
    function voidTimeout() external view returns (uint32);

    /// @notice Whether blobs must travel as calldata bytes ({submitBlobs},
    /// {commitAggregateBlob}) so that the chain itself keeps them available.
    function blobsOnChain() external view returns (bool);

    /// @notice Number of registered participants N.
    function participantCount() external view returns (uint256);

    /// @notice Number of consensus nodes n = N + 1 (the participants and the party).
    function consensusNodes() external view returns (uint256);

    /// @notice Faults tolerated, F = floor((n - 1) / 3).
    function faultTolerance() external view returns (uint256);

    /// @notice Votes needed to finalise a round, q = ceil((n + F + 1) / 2), party's commit included.
    function quorum() external view returns (uint256);

    /// @notice All participants with their data-set sizes, in bit-index order.
    /// @return accounts the participants' accounts
    /// @return dataSizes their |D_i|, same order
    function participants()
        external
        view
        returns (address[] memory accounts, uint64[] memory dataSizes);

    /// @notice Bit index of `account` in the round bitmaps; reverts with {NotParticipant}.
    function participantIndex(address account) external view returns (uint256);

    /// @notice Number of rounds opened so far; rounds are numbered 0 .. roundCount() - 1.
    function roundCount() external view returns (uint256);

    /// @notice Every field of round `round`; reverts with {RoundNotFound}.
    function getRound(uint256 round) external view returns (RoundView memory);

    /**
     * @notice The hashes `participant` submitted in round `round`; both zero if it did not submit.
     * Reverts with {RoundNotFound} or {NotParticipant}.
     * @return modelHash the hash of its encrypted local model
     * @return extraHash the hash of its second blob (zero: none)
     */
    function getSubmission(
        uint256 round,
        address participant
    ) external view returns (bytes32 modelHash, bytes32 extraHash);

    /**
     * @notice Round `round` and every participant's submission to it in one call: what
     * {getRound} returns, and for each participant in bit-index order what {getSubmission}
     * returns (both hashes zero: it did not submit). One read per round instead of N + 1.
     * Reverts with {RoundNotFound}.
     * @return header every field of the round, as {getRound}
     * @return modelHashes the participants' model hashes, indexed by bit index
     * @return extraHashes the participants' extra hashes (zero: none), same order
     */
    function getSubmissions(
        uint256 round
    )
        external
        view
        returns (
            RoundView memory header,
            bytes32[] memory modelHashes,
            bytes32[] memory extraHashes
        );
}
