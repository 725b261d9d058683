"""hefl's own ABI codec (:class:`hefl.chain.contract.ContractAbi`, eth-abi from the artifact's ABI)
reads what web3's contract objects read: every view's result, every event's arguments, every
transaction's calldata, on the embedded chain and on Anvil. web3 is imported here only, as an
independent reference (through :attr:`Chain.w3`, a second client on the same node)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from chain_helpers import Deployer, h

from hefl.chain import Chain, LedgerClient
from hefl.chain.contract import plain_value
from hefl.chain.signing import hex_bytes
from hefl.errors import ChainError


def busy_ledger(deploy: Deployer, accounts: Sequence[str]) -> LedgerClient:
    """A ledger whose history emits every event (as in test_every_state_change_has_an_event)."""
    ledger = deploy(3)
    ledger.open_round(0, 10, h("w0"))
    for i in (1, 2, 3):
        ledger.as_sender(accounts[i]).submit(0, h(f"m{i}"))
    ledger.commit_aggregate(0, h("agg"))
    for i in (1, 2):
        ledger.as_sender(accounts[i]).attest(0, h("agg"))
    ledger.open_round(10, 10, h("w1"))
    ledger.as_sender(accounts[1]).submit(1, h("m"))
    ledger.commit_aggregate(1, h("bad"))
    for i in (2, 3):
        ledger.as_sender(accounts[i]).dispute(1, h("good"))
    ledger.open_round(10, 10, h("w1"))
    ledger.void_round(2)
    ledger.open_round(10, 10, h("w1"))
    ledger.as_sender(accounts[1]).submit_blobs(3, b"model", b"extra")
    ledger.commit_aggregate_blob(3, b"aggregate", [0])
    return ledger


def argument(kind: str, accounts: Sequence[str], round: int) -> Any:
    if kind.startswith("uint"):
        return round
    if kind == "address":
        return accounts[1]
    if kind == "bytes32":
        return h("w1")
    raise AssertionError(f"no test argument for {kind}")


def test_views_events_and_calldata_decode_as_web3_decodes_them(
    chain: Chain, deploy: Deployer, accounts: Sequence[str]
) -> None:
    ledger = busy_ledger(deploy, accounts)
    reference = chain.w3.eth.contract(address=ledger.address, abi=ledger.artifact.abi_list)
    views = [
        e for e in ledger.artifact.abi if e["type"] == "function" and e["stateMutability"] == "view"
    ]
    compared = 0
    for view in views:
        for round in range(4):
            args = [argument(p["type"], accounts, round) for p in view["inputs"]]
            expected = reference.functions[view["name"]](*args).call()
            assert ledger._call(view["name"], *args) == expected, (view["name"], args)
            compared += 1
    assert compared >= len(views)

    logs = chain.logs(ledger.address, 0)
    raw = chain.w3.eth.get_logs({"address": ledger.address, "fromBlock": 0, "toBlock": "latest"})
    assert len(logs) == len(raw) > 20
    names = set()
    for mine, theirs in zip(logs, raw, strict=True):
        event = ledger._decode_log(mine)
        assert event is not None
        names.add(event.name)
        expected = reference.events[event.name]().process_log(theirs)
        assert event.args == {k: plain_value(v) for k, v in expected["args"].items()}
        assert event.block_number == expected["blockNumber"]
        assert event.log_index == expected["logIndex"]
        assert event.transaction_hash == expected["transactionHash"].to_0x_hex()
        calldata = chain.transaction(event.transaction_hash).get("input")
        called = ledger.decode_input(calldata)
        if called is not None:  # (not the deployment)
            function, args = reference.decode_function_input(calldata)
            assert called == (function.fn_name, {k: plain_value(v) for k, v in args.items()})
    assert names == {e["name"] for e in ledger.artifact.abi if e["type"] == "event"}


def test_bytes_a_node_sends_that_do_not_decode_are_a_chain_error(
    chain: Chain, deploy: Deployer, accounts: Sequence[str]
) -> None:
    """A lying node — a view's result, a log, a transaction's calldata or revert data that do not
    decode as the ABI says — gives hefl's ChainError naming what did not decode (a replica turns
    it into a verdict, the CLI into one line), never eth-abi's own exceptions."""
    ledger = busy_ledger(deploy, accounts)
    honest_logs = chain.logs(ledger.address, 0)
    committed = next(
        log for log in honest_logs if ledger._decode_log(log).name == "AggregateCommitted"
    )
    calldata = hex_bytes(chain.transaction(committed["transactionHash"])["input"])
    transport = chain.wire.transport
    lies: dict[str, Any] = {}

    def lying(method: str, params: list[Any]) -> Any:
        if method in lies:
            return {"jsonrpc": "2.0", "id": 0, "result": lies[method]}
        return transport(method, params)

    chain.wire.transport = lying
    try:
        lies["eth_call"] = "0x1234"  # roundCount() returns 32 bytes
        with pytest.raises(ChainError, match="call failed"):
            ledger.round_count()
        del lies["eth_call"]
        truncated = {**committed, "data": "0x" + bytes(committed["data"])[:7].hex()}
        for log, match in [
            (truncated, "AggregateCommitted log's data does not decode"),
            ({**committed, "topics": list(committed["topics"])[:1]}, "topics"),
            ({k: v for k, v in committed.items() if k != "data"}, "log's data does not decode"),
            ({k: v for k, v in committed.items() if k != "blockNumber"}, "log hefl cannot read"),
            ({**committed, "address": "0x12"}, "log hefl cannot read"),
        ]:
            lies["eth_getLogs"] = [_rpc_log(log)]
            with pytest.raises(ChainError, match=match):
                ledger.events()
        with pytest.raises(ChainError, match="calldata of commitAggregate"):
            ledger.decode_input(calldata[:4] + b"\x01" * 5)
        selector = next(iter(ledger._abi.decoder._specs))
        with pytest.raises(ChainError, match="revert does not decode"):
            ledger._abi.decoder.decode(selector + b"\x02" * 3)
    finally:
        chain.wire.transport = transport


def _rpc_log(log: dict[str, Any]) -> dict[str, Any]:
    """A log as a node sends it in JSON-RPC (hex strings)."""

    def hexed(value: Any) -> Any:
        if isinstance(value, bytes | bytearray):
            return "0x" + bytes(value).hex()
        if isinstance(value, int) and not isinstance(value, bool):
            return hex(value)
        if isinstance(value, list):
            return [hexed(v) for v in value]
        return value

    return {k: hexed(v) for k, v in log.items()}


def test_records_a_node_reports_that_the_contract_cannot_hold_are_a_chain_error(
    chain: Chain, deploy: Deployer, accounts: Sequence[str]
) -> None:
    """A lying node whose answers decode but say what FLLedger cannot hold — a round status it
    has not, a submission list not one entry per participant — gives ChainError, never a
    ValueError escaping the agent."""
    from eth_abi import decode, encode

    ledger = busy_ledger(deploy, accounts)
    honest = ledger.get_round(3)
    transport = chain.wire.transport
    selectors = {
        name: ledger._abi.function(name).selector for name in ("getRound", "getSubmissions")
    }

    def lying(method: str, params: list[Any]) -> Any:
        answer = transport(method, params)
        if method != "eth_call":
            return answer
        data = hex_bytes(params[0]["data"])
        for name, selector in selectors.items():
            if data.startswith(selector):
                types = list(ledger._abi.function(name).outputs)
                values = list(decode(types, hex_bytes(answer["result"])))
                if name == "getRound":
                    values[0] = (*values[0][:2], 9, *values[0][3:])  # no such status
                else:
                    values[1] = values[1][:-1]  # one model hash short
                return {**answer, "result": "0x" + encode(types, values).hex()}
        return answer

    chain.wire.transport = lying
    try:
        with pytest.raises(ChainError, match="in status 9, which FLLedger has not"):
            ledger.get_round(3)
        with pytest.raises(ChainError, match="2 model and 3 extra hashes for 3 participants"):
            ledger.round_submissions(3)
    finally:
        chain.wire.transport = transport
    assert ledger.get_round(3) == honest
