"""``hefl experiment secagg``: softmax regression on scikit-learn's digits, FedSGD, every scheme.

Data: ``sklearn.datasets.load_digits`` (1797 8×8 images, 10 classes, bundled with scikit-learn, no
download), pixels scaled to [0, 1] plus a bias feature, a stratified 80/20 train/test split, the
training set shuffled and dealt to N clients.

Model: multinomial logistic (softmax) regression, W ∈ R^{65×10} (650 parameters), loss
F_i(W) = −(1/|D_i|) Σ log softmax(x W)_y on client i's data.

FedSGD round (Eq. 1 of the multi-key paper): the server sends W (for ``multikey`` under AES-GCM,
key H(pk_i^α)); each online client computes its full-batch gradient ∇_i = X_iᵀ(softmax(X_i W) −
Y_i)/|D_i| and uploads (|D_i|/|D|)·∇_i through the scheme; the server rescales the decrypted sum
by |D|/|D_S| (data-set sizes are public, as in FedAvg), giving Eq. (1)'s weighted aggregate
Σ_{i∈S} |D_i|/|D_S| ∇_i over the set S that completed the round; then W ← W − η·aggregate.
The plaintext scheme is the FedAvg/FedSGD reference; the encrypted ones differ from it only by
quantisation (scale s, clip ∇_max), which the plot and ``max_weight_gap`` show.

Optional dropouts (the same draws for every scheme): each round every client is offline with
probability ``dropout_rate`` (it is not in S), and every online client fails to answer the
multi-key challenge with probability ``late_dropout_rate`` — the server then removes it and the
round restarts without it (``attempts`` > 1); at least two clients always complete a round.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hefl.errors import ConfigError
from hefl.secagg.base import SCHEMES, make_scheme, run_round
from hefl.secagg.multikey import DEFAULT_KAPPA1, DEFAULT_Q_BITS, generate_group
from hefl.secagg.quantise import Quantiser

#: Defaults of the experiment.
DEFAULT_ROUNDS = 40
DEFAULT_CLIENTS = 10
DEFAULT_LEARNING_RATE = 1.0
DEFAULT_SCHEMES: tuple[str, ...] = ("plaintext", "paillier", "packed-paillier", "multikey")
TEST_FRACTION = 0.2
PIXEL_MAX = 16.0


def load_digits_split(
    seed: int, n_clients: int
) -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray, np.ndarray]:
    """Digits scaled to [0, 1] with a bias column; (client shards, X_test, y_test)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x = np.hstack([x / PIXEL_MAX, np.ones((x.shape[0], 1))])
    x_tr, x_te, y_tr, y_te = train_test_split(
        x, y, test_size=TEST_FRACTION, stratify=y, random_state=seed
    )
    order = np.random.default_rng(seed).permutation(len(y_tr))
    shards = [(x_tr[idx], y_tr[idx]) for idx in np.array_split(order, n_clients)]
    return shards, x_te, y_te


def softmax_gradient(w: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """∇F_i(W) = X_iᵀ(softmax(X_i W) − Y_i)/|D_i| (Y_i one-hot)."""
    z = x @ w
    z -= z.max(axis=1, keepdims=True)
    prob = np.exp(z)
    prob /= prob.sum(axis=1, keepdims=True)
    prob[np.arange(len(y)), y] -= 1.0
    return x.T @ prob / len(y)


def accuracy(w: np.ndarray, x: np.ndarray, y: np.ndarray) -> float:
    """Fraction of correct arg-max predictions."""
    return float(np.mean(np.argmax(x @ w, axis=1) == y))


def run_secagg_experiment(
    out_dir: str | Path,
    *,
    schemes: Sequence[str] = DEFAULT_SCHEMES,
    rounds: int = DEFAULT_ROUNDS,
    n_clients: int = DEFAULT_CLIENTS,
    learning_rate: float = DEFAULT_LEARNING_RATE,
    dropout_rate: float = 0.0,
    late_dropout_rate: float = 0.0,
    quantiser: Quantiser | None = None,
    kappa1: int = DEFAULT_KAPPA1,
    paillier_bits: int = 2048,
    allow_insecure: bool = False,
    seed: int = 0,
) -> dict[str, Any]:
    """Train with every scheme; write ``secagg_accuracy.png`` and ``secagg.json`` to ``out_dir``.

    Returns the JSON-ready result: per scheme the test accuracy after every round, wall time,
    bytes uploaded per client per round, and the largest |W_scheme − W_plaintext| at the end.
    """
    unknown = [s for s in schemes if s not in SCHEMES]
    if unknown:
        raise ConfigError(f"unknown schemes {unknown}; choose from {sorted(SCHEMES)}")
    if (
        rounds < 1
        or n_clients < 2
        or not 0.0 <= dropout_rate < 1.0
        or not 0.0 <= late_dropout_rate < 1.0
    ):
        raise ConfigError(
            f"need rounds ≥ 1, n_clients ≥ 2, 0 ≤ dropout rates < 1; got {rounds}, "
            f"{n_clients}, {dropout_rate}, {late_dropout_rate}"
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    quantiser = quantiser or Quantiser()
    shards, x_te, y_te = load_digits_split(seed, n_clients)
    n_features, n_classes = x_te.shape[1], 10
    n_params = n_features * n_classes
    sizes = np.array([len(y) for _, y in shards], dtype=np.float64)

    draw = np.random.default_rng(seed + 1)
    online_per_round: list[list[int]] = []
    answering_per_round: list[list[int]] = []
    for _ in range(rounds):
        keep = [i for i in range(n_clients) if draw.random() >= dropout_rate]
        if len(keep) < 2:
            keep = sorted(draw.choice(n_clients, size=2, replace=False).tolist())
        answer = [i for i in keep if draw.random() >= late_dropout_rate]
        if len(answer) < 2:
            answer = keep[:2]
        online_per_round.append(keep)
        answering_per_round.append(answer)

    group = None
    if "multikey" in schemes:
        group = generate_group(kappa1, DEFAULT_Q_BITS, allow_insecure=allow_insecure)
    results: dict[str, Any] = {}
    weights: dict[str, np.ndarray] = {}
    reference: list[np.ndarray] = []  # plaintext W after each round
    ordered = sorted(schemes, key=lambda s: s != "plaintext")  # the reference first
    for name in ordered:
        options: dict[str, Any] = {}
        if name in ("paillier", "packed-paillier"):
            options = {"key_bits": paillier_bits, "allow_insecure": allow_insecure}
        elif name == "multikey":
            options = {"group": group, "allow_insecure": allow_insecure}
        scheme = make_scheme(name, quantiser=quantiser, **options)
        scheme.setup(n_params, n_clients)
        w = np.zeros((n_features, n_classes))
        acc, attempts, gaps = [], [], []
        t0 = time.perf_counter()
        for r, (online, answering) in enumerate(
            zip(online_per_round, answering_per_round, strict=True)
        ):
            # clients send (|D_i|/|D|)·∇_i; the server rescales by |D|/|D_S| for the set S
            # that completed the round (data-set sizes are public)
            vectors = {
                cid: sizes[cid] / sizes.sum() * softmax_gradient(w, *shards[cid]).ravel()
                for cid in online
            }
            result = run_round(scheme, r, vectors, responders=answering, model=w.ravel())
            done = sorted(result.online)
            aggregate = result.total * (sizes.sum() / sizes[done].sum())
            w = w - learning_rate * aggregate.reshape(w.shape)
            acc.append(accuracy(w, x_te, y_te))
            attempts.append(result.attempts)
            if name == "plaintext":
                reference.append(w.copy())
            elif reference:
                gaps.append(float(np.max(np.abs(w - reference[r]))))
        weights[name] = w
        results[name] = {
            "accuracy": acc,
            "final_accuracy": acc[-1],
            "wall_time_s": time.perf_counter() - t0,
            "bytes_per_client_round": scheme.message_size(),
            "ciphertexts_per_client": scheme.ciphertexts_per_client(),
            "attempts": attempts,
        }
        if gaps:
            results[name]["weight_gap_per_round"] = gaps
    if "plaintext" in weights:
        for name in results:
            results[name]["max_weight_gap"] = float(
                np.max(np.abs(weights[name] - weights["plaintext"]))
            )
    summary = {
        "experiment": "secagg",
        "dataset": "sklearn load_digits",
        "model": "softmax regression (650 parameters)",
        "training": "FedSGD, full-batch client gradients weighted by |D_i|/|D_S|",
        "rounds": rounds,
        "n_clients": n_clients,
        "learning_rate": learning_rate,
        "dropout_rate": dropout_rate,
        "late_dropout_rate": late_dropout_rate,
        "online_per_round": online_per_round,
        "answering_per_round": answering_per_round,
        "quantiser": {"clip": quantiser.clip, "scale": quantiser.scale},
        "kappa1": kappa1,
        "paillier_bits": paillier_bits,
        "seed": seed,
        "schemes": results,
    }
    (out / "secagg.json").write_text(json.dumps(summary, indent=2))
    _plot(results, out / "secagg_accuracy.png", n_clients)
    return summary


def _plot(results: dict[str, Any], path: Path, n_clients: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, ax_gap) = plt.subplots(
        2, 1, figsize=(6.4, 6.4), sharex=True, gridspec_kw={"height_ratios": [2, 1]}
    )
    styles = {"plaintext": ("k", "--"), "paillier": ("tab:orange", "-")}
    styles |= {"packed-paillier": ("tab:green", "-."), "multikey": ("tab:blue", "-")}
    for name, res in results.items():
        color, line = styles.get(name, (None, "-"))
        label = "plaintext FedAvg (reference)" if name == "plaintext" else name
        xs = np.arange(1, len(res["accuracy"]) + 1)
        width = 3.0 if name == "plaintext" else 1.5
        zorder = 5 if name == "plaintext" else 3
        ax.plot(xs, res["accuracy"], line, color=color, label=label, linewidth=width, zorder=zorder)
        if "weight_gap_per_round" in res:
            ax_gap.semilogy(xs, res["weight_gap_per_round"], line, color=color, label=name)
    ax_gap.set_xlabel("round")
    ax_gap.set_ylabel("max |W − W_plaintext|")
    ax_gap.grid(alpha=0.3)
    ax.set_ylabel("test accuracy")
    ax.set_title(f"Softmax regression on digits, FedSGD, N = {n_clients}")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
