"""Connections to an Ethereum node: the embedded eth-tester/py-evm chain or any JSON-RPC node.

A :class:`Chain` speaks JSON-RPC to its node through one :class:`~hefl.chain.wire.Wire` (requests
counted, contract views at the head cached) and knows how to send a transaction from an address:
with the node's unlocked account (eth-tester's accounts, Anvil's default accounts) or, when a
private key for that address was registered with :meth:`Chain.add_private_key`, by signing an
EIP-1559 transaction locally (:mod:`hefl.chain.signing`) and sending the raw bytes (what the
multi-process mode's keystores use). A node on HTTP is reached without web3: only the embedded
chain (eth-tester's provider) imports it, and :attr:`Chain.w3` (a web3 client on the same wire,
for tests) builds one on first use.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import time
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

from eth_typing import ChecksumAddress
from eth_utils import to_checksum_address

from hefl.canonical import keccak256
from hefl.chain.signing import LocalKey, hex_bytes
from hefl.chain.wire import (
    NODE_OUTAGE_LIMIT_S,
    OUTAGE_BACKOFF_S,
    READ_METHODS,
    HttpTransport,
    NodeError,
    ProviderTransport,
    ViewCache,
    Wire,
    block_id,
    quantity,
    to_quantity,
)
from hefl.errors import ChainError, ConfigError, ContractRevertError

__all__ = [
    "NODE_OUTAGE_LIMIT_S",
    "OUTAGE_BACKOFF_S",
    "READ_METHODS",
    "Chain",
    "NewBlocks",
    "NodeError",
    "ViewCache",
    "connect_embedded",
    "connect_rpc",
    "decrypt_keystore",
    "derive_scrypt",
]

_log = logging.getLogger(__name__)

#: Accounts the embedded chain creates, funded with 1e6 ether each at genesis.
DEFAULT_EMBEDDED_ACCOUNTS = 20
#: Extra gas on top of the node's estimate, in percent.
GAS_MARGIN_PERCENT = 20
#: Priority fee for locally signed transactions (wei).
PRIORITY_FEE_WEI = 10**9
#: Seconds to wait for a receipt from a JSON-RPC node.
RECEIPT_TIMEOUT_S = 120.0
#: First and largest pause between two looks for a receipt (a node mining on demand has it at
#: the first look).
RECEIPT_POLL_S = (0.02, 0.5)
#: Ether sent to each account made by :meth:`Chain.create_account`.
DEFAULT_FUNDING_WEI = 100 * 10**18

ChainKind = Literal["embedded", "rpc"]
#: Turns a failed simulation's exception into a decoded revert, or None if it carries none.
RevertHook = Callable[[BaseException], ContractRevertError | None]
#: A mined transaction's receipt: JSON-RPC names; numbers as ints, hashes as 0x hex, addresses
#: checksummed, logs as :func:`log_entry` gives them.
Receipt = dict[str, Any]

#: Receipt fields that are quantities.
_RECEIPT_QUANTITIES = (
    "blockNumber", "gasUsed", "status", "cumulativeGasUsed", "transactionIndex",
    "effectiveGasPrice", "type",
)  # fmt: skip


def _hex(value: Any) -> str:
    """0x hex of bytes or of a hex string (as a node gives hashes)."""
    return "0x" + hex_bytes(value).hex()


def log_entry(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A log as the node gives it, with a uniform form: ``address`` checksummed, ``topics`` and
    ``data`` as bytes, ``blockNumber``/``logIndex``/``transactionIndex`` as ints, hashes as 0x
    hex. A log missing or mistyping a field (a node's answer, checked, not trusted) raises
    :class:`ChainError`."""
    try:
        return {
            "address": to_checksum_address(raw["address"]),
            "topics": tuple(hex_bytes(t) for t in raw.get("topics") or ()),
            "data": hex_bytes(raw.get("data")),
            "blockNumber": quantity(raw["blockNumber"]),
            "blockHash": _hex(raw.get("blockHash")),
            "transactionHash": _hex(raw["transactionHash"]),
            "transactionIndex": quantity(raw.get("transactionIndex") or 0),
            "logIndex": quantity(raw["logIndex"]),
        }
    except (KeyError, TypeError, ValueError) as error:
        raise ChainError(f"the node sent a log hefl cannot read: {error!r}") from None


def _receipt(raw: Mapping[str, Any]) -> Receipt:
    receipt: Receipt = dict(raw)
    for name in _RECEIPT_QUANTITIES:
        if raw.get(name) is not None:
            receipt[name] = quantity(raw[name])
    for name in ("transactionHash", "blockHash"):
        receipt[name] = _hex(raw[name])
    for name in ("from", "to", "contractAddress"):
        receipt[name] = to_checksum_address(raw[name]) if raw.get(name) else None
    receipt["logs"] = [log_entry(entry) for entry in raw.get("logs") or ()]
    return receipt


def _tx_json(tx: Mapping[str, Any]) -> dict[str, Any]:
    """A transaction's fields as JSON-RPC parameters: numbers as quantities, bytes as hex."""
    out: dict[str, Any] = {}
    for name, value in tx.items():
        if name in ("from", "to"):
            out[name] = str(value)
        elif name in ("data", "input"):
            out[name] = _hex(value)
        elif isinstance(value, int) and not isinstance(value, bool):
            out[name] = to_quantity(value)
        else:
            out[name] = value
    return out


#: scrypt keys derived in this process: (salt, n, r, p, dklen) -> (password check, key).
_DERIVED: dict[tuple[bytes, int, int, int, int], tuple[bytes, bytes]] = {}


def derive_scrypt(password: str, salt: bytes, *, n: int, r: int, p: int, dklen: int) -> bytes:
    """scrypt(password, salt), derived once per process for given salt and parameters.

    An agent opens its keystore and (the party) its Paillier key, whose key is derived from the
    keystore's salt (:func:`hefl.agents.identity.save_private_key`): the second opening costs
    nothing instead of another ~1 s of scrypt. A different password derives afresh (checked
    in constant time), so the memo never opens a file for a wrong password."""
    check = hashlib.sha256(salt + password.encode()).digest()
    slot = (bytes(salt), int(n), int(r), int(p), int(dklen))
    held = _DERIVED.get(slot)
    if held is not None and hmac.compare_digest(held[0], check):
        return held[1]
    key = hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, dklen=dklen, maxmem=256 * n * r + 2**20
    )
    _DERIVED[slot] = (check, key)
    return key


def decrypt_keystore(keystore: Mapping[str, Any], password: str) -> bytes:
    """The private key of a V3 JSON keystore. A scrypt/AES-128-CTR keystore (eth-account's
    default) is opened here with :func:`derive_scrypt`, its MAC checked as eth-account checks it
    (keccak256 of the derived key's second half and the ciphertext); any other goes to
    eth-account. A wrong password raises ``ValueError``."""
    crypto = keystore.get("crypto") or keystore.get("Crypto") or {}
    if keystore.get("version") != 3 or crypto.get("kdf") != "scrypt":
        from eth_account import Account  # another KDF (pbkdf2): rare, so eth-account lazily

        return bytes(Account.decrypt(dict(keystore), password))
    if crypto.get("cipher") != "aes-128-ctr":
        raise ValueError(f"unsupported keystore cipher {crypto.get('cipher')!r}")
    from Crypto.Cipher import AES
    from Crypto.Util import Counter as CtrCounter

    params = crypto["kdfparams"]
    derived = derive_scrypt(
        password,
        bytes.fromhex(params["salt"]),
        n=int(params["n"]),
        r=int(params["r"]),
        p=int(params["p"]),
        dklen=int(params["dklen"]),
    )
    ciphertext = bytes.fromhex(crypto["ciphertext"])
    mac = keccak256(derived[16:32] + ciphertext)
    if not hmac.compare_digest(mac, bytes.fromhex(crypto["mac"])):
        raise ValueError("MAC mismatch")
    counter = CtrCounter.new(128, initial_value=int(crypto["cipherparams"]["iv"], 16))
    return bytes(AES.new(derived[:16], AES.MODE_CTR, counter=counter).decrypt(ciphertext))


class Chain:
    """A connection to one node (its :class:`~hefl.chain.wire.Wire`) plus the signing keys hefl
    holds for it.

    :attr:`requests` counts the JSON-RPC requests sent to the node, by method (``eth_call``:
    contract reads), so a job's chain traffic is measured by counting, not timing. ``wire`` may
    also be a web3 client, whose provider the chain then talks through (a second connection to
    an embedded chain, in tests)."""

    def __init__(
        self,
        wire: Wire | Any,
        *,
        kind: ChainKind,
        url: str | None = None,
        backend: Any = None,
        state_path: Path | None = None,
    ) -> None:
        if not isinstance(wire, Wire):
            wire = Wire(ProviderTransport(wire.provider), follows_node=backend is None)
        self.wire: Wire = wire
        self.kind: ChainKind = kind
        self.url = url
        self._backend = backend  # eth-tester's PyEVMBackend for the embedded chain
        #: Where :meth:`save` writes the embedded chain's database (None: nowhere by default).
        self.state_path = state_path
        self._keys: dict[ChecksumAddress, LocalKey] = {}
        self._chain_id: int | None = None
        self._recoveries = 0
        self._w3: Any = None

    def __repr__(self) -> str:
        where = self.url or "eth-tester"
        return f"Chain({self.kind}, {where}, chain_id={self.chain_id})"

    @property
    def requests(self) -> Counter[str]:
        """JSON-RPC requests that reached the node so far, by method."""
        return self.wire.requests

    @property
    def views(self) -> ViewCache:
        """Contract views at the head block, shared by every client of this chain (off until
        :meth:`enable_view_cache`)."""
        return self.wire.views

    @property
    def w3(self) -> Any:
        """A web3 client on this chain's wire (its requests counted and cached alike), built on
        first use: a second client for tests and scripts. hefl itself never uses it."""
        if self._w3 is None:
            from web3 import HTTPProvider, Web3
            from web3.middleware import Web3Middleware

            wire = self.wire

            class ThroughWire(Web3Middleware):
                def wrap_make_request(self, make_request: Any) -> Any:
                    def middleware(method: str, params: Any) -> Any:
                        return wire.send(method, list(params))

                    return middleware

            provider = getattr(wire.transport, "provider", None) or HTTPProvider(self.url)
            w3 = Web3(provider)
            w3.middleware_onion.inject(ThroughWire, name="hefl_wire", layer=0)
            self._w3 = w3
        return self._w3

    # --- requests ---------------------------------------------------------------------------------
    def rpc(self, method: str, *params: Any) -> Any:
        """The node's result of ``method(*params)`` (JSON-RPC parameters, as the node takes them);
        :class:`~hefl.chain.wire.NodeError` if it answers an error."""
        return self.wire.request(method, params)

    # --- facts ------------------------------------------------------------------------------------
    @property
    def chain_id(self) -> int:
        if self._chain_id is None:
            self._chain_id = quantity(self.rpc("eth_chainId"))
        return self._chain_id

    @property
    def block_number(self) -> int:
        return quantity(self.rpc("eth_blockNumber"))

    def block(
        self, block: int | str = "latest", *, full_transactions: bool = False
    ) -> dict[str, Any]:
        """Block ``block`` (a number or a tag) as the node gives it (read numbers with
        :func:`~hefl.chain.wire.quantity`)."""
        found = self.rpc("eth_getBlockByNumber", block_id(block), full_transactions)
        if not found:
            raise ChainError(f"the node has no block {block}")
        return dict(found)

    def block_timestamp(self, block: int | str = "latest") -> int:
        """The timestamp of block ``block`` (seconds, the chain's clock)."""
        return quantity(self.block(block)["timestamp"])

    def code(self, address: str, block: int | str = "latest") -> bytes:
        """The runtime code at ``address`` (empty: no contract)."""
        return hex_bytes(self.rpc("eth_getCode", to_checksum_address(address), block_id(block)))

    def call(self, tx: Mapping[str, Any], block: int | str | None = None) -> bytes:
        """What the call ``tx`` (``to``, ``data``, optionally ``from``/``value``) returns at
        ``block`` (default "latest"); a revert raises :class:`~hefl.chain.wire.NodeError`
        carrying its data."""
        return hex_bytes(self.rpc("eth_call", _tx_json(tx), block_id(block)))

    def logs(
        self, address: str, from_block: int | str = 0, to_block: int | str = "latest"
    ) -> list[dict[str, Any]]:
        """The logs ``address`` emitted in the block range, in order (:func:`log_entry` form)."""
        query = {
            "address": to_checksum_address(address),
            "fromBlock": block_id(from_block),
            "toBlock": block_id(to_block),
        }
        return [log_entry(raw) for raw in self.rpc("eth_getLogs", query) or ()]

    def transaction(self, transaction_hash: bytes | str) -> dict[str, Any]:
        """The transaction ``transaction_hash`` as the node gives it (calldata under ``input``)."""
        found = self.rpc("eth_getTransactionByHash", _hex(transaction_hash))
        if not found:
            raise ChainError(f"the node knows no transaction {_hex(transaction_hash)}")
        return dict(found)

    def receipt(self, transaction_hash: bytes | str) -> Receipt | None:
        """The receipt of ``transaction_hash`` (None: not mined yet)."""
        found = self.rpc("eth_getTransactionReceipt", _hex(transaction_hash))
        return _receipt(found) if found else None

    # --- views at the head ------------------------------------------------------------------------
    def enable_view_cache(self) -> None:
        """Answer repeated contract views at the same head block from memory (:class:`ViewCache`),
        for every client of this chain; what the in-process job's agents share."""
        self.views.enabled = True

    def view_block(self) -> int | None:
        """The block number contract views are pinned to while the view cache is on (None: off,
        views read "latest" as the node has it).

        The embedded chain's head is py-evm's canonical head, read from memory (no request, and
        always the chain's latest block). On a node it is the last head the node reported; it is
        asked again (``eth_blockNumber``) after anything that may have moved it: a transaction
        sent through this chain, a filter reporting new blocks, a node outage. A block mined
        meanwhile by another process on the node is thus seen at this chain's next transaction
        or head check; whatever block a view is pinned to, its answer is the node's at that
        block."""
        views = self.views
        if not views.enabled:
            return None
        if self._backend is not None:
            header = self._backend.chain.get_canonical_head()
            views.move_to(int(header.block_number), bytes(header.hash))
        else:
            recoveries = self.wire.recoveries
            if recoveries != self._recoveries:
                self._recoveries = recoveries
                views.forget()
            if views.head is None:
                views.move_to(self.block_number)
        assert views.head is not None
        return views.head[0]

    def node_accounts(self) -> tuple[ChecksumAddress, ...]:
        """Accounts the node itself holds unlocked (``eth_accounts``)."""
        return tuple(to_checksum_address(a) for a in self.rpc("eth_accounts") or ())

    def accounts(self) -> tuple[ChecksumAddress, ...]:
        """Every address this chain can send from: the node's, then the locally held keys."""
        node = self.node_accounts()
        return node + tuple(a for a in self._keys if a not in node)

    def accounts_for(self, count: int) -> tuple[ChecksumAddress, ...]:
        """``count`` distinct funded sender addresses (e.g. N + 1 for a party and N participants).

        Uses the existing accounts first and creates funded local keys for the rest.
        """
        if count < 1:
            raise ConfigError(f"accounts_for needs count >= 1, got {count}")
        have = list(self.accounts())
        while len(have) < count:
            have.append(self.create_account())
        return tuple(have[:count])

    def balance(self, address: str) -> int:
        return quantity(self.rpc("eth_getBalance", to_checksum_address(address), "latest"))

    # --- persistence (embedded chain) ------------------------------------------------------------
    def save(self, path: str | os.PathLike[str] | None = None) -> Path:
        """Write the embedded chain's whole py-evm database to ``path`` (default
        :attr:`state_path`), atomically: a reader sees the old file or the new one, never half.

        :func:`connect_embedded` with ``state=path`` re-opens it with the same blocks, block
        hashes and state root, so the ledger can be read with contract calls after the process
        that ran the job has ended.
        """
        if self.kind != "embedded" or self._backend is None:
            raise ChainError(
                "only the embedded chain is saved to a file; a node keeps its own state"
            )
        target = Path(path) if path is not None else self.state_path
        if target is None:
            raise ConfigError("no state file given for the embedded chain; pass a path")
        store = self._backend.chain.chaindb.db.wrapped_db.kv_store
        _write_atomically(target, _encode_database(store))
        return target

    # --- keys -------------------------------------------------------------------------------------
    def add_private_key(self, private_key: str | bytes) -> ChecksumAddress:
        """Hold ``private_key`` so transactions from its address are signed locally."""
        key = LocalKey.from_key(private_key)
        self._keys[key.address] = key
        return key.address

    def add_keystore(self, path: str | os.PathLike[str], password: str) -> ChecksumAddress:
        """Hold the key of an encrypted JSON keystore (geth/eth-account V3 format)."""
        try:
            keystore = json.loads(Path(path).read_text())
        except (OSError, ValueError) as error:
            raise ConfigError(f"cannot read keystore {path}: {error}") from error
        try:
            key = decrypt_keystore(keystore, password)
        except (ValueError, KeyError, TypeError) as error:
            raise ConfigError(f"keystore {path}: wrong password or corrupt file") from error
        return self.add_private_key(key)

    def has_private_key(self, address: str) -> bool:
        return to_checksum_address(address) in self._keys

    def create_account(
        self, *, funding_wei: int = DEFAULT_FUNDING_WEI, funder: str | None = None
    ) -> ChecksumAddress:
        """Make a key pair held locally, funded from ``funder`` (default: the first account)."""
        address = self.add_private_key("0x" + secrets.token_hex(32))
        source = funder or next(iter(self.node_accounts() or tuple(self._keys)), None)
        if source is None or to_checksum_address(source) == address:
            raise ChainError("no funded account to fund a new one from; pass a funder with ether")
        if funding_wei > 0:
            self.transact(
                {"from": to_checksum_address(source), "to": address, "value": funding_wei}
            )
        return address

    # --- transactions -----------------------------------------------------------------------------
    def transact(self, tx: Mapping[str, Any], *, on_revert: RevertHook | None = None) -> Receipt:
        """Simulate, estimate, send and wait for ``tx``; return the mined receipt.

        A revert found while simulating is decoded by ``on_revert`` (the contract's ABI) and raised
        as :class:`ContractRevertError`; nothing is sent then.
        """
        params: dict[str, Any] = dict(tx)
        if "from" not in params:
            raise ConfigError("a transaction needs a 'from' address")
        params["from"] = to_checksum_address(params["from"])
        try:
            # On a node, simulate in the pending block: its timestamp is "now", as the mined
            # block's will be (the latest may be minutes old, e.g. just after a deadline).
            # eth-tester answers only for its default block.
            block = "pending" if self.kind == "rpc" else None
            if "to" in params:
                self.call(params, block)
            gas = self._gas_limit_for(params, block)
        except ChainError as error:
            decoded = on_revert(error) if on_revert else None
            if decoded is not None:
                raise decoded from None
            raise ChainError(f"transaction from {params['from']} would fail: {error}") from error
        params.setdefault("gas", gas)
        try:
            receipt = self._wait_for_receipt(self._send(params))
        except ChainError as error:
            decoded = on_revert(error) if on_revert else None
            if decoded is not None:
                raise decoded from None
            raise ChainError(
                f"sending a transaction from {params['from']} failed: {error}"
            ) from error
        if receipt["status"] != 1:
            decoded = self._replay_revert(params, receipt["blockNumber"], on_revert)
            if decoded is not None:
                raise decoded
            raise ChainError(
                f"transaction {receipt['transactionHash']} reverted in block "
                f"{receipt['blockNumber']} although its simulation passed (state changed between?)"
            )
        return receipt

    def _gas_limit_for(self, params: Mapping[str, Any], block: str | None) -> int:
        """The gas limit to send ``params`` with: the node's estimate plus GAS_MARGIN_PERCENT.

        Except for a call on the embedded chain, which the simulation has just run: eth-tester
        estimates by bisecting the gas limit (≈ 10 more executions of the transaction, two
        thirds of a 60-participant round's chain time), and there gas costs nothing real, so the
        transaction gets half the head block's gas limit — far above what any ledger function
        uses (the largest, a blob submission at d = 81, ≈ 6 M of 30 M), and below the limit of
        the next block however py-evm adjusts it. The receipt's ``gasUsed`` is the same
        either way."""
        if self._backend is not None and "to" in params:
            return int(self._backend.chain.get_canonical_head().gas_limit) // 2
        estimate = [_tx_json(params)] + ([block] if block is not None else [])
        gas = quantity(self.rpc("eth_estimateGas", *estimate))
        return gas + gas * GAS_MARGIN_PERCENT // 100

    def _replay_revert(
        self, params: Mapping[str, Any], block: int, on_revert: RevertHook | None
    ) -> ContractRevertError | None:
        """Why a mined transaction reverted: replay it as a call on the state of its block and
        decode the revert by name (e.g. a vote that arrived after the round was final reverts
        with ``RoundNotAggregated(2, Finalised)``: the state changed between simulation and
        mining)."""
        if on_revert is None or "to" not in params:
            return None
        call = {k: v for k, v in params.items() if k in ("from", "to", "data", "value")}
        try:
            self.call(call, block)
        except ChainError as error:
            return on_revert(error)
        return None

    def _send(self, params: dict[str, Any]) -> str:
        """Send ``params`` (gas included); the transaction hash."""
        sender = params["from"]
        key = self._keys.get(sender)
        if key is None:
            return str(self.rpc("eth_sendTransaction", _tx_json(params)))
        fields: dict[str, Any] = {k: v for k, v in params.items() if k != "from"}
        fields.setdefault("chainId", self.chain_id)
        if "nonce" not in fields:
            fields["nonce"] = quantity(self.rpc("eth_getTransactionCount", sender, "pending"))
        if "gasPrice" not in fields:
            base_fee = quantity(self.block("latest").get("baseFeePerGas") or 0)
            fields.setdefault("maxPriorityFeePerGas", PRIORITY_FEE_WEI)
            fields.setdefault("maxFeePerGas", 2 * base_fee + PRIORITY_FEE_WEI)
        raw = key.sign_transaction(fields)
        return str(self.rpc("eth_sendRawTransaction", _hex(raw)))

    def _wait_for_receipt(self, transaction_hash: str) -> Receipt:
        """The receipt of ``transaction_hash`` once mined (looking again with back-off)."""
        deadline = time.monotonic() + RECEIPT_TIMEOUT_S
        pause = RECEIPT_POLL_S[0]
        while True:
            receipt = self.receipt(transaction_hash)
            if receipt is not None:
                return receipt
            if time.monotonic() >= deadline:
                raise ChainError(
                    f"transaction {transaction_hash} not mined within {RECEIPT_TIMEOUT_S:.0f} s"
                )
            time.sleep(pause)
            pause = min(2 * pause, RECEIPT_POLL_S[1])


#: Filter losses in a row (the node forgot the filter again right after it was re-installed)
#: after which :class:`NewBlocks` polls the head instead: a node that keeps dropping filters
#: would otherwise wake its agents at every look.
MAX_FILTER_LOSSES = 3


class NewBlocks:
    """Whether the node has mined a block since the last look: through a block filter where the
    node offers one (``eth_newBlockFilter``, then ``eth_getFilterChanges``: the node reports the
    new blocks' hashes), else by polling the head (``eth_blockNumber``).

    The node is not trusted to keep the filter: a look whose ``eth_getFilterChanges`` fails (a
    restarted node forgot it: "filter not found"; an answer that is not a list) re-installs a
    filter and reports a new block, since blocks may have been missed meanwhile; a node that
    refuses filters (method not found), or loses them :data:`MAX_FILTER_LOSSES` times in a row,
    is polled for its head from then on. Only an unreachable node (:class:`ChainError`, after the
    transport's outage limit) raises. ``mode`` says which way it looks (``"filter"``/``"poll"``).
    """

    def __init__(self, chain: Chain) -> None:
        self.chain = chain
        self.filter_id: Any = None
        self.losses = 0
        self.seen_block = chain.block_number
        self.mode: Literal["filter", "poll"] = "filter" if self._install() else "poll"

    def _install(self) -> bool:
        try:
            self.filter_id = self.chain.rpc("eth_newBlockFilter")
        except NodeError as error:  # the node refuses filters: poll its head
            _log.info("node refuses a block filter (%s); polling its head instead", error)
            self.filter_id = None
            return False
        return True

    def _poll(self) -> bool:
        head = self.chain.block_number
        if head != self.seen_block:  # (a restarted node may even go back)
            self.seen_block = head
            return True
        return False

    def arrived(self) -> bool:
        """Whether a block was mined since the last look (one request to the node)."""
        if self.mode == "poll":
            return self._poll()
        try:
            changes = self.chain.rpc("eth_getFilterChanges", self.filter_id)
        except NodeError as error:  # the node forgot the filter
            return self._lost(str(error))
        if not isinstance(changes, list):
            return self._lost(f"eth_getFilterChanges answered a {type(changes).__name__}")
        self.losses = 0
        return bool(changes)

    def _lost(self, error: str) -> bool:
        """The filter is gone: install another (or poll), and report a block that may have been
        missed meanwhile."""
        self.losses += 1
        _log.warning("the node lost the block filter (%s); installing another", error)
        if self.losses >= MAX_FILTER_LOSSES or not self._install():
            _log.warning("the node keeps no block filter; polling its head instead")
            self.mode, self.filter_id = "poll", None
            self.seen_block = self.chain.block_number
        return True

    def close(self) -> None:
        """Uninstall the filter (quietly: the node may have forgotten it already)."""
        if self.filter_id is not None:
            try:
                self.chain.rpc("eth_uninstallFilter", self.filter_id)
            except ChainError as error:  # a courtesy to the node; nothing to undo
                _log.debug("uninstalling the block filter failed: %s", error)
            self.filter_id = None


#: First bytes of a saved embedded-chain database (format version 1).
STATE_MAGIC = b"HEFL-PYEVM-DB-1\n"


def _encode_database(store: Mapping[bytes, bytes]) -> bytes:
    """Length-prefixed key/value pairs, sorted by key (the same chain gives the same bytes)."""
    parts = [STATE_MAGIC]
    for key in sorted(store):
        value = store[key]
        parts += [len(key).to_bytes(4, "big"), key, len(value).to_bytes(4, "big"), value]
    return b"".join(parts)


def _decode_database(raw: bytes, source: Path) -> dict[bytes, bytes]:
    if not raw.startswith(STATE_MAGIC):
        raise ChainError(f"{source} is not a saved hefl embedded chain; give the run's chain file")
    store: dict[bytes, bytes] = {}
    at = len(STATE_MAGIC)
    try:
        while at < len(raw):
            size = int.from_bytes(raw[at : at + 4], "big")
            key = raw[at + 4 : at + 4 + size]
            at += 4 + size
            size = int.from_bytes(raw[at : at + 4], "big")
            value = raw[at + 4 : at + 4 + size]
            at += 4 + size
            if at > len(raw):
                raise ValueError("truncated")
            store[key] = value
    except ValueError:
        raise ChainError(f"{source} is truncated or corrupt; restore it from a copy") from None
    return store


def _write_atomically(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, target)


def connect_embedded(
    num_accounts: int = DEFAULT_EMBEDDED_ACCOUNTS, *, state: str | os.PathLike[str] | None = None
) -> Chain:
    """An in-process chain (eth-tester on py-evm) with ``num_accounts`` funded accounts.

    With ``state``, the chain persists: an existing file (written by :meth:`Chain.save`) is
    re-opened — same blocks, block hashes and state root — and :meth:`Chain.save` writes there.
    The accounts are unlocked in eth-tester; their keys are eth-tester's well-known test keys
    (1, 2, 3, ...), so never reuse them anywhere real. The wire goes through web3's
    eth-tester provider (the one place hefl imports web3).
    """
    from eth.db.atomic import AtomicDB
    from eth.db.backends.memory import MemoryDB
    from eth_tester import EthereumTester, PyEVMBackend
    from web3 import EthereumTesterProvider

    if num_accounts < 1:
        raise ConfigError(f"connect_embedded needs num_accounts >= 1, got {num_accounts}")
    backend = PyEVMBackend(
        genesis_state=PyEVMBackend.generate_genesis_state(num_accounts=num_accounts)
    )
    state_path = Path(state) if state is not None else None
    if state_path is not None and state_path.exists():
        store = _decode_database(state_path.read_bytes(), state_path)
        backend.chain = type(backend.chain)(AtomicDB(MemoryDB(store)))
    transport = ProviderTransport(EthereumTesterProvider(EthereumTester(backend)))
    chain = Chain(
        Wire(transport, follows_node=False),
        kind="embedded",
        backend=backend,
        state_path=state_path,
    )
    # eth-tester fills a call's missing sender with its first account, asking for the account
    # list three times per call; name that account once.
    transport.client.eth.default_account = chain.node_accounts()[0]
    return chain


def connect_rpc(
    url: str,
    *,
    private_keys: tuple[str, ...] = (),
    timeout_s: float = 30.0,
    outage_limit_s: float = NODE_OUTAGE_LIMIT_S,
) -> Chain:
    """Connect to a JSON-RPC node at ``url`` (``http(s)://`` or an IPC socket path; e.g. Anvil).

    Over HTTP the wire is hefl's own (:class:`~hefl.chain.wire.HttpTransport`: no web3); an IPC
    socket goes through web3's IPC provider. ``private_keys`` are held for local signing; the
    node's own unlocked accounts work as well.
    """
    http: HttpTransport | None = None
    transport: Any
    if url.startswith(("http://", "https://")):
        # the first contact fails fast: a wrong URL is not an outage
        http = transport = HttpTransport(url, timeout_s=timeout_s, outage_limit_s=0.0)
    elif url.endswith(".ipc"):
        from web3 import IPCProvider

        transport = ProviderTransport(IPCProvider(url, timeout=int(timeout_s)))
    else:
        raise ConfigError(
            f"RPC URL {url!r} must start with http:// or https:// (or be a .ipc path)"
        )
    chain = Chain(Wire(transport, follows_node=True), kind="rpc", url=url)
    try:
        chain.chain_id  # noqa: B018 - probe the connection once
    except ChainError as error:
        raise ChainError(f"cannot reach an Ethereum node at {url}: {error}") from error
    if http is not None:
        http.outage_limit_s = outage_limit_s
    for key in private_keys:
        chain.add_private_key(key)
    return chain
