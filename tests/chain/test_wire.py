"""The JSON-RPC wire (:mod:`hefl.chain.wire`): what a node answers, as hefl reads it.

Against a small JSON-RPC server on 127.0.0.1 played by this test: every request that reaches it is
counted by method, the chain id is asked once, an error answer is a NodeError carrying the node's
code, message and revert data, an answer that is not JSON-RPC is one clear ChainError, and a node
that closes the connection after every answer (saying so, or behind a kept-alive connection's back)
is reached again without an outage.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from hefl.chain.node import Chain
from hefl.chain.wire import HttpTransport, NodeError, Wire, quantity
from hefl.errors import ChainError

REVERT = "0x08c379a0" + "00" * 32


class Node(BaseHTTPRequestHandler):
    """Answers from the class's ``answers`` (method -> response body), and closes the connection
    after every answer (HTTP/1.0 says so; :class:`DroppingNode` answers HTTP/1.1, keep-alive, and
    closes all the same, as a node dropping idle connections does)."""

    answers: ClassVar[dict[str, Any]] = {}
    seen: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.seen.append(request["method"])
        body = self.answers.get(request["method"])
        if body is None:
            body = {"jsonrpc": "2.0", "id": request["id"], "result": "0x7a69"}
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
        self.close_connection = True

    def log_message(self, *args: Any) -> None:
        pass


class DroppingNode(Node):
    protocol_version = "HTTP/1.1"


@pytest.fixture(params=[Node, DroppingNode], ids=["http1.0", "dropped-keep-alive"])
def node_url(request: pytest.FixtureRequest) -> Iterator[str]:
    Node.answers, Node.seen = {}, []
    server = ThreadingHTTPServer(("127.0.0.1", 0), request.param)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_requests_are_counted_and_the_chain_id_asked_once(node_url: str, caplog) -> None:
    wire = Wire(HttpTransport(node_url, timeout_s=5, outage_limit_s=5), follows_node=True)
    chain = Chain(wire, kind="rpc", url=node_url)
    with caplog.at_level(logging.WARNING, logger="hefl.chain.node"):
        for _ in range(3):  # the server closes every connection: reopened, never an outage
            assert chain.chain_id == 31337
            assert wire.request("eth_chainId") == "0x7a69"
            assert quantity(wire.request("eth_blockNumber")) == 31337
    assert Node.seen == ["eth_chainId"] + ["eth_blockNumber"] * 3
    assert wire.requests == {"eth_chainId": 1, "eth_blockNumber": 3}
    assert wire.recoveries == 0 and not caplog.records


def test_an_error_answer_is_a_node_error_with_its_revert_data(node_url: str) -> None:
    error = {"code": 3, "message": "execution reverted: no", "data": REVERT}
    Node.answers["eth_call"] = {"jsonrpc": "2.0", "id": 1, "error": error}
    wire = Wire(HttpTransport(node_url, timeout_s=5, outage_limit_s=5), follows_node=True)
    with pytest.raises(NodeError, match="execution reverted") as caught:
        wire.request("eth_call", [{"to": "0x" + "00" * 20}, "latest"])
    assert (caught.value.code, caught.value.data) == (3, REVERT)
    assert isinstance(caught.value, ChainError)


@pytest.mark.parametrize("body", [b"<html>busy</html>", b"[1, 2]", b'{"jsonrpc": "2.0"}'])
def test_an_answer_that_is_not_json_rpc_is_a_chain_error(node_url: str, body: bytes) -> None:
    Node.answers["eth_blockNumber"] = body
    wire = Wire(HttpTransport(node_url, timeout_s=5, outage_limit_s=5), follows_node=True)
    with pytest.raises(ChainError, match="eth_blockNumber"):
        wire.request("eth_blockNumber")


def test_threads_talk_to_the_node_each_on_its_own_connection(node_url: str) -> None:
    transport = HttpTransport(node_url, timeout_s=5, outage_limit_s=5)
    wire = Wire(transport, follows_node=True)
    answers: list[int] = []

    def ask() -> None:
        for _ in range(20):
            answers.append(quantity(wire.request("eth_blockNumber")))

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [31337] * 80 and wire.requests["eth_blockNumber"] == 80
