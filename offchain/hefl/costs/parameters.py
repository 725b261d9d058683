"""Table 1 of the main paper as a typed configuration, in SI units.

Every count is in CPU cycles, every frequency in Hz (cycles per second), times in seconds and
energies in joules. "1500 M cycles" for the maximum computation resource f_i is read as a frequency,
1.5e9 cycles/s; "10 M cycles" for μ1 is 10e6 cycles, and so on.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Literal, get_args

from hefl.errors import ConfigError

#: How a round's local learning is priced: ``"per-step"`` is Eq. 12 (μ1·|w|·|D_i| cycles per local
#: step, so a round of τ steps costs τ times that); ``"fused"`` is what hefl runs — the τ steps as
#: one affine map, applied as |w|×|w| plaintext-matrix × ciphertext-vector products whose cost per
#: round does not depend on τ (or |D_i|): μ_F·|w|² cycles; ``"planned"`` is what hefl's Paillier
#: strategy counts before a round (:mod:`hefl.costs.work`): each participant's planned modular
#: multiplications (dense or low-rank form, gradients at their bits) times μ_M, and the party's
#: small and full (packed) decryptions times μ_Ds and μ_D and the half-size multiplications of
#: its own packing (Horner modulo p² and q²) times μ_H.
LocalUpdate = Literal["per-step", "fused", "planned"]
#: Every pricing :class:`CostParameters` accepts.
ALL_LOCAL_UPDATES: tuple[LocalUpdate, ...] = get_args(LocalUpdate)
#: The pricings that need only the sizes |w| and |D_i| (what a simulation can use; ``planned``
#: needs the job's counted work, :class:`hefl.costs.work.RoundWork`).
LOCAL_UPDATES: tuple[LocalUpdate, ...] = ("per-step", "fused")
#: The pricing of hefl's Paillier strategy as it runs.
PLANNED: LocalUpdate = "planned"

#: μ_M, μ_D, μ_Ds as ``hefl costs calibrate`` measured them on the reference machine (2 cores,
#: 2048-bit key, 2 decryption threads): 8.8 µs, 6.7 ms and 3.2 ms, × f_max = 1.5 GHz in cycles.
MEASURED_MULTIPLICATION_CYCLES = 1.3e4
MEASURED_DECRYPTION_CYCLES = 1.0e7
MEASURED_SMALL_DECRYPTION_CYCLES = 4.8e6
#: μ_H, one multiplication modulo p² (or q²) in the Horner of the party's own packing
#: (``PrivateKey.decrypt_shifted_sums``): timed at 1.36 µs beside a 2.63 ms full decryption on
#: this machine (2048-bit key, 2 threads), i.e. 5.2e-4 of one, × the reference machine's μ_D.
MEASURED_REPACK_MULTIPLICATION_CYCLES = 5.2e3

#: The control parameter B0 of the bound (24) per data set (Table 1).
B0_BY_DATASET: dict[str, float] = {"boston": 1.5, "fish": 2.0}

#: The fixed τ of the only-resource baseline per data set (§3.2: "τ = 25 is set in the Boston
#: dataset and τ = 30 is set in the fish dataset").
ONLY_RESOURCE_TAU: dict[str, int] = {"boston": 25, "fish": 30}


@dataclass(frozen=True)
class CostParameters:
    """The simulation parameters of Table 1 (SI units).

    Attributes:
        mu1: μ1, cycles for one step of ciphertext computation (Eqs. 12–13).
        mu2: μ2, cycles for one step of plaintext computation (Eq. 13).
        alpha: α, cycles of the computing task a replica runs in pre-prepare (Eq. 15).
        beta: β, cycles to generate or verify a signature (Eqs. 14–18).
        theta: θ, cycles to generate or verify a MAC (Eqs. 14–18).
        gamma: γ, the hardware constant of the energy model γ·Δ·f² (Eqs. 19–20), J·s²/cycle³.
        f_max: f_i, each node's maximum CPU frequency (Hz), the right side of C2.
        xi: ξ, the time limit (s) of C3/C4; how it is applied is the optimiser's ``time_limit``.
        eta: η, the learning rate.
        b0: B0, the control parameter of the bound (24) (1.5 Boston, 2 fish).
        tau_max_factor: τ_max = tau_max_factor × the current τ (Table 1 "10τ", C5).
        transactions_per_block: K of Eqs. 14–17; ``None`` means one transaction per participant
            (the N local-model transactions ELW_Pi a block carries, Eq. 11).
        local_update: how a round's local learning is priced (:data:`ALL_LOCAL_UPDATES`).
        mu_fused: μ_F, cycles per |w|² of one participant's fused round (the τ-step map and the
            two gradients for φ̂, ω̂: three |w|×|w| matrix × ciphertext products); the default
            prices each ciphertext product at Table 1's μ1. ``hefl costs calibrate`` measures it.
        mu_multiplication: μ_M, cycles of one modular multiplication modulo n² in the
            participants' multi-exponentiations (``planned``); the default is what
            ``hefl costs calibrate`` measured on the reference machine (2 cores, 2048-bit key),
            seconds × f_max, like every calibrated constant.
        mu_decryption: μ_D, cycles of one full-CRT decryption at the party (a packed gradient
            ciphertext; ``planned``); default measured as μ_M.
        mu_small_decryption: μ_Ds, cycles of one decryption by the p-half of CRT (a plain vector
            too short, or of too wide a bound, for the party to pack; ``planned``); default
            measured as μ_M.
        mu_repack_multiplication: μ_H, cycles of one half-size modular multiplication (modulo
            p² or q²) in the Horner by which the party packs a plain vector itself (the
            aggregate, the global and the local models: :func:`hefl.crypto.vector.
            decrypt_repacked`; ``planned``); default measured as μ_M. A parameters file written
            before it existed reads this default.
        operations_key_bits: the Paillier modulus μ_M, μ_D, μ_Ds and μ_H were measured at (they grow
            roughly with its square and cube); ``hefl run`` refuses a file of another size.
    """

    mu1: float = 10e6
    mu2: float = 0.5e6
    alpha: float = 0.2e6
    beta: float = 8e6
    theta: float = 0.05e6
    gamma: float = 1e-28
    f_max: float = 1.5e9
    xi: float = 300.0
    eta: float = 0.001
    b0: float = 1.5
    tau_max_factor: int = 10
    transactions_per_block: int | None = None
    local_update: LocalUpdate = "per-step"
    mu_fused: float = 30e6
    mu_multiplication: float = MEASURED_MULTIPLICATION_CYCLES
    mu_decryption: float = MEASURED_DECRYPTION_CYCLES
    mu_small_decryption: float = MEASURED_SMALL_DECRYPTION_CYCLES
    mu_repack_multiplication: float = MEASURED_REPACK_MULTIPLICATION_CYCLES
    operations_key_bits: int = 2048

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name == "local_update":
                if value not in ALL_LOCAL_UPDATES:
                    raise ConfigError(
                        f"local_update must be one of {ALL_LOCAL_UPDATES}, got {value!r}"
                    )
                continue
            if item.name == "transactions_per_block":
                if value is not None and (not isinstance(value, int) or value < 1):
                    raise ConfigError(
                        f"transactions_per_block must be a positive integer or None, got {value!r}"
                    )
                continue
            if item.name in ("tau_max_factor", "operations_key_bits"):
                if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                    raise ConfigError(f"{item.name} must be a positive integer, got {value!r}")
                continue
            if not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
                raise ConfigError(f"{item.name} must be a positive finite number, got {value!r}")

    @classmethod
    def for_dataset(cls, dataset: str, **overrides: object) -> CostParameters:
        """Table 1 for ``dataset`` ("boston" or "fish"): B0 differs per data set."""
        key = dataset.lower()
        if key not in B0_BY_DATASET:
            raise ConfigError(
                f"unknown data set {dataset!r} for Table 1; choose one of {sorted(B0_BY_DATASET)}"
            )
        values: dict[str, object] = {"b0": B0_BY_DATASET[key]}
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]

    def save(self, path: str | Path) -> Path:
        """Write the parameters as JSON (what ``hefl costs calibrate`` produces)."""
        target = Path(path)
        target.write_text(json.dumps(dataclasses.asdict(self), indent=2) + "\n")
        return target

    @classmethod
    def load(cls, path: str | Path) -> CostParameters:
        """Read a parameters file written by :meth:`save`; unknown or bad fields are refused."""
        source = Path(path)
        try:
            values = json.loads(source.read_text())
        except (OSError, ValueError) as error:
            raise ConfigError(f"cannot read cost parameters from {source}: {error}") from None
        if not isinstance(values, dict):
            raise ConfigError(f"{source} must hold a JSON object of cost parameters")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"{source}: unknown cost parameter(s) {unknown}")
        return cls(**values)
