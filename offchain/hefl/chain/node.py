"""Connections to an Ethereum node: the embedded eth-tester/py-evm chain or any JSON-RPC node.

A :class:`Chain` wraps a ``web3.Web3`` and knows how to send a transaction from an address: with
the node's unlocked account (eth-tester's accounts, Anvil's default accounts) or, when a private
key for that address was registered with :meth:`Chain.add_private_key`, by signing locally with
eth-account and sending the raw transaction (what the multi-process mode's keystores use).
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

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from eth_utils import to_checksum_address
from hexbytes import HexBytes
from web3 import HTTPProvider, IPCProvider, Web3
from web3.middleware import Web3Middleware
from web3.types import TxReceipt

from hefl.errors import ChainError, ConfigError, ContractRevertError

_log = logging.getLogger(__name__)

#: Accounts the embedded chain creates, funded with 1e6 ether each at genesis.
DEFAULT_EMBEDDED_ACCOUNTS = 20
#: Extra gas on top of the node's estimate, in percent.
GAS_MARGIN_PERCENT = 20
#: Priority fee for locally signed transactions (wei).
PRIORITY_FEE_WEI = 10**9
#: Seconds to wait for a receipt from a JSON-RPC node.
RECEIPT_TIMEOUT_S = 120.0
#: Ether sent to each account made by :meth:`Chain.create_account`.
DEFAULT_FUNDING_WEI = 100 * 10**18

#: Seconds an agent waits for an unreachable node before it gives up (a node restart takes ~1 s;
#: this covers a restart by hand). Every JSON-RPC call goes through :class:`RetryingHTTPProvider`.
NODE_OUTAGE_LIMIT_S = 300.0
#: First and largest pause between two attempts to reach a node that is down.
OUTAGE_BACKOFF_S = (0.2, 5.0)

ChainKind = Literal["embedded", "rpc"]
#: Turns a failed simulation's exception into a decoded revert, or None if it carries none.
RevertHook = Callable[[BaseException], ContractRevertError | None]


#: JSON-RPC methods that only read the node. Any other request sent through a :class:`Chain` (a
#: transaction, a node control such as ``evm_revert`` or ``anvil_reset``) may change what the node
#: answers, so its :class:`ViewCache` forgets the head and everything it holds.
READ_METHODS = frozenset(
    {
        "eth_accounts", "eth_blockNumber", "eth_call", "eth_chainId", "eth_estimateGas",
        "eth_feeHistory", "eth_gasPrice", "eth_getBalance", "eth_getBlockByHash",
        "eth_getBlockByNumber", "eth_getCode", "eth_getFilterChanges", "eth_getFilterLogs",
        "eth_getLogs", "eth_getStorageAt", "eth_getTransactionByHash", "eth_getTransactionCount",
        "eth_getTransactionReceipt", "eth_maxPriorityFeePerGas", "eth_newBlockFilter",
        "eth_newFilter", "eth_syncing", "eth_uninstallFilter", "net_version",
        "web3_clientVersion",
    }
)  # fmt: skip


class ViewCache:
    """The answers of one node to contract calls at one block, shared by every client of a
    :class:`Chain` (all agents of one process on that node).

    A view's result is a pure function of (block, call): ``eth_call`` at block B runs the call on
    the state after block B. So a call sent with an explicit block number equal to the cached
    head is answered once by the node and then from memory, byte for byte the node's answer
    (its JSON-RPC response), for every client of the chain. Only calls at the head are kept,
    and the cache empties whenever the head changes: when the node reports another head (or,
    on the embedded chain, py-evm's canonical head moves), when a request that may change state
    goes through the chain (a transaction: :data:`READ_METHODS` lists what does not), when a
    filter reports new blocks, and when the node was unreachable and came back (it may have been
    restarted with other blocks at the same height). A call with "latest" or "pending" (a
    transaction's simulation) is never cached, nor an error.

    The cache lives in one :class:`Chain`, i.e. one connection to one node: answers are never
    shared across nodes or chains, nor across processes. Off by default; the in-process job
    turns it on (:meth:`Chain.enable_view_cache`), and :meth:`Chain.view_block` gives the block
    its views are pinned to.
    """

    def __init__(self, *, follows_node: bool) -> None:
        self.enabled = False
        #: Whether heads the node reports (``eth_blockNumber``) move the cache; the embedded
        #: chain reads its head from py-evm instead (hash included, so even a revert is seen).
        self.follows_node = follows_node
        #: The block the cached answers belong to: (number, hash or None), or None (unknown).
        self.head: tuple[int, bytes | None] | None = None
        self._answers: dict[str, dict[str, Any]] = {}
        #: Calls answered from memory so far (they never reached the node).
        self.hits = 0

    def move_to(self, number: int, block_hash: bytes | None = None) -> None:
        """Take ``number`` (and ``block_hash``) as the head; another head empties the cache."""
        head = (int(number), block_hash)
        if head != self.head:
            self._answers.clear()
            self.head = head

    def forget(self) -> None:
        """Forget the head and every answer (the next view asks the node for its head)."""
        self.head = None
        self._answers.clear()

    def key(self, method: str, params: Any) -> str | None:
        """The cache key of an ``eth_call`` pinned to the head, else None (not cacheable)."""
        if not self.enabled or method != "eth_call" or self.head is None:
            return None
        if not isinstance(params, list | tuple) or len(params) != 2:
            return None
        call, block = params
        if not isinstance(block, str) or not block.startswith("0x"):
            return None
        try:
            number = int(block, 16)
        except ValueError:
            return None
        if number != self.head[0]:
            return None
        # The head (number and hash) is part of the key: an answer stored after the head moved
        # (another thread) is never served for the new head.
        number, block_hash = self.head
        where = f"{number}:{block_hash.hex() if block_hash else ''}:"
        return where + json.dumps(call, sort_keys=True, default=str)

    def answer(self, key: str | None) -> dict[str, Any] | None:
        held = None if key is None else self._answers.get(key)
        if held is None:
            return None
        self.hits += 1
        return dict(held)

    def observe(self, method: str, key: str | None, response: Any) -> None:
        """Learn from a request that reached the node and its response."""
        if method not in READ_METHODS:
            self.forget()
            return
        if not isinstance(response, Mapping) or "error" in response or "result" not in response:
            return
        result = response["result"]
        if key is not None:
            self._answers[key] = dict(response)
        elif method == "eth_blockNumber" and self.follows_node:
            try:
                self.move_to(int(result, 16) if isinstance(result, str) else int(result))
            except (TypeError, ValueError):
                self.forget()
        elif method == "eth_getFilterChanges" and result and self.follows_node:
            self.forget()  # new blocks (or logs): the head moved


def _request_middleware(counts: Counter[str], views: ViewCache) -> type[Web3Middleware]:
    """A web3 middleware that counts every JSON-RPC request reaching the node, by method, into
    ``counts``, answers ``eth_chainId`` from memory after the first answer (web3 asks for it
    twice per call and transaction to validate; a node's chain id never changes), and answers a
    contract view at the head from ``views`` when it holds it (:class:`ViewCache`): a request
    answered from memory is not counted, since it never reached the node."""

    class NodeRequests(Web3Middleware):
        def wrap_make_request(self, make_request: Any) -> Any:
            chain_id: dict[str, Any] = {}

            def middleware(method: str, params: Any) -> Any:
                if method == "eth_chainId" and chain_id:
                    return dict(chain_id)
                key = views.key(method, params)
                held = views.answer(key)
                if held is not None:
                    return held
                counts[method] += 1
                response = make_request(method, params)
                if method == "eth_chainId" and "result" in response and "error" not in response:
                    chain_id.update(response)
                views.observe(method, key, response)
                return response

            return middleware

    return NodeRequests


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
        return bytes(Account.decrypt(dict(keystore), password))
    if crypto.get("cipher") != "aes-128-ctr":
        raise ValueError(f"unsupported keystore cipher {crypto.get('cipher')!r}")
    from Crypto.Cipher import AES
    from Crypto.Util import Counter as CtrCounter
    from eth_utils import keccak

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
    if not hmac.compare_digest(keccak(derived[16:32] + ciphertext), bytes.fromhex(crypto["mac"])):
        raise ValueError("MAC mismatch")
    counter = CtrCounter.new(128, initial_value=int(crypto["cipherparams"]["iv"], 16))
    return bytes(AES.new(derived[:16], AES.MODE_CTR, counter=counter).decrypt(ciphertext))


class Chain:
    """A web3 connection plus the signing keys hefl holds for it.

    :attr:`requests` counts the JSON-RPC requests sent to the node, by method (``eth_call``:
    contract reads), so a job's chain traffic is measured by counting, not timing."""

    def __init__(
        self,
        w3: Web3,
        *,
        kind: ChainKind,
        url: str | None = None,
        backend: Any = None,
        state_path: Path | None = None,
    ) -> None:
        self.w3 = w3
        self.kind: ChainKind = kind
        self.url = url
        self._backend = backend  # eth-tester's PyEVMBackend for the embedded chain
        #: Where :meth:`save` writes the embedded chain's database (None: nowhere by default).
        self.state_path = state_path
        self._keys: dict[ChecksumAddress, LocalAccount] = {}
        self._chain_id: int | None = None
        #: JSON-RPC requests that reached the node so far, by method.
        self.requests: Counter[str] = Counter()
        #: Contract views at the head block, shared by every client of this chain (off until
        #: :meth:`enable_view_cache`).
        self.views = ViewCache(follows_node=backend is None)
        self._recoveries = 0
        w3.middleware_onion.add(
            _request_middleware(self.requests, self.views), name="hefl_requests"
        )

    def __repr__(self) -> str:
        where = self.url or "eth-tester"
        return f"Chain({self.kind}, {where}, chain_id={self.chain_id})"

    # --- facts ------------------------------------------------------------------------------------
    @property
    def chain_id(self) -> int:
        if self._chain_id is None:
            self._chain_id = int(self.w3.eth.chain_id)
        return self._chain_id

    @property
    def block_number(self) -> int:
        return int(self.w3.eth.block_number)

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
            recoveries = int(getattr(self.w3.provider, "recoveries", 0))
            if recoveries != self._recoveries:
                self._recoveries = recoveries
                views.forget()
            if views.head is None:
                views.move_to(self.block_number)
        assert views.head is not None
        return views.head[0]

    def node_accounts(self) -> tuple[ChecksumAddress, ...]:
        """Accounts the node itself holds unlocked (``eth_accounts``)."""
        return tuple(to_checksum_address(a) for a in self.w3.eth.accounts)

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
        return int(self.w3.eth.get_balance(to_checksum_address(address)))

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
        try:
            account: LocalAccount = Account.from_key(private_key)
        except (ValueError, TypeError) as error:
            raise ConfigError(f"not a valid secp256k1 private key ({error})") from error
        address = to_checksum_address(account.address)
        self._keys[address] = account
        return address

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
    def transact(self, tx: Mapping[str, Any], *, on_revert: RevertHook | None = None) -> TxReceipt:
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
                self.w3.eth.call(params, block)  # type: ignore[arg-type]
            gas = self._gas_limit_for(params, block)
        except Exception as error:
            decoded = on_revert(error) if on_revert else None
            if decoded is not None:
                raise decoded from None
            raise ChainError(f"transaction from {params['from']} would fail: {error}") from error
        params.setdefault("gas", gas)
        try:
            tx_hash = self._send(params)
            receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=RECEIPT_TIMEOUT_S)
        except ContractRevertError:
            raise
        except Exception as error:
            decoded = on_revert(error) if on_revert else None
            if decoded is not None:
                raise decoded from None
            raise ChainError(
                f"sending a transaction from {params['from']} failed: {error}"
            ) from error
        if int(receipt["status"]) != 1:
            decoded = self._replay_revert(params, int(receipt["blockNumber"]), on_revert)
            if decoded is not None:
                raise decoded
            raise ChainError(
                f"transaction {HexBytes(receipt['transactionHash']).to_0x_hex()} reverted in block "
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
        gas = int(self.w3.eth.estimate_gas(params, block))  # type: ignore[arg-type]
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
            self.w3.eth.call(call, block)  # type: ignore[arg-type]
        except Exception as error:
            return on_revert(error)
        return None

    def _send(self, params: dict[str, Any]) -> HexBytes:
        sender = params["from"]
        key = self._keys.get(sender)
        if key is None:
            return HexBytes(self.w3.eth.send_transaction(params))  # type: ignore[arg-type]
        signed_fields: dict[str, Any] = {k: v for k, v in params.items() if k != "from"}
        signed_fields.setdefault("chainId", self.chain_id)
        signed_fields.setdefault("nonce", self.w3.eth.get_transaction_count(sender, "pending"))
        if "gasPrice" not in signed_fields:
            base_fee = int(self.w3.eth.get_block("latest").get("baseFeePerGas", 0) or 0)
            signed_fields.setdefault("maxPriorityFeePerGas", PRIORITY_FEE_WEI)
            signed_fields.setdefault("maxFeePerGas", 2 * base_fee + PRIORITY_FEE_WEI)
        signed = key.sign_transaction(signed_fields)
        return HexBytes(self.w3.eth.send_raw_transaction(signed.raw_transaction))


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
    provider's outage limit) raises. ``mode`` says which way it looks (``"filter"``/``"poll"``).
    """

    def __init__(self, chain: Chain) -> None:
        self.chain = chain
        self.filter_id: Any = None
        self.losses = 0
        self.seen_block = chain.block_number
        self.mode: Literal["filter", "poll"] = "filter" if self._install() else "poll"

    def _install(self) -> bool:
        try:
            self.filter_id = self.chain.w3.eth.filter("latest").filter_id
        except ChainError:
            raise
        except Exception as error:  # the node refuses filters: poll its head
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
            changes = self.chain.w3.eth.get_filter_changes(self.filter_id)
        except ChainError:
            raise  # unreachable past the outage limit
        except Exception as error:  # the node forgot the filter, or answered nonsense
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
                self.chain.w3.eth.uninstall_filter(self.filter_id)
            except Exception as error:  # a courtesy to the node; nothing to undo
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
    (1, 2, 3, ...), so never reuse them anywhere real.
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
    w3 = Web3(EthereumTesterProvider(EthereumTester(backend)))
    chain = Chain(w3, kind="embedded", backend=backend, state_path=state_path)
    # eth-tester fills a call's missing sender with its first account, asking for the account
    # list three times per call; name that account once.
    w3.eth.default_account = chain.node_accounts()[0]
    return chain


class RetryingHTTPProvider(HTTPProvider):
    """An HTTP provider that rides out a node outage: the one retry policy of every chain call.

    A request that cannot reach the node (connection refused or reset) is retried with
    exponential back-off from ``OUTAGE_BACKOFF_S[0]`` up to ``OUTAGE_BACKOFF_S[1]`` seconds for up
    to ``outage_limit_s``; the outage and the recovery are logged once each (warning level).
    Errors the node answers with are not retried here: they are the caller's to decode.
    """

    def __init__(self, url: str, *, timeout_s: float, outage_limit_s: float) -> None:
        super().__init__(
            url, request_kwargs={"timeout": timeout_s}, exception_retry_configuration=None
        )
        self.outage_limit_s = outage_limit_s
        #: Outages ridden out so far (the node may have come back with other blocks).
        self.recoveries = 0

    def _make_request(self, method: Any, request_data: bytes) -> bytes:
        import requests

        started: float | None = None
        pause = OUTAGE_BACKOFF_S[0]
        while True:
            try:
                response = super()._make_request(method, request_data)
            except requests.ConnectionError as error:
                now = time.monotonic()
                if started is None:
                    started = now
                    _log.warning(
                        "node %s unreachable (%s); retrying for up to %.0f s",
                        self.endpoint_uri, type(error).__name__, self.outage_limit_s,
                    )  # fmt: skip
                if now - started >= self.outage_limit_s:
                    raise ChainError(
                        f"the node at {self.endpoint_uri} has been unreachable for "
                        f"{now - started:.0f} s; start it again and rerun (nothing done is lost)"
                    ) from error
                time.sleep(pause)
                pause = min(2 * pause, OUTAGE_BACKOFF_S[1])
                continue
            if started is not None:
                self.recoveries += 1
                _log.warning(
                    "node %s reachable again after %.1f s", self.endpoint_uri,
                    time.monotonic() - started,
                )  # fmt: skip
            return response


def connect_rpc(
    url: str,
    *,
    private_keys: tuple[str, ...] = (),
    timeout_s: float = 30.0,
    outage_limit_s: float = NODE_OUTAGE_LIMIT_S,
) -> Chain:
    """Connect to a JSON-RPC node at ``url`` (``http(s)://`` or an IPC socket path; e.g. Anvil).

    ``private_keys`` are held for local signing; the node's own unlocked accounts work as well.
    """
    provider: Any
    if url.startswith(("http://", "https://")):
        provider = RetryingHTTPProvider(url, timeout_s=timeout_s, outage_limit_s=outage_limit_s)
    elif url.endswith(".ipc"):
        provider = IPCProvider(url, timeout=int(timeout_s))
    else:
        raise ConfigError(
            f"RPC URL {url!r} must start with http:// or https:// (or be a .ipc path)"
        )
    w3 = Web3(provider)
    if isinstance(provider, RetryingHTTPProvider):
        provider.outage_limit_s = 0.0  # the first contact fails fast: a wrong URL is not an outage
    try:
        w3.eth.chain_id  # noqa: B018 - probe the connection once
    except Exception as error:
        raise ChainError(f"cannot reach an Ethereum node at {url}: {error}") from error
    if isinstance(provider, RetryingHTTPProvider):
        provider.outage_limit_s = outage_limit_s
    chain = Chain(w3, kind="rpc", url=url)
    for key in private_keys:
        chain.add_private_key(key)
    return chain
