"""Preparing a hefl job for Flower: the same identities, keys and ledger as the multi-process mode.

A Flower run needs the job to exist before the first message: the participants' Ethereum accounts
are registered in ``FLLedger``'s constructor together with |D_i| (Eq. 10's weights), and the job
file each ClientApp receives through Flower's run config names the ledger, the chain id, the
Paillier public key and the configuration document whose hashes are on chain.
:func:`prepare_job` lays out::

    ROOT/party/              keystore.json (0600), paillier.json (0600, encrypted under the
                             party's password), job.json, deployment.json
    ROOT/participants/pI/    keystore.json (0600), identity.json, data.npz  (one per participant)
    ROOT/blobs/              the party's blob store (initial model, key, configuration)
    ROOT/evaluator.npz       pooled train and held-out test data: the evaluator outside the
                             protocol that reports losses (as ``hefl run``)

In a real consortium each participant creates its own directory (``hefl participant init``) on its
own machine and sends only its identity (address, |D_i|, |w|); :func:`prepare_job` does all of it
in one place for simulations and loopback tests.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hefl.agents.identity import KEYSTORE, PAILLIER_KEY, Identity, create_agent, save_private_key
from hefl.agents.network import JOB_FILE, JOB_FORMAT, JobFile
from hefl.canonical import canonical_json
from hefl.chain import Chain, DeploymentRecord, LocalBlobStore, deploy_ledger
from hefl.control import CONTROLLERS, FixedTauController
from hefl.crypto import PublicKey, generate_keypair
from hefl.data import PreparedData, SplitConfig, load_dataset, prepare
from hefl.errors import ConfigError
from hefl.learning.paillier import FixedPointConfig, PaillierStrategy
from hefl.learning.strategy import LearningConfig

log = logging.getLogger("hefl.flower")

PARTY_DIR = "party"
PARTICIPANTS_DIR = "participants"
BLOBS_DIR = "blobs"
EVALUATOR_FILE = "evaluator.npz"
DEPLOYMENT_FILE = "deployment.json"
#: Ether the funding account sends each agent on a development node.
FUND_WEI = 10 * 10**18
#: τ of a fixed-τ job when none is given (as ``hefl run``).
DEFAULT_TAU = 5


def participant_dir(root: Path, index: int) -> Path:
    return root / PARTICIPANTS_DIR / f"p{index}"


@dataclass(frozen=True)
class FlowerJobSpec:
    """What defines a Flower job (committed on chain inside the configuration document).

    Attributes:
        dataset / target / split: the data and its partition across participants (as ``hefl run``).
        learning / fixed_point: the encrypted learning (η, γ, fused or literal; fixed point).
        key_bits / allow_insecure_keys: Paillier modulus size (2048 unless insecure is allowed).
        controller: ``fixed`` (τ for ``rounds`` rounds) or a budgeted controller of
            :data:`hefl.control.CONTROLLERS` with ``energy`` joules.
        tau / rounds / energy: the controller's settings.
        deadline_s: seconds of chain time a round takes submissions; a participant whose reply
            has not arrived by then is left out (Eq. 10 renormalises over those included).
    """

    dataset: str = "diabetes"
    target: str | None = None
    split: SplitConfig = field(default_factory=lambda: SplitConfig(n_samples=None))
    learning: LearningConfig = field(default_factory=LearningConfig)
    fixed_point: FixedPointConfig = field(default_factory=FixedPointConfig)
    key_bits: int = 2048
    allow_insecure_keys: bool = False
    controller: str = FixedTauController.name
    tau: int | None = None
    rounds: int = 5
    energy: float | None = None
    deadline_s: float = 60.0

    def __post_init__(self) -> None:
        if self.controller != FixedTauController.name and self.controller not in CONTROLLERS:
            raise ConfigError(
                f"controller {self.controller!r} unknown; use fixed or one of {sorted(CONTROLLERS)}"
            )
        if self.controller != FixedTauController.name and self.energy is None:
            raise ConfigError(f"controller {self.controller!r} needs an energy budget (joules)")
        if self.rounds < 1 or (self.tau is not None and self.tau < 1):
            raise ConfigError(f"rounds and tau must be ≥ 1, got {self.rounds}, {self.tau}")
        if not self.deadline_s > 0:
            raise ConfigError(f"the submission deadline must be > 0 s, got {self.deadline_s}")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FlowerJobSpec:
        learning = dict(data["learning"])
        from hefl.learning.estimates import EstimateSettings

        learning["estimates"] = EstimateSettings(**learning.get("estimates", {}))
        return cls(
            **{
                **data,
                "split": SplitConfig(**data["split"]),
                "learning": LearningConfig(**learning),
                "fixed_point": FixedPointConfig(**data["fixed_point"]),
            }
        )


@dataclass(frozen=True)
class PreparedJob:
    """Where :func:`prepare_job` put everything, and the job file it wrote."""

    root: Path
    job: JobFile
    data: PreparedData

    @property
    def party_dir(self) -> Path:
        return self.root / PARTY_DIR

    @property
    def job_file(self) -> Path:
        return self.party_dir / JOB_FILE

    @property
    def blobs_dir(self) -> Path:
        return self.root / BLOBS_DIR

    def participant_dir(self, index: int) -> Path:
        return participant_dir(self.root, index)


def prepare_job(
    spec: FlowerJobSpec,
    chain: Chain,
    root: Path,
    password: str,
    *,
    data: PreparedData | None = None,
    fund_wei: int = FUND_WEI,
) -> PreparedJob:
    """Create the agents' directories, the key pair and the ledger; see the module docstring."""
    root = Path(root)
    data = data or prepare(load_dataset(spec.dataset, target=spec.target), spec.split)
    party, identities = create_agents(chain, root, password, data, fund_wei=fund_wei)
    public_key, private_key = generate_keypair(
        spec.key_bits, allow_insecure=spec.allow_insecure_keys
    )
    party_dir = root / PARTY_DIR
    save_private_key(party_dir / PAILLIER_KEY, private_key, password, keystore=party_dir / KEYSTORE)
    strategy = PaillierStrategy(
        public_key, spec.learning, spec.fixed_point, private_key=private_key
    )
    blobs = LocalBlobStore(root / BLOBS_DIR)
    initial_hash = blobs.put(strategy.initial_model(data.model_size))
    document = {
        "format": JOB_FORMAT,
        "mode": "flower",
        "job": spec.to_json(),
        "strategy": strategy.describe(),
        "model_size": data.model_size,
        "data_sizes": list(data.sizes),
        "initial_model_hash": "0x" + initial_hash.hex(),
    }
    job = deploy_job(chain, root, party, identities, data, document, public_key)
    return PreparedJob(root, job, data)


def create_agents(
    chain: Chain, root: Path, password: str, data: PreparedData, *, fund_wei: int = FUND_WEI
) -> tuple[str, list[Identity]]:
    """The party's and every participant's directory (keystores under ``password``), their
    accounts known to ``chain`` and funded on a development node; returns the party's address
    and the participants' identities."""
    with ThreadPoolExecutor(2) as pool:  # scrypt keystores: about a second each
        futures = [
            pool.submit(create_agent, participant_dir(root, i), password, part)
            for i, part in enumerate(data.parts)
        ]
        create_agent(root / PARTY_DIR, password)
        identities = [future.result() for future in futures]
    party = chain.add_keystore(root / PARTY_DIR / KEYSTORE, password)
    if fund_wei and chain.kind == "rpc":
        funders = chain.node_accounts()
        if not funders:
            raise ConfigError("the node has no unlocked account to fund the agents from")
        for address in [party, *(identity.address for identity in identities)]:
            chain.transact({"from": funders[0], "to": address, "value": fund_wei})
    elif chain.kind == "embedded":
        raise ConfigError(
            "Flower's participants run in other processes and must reach the chain themselves: "
            "use a JSON-RPC node (hefl flower simulate starts Anvil on loopback)"
        )
    return party, identities


def deploy_job(
    chain: Chain,
    root: Path,
    party: str,
    identities: list[Identity],
    data: PreparedData,
    document: dict[str, Any],
    public_key: PublicKey,
) -> JobFile:
    """Deploy ``FLLedger`` for ``document`` (its hash and the key's on chain), then write the
    job file, the deployment record and the evaluator's data (see the module docstring)."""
    blobs = LocalBlobStore(root / BLOBS_DIR)
    config_hash = blobs.put(canonical_json(document))
    key_hash = blobs.put(public_key.modulus_bytes())
    ledger = deploy_ledger(
        chain, party, [i.address for i in identities], data.sizes, key_hash, config_hash
    )
    job = JobFile(chain.chain_id, ledger.address, int(public_key.n), document)
    job.save(root / PARTY_DIR / JOB_FILE)
    DeploymentRecord.from_client(ledger).save(root / PARTY_DIR / DEPLOYMENT_FILE)
    np.savez(
        root / EVALUATOR_FILE,
        X_train=data.X_train,
        y_train=data.y_train,
        X_test=data.X_test,
        y_test=data.y_test,
    )
    log.info(
        "C %s: Flower job (%s) for %d participants deployed at %s",
        party,
        document["strategy"]["strategy"],
        len(identities),
        ledger.address,
    )
    return job
