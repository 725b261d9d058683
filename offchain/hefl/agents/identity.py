"""An agent's own directory: its encrypted Ethereum keystore and, for the party, its Paillier key.

Every secret file is written with mode 0600 and atomically. The keystore password comes from the
environment variable :data:`PASSWORD_ENV` or a password file; it is never logged or stored.

Layout of an agent directory::

    keystore.json      eth-account V3 keystore (scrypt), 0600
    identity.json      public: address (and, for a participant, |D_i| and |w|)
    paillier.json      the party's Paillier private key, 0600 (party only)
    data.npz           a participant's private data: X (with the bias column) and y
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from eth_account import Account
from eth_utils import to_checksum_address

from hefl.data.prepare import Part
from hefl.errors import AgentError, ConfigError

#: Environment variable holding the keystore password.
PASSWORD_ENV = "HEFL_KEYSTORE_PASSWORD"
KEYSTORE = "keystore.json"
IDENTITY = "identity.json"
PAILLIER_KEY = "paillier.json"
DATA = "data.npz"


def read_password(password_file: str | os.PathLike[str] | None = None) -> str:
    """The keystore password from ``password_file`` or ``$HEFL_KEYSTORE_PASSWORD``."""
    if password_file is not None:
        try:
            return Path(password_file).read_text().rstrip("\n")
        except OSError as error:
            raise ConfigError(f"cannot read password file {password_file}: {error}") from error
    password = os.environ.get(PASSWORD_ENV)
    if not password:
        raise ConfigError(f"no keystore password: set {PASSWORD_ENV} or pass --password-file FILE")
    return password


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` with mode 0600, atomically (never world-readable)."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)


@dataclass(frozen=True)
class Identity:
    """The public facts of an agent: its address, and a participant's |D_i| and |w|."""

    address: str
    data_size: int | None = None
    model_size: int | None = None

    def save(self, directory: Path) -> Path:
        path = directory / IDENTITY
        path.write_text(json.dumps(asdict(self), indent=2))
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Identity:
        file = Path(path)
        if file.is_dir():
            file = file / IDENTITY
        try:
            data = json.loads(file.read_text())
            return cls(
                address=to_checksum_address(data["address"]),
                data_size=data.get("data_size"),
                model_size=data.get("model_size"),
            )
        except (OSError, ValueError, KeyError) as error:
            raise ConfigError(f"{file} is not an agent identity file: {error}") from error


def create_agent(directory: Path, password: str, data: Part | None = None) -> Identity:
    """Make an agent directory: a fresh key in an encrypted keystore, the data (participant)."""
    directory.mkdir(parents=True, exist_ok=True)
    if (directory / KEYSTORE).exists():
        raise AgentError(f"{directory} already holds a keystore; use another directory")
    account = Account.create()
    write_private(directory / KEYSTORE, json.dumps(Account.encrypt(account.key, password)))
    identity = Identity(address=to_checksum_address(account.address))
    if data is not None:
        save_data(directory, data)
        identity = Identity(identity.address, data.size, int(data.X.shape[1]))
    identity.save(directory)
    return identity


def save_data(directory: Path, data: Part) -> None:
    """A participant's data as ``directory/data.npz`` (0600: it never leaves its owner)."""
    np.savez(directory / DATA, X=data.X, y=data.y)
    os.chmod(directory / DATA, 0o600)


def load_data(directory: Path) -> Part:
    path = directory / DATA
    try:
        with np.load(path) as archive:
            return Part(X=np.asarray(archive["X"]), y=np.asarray(archive["y"]))
    except (OSError, KeyError, ValueError) as error:
        raise AgentError(f"cannot load this participant's data from {path}: {error}") from error
