"""``hefl bench round`` end to end at a toy size: both floors present and labelled, the plans
reported, the ratios consistent with the reported parts (no timing is asserted); the ledger's
cost per round of the in-process job (gas by function, node requests by method) equal to what a
second client reads from the same chain, and its reads growing linearly in N (counted)."""

from __future__ import annotations

import json
import warnings
from collections import Counter
from pathlib import Path

import pytest
from web3 import EthereumTesterProvider, Web3

from hefl.agents.job import InProcessJob, JobConfig
from hefl.bench import round as bench_round
from hefl.chain import LocalBlobStore, connect_embedded, load_artifact
from hefl.cli.main import main
from hefl.control import FixedTauController
from hefl.crypto import InsecureKeyWarning
from hefl.data import SplitConfig

pytest.importorskip("phe")


@pytest.fixture(scope="module")
def result(toy_round) -> dict:
    return toy_round


def test_round_reports_both_floors_and_their_ratios(result) -> None:
    assert result["features"] == 6 and result["participants"] == 2 and result["tau"] == 2
    kernel, naive = result["kernel_floor_ms"], result["naive_floor_ms"]
    assert any("standalone" in name for name in kernel)
    assert all(ms > 0 for ms in (*kernel.values(), *naive.values()))
    serial = result["fused_round_serial_s"]
    ratios = result["ratios"]
    assert ratios["round_vs_kernel_floor"] == pytest.approx(serial / (sum(kernel.values()) / 1e3))
    assert ratios["round_vs_naive_floor"] == pytest.approx(serial / (sum(naive.values()) / 1e3))
    assert {t["name"] for t in result["targets"]} == {name for name, *_ in bench_round.TARGETS}
    assert [p["model"] for p in result["plans"]] == ["dense", "dense"]  # 800 rows ≫ d = 6
    assert {"date", "cpu_count", "load_average_1min"} <= set(result["machine"])
    text = bench_round.render(result)
    assert "kernel floor" in text and "naive floor" in text and "plan of participant 1" in text
    json.dumps(result)


def test_the_party_packs_the_models_itself_and_both_counts_are_reported(result) -> None:
    """d = 6 ≥ REPACK_MIN_SLOTS and k ≥ 6 at 2048 bits: the aggregate, the global model and the
    N local models one group (one decryption) each, the packed gradients one ciphertext each;
    its Horner at least b + 1 ≥ 75 (the global model's |w| < 2^32 at 2^-40, and the sign)
    multiplications per value below a group's top, per prime; one per value before ("was")."""
    d, n = result["features"], result["participants"]
    counts = result["party_decryptions"]
    assert (counts["repacked"], counts["packed"], counts["small"]) == (2 + n, 2 * n, 0)
    assert counts["total"] == result["party_s"]["decrypted_ciphertexts"] == 2 + 3 * n
    assert counts["unpacked"] == result["packing"]["party_decryptions_unpacked"] == (2 + 3 * n) * d
    assert counts["horner"] >= (2 + n) * 2 * (d - 1) * 75
    assert any("own packing" in name for name in result["kernel_floor_ms"])
    text = bench_round.render(result)
    assert f"decrypts {2 + 3 * n} ciphertexts per round instead of {(2 + 3 * n) * d}" in text
    assert "packs itself" in text


def test_cli_refuses_a_bad_option_in_one_line(capsys) -> None:
    assert main(["bench", "round", "--features", "1"]) == 1
    err = capsys.readouterr().err.strip()
    assert err == "hefl bench: error: --features must be ≥ 2, got 1"


def test_round_reports_the_ledger_cost_of_every_job_round(result) -> None:
    rounds, summary = result["job_rounds"], result["job_chain"]
    assert len(rounds) == summary["rounds"] == bench_round.QUICK_JOB_ROUNDS
    assert result["job_round_s"] == rounds[0]["wall_s"]
    for r in rounds:
        assert r["gas"] == sum(r["gas_by_function"].values()) > 0
        assert r["requests"] == sum(r["requests_by_method"].values()) > 0
        assert r["transactions_by_function"]["openRound"] == 1
        assert sum(n for f, n in r["transactions_by_function"].items() if "submit" in f) == 2
        assert r["requests_by_method"]["eth_call"] > 0
    assert [r["blocks"][0] for r in rounds[1:]] == [r["blocks"][1] + 1 for r in rounds[:-1]]
    first, later, mean = summary["first"], summary["later_mean"], summary["mean"]
    assert first["gas_by_function"] == rounds[0]["gas_by_function"]
    assert later["requests"] == pytest.approx(
        sum(r["requests"] for r in rounds[1:]) / (len(rounds) - 1)
    )
    assert mean["gas"] == pytest.approx(sum(r["gas"] for r in rounds) / len(rounds))
    assert mean["gas"] == pytest.approx(sum(mean["gas_by_function"].values()))
    text = bench_round.render(result)
    assert "ledger per round of the in-process job" in text
    assert all(f"gas {name}" in text for name in first["gas_by_function"])
    assert "req eth_call" in text and "later (mean)" in text


# --- the ledger costs against a second client reading the same embedded chain ------------------
SMALL_ROUNDS = 2


def small_job(tmp_path: Path, participants: int) -> tuple[InProcessJob, list[dict]]:
    """A ``SMALL_ROUNDS``-round Boston job of ``participants`` (1024-bit test keys) measured by
    the bench's :func:`~hefl.bench.round.job_round_costs`; the chain stays open to be read."""
    chain = connect_embedded(num_accounts=participants + 2)
    config = JobConfig(
        dataset="boston",
        split=SplitConfig(participants=participants),
        key_bits=1024,
        allow_insecure_keys=True,
        workers=1,
    )
    with warnings.catch_warnings():  # the 1024-bit key is a test's, on purpose
        warnings.simplefilter("ignore", InsecureKeyWarning)
        job = InProcessJob(config, chain, LocalBlobStore(tmp_path / f"blobs{participants}"))
    return job, bench_round.job_round_costs(job, FixedTauController(tau=1, rounds=SMALL_ROUNDS))


@pytest.fixture(scope="module")
def small_jobs(tmp_path_factory) -> dict[int, tuple[InProcessJob, list[dict]]]:
    tmp = tmp_path_factory.mktemp("ledger-costs")
    return {n: small_job(tmp, n) for n in (2, 4)}


def test_gas_by_function_is_what_a_second_client_reads_from_the_chain(small_jobs) -> None:
    for n, (job, rounds) in small_jobs.items():
        assert len(rounds) == SMALL_ROUNDS
        # a second web3 client on the same chain, decoding calldata with web3's own ABI decoder
        reader = Web3(EthereumTesterProvider(job.chain.w3.provider.ethereum_tester))
        contract = reader.eth.contract(abi=load_artifact().abi_list)
        for g, r in enumerate(rounds):
            first, last = r["blocks"]
            blocks = [reader.eth.get_block(b) for b in range(first, last + 1)]
            assert r["gas"] == sum(int(b["gasUsed"]) for b in blocks)  # the blocks' headers
            gas: Counter[str] = Counter()
            sent: Counter[str] = Counter()
            for block in blocks:
                for tx_hash in block["transactions"]:
                    tx = reader.eth.get_transaction(tx_hash)
                    assert tx["to"] == job.ledger.address
                    name = contract.decode_function_input(tx["input"])[0].fn_name
                    gas[name] += reader.eth.get_transaction_receipt(tx_hash)["gasUsed"]
                    sent[name] += 1
            assert r["gas_by_function"] == dict(gas), (n, g)
            assert r["transactions_by_function"] == dict(sent), (n, g)
            record = job.ledger.get_round(g)
            assert sent["attest"] == record.attest_count and not sent["dispute"]
            assert sent["openRound"] == 1 and sent["submitBlobs"] + sent["submit"] == n
            # every transaction sent once and its receipt fetched
            methods = r["requests_by_method"]
            sends = methods.get("eth_sendTransaction", 0) + methods.get("eth_sendRawTransaction", 0)
            assert sends == sum(sent.values()) <= methods["eth_getTransactionReceipt"]


def test_node_requests_per_round_add_up_and_grow_linearly_in_n(small_jobs) -> None:
    summaries = {n: bench_round.round_cost_summary(rounds) for n, (_, rounds) in small_jobs.items()}
    for _, rounds in small_jobs.values():
        for r in rounds:
            assert r["requests"] == sum(r["requests_by_method"].values())
    calls = {n: s["mean"]["requests_by_method"]["eth_call"] for n, s in summaries.items()}
    total = {n: s["mean"]["requests"] for n, s in summaries.items()}
    # counted, not timed: twice the participants at most twice the reads (a term in N² would
    # double the per-participant reads too), and a handful per added participant, not N
    for counts in (calls, total):
        assert counts[4] <= 2 * counts[2], counts
    assert (calls[4] - calls[2]) / 2 <= 10, calls
