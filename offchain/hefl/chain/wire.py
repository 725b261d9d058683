"""The one way hefl talks to an Ethereum node: JSON-RPC requests over a :class:`Wire`.

A wire sends ``request(method, params)`` to a node through a *transport* (a callable taking the
method and its parameters and returning the node's JSON-RPC response object): :class:`HttpTransport`
for a node on HTTP (keep-alive ``http.client``, riding out outages; no web3), or
:class:`ProviderTransport` over a web3 provider (the embedded eth-tester chain). On the way, the
wire counts every request that reaches the node (:attr:`Wire.requests`, by method), answers
``eth_chainId`` from memory after its first answer, and answers contract views at the head from
its :class:`ViewCache`. An error the node answers with is raised as :class:`NodeError` (code,
message and revert data); an unreachable node as :class:`~hefl.errors.ChainError`.

Node answers differ in form: a node gives quantities as hex strings, eth-tester as ints;
:func:`quantity` reads either.
"""

from __future__ import annotations

import http.client
import itertools
import json
import logging
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from hefl.chain.revert import revert_data
from hefl.errors import ChainError, ConfigError

_log = logging.getLogger("hefl.chain.node")

#: A transport: (method, params) -> the node's JSON-RPC response ({"result": …} or {"error": …}).
Transport = Callable[[str, list[Any]], Mapping[str, Any]]

#: Seconds an agent waits for an unreachable node before it gives up (a node restart takes ~1 s;
#: this covers a restart by hand). Every JSON-RPC call goes through :class:`HttpTransport`.
NODE_OUTAGE_LIMIT_S = 300.0
#: First and largest pause between two attempts to reach a node that is down.
OUTAGE_BACKOFF_S = (0.2, 5.0)

#: JSON-RPC methods that only read the node. Any other request sent through a :class:`Wire` (a
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


class NodeError(ChainError):
    """The node answered a request with a JSON-RPC error (``code``, ``message``, ``data``: for a
    revert, the revert data as the node gives it, which
    :func:`~hefl.chain.revert.revert_data` reads)."""

    def __init__(self, method: str, error: Mapping[str, Any]) -> None:
        self.method = method
        self.code = error.get("code")
        self.message = str(error.get("message", ""))
        self.data = error.get("data")
        super().__init__(f"{method}: {self.message} (code {self.code})")


def quantity(value: Any) -> int:
    """A JSON-RPC quantity (a hex string from a node, an int from eth-tester) as an int."""
    if isinstance(value, str):
        return int(value, 16)
    return int(value)


def to_quantity(value: int) -> str:
    """An int as a JSON-RPC quantity (``0x``-prefixed hex, no leading zeros)."""
    return hex(int(value))


def block_id(block: int | str | None) -> str:
    """A block parameter: a number as hex, a tag (``"latest"``, ``"pending"``) as is."""
    if block is None:
        return "latest"
    return to_quantity(block) if isinstance(block, int) else str(block)


class ViewCache:
    """The answers of one node to contract calls at one block, shared by every client of a
    :class:`Wire` (all agents of one process on that node).

    A view's result is a pure function of (block, call): ``eth_call`` at block B runs the call on
    the state after block B. So a call sent with an explicit block number equal to the cached
    head is answered once by the node and then from memory, byte for byte the node's answer
    (its JSON-RPC response), for every client of the chain. Only calls at the head are kept,
    and the cache empties whenever the head changes: when the node reports another head (or,
    on the embedded chain, py-evm's canonical head moves), when a request that may change state
    goes through the wire (a transaction: :data:`READ_METHODS` lists what does not), when a
    filter reports new blocks, and when the node was unreachable and came back (it may have been
    restarted with other blocks at the same height). A call with "latest" or "pending" (a
    transaction's simulation) is never cached, nor an error.

    The cache lives in one wire, i.e. one connection to one node: answers are never shared
    across nodes or chains, nor across processes. Off by default; the in-process job turns it on
    (:meth:`~hefl.chain.node.Chain.enable_view_cache`), and
    :meth:`~hefl.chain.node.Chain.view_block` gives the block its views are pinned to.
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
                self.move_to(quantity(result))
            except (TypeError, ValueError):
                self.forget()
        elif method == "eth_getFilterChanges" and result and self.follows_node:
            self.forget()  # new blocks (or logs): the head moved


class Wire:
    """JSON-RPC requests to one node through ``transport``, counted and (views) cached.

    :attr:`requests` counts the requests that reached the node, by method (``eth_call``:
    contract reads), so a job's chain traffic is measured by counting, not timing; a request
    answered from memory (a cached view, the chain id after its first answer) is not counted.
    """

    def __init__(self, transport: Transport, *, follows_node: bool) -> None:
        self.transport = transport
        #: JSON-RPC requests that reached the node so far, by method.
        self.requests: Counter[str] = Counter()
        #: Contract views at the head block (off until enabled).
        self.views = ViewCache(follows_node=follows_node)
        self._chain_id: dict[str, Any] = {}
        self._counting = threading.Lock()  # agents on threads share the wire

    @property
    def recoveries(self) -> int:
        """Outages the transport rode out so far (the node may have come back with other
        blocks)."""
        return int(getattr(self.transport, "recoveries", 0))

    def send(self, method: str, params: list[Any]) -> dict[str, Any]:
        """The node's JSON-RPC response to ``method(params)`` (an error response included)."""
        if method == "eth_chainId" and self._chain_id:
            return dict(self._chain_id)
        key = self.views.key(method, params)
        held = self.views.answer(key)
        if held is not None:
            return held
        with self._counting:
            self.requests[method] += 1
        response = dict(self.transport(method, params))
        if method == "eth_chainId" and "result" in response and "error" not in response:
            self._chain_id.update(response)
        self.views.observe(method, key, response)
        return response

    def request(self, method: str, params: list[Any] | tuple[Any, ...] = ()) -> Any:
        """The result of ``method(params)``; :class:`NodeError` if the node answers an error."""
        response = self.send(method, list(params))
        error = response.get("error")
        if error is not None:
            raise NodeError(method, error if isinstance(error, Mapping) else {"message": error})
        if "result" not in response:
            raise ChainError(f"{method}: the node's answer has neither result nor error")
        return response["result"]


class HttpTransport:
    """JSON-RPC over HTTP(S) on keep-alive connections (one per thread), riding out a node outage:
    the one retry policy of every chain call.

    A request that cannot reach the node (connection refused, reset or timed out while connecting)
    is retried with
    exponential back-off from ``OUTAGE_BACKOFF_S[0]`` up to ``OUTAGE_BACKOFF_S[1]`` seconds for up
    to ``outage_limit_s``; the outage and the recovery are logged once each (warning level).
    A kept-alive connection the node closed meanwhile is reopened at once, without counting as an
    outage. A node that takes longer than ``timeout_s`` to answer is a
    :class:`~hefl.errors.ChainError` at once (the request may have been carried out: it is not
    sent again). Errors the node answers with are not retried here: they are the caller's to
    decode.
    """

    def __init__(self, url: str, *, timeout_s: float, outage_limit_s: float) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"RPC URL {url!r} must start with http:// or https://")
        self.url = url
        self._scheme = parts.scheme
        self._host = parts.hostname
        self._port = parts.port
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.timeout_s = timeout_s
        self.outage_limit_s = outage_limit_s
        #: Outages ridden out so far (the node may have come back with other blocks).
        self.recoveries = 0
        self._local = threading.local()
        self._ids = itertools.count(1)

    def _connect(self) -> http.client.HTTPConnection:
        """A new connection to the node; a connect that times out is an unreachable node."""
        kind = (
            http.client.HTTPSConnection if self._scheme == "https" else http.client.HTTPConnection
        )
        connection = kind(self._host, self._port, timeout=self.timeout_s)
        try:
            connection.connect()
        except TimeoutError as error:
            connection.close()
            raise ConnectionError(f"connecting timed out after {self.timeout_s} s") from error
        return connection

    def _post(self, body: bytes) -> bytes:
        """One exchange on this thread's connection; a connection kept from before that fails
        is reopened once, at once."""
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        for attempt in (0, 1):
            connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
            reused = connection is not None
            if connection is None:
                connection = self._local.connection = self._connect()
            try:
                connection.request("POST", self._path, body, headers)
                response = connection.getresponse()
                payload = response.read()
            except (OSError, http.client.HTTPException) as error:
                connection.close()
                self._local.connection = None
                if reused and attempt == 0 and not isinstance(error, TimeoutError):
                    continue  # the node closed an idle connection: reopen it
                raise
            if response.status >= 400 and not payload.startswith(b"{"):
                raise ChainError(f"the node at {self.url} answered HTTP {response.status}")
            return payload
        raise AssertionError("unreachable")  # pragma: no cover

    def __call__(self, method: str, params: list[Any]) -> dict[str, Any]:
        request = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params}
        body = json.dumps(request).encode()
        started: float | None = None
        pause = OUTAGE_BACKOFF_S[0]
        while True:
            try:
                payload = self._post(body)
            except TimeoutError as error:
                raise ChainError(
                    f"the node at {self.url} did not answer {method} within {self.timeout_s} s"
                ) from error
            except (OSError, http.client.HTTPException) as error:
                now = time.monotonic()
                if started is None:
                    started = now
                    _log.warning(
                        "node %s unreachable (%s); retrying for up to %.0f s",
                        self.url, type(error).__name__, self.outage_limit_s,
                    )  # fmt: skip
                if now - started >= self.outage_limit_s:
                    raise ChainError(
                        f"the node at {self.url} has been unreachable for "
                        f"{now - started:.0f} s; start it again and rerun (nothing done is lost)"
                    ) from error
                time.sleep(pause)
                pause = min(2 * pause, OUTAGE_BACKOFF_S[1])
                continue
            if started is not None:
                self.recoveries += 1
                _log.warning(
                    "node %s reachable again after %.1f s", self.url, time.monotonic() - started
                )
            try:
                response = json.loads(payload)
            except ValueError as error:
                raise ChainError(
                    f"the node at {self.url} answered {method} with no JSON"
                ) from error
            if not isinstance(response, dict):
                raise ChainError(f"the node at {self.url} answered {method} with {response!r}")
            return response

    def close(self) -> None:
        """Close this thread's connection (the next request opens another)."""
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None


class ProviderTransport:
    """JSON-RPC through a web3 provider's own request pipeline (its provider middleware
    included: eth-tester's formats requests and answers as a node's), for the embedded chain.

    eth-tester raises where a node answers an error (a revert: ``TransactionFailed`` with the
    revert data; a bad transaction: a validation error); such an exception becomes the error
    response a node would give, its revert data under ``data``."""

    def __init__(self, provider: Any) -> None:
        from web3 import Web3

        self.provider = provider
        #: The web3 client the provider's middleware run with (none of its own).
        self.client = Web3(provider, middleware=[])
        self._request = provider.request_func(self.client, self.client.middleware_onion)

    def __call__(self, method: str, params: list[Any]) -> Mapping[str, Any]:
        try:
            return self._request(method, params)
        except Exception as error:  # the embedded node's way of answering an error
            data = revert_data(error)
            answer: dict[str, Any] = {"code": -32000, "message": f"{type(error).__name__}: {error}"}
            if data is not None:
                answer.update(code=3, data="0x" + data.hex())
            return {"jsonrpc": "2.0", "id": 0, "error": answer}
