"""An agent's own directory: its encrypted Ethereum keystore and, for the party, its Paillier key.

Every secret file is written with mode 0600 and atomically. The keystore password comes from the
environment variable :data:`PASSWORD_ENV` or a password file; it is never logged or stored.

Layout of an agent directory::

    keystore.json      eth-account V3 keystore (scrypt), 0600
    identity.json      public: address (and, for a participant, |D_i| and |w|)
    paillier.json      the party's Paillier private key encrypted like the keystore: AES-256-GCM
                       under a key scrypt derives from the same password (eth-account's
                       parameters n = 2^18, r = 8, p = 1), 0600 (party only)
    data.npz           a participant's private data: X (with the bias column) and y, 0600
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from eth_account import Account
from eth_utils import to_checksum_address

from hefl.crypto import PrivateKey
from hefl.data.prepare import Part
from hefl.errors import AgentError, ConfigError
from hefl.files import atomic_write

#: Environment variable holding the keystore password.
PASSWORD_ENV = "HEFL_KEYSTORE_PASSWORD"
KEYSTORE = "keystore.json"
IDENTITY = "identity.json"
PAILLIER_KEY = "paillier.json"
DATA = "data.npz"
#: The encrypted Paillier key file's type, and eth-account's scrypt parameters (its keystore's).
ENCRYPTED_KEY_TYPE = "hefl-paillier-private-encrypted"
SCRYPT_PARAMS = {"n": 2**18, "r": 8, "p": 1, "dklen": 32}


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


def _scrypt(password: str, salt: bytes, params: dict[str, int]) -> bytes:
    return hashlib.scrypt(
        password.encode(),
        salt=salt,
        n=params["n"],
        r=params["r"],
        p=params["p"],
        dklen=params["dklen"],
        maxmem=256 * params["n"] * params["r"] + 2**20,
    )


def save_private_key(path: Path, key: PrivateKey, password: str) -> Path:
    """Write the Paillier private key encrypted under a scrypt key of ``password`` (0600)."""
    from Crypto.Cipher import AES

    salt, nonce = secrets.token_bytes(32), secrets.token_bytes(12)
    cipher = AES.new(_scrypt(password, salt, SCRYPT_PARAMS), AES.MODE_GCM, nonce=nonce)
    ciphertext, tag = cipher.encrypt_and_digest(json.dumps(key.to_json()).encode())
    document = {
        "type": ENCRYPTED_KEY_TYPE,
        "version": 1,
        "fingerprint": key.public_key.fingerprint_hex,
        "kdf": "scrypt",
        "kdfparams": {**SCRYPT_PARAMS, "salt": salt.hex()},
        "cipher": "aes-256-gcm",
        "nonce": nonce.hex(),
        "ciphertext": ciphertext.hex(),
        "tag": tag.hex(),
    }
    return atomic_write(path, json.dumps(document, indent=2))


def load_private_key(path: Path, password: str, *, allow_insecure: bool = False) -> PrivateKey:
    """Read a key written by :func:`save_private_key`; a wrong password is one clear error."""
    from Crypto.Cipher import AES

    try:
        document = json.loads(path.read_text())
        if document.get("type") != ENCRYPTED_KEY_TYPE:
            raise ConfigError(
                f"{path} is not an encrypted Paillier key (type {document.get('type')!r}); "
                "set the job up again with this hefl"
            )
        params = {k: int(document["kdfparams"][k]) for k in SCRYPT_PARAMS}
        salt = bytes.fromhex(document["kdfparams"]["salt"])
        cipher = AES.new(
            _scrypt(password, salt, params), AES.MODE_GCM, nonce=bytes.fromhex(document["nonce"])
        )
        plain = cipher.decrypt_and_verify(
            bytes.fromhex(document["ciphertext"]), bytes.fromhex(document["tag"])
        )
    except (OSError, KeyError, TypeError) as error:
        raise ConfigError(f"cannot read the Paillier key {path}: {error}") from error
    except ValueError as error:  # JSON, hex, or the GCM tag (a wrong password)
        raise ConfigError(
            f"cannot decrypt the Paillier key {path}: wrong password (--password-file or "
            f"${PASSWORD_ENV}) or a damaged file"
        ) from error
    return PrivateKey.from_json(json.loads(plain), allow_insecure=allow_insecure)


def save_private_data(path: Path, part: Part) -> Path:
    """A participant's private data as ``.npz`` with mode 0600 from the start (never readable by
    others, not even briefly)."""
    import io

    buffer = io.BytesIO()
    np.savez(buffer, X=part.X, y=part.y)
    return atomic_write(path, buffer.getvalue())


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
