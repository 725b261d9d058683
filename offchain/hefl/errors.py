"""One exception root for hefl.

Every error hefl raises derives from :class:`HeflError`, and also from the built-in exception a
Python user would expect (``ValueError`` for bad values, ``OverflowError`` for a fixed-point budget
that ran out, ...), the way web3.py does it. Messages name the bad value and say what would fix it.
The CLI turns any ``HeflError`` into one readable line.
"""

from __future__ import annotations

from collections.abc import Iterable


class HeflError(Exception):
    """Root of every error hefl raises on purpose."""


class ConfigError(HeflError, ValueError):
    """A configuration value is out of range or inconsistent."""


# --- cryptography -------------------------------------------------------------------------------
class CryptoError(HeflError):
    """Root of the Paillier engine's errors."""


class EncodingOverflowError(CryptoError, OverflowError):
    """A fixed-point value or an operation's result would leave the safe band of Z_n."""


class KeyMismatchError(CryptoError, ValueError):
    """Ciphertexts or keys that belong to different Paillier keys were combined."""


class SerializationError(CryptoError, ValueError):
    """Serialized ciphertexts or keys are malformed, truncated or out of range."""


class CryptoValueError(CryptoError, ValueError):
    """A bad argument to the Paillier engine (out-of-range residue, negative precision, ...)."""


class ShapeMismatchError(CryptoValueError):
    """Operands of an encrypted-vector operation have incompatible lengths or shapes."""


class InsecureParameterError(CryptoError, ValueError):
    """A key size or security parameter below what hefl accepts without being asked explicitly."""


class InsecureKeyWarning(CryptoError, UserWarning):
    """A key below 2048 bits was generated or loaded because the caller asked for it.

    A warning (``warnings.warn``), not raised; under ``-W error`` it becomes a :class:`HeflError`.
    """


# --- secure aggregation (hefl.secagg) -----------------------------------------------------------
class ProtocolError(CryptoError, RuntimeError):
    """A secure-aggregation round cannot go on as asked (wrong round, missing data...)."""


class LoneClientError(ProtocolError):
    """Only one client is online (pk_S = pk_i, §3.2 / Theorem 4): it must not upload anything.

    Decrypting a one-client "aggregate" would hand the server that client's gradient, so the
    client stops and the server refuses to run a round with fewer than two clients.
    """


class RoundRestartRequired(ProtocolError):
    """Some clients of S sent nothing or did not answer the challenge R.

    Their sk_i is inside pk_S and T = Π T_i, so the server cannot cancel it without them. The round
    restarts over ``remaining`` (the clients that did everything), who encrypt afresh under the new
    pk_S (§4.2: the round runs over the set S of clients that are actually online).
    """

    def __init__(self, remaining: Iterable[int], missing: Iterable[int]) -> None:
        self.remaining = frozenset(remaining)
        self.missing = frozenset(missing)
        super().__init__(
            f"clients {sorted(self.missing)} did not complete the round; restart it over "
            f"the {len(self.remaining)} clients {sorted(self.remaining)}"
        )


class DecryptionError(CryptoError, ValueError):
    """The aggregate does not decrypt to a valid plaintext (inconsistent ciphertexts/responses)."""


# --- data and learning --------------------------------------------------------------------------
class DatasetError(HeflError, FileNotFoundError):
    """A data set is missing, cannot be fetched, or does not match its checksum."""


class LearningError(HeflError, ValueError):
    """Learning inputs are inconsistent (shapes, τ beyond the budget, unknown mode...)."""


class DivergenceError(LearningError):
    """Learning diverges (the loss explodes, the model leaves the fixed-point budget): η is too
    large."""


# --- optimisation and control -------------------------------------------------------------------
class SolverError(HeflError, ValueError):
    """The optimiser was misused (bad input). Infeasibility is a status, not an error."""


# --- chain and storage --------------------------------------------------------------------------
class ChainError(HeflError, RuntimeError):
    """Talking to the Ethereum node failed."""


class ContractRevertError(ChainError):
    """A contract call reverted with a custom error.

    ``error_name`` is the Solidity custom error's name, ``error_args`` its decoded arguments.
    """

    def __init__(self, error_name: str, error_args: tuple[object, ...] = (), message: str = ""):
        self.error_name = error_name
        self.error_args = tuple(error_args)
        text = message or f"contract reverted with {error_name}{self.error_args!r}"
        super().__init__(text)


class CompileError(HeflError, RuntimeError):
    """The Solidity source could not be compiled, or no compiler was found."""


class BlobStoreError(HeflError):
    """Root of the blob store's errors."""


class BlobNotFoundError(BlobStoreError, KeyError):
    """No blob is stored under that hash."""

    def __str__(self) -> str:  # KeyError quotes its argument; keep the message readable.
        return str(self.args[0]) if self.args else "blob not found"


class BlobIntegrityError(BlobStoreError, ValueError):
    """A blob's content does not hash to the key it was asked for."""


class VerificationError(HeflError, ValueError):
    """An audit of a job found a mismatch (blob hash, aggregate, quorum)."""


# --- agents -------------------------------------------------------------------------------------
class AgentError(HeflError, RuntimeError):
    """A long-running agent cannot go on (wrong job file, unknown sender, wrong round...)."""


# --- decentralised mode (hefl.dso) --------------------------------------------------------------
class ScheduleError(ConfigError):
    """A stepsize/attenuation schedule breaks a convergence condition (the message names it)."""


class GraphError(ConfigError):
    """A communication graph is not usable (disconnected, self-loops, unreadable edge list...)."""


class DsoMessageError(HeflError, ValueError):
    """A neighbour's message was malformed, under the wrong key, out of bounds or out of turn.

    The receiving agent refuses it before changing anything: the iteration is not applied.
    """


class StateBoundError(HeflError, OverflowError):
    """An agent's state left the declared bound |x| ≤ state_bound (raise ``--state-bound``)."""


class TranscriptError(VerificationError):
    """A stored transcript does not match the on-chain commitments (names the first mismatch)."""
