"""An agent's own directory: its encrypted Ethereum keystore and, for the party, its Paillier key.

Every secret file is written with mode 0600 and atomically. The keystore password comes from the
environment variable :data:`PASSWORD_ENV` or a password file; it is never logged or stored.

Layout of an agent directory::

    keystore.json      V3 keystore (scrypt, AES-128-CTR), as eth-account writes and reads it, 0600
    identity.json      public: address (and, for a participant, |D_i| and |w|)
    paillier.json      the party's Paillier private key, AES-256-GCM under HMAC-SHA256 of the
                       scrypt key of the keystore (same password, salt and eth-account's
                       parameters n = 2^18, r = 8, p = 1), 0600 (party only): a process that
                       opened the keystore opens it without a second ~1 s derivation
    data.npz           a participant's private data: X (with the bias column) and y, 0600

Keystores use eth-account's default scrypt cost (n = 2^18, ~1 s per opening). For throwaway
development jobs only, ``HEFL_DEV_KEYSTORE=1`` in the environment of ``hefl participant init`` /
``hefl party setup`` writes keystores with n = 2^14 (:data:`DEV_SCRYPT_N`, ~16× cheaper to open
and to attack); never for a key that guards anything.

Start-up (issue #18): this module imports neither web3 nor eth-account, so ``hefl participant
init`` makes its key without them: the key pair comes from OpenSSL (``cryptography``, secp256k1),
the keystore is written in the Web3 Secret Storage V3 format eth-account writes
(:func:`new_keystore`, read back by eth-account and by :func:`hefl.chain.node.decrypt_keystore`),
and the address is EIP-55-checksummed here (:func:`checksum_address`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import uuid4

import numpy as np

from hefl.canonical import keccak256
from hefl.errors import AgentError, ConfigError
from hefl.files import atomic_write

if TYPE_CHECKING:
    from hefl.crypto import PrivateKey
    from hefl.data.prepare import Part

#: Environment variable holding the keystore password.
PASSWORD_ENV = "HEFL_KEYSTORE_PASSWORD"
KEYSTORE = "keystore.json"
IDENTITY = "identity.json"
PAILLIER_KEY = "paillier.json"
DATA = "data.npz"
#: The encrypted Paillier key file's type, and eth-account's scrypt parameters (its keystore's).
ENCRYPTED_KEY_TYPE = "hefl-paillier-private-encrypted"
SCRYPT_PARAMS = {"n": 2**18, "r": 8, "p": 1, "dklen": 32}
#: Environment variable that selects the light development keystore cost (value ``1``).
DEV_KEYSTORE_ENV = "HEFL_DEV_KEYSTORE"
#: scrypt's n for development keystores (eth-account's default is 2^18).
DEV_SCRYPT_N = 2**14


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


def checksum_address(address: str) -> str:
    """An Ethereum address in EIP-55 mixed case: hex digit i of the address is upper case iff
    nibble i of keccak256(the lower-case hex address) is ≥ 8. Anything but 20 bytes of hex
    (with or without ``0x``) is a ``ValueError``, as eth-utils' ``to_checksum_address``."""
    if not isinstance(address, str):
        raise ValueError(f"{address!r} is not a 20-byte hex Ethereum address")
    plain = address[2:] if address[:2] in ("0x", "0X") else address
    if len(plain) != 40 or not all(c in "0123456789abcdefABCDEF" for c in plain):
        raise ValueError(f"{address!r} is not a 20-byte hex Ethereum address")
    plain = plain.lower()
    nibbles = keccak256(plain.encode()).hex()
    return "0x" + "".join(
        c.upper() if int(h, 16) >= 8 else c for c, h in zip(plain, nibbles, strict=False)
    )


#: scrypt's r and p and the derived key's length in a V3 keystore (eth-keyfile's constants).
V3_SCRYPT_R, V3_SCRYPT_P, V3_DKLEN = 8, 1, 32


def new_keystore(password: str, scrypt_n: int) -> tuple[dict[str, Any], str]:
    """A fresh secp256k1 key pair, its private key sealed in a V3 keystore; and its address.

    The private key d is drawn by OpenSSL in [1, n − 1] (SEC 1 §3.2.1); the address is the last
    20 bytes of keccak256(x ‖ y) of the public point dG. The keystore is eth-keyfile's V3 layout:
    K = scrypt(password (UTF-8), salt (16 random bytes), n = ``scrypt_n``, r = 8, p = 1, 32 bytes),
    ciphertext = AES-128-CTR(K[0:16], iv (16 random bytes) as the initial counter block, d),
    mac = keccak256(K[16:32] ‖ ciphertext)."""
    from Crypto.Cipher import AES
    from Crypto.Util import Counter
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    key = ec.generate_private_key(ec.SECP256K1())
    secret = key.private_numbers().private_value.to_bytes(32, "big")
    point = key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    address = checksum_address(keccak256(point[1:])[-20:].hex())  # point[0] is 0x04
    salt, iv = secrets.token_bytes(16), secrets.token_bytes(16)
    derived = hashlib.scrypt(
        password.encode(),
        salt=salt,
        n=scrypt_n,
        r=V3_SCRYPT_R,
        p=V3_SCRYPT_P,
        dklen=V3_DKLEN,
        maxmem=256 * scrypt_n * V3_SCRYPT_R + 2**20,
    )
    counter = Counter.new(128, initial_value=int.from_bytes(iv, "big"))
    ciphertext = AES.new(derived[:16], AES.MODE_CTR, counter=counter).encrypt(secret)
    keystore = {
        "address": address[2:],
        "crypto": {
            "cipher": "aes-128-ctr",
            "cipherparams": {"iv": iv.hex()},
            "ciphertext": ciphertext.hex(),
            "kdf": "scrypt",
            "kdfparams": {
                "dklen": V3_DKLEN,
                "n": scrypt_n,
                "r": V3_SCRYPT_R,
                "p": V3_SCRYPT_P,
                "salt": salt.hex(),
            },
            "mac": keccak256(derived[16:32] + ciphertext).hex(),
        },
        "id": str(uuid4()),
        "version": 3,
    }
    return keystore, address


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` with mode 0600, atomically (never world-readable)."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)


#: Version 2 keys the cipher with HMAC-SHA256(scrypt key, this label): the scrypt key is the
#: keystore's (same salt), never used directly for a second cipher.
KEYSTORE_BOUND_LABEL = b"hefl paillier private key"


def _scrypt(password: str, salt: bytes, params: dict[str, int]) -> bytes:
    from hefl.chain.node import derive_scrypt

    return derive_scrypt(
        password, salt, n=params["n"], r=params["r"], p=params["p"], dklen=params["dklen"]
    )


def _cipher_key(password: str, salt: bytes, params: dict[str, int], version: int) -> bytes:
    derived = _scrypt(password, salt, params)
    if version == 1:
        return derived
    return hmac.new(derived, KEYSTORE_BOUND_LABEL, hashlib.sha256).digest()


def _keystore_kdf(keystore: Path) -> tuple[bytes, dict[str, int]]:
    """The scrypt salt and parameters of a keystore (eth-account's V3 format)."""
    try:
        crypto = json.loads(keystore.read_text())["crypto"]
        params = crypto["kdfparams"]
        if crypto["kdf"] != "scrypt":
            raise ConfigError(f"keystore {keystore} does not use scrypt")
        return bytes.fromhex(params["salt"]), {k: int(params[k]) for k in SCRYPT_PARAMS}
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ConfigError(f"cannot read keystore {keystore}: {error}") from error


def seal_secret(
    path: Path,
    kind: str,
    payload: bytes,
    password: str,
    *,
    keystore: Path | None = None,
    public: dict[str, Any] | None = None,
    scrypt_n: int | None = None,
) -> Path:
    """Write ``payload`` encrypted (AES-256-GCM) under a scrypt key of ``password``, mode 0600.

    With ``keystore`` (the agent's own, same password) the key derives from the keystore's salt
    and parameters (version 2), so a process that opened the keystore derives nothing more to
    open this file; without, from a fresh salt (version 1). ``kind`` names the document type;
    ``public`` fields (e.g. a fingerprint) are stored in clear beside the ciphertext.
    ``scrypt_n`` lowers the work factor only where the password is a random key, not a
    human's password (e.g. :data:`DEV_SCRYPT_N` for a 256-bit secret held in memory)."""
    from Crypto.Cipher import AES

    if keystore is None:
        version, salt, params = 1, secrets.token_bytes(32), dict(SCRYPT_PARAMS)
        if scrypt_n is not None:
            params["n"] = scrypt_n
    else:
        version, (salt, params) = 2, _keystore_kdf(keystore)
    nonce = secrets.token_bytes(12)
    cipher = AES.new(_cipher_key(password, salt, params, version), AES.MODE_GCM, nonce=nonce)
    ciphertext, tag = cipher.encrypt_and_digest(payload)
    document = {
        "type": kind,
        "version": version,
        **(public or {}),
        "kdf": "scrypt" if version == 1 else "scrypt+hmac-sha256",
        "kdfparams": {**params, "salt": salt.hex()},
        "cipher": "aes-256-gcm",
        "nonce": nonce.hex(),
        "ciphertext": ciphertext.hex(),
        "tag": tag.hex(),
    }
    return atomic_write(path, json.dumps(document, indent=2))


def open_secret(path: Path, kind: str, password: str, what: str) -> bytes:
    """The payload of a file written by :func:`seal_secret` as ``kind``; a wrong password, another
    kind or a damaged file is one clear error naming ``what`` the file holds."""
    from Crypto.Cipher import AES

    try:
        document = json.loads(path.read_text())
        if document.get("type") != kind:
            raise ConfigError(
                f"{path} is not an encrypted {what} (type {document.get('type')!r}); "
                "set the job up again with this hefl"
            )
        version = int(document.get("version", 1))
        if version not in (1, 2):
            raise ConfigError(f"{path}: encrypted {what} version {version} is unknown")
        params = {k: int(document["kdfparams"][k]) for k in SCRYPT_PARAMS}
        salt = bytes.fromhex(document["kdfparams"]["salt"])
        cipher = AES.new(
            _cipher_key(password, salt, params, version),
            AES.MODE_GCM,
            nonce=bytes.fromhex(document["nonce"]),
        )
        return bytes(
            cipher.decrypt_and_verify(
                bytes.fromhex(document["ciphertext"]), bytes.fromhex(document["tag"])
            )
        )
    except ConfigError:
        raise
    except (OSError, KeyError, TypeError) as error:
        raise ConfigError(f"cannot read the {what} {path}: {error}") from error
    except ValueError as error:  # JSON, hex, or the GCM tag (a wrong password)
        raise ConfigError(
            f"cannot decrypt the {what} {path}: wrong password (--password-file or "
            f"${PASSWORD_ENV}) or a damaged file"
        ) from error


def save_private_key(
    path: Path, key: PrivateKey, password: str, *, keystore: Path | None = None
) -> Path:
    """Write the Paillier private key encrypted under a scrypt key of ``password`` (0600; see
    :func:`seal_secret`)."""
    return seal_secret(
        path,
        ENCRYPTED_KEY_TYPE,
        json.dumps(key.to_json()).encode(),
        password,
        keystore=keystore,
        public={"fingerprint": key.public_key.fingerprint_hex},
    )


def load_private_key(path: Path, password: str, *, allow_insecure: bool = False) -> PrivateKey:
    """Read a key written by :func:`save_private_key`; a wrong password is one clear error."""
    from hefl.crypto import PrivateKey

    plain = open_secret(path, ENCRYPTED_KEY_TYPE, password, "Paillier key")
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
                address=checksum_address(data["address"]),
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
    light = os.environ.get(DEV_KEYSTORE_ENV) == "1"
    keystore, address = new_keystore(password, DEV_SCRYPT_N if light else SCRYPT_PARAMS["n"])
    write_private(directory / KEYSTORE, json.dumps(keystore))
    identity = Identity(address=address)
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
    from hefl.data.prepare import Part

    path = directory / DATA
    try:
        with np.load(path) as archive:
            return Part(X=np.asarray(archive["X"]), y=np.asarray(archive["y"]))
    except (OSError, KeyError, ValueError) as error:
        raise AgentError(f"cannot load this participant's data from {path}: {error}") from error
