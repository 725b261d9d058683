"""``hefl bench secagg``: the four secure-aggregation schemes on one machine, in one run.

For model sizes n = 10k, 20k, 40k parameters (``quick``: 10k alone) and N = 10 clients it measures,
per scheme: the client's encryption time (mean over the N clients; clients run in parallel in a
real deployment, so this is the client's share of a round), the server's aggregate + decrypt time
(for ``multikey`` this includes ChelGen, the clients' ResGen and the §3.3 Agg/Dec/Algorithm 2), and
the exact bytes one client uploads, and the scheme's setup (multi-key SysGen and the clients' key
shares; the Paillier key). Round time = setup + client time + server time, what a one-round job
pays; the steady round time (client + server) is what each later round of a job pays; both are
reported and labelled.

Per-element Paillier (PCFL) needs n encryptions per client and n decryptions: it is measured on a
sample of ``paillier_sample`` coordinates with the same N and key, and extrapolated linearly to n
(every coordinate costs the same encryption, N − 1 multiplications and one decryption, so the cost
is exactly linear in n). Rows that were extrapolated say so (``extrapolated``, ``measured_params``).
Its byte count is exact (fixed-width ciphertexts).

Targets from Yang et al. §5: the multi-key round at least 2× faster than per-element Paillier, and
⌈n/k⌉ + 2 ciphertexts per multi-key client. The report gives the ratios measured in the same run —
never absolute timings as pass/fail.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from hefl.bench import machine_info
from hefl.secagg.base import (
    MultiKeyScheme,
    PackedPaillierScheme,
    PerElementPaillierScheme,
    PlaintextScheme,
    SecureAggregationScheme,
)
from hefl.secagg.multikey import DEFAULT_KAPPA1, DEFAULT_Q_BITS, generate_group
from hefl.secagg.quantise import Quantiser
from hefl.secagg.wire import frame_size

#: Model sizes of the paper's Figs. 3–4.
SIZES: tuple[int, ...] = (10_000, 20_000, 40_000)
QUICK_SIZES: tuple[int, ...] = (10_000,)
#: Clients per round (the paper's simulation).
N_CLIENTS = 10
#: Coordinates per-element Paillier is actually run on before extrapolating.
PAILLIER_SAMPLE_QUICK = 200
PAILLIER_SAMPLE_FULL = 1_000
#: Paillier modulus for both Paillier baselines.
PAILLIER_BITS = 2048
#: Paper target: multi-key round ≥ 2× faster than per-element Paillier.
TARGET_SPEEDUP = 2.0
SCHEME_ORDER = ("plaintext", "paillier", "packed-paillier", "multikey")


def _vectors(n: int, n_clients: int, seed: int) -> dict[int, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {i: np.clip(rng.normal(0.0, 0.3, n), -1.0, 1.0) for i in range(n_clients)}


def _measure(scheme: SecureAggregationScheme, n: int, n_clients: int, seed: int) -> dict[str, Any]:
    t0 = time.process_time()
    info = scheme.setup(n, n_clients)
    setup_s = time.process_time() - t0
    vectors = _vectors(n, n_clients, seed)
    scheme.begin_round(0, range(n_clients))
    messages = {}
    t0 = time.process_time()
    for cid in range(n_clients):
        messages[cid] = scheme.client_encrypt(cid, vectors[cid])
    client_s = (time.process_time() - t0) / n_clients
    t0 = time.process_time()
    total = scheme.aggregate(messages)
    server_s = time.process_time() - t0
    exact = np.sum(list(vectors.values()), axis=0)
    err = float(np.max(np.abs(total - exact)))
    return {
        "setup_s": setup_s,
        "client_encrypt_s": client_s,
        "server_aggregate_decrypt_s": server_s,
        "bytes_per_client": len(messages[0]),
        "ciphertexts_per_client": info.ciphertexts_per_client,
        "max_abs_error": err,
        "within_tolerance": err <= scheme.tolerance(n_clients),
        "details": dict(info.details),
    }


def run(
    quick: bool = False,
    *,
    sizes: Sequence[int] | None = None,
    n_clients: int = N_CLIENTS,
    paillier_sample: int | None = None,
    kappa1: int = DEFAULT_KAPPA1,
    paillier_bits: int = PAILLIER_BITS,
    quantiser: Quantiser | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Run the benchmark; returns a JSON-ready dict (``rows``, ``targets``, ``notes``)."""
    sizes = tuple(sizes) if sizes is not None else (QUICK_SIZES if quick else SIZES)
    sample = paillier_sample or (PAILLIER_SAMPLE_QUICK if quick else PAILLIER_SAMPLE_FULL)
    quantiser = quantiser or Quantiser()
    insecure = kappa1 < DEFAULT_KAPPA1 or paillier_bits < PAILLIER_BITS
    t0 = time.perf_counter()
    group = generate_group(kappa1, DEFAULT_Q_BITS, allow_insecure=insecure)
    group_s = time.perf_counter() - t0
    rows: list[dict[str, Any]] = []
    for n in sizes:
        for name in SCHEME_ORDER:
            measured_n = n
            if name == "plaintext":
                scheme: SecureAggregationScheme = PlaintextScheme(quantiser)
            elif name == "paillier":
                scheme = PerElementPaillierScheme(
                    quantiser, key_bits=paillier_bits, allow_insecure=insecure
                )
                measured_n = min(n, sample)
            elif name == "packed-paillier":
                scheme = PackedPaillierScheme(
                    quantiser, key_bits=paillier_bits, allow_insecure=insecure
                )
            else:
                scheme = MultiKeyScheme(quantiser, group=group, allow_insecure=insecure)
            row = _measure(scheme, measured_n, n_clients, seed)
            factor = n / measured_n
            if factor != 1:
                row["client_encrypt_s"] *= factor
                row["server_aggregate_decrypt_s"] *= factor
                width = (2 * paillier_bits + 7) // 8
                row["bytes_per_client"] = frame_size([(n, width)])
                row["ciphertexts_per_client"] = n
            row.update(
                scheme=name,
                n_params=n,
                measured_params=measured_n,
                extrapolated=factor != 1,
                round_steady_s=row["client_encrypt_s"] + row["server_aggregate_decrypt_s"],
                round_s=row["setup_s"]
                + row["client_encrypt_s"]
                + row["server_aggregate_decrypt_s"],
            )
            rows.append(row)
    targets = []
    for n in sizes:
        by = {r["scheme"]: r for r in rows if r["n_params"] == n}
        mk, pe = by["multikey"], by["paillier"]
        k = mk["details"]["k"]
        expected = math.ceil(n / k) + 2
        speedup = pe["round_s"] / mk["round_s"]
        targets.append(
            {
                "n_params": n,
                "speedup_multikey_vs_paillier": speedup,
                "speedup_target": TARGET_SPEEDUP,
                "speedup_met": speedup >= TARGET_SPEEDUP,
                "speedup_multikey_vs_packed_paillier": by["packed-paillier"]["round_s"]
                / mk["round_s"],
                "speedup_steady_multikey_vs_paillier": pe["round_steady_s"] / mk["round_steady_s"],
                "speedup_steady_multikey_vs_packed_paillier": by["packed-paillier"][
                    "round_steady_s"
                ]
                / mk["round_steady_s"],
                "multikey_ciphertexts": mk["ciphertexts_per_client"],
                "expected_ciphertexts": expected,
                "ciphertexts_met": mk["ciphertexts_per_client"] == expected,
                "traffic_ratio_paillier_vs_multikey": pe["bytes_per_client"]
                / mk["bytes_per_client"],
                "traffic_ratio_multikey_vs_plaintext": mk["bytes_per_client"]
                / by["plaintext"]["bytes_per_client"],
            }
        )
    return {
        "benchmark": "secagg",
        "quick": quick,
        "n_clients": n_clients,
        "sizes": list(sizes),
        "kappa1": kappa1,
        "q_bits": DEFAULT_Q_BITS,
        "paillier_bits": paillier_bits,
        "quantiser": {"clip": quantiser.clip, "scale": quantiser.scale},
        "group_generation_s": group_s,
        "machine": platform.machine(),
        "python": platform.python_version(),
        "run": machine_info(),
        "rows": rows,
        "targets": targets,
        "notes": [
            f"per-element Paillier measured on {min(sample, min(sizes))} coordinates per size and "
            "extrapolated linearly (rows marked extrapolated)",
            "the Paillier baselines give the server the key (as hefl's computing party): cost "
            "baselines, not secure against the server; PCFL's threshold decryption would add "
            "per-client partial decryptions on top",
            "times are this process's CPU seconds (all threads), robust to other work on "
            "the cores; client_encrypt_s is the mean per client; round_s = setup + client + server "
            "(a one-round job: each scheme's setup — multi-key SysGen and key shares, the "
            "Paillier key — counts; clients encrypt in parallel); round_steady_s = client + "
            "server (later rounds of a job, setup paid); the group (κ1) is public and shared, "
            "its generation (group_generation_s) is not charged to any scheme",
            "multikey server time includes ChelGen, every client's ResGen, Agg, Dec and "
            "Algorithm 2",
            "plaintext bytes are float64 (8 bytes per parameter) plus the frame",
            "Paillier baselines use hefl.crypto's default DJN short-exponent encryption "
            "and CRT decryption",
        ],
    }


def format_report(result: dict[str, Any]) -> str:
    """A fixed-width table of the rows and the targets."""
    lines = [
        f"secagg bench: N = {result['n_clients']}, κ1 = {result['kappa1']} "
        f"(|q| = {result['q_bits']}), Paillier {result['paillier_bits']} bits (hefl.crypto)",
        f"{'scheme':<16}{'n':>7}{'setup s':>10}{'client s':>11}{'server s':>11}{'round s':>10}"
        f"{'steady s':>10}{'bytes/client':>14}{'ctxts':>7}  ok",
    ]
    for r in result["rows"]:
        mark = " *" if r["extrapolated"] else ""
        lines.append(
            f"{r['scheme']:<16}{r['n_params']:>7}{r['setup_s']:>10.3f}"
            f"{r['client_encrypt_s']:>11.3f}"
            f"{r['server_aggregate_decrypt_s']:>11.3f}{r['round_s']:>10.3f}"
            f"{r['round_steady_s']:>10.3f}"
            f"{r['bytes_per_client']:>14}{r['ciphertexts_per_client']:>7}  "
            f"{'yes' if r['within_tolerance'] else 'NO'}{mark}"
        )
    lines.append("* extrapolated linearly from a measured sample (see notes)")
    for t in result["targets"]:
        lines.append(
            f"n = {t['n_params']}: multikey {t['speedup_multikey_vs_paillier']:.1f}× faster than "
            f"per-element Paillier with setup (target ≥ {t['speedup_target']:.0f}×: "
            f"{'met' if t['speedup_met'] else 'NOT met'}), "
            f"{t['speedup_steady_multikey_vs_paillier']:.1f}× without; "
            f"{t['speedup_multikey_vs_packed_paillier']:.1f}× vs packed Paillier with setup, "
            f"{t['speedup_steady_multikey_vs_packed_paillier']:.1f}× without; "
            f"{t['multikey_ciphertexts']} ciphertexts = ⌈n/k⌉ + 2 = {t['expected_ciphertexts']} "
            f"({'met' if t['ciphertexts_met'] else 'NOT met'}); traffic "
            f"{t['traffic_ratio_paillier_vs_multikey']:.0f}× below per-element Paillier, "
            f"{t['traffic_ratio_multikey_vs_plaintext']:.2f}× plaintext"
        )
    lines.extend(f"note: {n}" for n in result["notes"])
    return "\n".join(lines)


#: The name ``hefl bench`` uses for the human-readable table.
render = format_report


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m hefl.bench.secagg [--quick] [--json]``."""
    parser = argparse.ArgumentParser(prog="hefl bench secagg", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="10k parameters only (< 60 s)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    result = run(quick=args.quick)
    print(json.dumps(result, indent=2) if args.json else format_report(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
