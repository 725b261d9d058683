"""The record of one ledger deployment, saved as JSON (``hefl deploy --out``)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from eth_utils import to_checksum_address

from hefl.chain.fl_ledger import LedgerClient
from hefl.errors import ConfigError

#: Version of the JSON layout below.
RECORD_FORMAT = 1


@dataclass(frozen=True)
class DeploymentRecord:
    """Where a ledger lives and what was deployed.

    ``artifact_sha256`` is the sha256 of the artifact file (``contracts/build/FLLedger.json``),
    ``source_sha256`` that of ``contracts/FLLedger.sol``. ``rpc_url`` is ``None`` for the embedded
    chain, which does not outlive its process.
    """

    chain_id: int
    address: str
    block_number: int
    transaction_hash: str
    artifact_sha256: str
    source_sha256: str
    compiler_version: str
    party: str
    participants: tuple[str, ...]
    data_sizes: tuple[int, ...]
    public_key_hash: str
    config_hash: str
    rpc_url: str | None = None

    @classmethod
    def from_client(cls, client: LedgerClient) -> DeploymentRecord:
        """Build the record of a deployment ``client`` just made (reads the rest from the chain)."""
        result = client.deploy_result
        if result is None:
            raise ConfigError("this client did not deploy its ledger; no deployment transaction")
        people = client.participants()
        return cls(
            chain_id=client.chain.chain_id,
            address=client.address,
            block_number=result.block_number,
            transaction_hash=result.transaction_hash,
            artifact_sha256=client.artifact.artifact_sha256,
            source_sha256=client.artifact.source_sha256,
            compiler_version=client.artifact.compiler_version,
            party=client.party(),
            participants=tuple(p.address for p in people),
            data_sizes=tuple(p.data_size for p in people),
            public_key_hash="0x" + client.public_key_hash().hex(),
            config_hash="0x" + client.config_hash().hex(),
            rpc_url=client.chain.url,
        )

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["participants"] = list(self.participants)
        data["data_sizes"] = list(self.data_sizes)
        return {"format": RECORD_FORMAT, **data}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DeploymentRecord:
        if data.get("format") != RECORD_FORMAT:
            raise ConfigError(
                f"deployment record format {data.get('format')!r} is not {RECORD_FORMAT}"
            )
        try:
            return cls(
                chain_id=int(data["chain_id"]),
                address=to_checksum_address(data["address"]),
                block_number=int(data["block_number"]),
                transaction_hash=str(data["transaction_hash"]),
                artifact_sha256=str(data["artifact_sha256"]),
                source_sha256=str(data["source_sha256"]),
                compiler_version=str(data["compiler_version"]),
                party=to_checksum_address(data["party"]),
                participants=tuple(to_checksum_address(a) for a in data["participants"]),
                data_sizes=tuple(int(s) for s in data["data_sizes"]),
                public_key_hash=str(data["public_key_hash"]),
                config_hash=str(data["config_hash"]),
                rpc_url=data.get("rpc_url"),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ConfigError(
                f"deployment record is missing or has a bad field: {error}"
            ) from error

    def save(self, path: str | os.PathLike[str]) -> Path:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=2) + "\n")
        tmp.replace(target)
        return target

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> DeploymentRecord:
        try:
            data = json.loads(Path(path).read_text())
        except FileNotFoundError as error:
            raise ConfigError(f"deployment record {path} not found; run `hefl deploy`") from error
        except ValueError as error:
            raise ConfigError(f"deployment record {path} is not JSON: {error}") from error
        return cls.from_json(data)
